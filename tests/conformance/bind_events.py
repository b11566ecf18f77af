"""CPython's loop mixins bound to casyncio's loop: the same mixins as
CPython's own EPollEventLoopTests (test_events), with our loop."""
from test.test_asyncio import test_events
from test.test_asyncio import utils as test_utils

import casyncio


class CasyncioEventLoopTests(test_events.UnixEventLoopTestsMixin,
                             test_events.SubprocessTestsMixin,
                             test_utils.TestCase):

    def create_event_loop(self):
        return casyncio.new_event_loop()
