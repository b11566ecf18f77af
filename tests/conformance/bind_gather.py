"""CPython's GatherTestsBase (through FutureGatherTests and
CoroutineGatherTests) run with casyncio.gather in place of asyncio.gather.
They run on CPython's test loop: the outer future is then asyncio's class,
and what is ours is gather() and its per-child callback (src/gather.c)."""
import asyncio
from unittest import mock

from test.test_asyncio import test_tasks

import casyncio


class _OurGather:
    def setUp(self):
        super().setUp()
        patcher = mock.patch.object(asyncio, 'gather', casyncio.gather)
        patcher.start()
        self.addCleanup(patcher.stop)


class CasyncioFutureGatherTests(_OurGather, test_tasks.FutureGatherTests):
    pass


class CasyncioCoroutineGatherTests(_OurGather,
                                   test_tasks.CoroutineGatherTests):
    pass
