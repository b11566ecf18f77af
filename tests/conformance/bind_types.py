"""CPython's own Future/Task test mixins, bound to casyncio's C types.

They run on CPython's stock test loop (test_utils.TestLoop and the default
selector loop), so they exercise our Future and Task through the generic
call_soon / add_done_callback protocol, as CPython's CFutureTests and
CTask_CFuture_Tests do for _asyncio.

The group "types" in groups.py runs these; its stock counterpart is
CPython's own C-accelerated classes (CFutureTests, CTask_CFuture_Tests...).
"""
from test.test_asyncio import test_futures, test_tasks
from test.test_asyncio import utils as test_utils

from casyncio import _core


def _same_helpers(cls, stock_cls_name):
    """Give cls the current_task / all_tasks helpers (3.12+) that CPython's
    own class of that name uses: ours run with asyncio's C current-task
    functions as its C Task does, the Python Task with its own."""
    stock = getattr(test_tasks, stock_cls_name, None)
    for name in ("current_task", "all_tasks"):
        if stock is not None and name in vars(stock):
            setattr(cls, name, vars(stock)[name])


class CXFutureTests(test_futures.BaseFutureTests, test_utils.TestCase):
    cls = _core.Future

    def test_future_del_segfault(self):
        fut = self._new_future(loop=self.loop)
        with self.assertRaises(AttributeError):
            del fut._asyncio_future_blocking
        with self.assertRaises(AttributeError):
            del fut._log_traceback


class _SubFuture(_core.Future):
    pass


class CXSubFutureTests(test_futures.BaseFutureTests, test_utils.TestCase):
    cls = _SubFuture


class CXFutureDoneCallbackTests(test_futures.BaseFutureDoneCallbackTests,
                                test_utils.TestCase):
    def _new_future(self):
        return _core.Future(loop=self.loop)


class CXSubFutureDoneCallbackTests(test_futures.BaseFutureDoneCallbackTests,
                                   test_utils.TestCase):
    def _new_future(self):
        return _SubFuture(loop=self.loop)


class CXFutureInheritanceTests(test_futures.BaseFutureInheritanceTests,
                               test_utils.TestCase):
    def _get_future_cls(self):
        return _core.Future


class CXTask_CXFuture_Tests(test_tasks.BaseTaskTests,
                            test_tasks.SetMethodsTest, test_utils.TestCase):
    Task = _core.Task
    Future = _core.Future

    def test_del__log_destroy_pending_segfault(self):
        async def coro():
            pass
        task = self.new_task(self.loop, coro())
        self.loop.run_until_complete(task)
        with self.assertRaises(AttributeError):
            del task._log_destroy_pending


@test_tasks.add_subclass_tests
class CXTask_CXFuture_SubclassTests(test_tasks.BaseTaskTests,
                                    test_utils.TestCase):
    Task = _core.Task
    Future = _core.Future


class CXTask_PyFuture_Tests(test_tasks.BaseTaskTests, test_utils.TestCase):
    # Our Task awaiting stock Python futures: the generic protocol.
    Task = _core.Task
    Future = test_futures.futures._PyFuture


class PyTask_CXFuture_Tests(test_tasks.BaseTaskTests, test_utils.TestCase):
    # The stock Python Task awaiting our futures.
    Task = test_tasks.tasks._PyTask
    Future = _core.Future


class CXCurrentLoopTests(test_tasks.BaseCurrentLoopTests,
                         test_utils.TestCase):
    def new_task(self, coro):
        return _core.Task(coro, loop=self.loop)


_same_helpers(CXTask_CXFuture_Tests, 'CTask_CFuture_Tests')
_same_helpers(CXTask_CXFuture_SubclassTests, 'CTask_CFuture_SubclassTests')
_same_helpers(CXTask_PyFuture_Tests, 'CTask_PyFuture_Tests')
_same_helpers(PyTask_CXFuture_Tests, 'PyTask_CFuture_Tests')
_same_helpers(CXCurrentLoopTests, 'CCurrentLoopTests')
