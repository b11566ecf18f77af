"""CPython's socket-method tests (test_sock_lowlevel.BaseSockTestsMixin)
bound to casyncio's loop, as CPython binds them to EPollEventLoopTests."""
from test.test_asyncio import test_sock_lowlevel
from test.test_asyncio import utils as test_utils

import casyncio


class CasyncioSockTests(test_sock_lowlevel.BaseSockTestsMixin,
                        test_utils.TestCase):

    def create_event_loop(self):
        return casyncio.new_event_loop()
