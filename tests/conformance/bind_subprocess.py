"""CPython's SubprocessMixin (test_subprocess) bound to casyncio's loop, as
its SubprocessWatcherMixin classes bind it to the stock loop -- but with no
child watcher to set up: our loop reaps its children itself."""
import asyncio

from test.test_asyncio import test_subprocess
from test.test_asyncio import utils as test_utils

import casyncio


class CasyncioSubprocessTests(test_subprocess.SubprocessMixin,
                              test_utils.TestCase):

    def setUp(self):
        super().setUp()
        self.loop = casyncio.new_event_loop()
        self.set_event_loop(self.loop)


class CasyncioSubprocessSigchldTests(CasyncioSubprocessTests):
    """The same tests on the SIGCHLD fallback (no pidfd)."""

    def setUp(self):
        from casyncio import _unix
        super().setUp()
        self._saved_use_pidfd = _unix._USE_PIDFD
        _unix._USE_PIDFD = False

    def tearDown(self):
        from casyncio import _unix
        _unix._USE_PIDFD = self._saved_use_pidfd
        super().tearDown()
