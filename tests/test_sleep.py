"""asyncio.sleep once casyncio is imported (casyncio._tasks.sleep, with a C
awaitable for sleep(0)'s one yield) against asyncio's own sleep().

Each behaviour test runs every sleep() on both loops and asserts what
asyncio's own sleep() does on asyncio's loop.
"""
import asyncio
import contextvars
import inspect
import math
import pickle
import sys
import warnings
from unittest import mock

import pytest

import casyncio
import casyncio._core as _core
from casyncio import _tasks

SLEEPS = {"stock": _tasks._stock_sleep, "casyncio": _tasks.sleep}


def aio_iscoroutinefunction(f):
    # deprecated in 3.14 (a DeprecationWarning), still what tools call
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return asyncio.iscoroutinefunction(f)


@pytest.fixture(params=sorted(SLEEPS))
def sleep(request):
    return SLEEPS[request.param]


def test_installed():
    # CASYNCIO_DISABLE=1 leaves asyncio untouched (tests/test_disable.py).
    assert asyncio.sleep is _tasks.sleep
    assert asyncio.tasks.sleep is _tasks.sleep
    assert casyncio.sleep is _tasks.sleep
    assert _tasks._stock_sleep is not _tasks.sleep


def test_looks_like_asyncios():
    ours, stock = _tasks.sleep, _tasks._stock_sleep
    assert inspect.iscoroutinefunction(ours)
    assert aio_iscoroutinefunction(ours)
    assert inspect.signature(ours) == inspect.signature(stock)
    assert ours.__doc__ == stock.__doc__
    assert ours.__name__ == stock.__name__ == "sleep"
    assert ours.__qualname__ == stock.__qualname__
    assert ours.__module__ == stock.__module__ == "asyncio.tasks"
    assert ours.__defaults__ == stock.__defaults__
    # pickled by reference: asyncio.tasks.sleep, which is ours
    assert pickle.loads(pickle.dumps(ours)) is ours


def test_mock_patch_makes_asyncmock():
    with mock.patch("asyncio.sleep") as m:
        assert isinstance(m, mock.AsyncMock)
    # autospec'd: what the tools see is what they see of asyncio's own
    seen = {}
    for name, fn in SLEEPS.items():
        ns = type("NS", (), {"sleep": staticmethod(fn)})
        with mock.patch.object(ns, "sleep", autospec=True) as m:
            seen[name] = (inspect.iscoroutinefunction(m),
                          aio_iscoroutinefunction(m),
                          str(inspect.signature(m)))
    assert seen["casyncio"] == seen["stock"]
    assert seen["stock"][1] is True
    assert asyncio.sleep is _tasks.sleep


@pytest.mark.parametrize("delay", [0, -1, 0.0])
def test_returns_a_coroutine(sleep, delay):
    c = sleep(delay, "r")
    try:
        assert inspect.iscoroutine(c)
        assert asyncio.iscoroutine(c)
        assert inspect.isawaitable(c)
        # driven by hand: one bare yield, then the result
        assert c.send(None) is None
        with pytest.raises(StopIteration) as ei:
            c.send(None)
        assert ei.value.value == "r"
    finally:
        c.close()


def test_throw_and_close_while_suspended(sleep):
    c = sleep(0)
    assert c.send(None) is None
    with pytest.raises(KeyError):
        c.throw(KeyError("x"))
    c = sleep(0)
    c.send(None)
    c.close()
    assert inspect.getcoroutinestate(c) == inspect.CORO_CLOSED
    c = sleep(0)
    c.close()   # never started: no "never awaited" warning on close


def test_create_task_and_result(loop, sleep):
    async def main():
        t = loop.create_task(sleep(0, "a"))
        assert isinstance(t, asyncio.Task) or type(t).__name__ == "Task"
        r1 = await t
        r2 = await sleep(0.001, "b")
        r3 = await asyncio.ensure_future(sleep(-5, "c"))
        return r1, r2, r3
    assert loop.run_until_complete(main()) == ("a", "b", "c")


def test_sleep0_interleaves_round_robin(loop, sleep):
    order = []

    async def worker(k):
        for i in range(3):
            order.append((k, i))
            await sleep(0)

    def cb(i):
        order.append(("cb", i))

    async def main():
        loop.call_soon(cb, 0)
        await asyncio.gather(*(worker(k) for k in range(3)))
        loop.call_soon(cb, 1)
        await sleep(0)
    loop.run_until_complete(main())
    assert order == [("cb", 0), (0, 0), (1, 0), (2, 0), (0, 1), (1, 1),
                     (2, 1), (0, 2), (1, 2), (2, 2), ("cb", 1)]


