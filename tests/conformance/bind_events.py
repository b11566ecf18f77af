"""CPython's loop tests bound to casyncio's loop: CPython's own
EPollEventLoopTests (test_events) of the running version -- whichever mixins
that version gives it -- with our loop."""
from test.test_asyncio import test_events

import casyncio


class CasyncioEventLoopTests(test_events.EPollEventLoopTests):

    def create_event_loop(self):
        return casyncio.new_event_loop()
