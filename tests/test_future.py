"""casyncio._core.Future: behaviour shared with stock asyncio, interop,
subclassing, argument errors, and leak checks."""
import asyncio
import contextvars
import gc
import sys
import weakref

import pytest

from casyncio import _core
from future_task_fixtures import (loop, impl, collect_and_check_dead,  # noqa
                                  memory_growth)

Future = _core.Future


def run_briefly(loop, n=3):
    for _ in range(n):
        loop.call_soon(loop.stop)
        loop.run_forever()


# --- same body, stock asyncio and casyncio ---------------------------------

def test_protocol_markers(impl, loop):
    Fut, _ = impl
    fut = Fut(loop=loop)
    assert asyncio.isfuture(fut)
    assert not asyncio.isfuture(Fut)
    assert fut._asyncio_future_blocking is False
    assert fut._state == "PENDING"
    assert fut.get_loop() is loop and fut._loop is loop
    assert Fut[int].__origin__ is Fut


def test_callbacks_order_and_context(impl, loop):
    Fut, _ = impl
    var = contextvars.ContextVar("var", default="default")
    fut = Fut(loop=loop)
    seen = []
    ctx = contextvars.copy_context()
    ctx.run(var.set, "ctx")
    fut.add_done_callback(lambda f: seen.append(("a", var.get())))
    fut.add_done_callback(lambda f: seen.append(("b", var.get())),
                          context=ctx)
    fut.add_done_callback(lambda f: seen.append(("c", f.result())))
    assert len(fut._callbacks) == 3
    fut.set_result(7)
    assert not fut._callbacks
    assert seen == []
    run_briefly(loop)
    assert seen == [("a", "default"), ("b", "ctx"), ("c", 7)]
    # added after completion: scheduled at once
    fut.add_done_callback(lambda f: seen.append("late"))
    run_briefly(loop)
    assert seen[-1] == "late"


def test_remove_first_inline_then_add(impl, loop):
    Fut, _ = impl
    fut = Fut(loop=loop)
    seen = []

    def a(f): seen.append("a")
    def b(f): seen.append("b")
    def c(f): seen.append("c")

    fut.add_done_callback(a)
    fut.add_done_callback(b)
    assert fut.remove_done_callback(a) == 1
    fut.add_done_callback(c)          # must run after b
    fut.add_done_callback(a)
    assert fut.remove_done_callback(b) == 1
    assert fut.remove_done_callback(b) == 0
    fut.set_result(None)
    run_briefly(loop)
    assert seen == ["c", "a"]


def test_result_exception_states(impl, loop):
    Fut, _ = impl
    fut = Fut(loop=loop)
    with pytest.raises(asyncio.InvalidStateError):
        fut.result()
    with pytest.raises(asyncio.InvalidStateError):
        fut.exception()
    exc = ValueError("boom")
    fut.set_exception(exc)
    assert fut.exception() is exc
    with pytest.raises(ValueError):
        fut.result()
    with pytest.raises(asyncio.InvalidStateError):
        fut.set_result(1)
    with pytest.raises(asyncio.InvalidStateError):
        fut.set_exception(ValueError())
    assert fut.cancel() is False


def test_cancel_message(impl, loop):
    Fut, _ = impl
    fut = Fut(loop=loop)
    assert fut.cancel(msg="why") is True
    assert fut.cancelled() and fut.done()
    assert fut._cancel_message == "why"
    with pytest.raises(asyncio.CancelledError) as info:
        fut.result()
    assert info.value.args == ("why",)
    assert fut._state == "CANCELLED"