def test_sleep_d_against_call_later(loop, sleep):
    order = []

    async def sleeper(d, tag):
        order.append(await sleep(d, tag))

    async def main():
        # 50 ms apart: the sleeps' call_later runs at their first step
        loop.call_later(0.1, order.append, "timer100")
        ts = [loop.create_task(sleeper(d, f"s{int(d * 1000)}"))
              for d in (0.15, 0.05, 0)]
        loop.call_later(0.0, order.append, "timer0")
        await asyncio.wait(ts)
    loop.run_until_complete(main())
    assert order == ["timer0", "s0", "s50", "timer100", "s150"]


def test_contextvars(loop, sleep):
    var = contextvars.ContextVar("v", default="unset")

    async def child(tag):
        var.set(tag)
        await sleep(0)
        a = var.get()
        await sleep(0.001)
        return a, var.get()

    async def main():
        var.set("main")
        res = await asyncio.gather(child("x"), child("y"))
        await sleep(0)
        return res, var.get()
    assert loop.run_until_complete(main()) == (
        [("x", "x"), ("y", "y")], "main")


@pytest.mark.parametrize("delay", [0, 0.001, 10])
def test_cancel_while_sleeping(loop, sleep, delay):
    steps = []

    async def sleeper():
        try:
            await sleep(delay, "never")
        except asyncio.CancelledError as e:
            steps.append(("cancelled", e.args))
            raise

    async def main():
        t = loop.create_task(sleeper())
        await asyncio.sleep(0)     # t is now inside sleep()
        assert t.cancel("bye")
        with pytest.raises(asyncio.CancelledError) as ei:
            await t
        steps.append(("outer", ei.value.args, t.cancelled()))
    loop.run_until_complete(main())
    assert steps == [("cancelled", ("bye",)), ("outer", ("bye",), True)]


def test_cancel_before_first_step(loop, sleep):
    async def main():
        t = loop.create_task(sleep(0, 1))
        t.cancel("early")
        with pytest.raises(asyncio.CancelledError):
            await t
        return t.cancelled()
    assert loop.run_until_complete(main()) is True


def test_uncancel_and_resleep(loop, sleep):
    # the sleeping task catches the cancellation and sleeps on
    async def sleeper():
        try:
            await sleep(0)
        except asyncio.CancelledError:
            pass
        return await sleep(0, "after")

    async def main():
        t = loop.create_task(sleeper())
        await asyncio.sleep(0)
        t.cancel()
        return await t
    assert loop.run_until_complete(main()) == "after"


def test_debug_mode(loop, sleep):
    loop.set_debug(True)
    loop.slow_callback_duration = 10

    async def main():
        r = [await sleep(0, i) for i in range(3)]
        r.append(await sleep(0.001, "d"))
        return r
    assert loop.run_until_complete(main()) == [0, 1, 2, "d"]


def test_bad_delay(loop, sleep):
    async def main():
        with pytest.raises(TypeError):
            await sleep(None)
        with pytest.raises(TypeError):
            await sleep("1")
        if "isnan" in _tasks._stock_sleep.__code__.co_names:
            # 3.13+, and some patch releases before
            with pytest.raises(ValueError, match="NaN"):
                await sleep(math.nan)
        assert _tasks._CHECK_NAN == (sys.version_info >= (3, 13)
                                     or "isnan" in inspect.getsource(
                                         _tasks._stock_sleep))
        return await sleep(-math.inf, "neg")
    assert loop.run_until_complete(main()) == "neg"


def test_outside_a_loop(sleep):
    # sleep(d > 0) with no running loop: RuntimeError when awaited
    c = sleep(1)
    with pytest.raises(RuntimeError):
        c.send(None)


def test_sleep0_awaitable_is_opaque():
    s = _core._sleep0
    assert "sleep(0)" in repr(s)
    it = s.__await__()
    assert iter(it) is it
    assert next(it) is None
    with pytest.raises(StopIteration):
        next(it)
    with pytest.raises(StopIteration):
        it.send(None)
    with pytest.raises(TypeError):
        type(s)()
    with pytest.raises(TypeError):
        type(it)()
    # many alive at once, then freed (the iterators' free list)
    its = [s.__await__() for _ in range(200)]
    assert [next(i) for i in its] == [None] * 200
    del its
