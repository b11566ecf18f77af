"""CPython's eager task factory tests (test_eager_task_factory, 3.12+) with
casyncio's C Task as the task class, on casyncio loops (the group installs
casyncio's policy: the tests make their loops with asyncio.new_event_loop),
as CPython binds them to _asyncio's Task."""
from test.test_asyncio import test_eager_task_factory as tef
from test.test_asyncio import utils as test_utils

from casyncio import _core


class CXEagerTaskFactoryLoopTests(tef.EagerTaskFactoryLoopTests,
                                  test_utils.TestCase):
    Task = _core.Task


class CXNonEagerTaskTests(tef.BaseNonEagerTaskFactoryTests,
                          test_utils.TestCase):
    Task = _core.Task


class CXEagerTaskTests(tef.BaseEagerTaskFactoryTests, test_utils.TestCase):
    Task = _core.Task