def test_set_exception_class_and_stopiteration(impl, loop):
    Fut, _ = impl
    fut = Fut(loop=loop)
    fut.set_exception(KeyError)
    assert type(fut.exception()) is KeyError
    fut = Fut(loop=loop)
    if sys.version_info >= (3, 13):
        # 3.13: wrapped in a RuntimeError, the original as its cause and
        # context; a subclass of StopIteration too.
        class MyStop(StopIteration):
            pass
        for exc in (StopIteration, StopIteration(), MyStop()):
            fut = Fut(loop=loop)
            fut.set_exception(exc)
            wrapped = fut.exception()
            assert type(wrapped) is RuntimeError
            assert str(wrapped) == ("StopIteration interacts badly with "
                                    "generators and cannot be raised into "
                                    "a Future")
            expected = MyStop if exc is not StopIteration and isinstance(
                exc, MyStop) else StopIteration
            assert type(wrapped.__cause__) is expected
            assert wrapped.__context__ is wrapped.__cause__
            if not isinstance(exc, type):
                assert wrapped.__cause__ is exc
            with pytest.raises(RuntimeError, match="interacts badly") as ei:
                fut.result()
            assert ei.value is wrapped
        fut = Fut(loop=loop)
    else:
        # 3.11, 3.12: refused, exactly StopIteration only.
        with pytest.raises(TypeError, match="StopIteration interacts badly"):
            fut.set_exception(StopIteration)
        with pytest.raises(TypeError, match="StopIteration interacts badly"):
            fut.set_exception(StopIteration())
        assert not fut.done()
    with pytest.raises(TypeError):
        fut.set_exception(42)
    fut.cancel()


def test_log_traceback_attribute(impl, loop):
    Fut, _ = impl
    fut = Fut(loop=loop)
    assert fut._log_traceback is False
    with pytest.raises(ValueError, match="can only be set to False"):
        fut._log_traceback = True
    fut._log_traceback = False
    fut.set_exception(RuntimeError())
    assert fut._log_traceback is True
    fut._log_traceback = False
    del fut    # no report now


def test_never_retrieved_reported(impl, loop):
    Fut, _ = impl
    contexts = []
    loop.set_exception_handler(lambda l, c: contexts.append(c))
    exc = RuntimeError("lost")
    fut = Fut(loop=loop)
    fut.set_exception(exc)
    del fut
    gc.collect()
    assert len(contexts) == 1
    c = contexts[0]
    assert c["message"] == f"{Fut.__name__} exception was never retrieved"
    assert c["exception"] is exc
    assert type(c["future"]) is Fut
    assert "source_traceback" not in c


def test_never_retrieved_debug_source_traceback(impl, loop):
    Fut, _ = impl
    loop.set_debug(True)
    contexts = []
    loop.set_exception_handler(lambda l, c: contexts.append(c))
    fut = Fut(loop=loop); lineno = sys._getframe().f_lineno
    assert fut._source_traceback[-1][:3] == (
        __file__, lineno, "test_never_retrieved_debug_source_traceback")
    fut.set_exception(RuntimeError())
    del fut
    gc.collect()
    assert contexts[0]["source_traceback"][-1][1] == lineno


def test_await_iterator_protocol(impl, loop):
    Fut, _ = impl
    fut = Fut(loop=loop)
    it = fut.__await__()
    assert next(it) is fut
    assert fut._asyncio_future_blocking is True
    fut.set_result((1, 2))
    with pytest.raises(StopIteration) as info:
        it.send(None)
    assert info.value.value == (1, 2)   # a tuple survives StopIteration

    fut = Fut(loop=loop)
    it = iter(fut)
    next(it)
    with pytest.raises(RuntimeError, match="await wasn't used with future"):
        next(it)
    with pytest.raises(ZeroDivisionError):
        it.throw(ZeroDivisionError)
    with pytest.raises(TypeError):
        fut.__await__().throw(42)
    fut.cancel()


def test_await_iterator_send_after_close_or_throw(impl, loop):
    # An iterator that was closed or thrown into is exhausted: send()
    # raises StopIteration.  asyncio's own C iterator returns an error
    # without an exception before 3.14 (a SystemError; CPython's fix came
    # with its test_futureiter_send_after_close_no_crash); ours raises
    # StopIteration on every version.
    Fut, _ = impl
    expected = StopIteration
    if Fut is asyncio.Future and sys.version_info < (3, 14):
        expected = (StopIteration, SystemError)
    for how in ("close", "throw"):
        fut = Fut(loop=loop)
        it = fut.__await__()
        next(it)
        if how == "close":
            it.close()
        else:
            with pytest.raises(RuntimeError):
                it.throw(RuntimeError)
        with pytest.raises(expected):
            it.send(None)
        with pytest.raises(StopIteration):
            next(it)
        fut.cancel()


