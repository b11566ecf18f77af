"""CPython's stream-server and BufferedProtocol tests bound to casyncio's
loop: the same classes as CPython's selector-loop counterparts
(test_server.SelectorStartServerTests,
test_buffered_proto.BufferedProtocolSelectorTests), with our loop."""
import unittest

from test.test_asyncio import test_buffered_proto, test_server

import casyncio


class CasyncioStartServerTests(test_server.SelectorStartServerTests):

    def new_loop(self):
        return casyncio.new_event_loop()


class CasyncioBufferedProtocolTests(
        test_buffered_proto.BaseTestBufferedProtocol, unittest.TestCase):

    def new_loop(self):
        return casyncio.new_event_loop()
