"""CPython's start_tls / TLS-transport tests bound to casyncio's loop: the
same class as CPython's selector-loop counterpart
(test_sslproto.SelectorStartTLSTests), with our loop."""
import unittest

from test.test_asyncio import test_sslproto

import casyncio


class CasyncioStartTLSTests(test_sslproto.BaseStartTLS, unittest.TestCase):

    def new_loop(self):
        return casyncio.new_event_loop()