def test_get_loop_default(impl):
    Fut, _ = impl
    loop = asyncio.new_event_loop()
    try:
        async def make():
            return Fut()
        fut = loop.run_until_complete(make())
        assert fut.get_loop() is loop
    finally:
        loop.close()


# --- casyncio specifics -----------------------------------------------------

def test_callbacks_attribute_empty_is_none(loop):
    # As the C Future of CPython 3.11 (the Python one gives []).
    fut = Future(loop=loop)
    assert fut._callbacks is None
    fut.add_done_callback(print)
    (cb, ctx), = fut._callbacks
    assert cb is print and isinstance(ctx, contextvars.Context)
    fut.cancel()


def test_bad_arguments(loop):
    with pytest.raises(TypeError):
        Future(loop)                      # loop is keyword-only
    with pytest.raises(TypeError):
        Future(loop=loop, foo=1)
    fut = Future(loop=loop)
    with pytest.raises(TypeError):
        fut.add_done_callback()
    with pytest.raises(TypeError):
        fut.add_done_callback(print, print)
    with pytest.raises(TypeError, match="unexpected keyword"):
        fut.add_done_callback(print, ctx=None)
    with pytest.raises(TypeError):
        fut.cancel(1, 2)
    with pytest.raises(TypeError):
        fut.remove_done_callback()
    with pytest.raises(TypeError):
        fut.__await__().throw()
    if sys.version_info >= (3, 12):
        # 3.12: throw(type, exc, tb) is deprecated, as for generators
        with pytest.warns(DeprecationWarning,
                          match=r"the \(type, exc, tb\) signature"):
            with pytest.raises(TypeError, match="traceback"):
                fut.__await__().throw(ValueError, None, 42)
    else:
        with pytest.raises(TypeError, match="traceback"):
            fut.__await__().throw(ValueError, None, 42)
    with pytest.raises(AttributeError):
        fut._state = "FINISHED"
    with pytest.raises(AttributeError):
        del fut._cancel_message
    # A loop without get_debug: the AttributeError of asyncio, no crash.
    with pytest.raises(AttributeError):
        Future(loop=object())


def test_uninitialized_never_crashes(loop):
    fut = Future.__new__(Future)
    with pytest.raises(asyncio.InvalidStateError):
        fut.result()
    for call in (lambda: fut.get_loop(), lambda: fut.set_result(1),
                 lambda: fut.add_done_callback(print),
                 lambda: fut.remove_done_callback(print),
                 lambda: fut.cancel(), lambda: repr(fut),
                 lambda: fut.__await__(), lambda: fut._callbacks):
        with pytest.raises(RuntimeError):
            call()
    assert fut._loop is None
    assert not fut.done() and not fut.cancelled()


def test_subclass_from_python(loop):
    calls = []

    class MyFuture(Future):
        def __init__(self, *, loop=None, tag=None):
            super().__init__(loop=loop)
            self.tag = tag

        def add_done_callback(self, fn, *, context=None):
            calls.append(fn)
            super().add_done_callback(fn, context=context)

    fut = MyFuture(loop=loop, tag="t")
    assert fut.tag == "t" and fut.__dict__ == {"tag": "t"}
    assert repr(fut) == "<MyFuture pending>"
    r = weakref.ref(fut)

    async def main():
        loop.call_soon(fut.set_result, 5)
        return await fut

    assert loop.run_until_complete(asyncio.ensure_future(main(), loop=loop)) == 5
    assert len(calls) == 1          # the stock Task used the Python override
    del fut
    collect_and_check_dead([r])


def test_dict_and_weakref(loop):
    fut = Future(loop=loop)
    fut.anything = 1
    assert fut.__dict__ == {"anything": 1}
    r = weakref.ref(fut)
    del fut
    assert r() is None             # no cycle: freed at once


