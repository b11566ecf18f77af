"""CPython's sendfile tests (test_sendfile.SendfileTestsBase: SendfileMixin
and SockSendfileMixin) bound to casyncio's loop, as CPython binds them to
EPollEventLoopTests."""
from test.test_asyncio import test_sendfile
from test.test_asyncio import utils as test_utils

import casyncio

tearDownModule = test_sendfile.tearDownModule


class CasyncioSendfileTests(test_sendfile.SendfileTestsBase,
                            test_utils.TestCase):

    def create_event_loop(self):
        return casyncio.new_event_loop()
