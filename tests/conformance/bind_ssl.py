"""CPython's start_tls / TLS-transport tests bound to casyncio's loop: the
same class as CPython's selector-loop counterpart
(test_sslproto.SelectorStartTLSTests), with our loop; and its SSLProtocol
unit tests (SslProtoHandshakeTests) on our SSLProtocol."""
import unittest
from asyncio import sslproto
from unittest import mock

from test.test_asyncio import test_sslproto

import casyncio
from casyncio import _tls


class CasyncioStartTLSTests(test_sslproto.BaseStartTLS, unittest.TestCase):

    def new_loop(self):
        return casyncio.new_event_loop()


class CasyncioSslProtoHandshakeTests(test_sslproto.SslProtoHandshakeTests):
    """CPython's SSLProtocol unit tests (mock transport and SSLObject) on
    casyncio's SSLProtocol (its data path in C, casyncio._tls): the tests
    build sslproto.SSLProtocol, which is ours for their duration."""

    def setUp(self):
        super().setUp()
        patcher = mock.patch.object(sslproto, 'SSLProtocol',
                                    _tls.SSLProtocol)
        patcher.start()
        self.addCleanup(patcher.stop)