def test_our_future_in_stock_task(loop):
    fut = Future(loop=loop)

    async def main():
        loop.call_soon(fut.set_result, "ok")
        return await fut

    task = asyncio.Task(main(), loop=loop)     # _asyncio.Task
    assert type(task) is not _core.Task
    assert loop.run_until_complete(task) == "ok"


def test_our_future_exception_in_stock_task(loop):
    fut = Future(loop=loop)

    async def main():
        loop.call_soon(fut.set_exception, KeyError("k"))
        await fut

    with pytest.raises(KeyError):
        loop.run_until_complete(asyncio.Task(main(), loop=loop))


def test_stock_gather_and_wait_for_with_our_futures(loop):
    futs = [Future(loop=loop) for _ in range(3)]

    async def main():
        for i, f in enumerate(futs):
            loop.call_later(0.001 * (3 - i), f.set_result, i)
        res = await asyncio.gather(*futs)
        slow = Future(loop=loop)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(slow, 0.01)
        assert slow.cancelled()
        return res

    assert loop.run_until_complete(main()) == [0, 1, 2]


def test_wrap_in_concurrent_interop(loop):
    # asyncio.wrap_future / run_coroutine_threadsafe helpers use
    # _copy_future_state on our futures.
    import concurrent.futures
    cf = concurrent.futures.Future()
    ours = Future(loop=loop)
    if sys.version_info < (3, 15):
        # an asyncio future as the source (3.15's _copy_future_state takes
        # only a concurrent.futures.Future there)
        af = asyncio.wrap_future(cf, loop=loop)
        asyncio.futures._chain_future(af, ours)
    else:
        asyncio.futures._chain_future(cf, ours)
    loop.call_soon_threadsafe(cf.set_result, 3)
    assert loop.run_until_complete(ours) == 3
    # ours as the source of a concurrent future (run_coroutine_threadsafe)
    ours = Future(loop=loop)
    cf = concurrent.futures.Future()
    asyncio.futures._chain_future(ours, cf)
    loop.call_soon(ours.set_result, 4)
    loop.run_until_complete(asyncio.sleep(0.01))
    assert cf.result(timeout=1) == 4


def test_no_leak_callbacks_and_results(loop):
    class Payload:
        pass

    refs = []

    def once():
        fut = Future(loop=loop)
        p = Payload()
        refs.append(weakref.ref(p))
        fut.add_done_callback(lambda f: None)
        fut.add_done_callback(lambda f: None)
        fut.set_result(p)
        refs.append(weakref.ref(fut))
        run_briefly(loop, 1)

    for _ in range(50):
        once()
    collect_and_check_dead(refs)

    def many():
        for _ in range(2000):
            fut = Future(loop=loop)
            fut.add_done_callback(id)
            fut.set_exception(ValueError())
            fut.exception()
            fut.remove_done_callback(id)
        run_briefly(loop, 1)
    assert memory_growth(many) < 64 * 1024


def test_exception_traceback_cycle_freed(loop):
    # result() re-raises with the original traceback, then forgets it, so
    # the future does not keep the raising frame alive through a cycle.
    class Marker:
        pass

    def fail(fut):
        m = Marker()  # noqa: F841  (lives in the traceback's frame)
        refs.append(weakref.ref(m))
        try:
            raise ValueError
        except ValueError as e:
            fut.set_exception(e)

    refs = []
    fut = Future(loop=loop)
    fail(fut)
    with pytest.raises(ValueError):
        fut.result()
    del fut
    collect_and_check_dead(refs)


@pytest.mark.parametrize('which', ['asyncio', 'casyncio'])
def test_future_and_task_types_are_immutable(which):
    """As asyncio's C types: their methods cannot be replaced on the class
    (the C fast paths call them directly)."""
    from conftest import LOOPS
    loop = LOOPS[which]()
    fut = loop.create_future()
    task = loop.create_task(asyncio.sleep(0))
    for tp in (type(fut), type(task)):
        with pytest.raises(TypeError, match='immutable type'):
            tp.cancelled = lambda self: True
        with pytest.raises(TypeError, match='immutable type'):
            tp.set_result = None
    loop.run_until_complete(task)
    assert not fut.cancelled()
    loop.close()
