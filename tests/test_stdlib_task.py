"""The stdlib's Task (asyncio.Task, _asyncio's C Task) on each loop,
waiting on the loop's Futures: on casyncio those are not _asyncio's, so
the task takes its generic path (and, for a Future that finished with a
result, casyncio's cheaper wake-up, src/stdtask.c).  aiohttp makes its
tasks so on 3.12+: asyncio.Task(coro, loop=loop, eager_start=True).

Each test runs on stock asyncio and on casyncio and asserts stock's
answer."""
import asyncio
import contextvars
import gc
import sys

import pytest

import casyncio
from casyncio import _core

EAGER = [False, pytest.param(True, marks=pytest.mark.skipif(
    sys.version_info < (3, 12), reason="Task(eager_start=) is 3.12+"))]

var = contextvars.ContextVar("var", default="outer")


def stdlib_task(loop, coro, eager):
    """asyncio.Task, as aiohttp makes its tasks (never the loop's own)."""
    if eager:
        t = asyncio.Task(coro, loop=loop, eager_start=True)
    else:
        t = asyncio.Task(coro, loop=loop)
    assert type(t) is asyncio.Task
    return t


@pytest.mark.parametrize("eager", EAGER)
def test_results_in_order(loop, eager):
    got = []

    async def waiter(futs):
        for f in futs:
            got.append(await f)
        return "done"

    async def main():
        futs = [loop.create_future() for _ in range(4)]
        t = stdlib_task(loop, waiter(futs), eager)
        for i, f in enumerate(futs):
            loop.call_soon(f.set_result, [i, b"x" * i])
        assert await t == "done"
        # each await gave that future's own result, not a stand-in's
        assert got == [[0, b""], [1, b"x"], [2, b"xx"], [3, b"xxx"]]
        assert futs[0].result() == [0, b""]

    loop.run_until_complete(main())


@pytest.mark.parametrize("eager", EAGER)
def test_result_none_and_falsy(loop, eager):
    got = []

    async def waiter(futs):
        for f in futs:
            got.append(await f)

    async def main():
        futs = [loop.create_future() for _ in range(3)]
        t = stdlib_task(loop, waiter(futs), eager)
        for f, v in zip(futs, (None, 0, "")):
            await asyncio.sleep(0)
            f.set_result(v)
        await t
        assert got == [None, 0, ""]

    loop.run_until_complete(main())


@pytest.mark.parametrize("eager", EAGER)
def test_exception(loop, eager):
    async def waiter(fut):
        try:
            await fut
        except ZeroDivisionError as e:
            return ("caught", e.args)

    async def main():
        fut = loop.create_future()
        t = stdlib_task(loop, waiter(fut), eager)
        await asyncio.sleep(0)
        fut.set_exception(ZeroDivisionError("boom"))
        assert await t == ("caught", ("boom",))

    loop.run_until_complete(main())


@pytest.mark.parametrize("eager", EAGER)
def test_exception_ends_task(loop, eager):
    async def waiter(fut):
        await fut

    async def main():
        fut = loop.create_future()
        t = stdlib_task(loop, waiter(fut), eager)
        await asyncio.sleep(0)
        fut.set_exception(KeyError("k"))
        with pytest.raises(KeyError):
            await t
        assert isinstance(t.exception(), KeyError)

    loop.run_until_complete(main())


@pytest.mark.parametrize("eager", EAGER)
def test_future_cancelled_with_message(loop, eager):
    async def waiter(fut):
        try:
            await fut
        except asyncio.CancelledError as e:
            return ("cancelled", e.args)

    async def main():
        fut = loop.create_future()
        t = stdlib_task(loop, waiter(fut), eager)
        await asyncio.sleep(0)
        fut.cancel("stop here")
        return await t

    assert loop.run_until_complete(main()) == ("cancelled", ("stop here",))


@pytest.mark.parametrize("eager", EAGER)
def test_task_cancelled_with_message(loop, eager):
    seen = []

    async def waiter(fut):
        try:
            await fut
        except asyncio.CancelledError as e:
            seen.append(e.args)
            raise

    async def main():
        fut = loop.create_future()
        t = stdlib_task(loop, waiter(fut), eager)
        await asyncio.sleep(0)
        t.cancel("bye")
        with pytest.raises(asyncio.CancelledError) as ei:
            await t
        assert fut.cancelled()
        assert t.cancelled()
        return seen, ei.value.args

    assert loop.run_until_complete(main()) == ([("bye",)], ("bye",))


@pytest.mark.parametrize("eager", EAGER)
def test_task_cancelled_after_future_done(loop, eager):
    # The future finished with a result, the wake-up is queued, then the
    # task is cancelled: the coroutine gets CancelledError at that await.
    seen = []

    async def waiter(fut):
        try:
            await fut
        except asyncio.CancelledError as e:
            seen.append(("cancelled", e.args))
            return "handled"
        seen.append("resumed")

    async def main():
        fut = loop.create_future()
        t = stdlib_task(loop, waiter(fut), eager)
        await asyncio.sleep(0)
        fut.set_result(1)
        t.cancel("late")
        return await t, seen

    assert loop.run_until_complete(main()) == (
        "handled", [("cancelled", ("late",))])


@pytest.mark.parametrize("eager", EAGER)
def test_contextvars(loop, eager):
    seen = []

    async def waiter(fut):
        var.set("task")
        await fut
        seen.append(("after", var.get()))
        return var.get()

    async def main():
        var.set("main")
        fut = loop.create_future()
        ctx = contextvars.copy_context()
        ctx.run(var.set, "callback")
        fut.add_done_callback(lambda f: seen.append(("cb", var.get())),
                              context=ctx)
        t = stdlib_task(loop, waiter(fut), eager)
        await asyncio.sleep(0)
        loop.call_soon(fut.set_result, None)
        assert await t == "task"
        assert var.get() == "main"

    loop.run_until_complete(main())
    assert seen == [("cb", "callback"), ("after", "task")]


@pytest.mark.parametrize("eager", EAGER)
def test_done_callbacks_order(loop, eager):
    events = []

    async def waiter(fut):
        await fut
        events.append("resumed")

    async def main():
        fut = loop.create_future()
        fut.add_done_callback(lambda f: events.append("cb1"))
        t = stdlib_task(loop, waiter(fut), eager)
        await asyncio.sleep(0)
        fut.add_done_callback(lambda f: events.append("cb2"))
        fut.set_result(None)
        await t

    loop.run_until_complete(main())
    assert events == ["cb1", "resumed", "cb2"]


@pytest.mark.parametrize("eager", EAGER)
def test_two_tasks_one_future(loop, eager):
    events = []

    async def waiter(name, fut):
        events.append((name, await fut))

    async def main():
        fut = loop.create_future()
        a = stdlib_task(loop, waiter("a", fut), eager)
        b = stdlib_task(loop, waiter("b", fut), eager)
        await asyncio.sleep(0)
        fut.set_result(7)
        await asyncio.gather(a, b)

    loop.run_until_complete(main())
    assert events == [("a", 7), ("b", 7)]


@pytest.mark.parametrize("eager", EAGER)
def test_awaits_loop_task(loop, eager):
    async def child():
        await asyncio.sleep(0)
        return "child"

    async def waiter(t):
        return await t

    async def main():
        inner = loop.create_task(child())
        return await stdlib_task(loop, waiter(inner), eager)

    assert loop.run_until_complete(main()) == "child"


@pytest.mark.parametrize("eager", EAGER)
def test_future_subclass_result_is_called(loop, eager):
    calls = []
    base = type(loop.create_future())

    class MyFuture(base):
        def result(self):
            calls.append("result")
            return super().result()

    async def waiter(fut):
        return await fut

    async def main():
        fut = MyFuture(loop=loop)
        t = stdlib_task(loop, waiter(fut), eager)
        await asyncio.sleep(0)
        fut.set_result("r")
        assert await t == "r"

    loop.run_until_complete(main())
    # the task's wake-up asks a subclass for its result (the generic
    # path); the await itself reads it without the method
    assert calls == ["result"]


@pytest.mark.parametrize("debug", [False, True])
def test_wakeup_error_is_reported_with_the_future(loop, debug):
    """A wake-up that raises is reported as stock reports the failed
    Handle: task_wakeup(<the Future>), the context's 'handle' too."""
    loop.set_debug(debug)
    seen = []

    def handler(lp, context):
        h = context.get("handle")
        seen.append((context["message"].split("\n")[0],
                     repr(h).split(" created at")[0], h._args,
                     type(context.get("exception")).__name__, var.get()))

    loop.set_exception_handler(handler)

    class Bad:
        _asyncio_future_blocking = False

        def get_loop(self):
            return loop

        def add_done_callback(self, cb, *, context=None):
            raise ZeroDivisionError("no")

        def __await__(self):
            self._asyncio_future_blocking = True
            yield self

    async def coro(fut):
        var.set("task")
        await fut
        await Bad()

    async def main():
        fut = loop.create_future()
        t = asyncio.Task(coro(fut), loop=loop)
        await asyncio.sleep(0)
        fut.set_result(b"data")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not t.done()
        return t, fut

    t, fut = loop.run_until_complete(main())
    msg, handle, args, exc, value = seen[0]
    assert len(args) == 1 and args[0] is fut
    # 3.13+ shows a callback's arguments in debug mode only; debug mode's
    # reprs end with where the future was made
    if sys.version_info >= (3, 13) and not debug:
        arg = ")"
    elif debug:
        arg = "<Future finis"
    else:
        arg = "<Future finis...esult=b'data'>)"
    assert msg.startswith("Exception in callback Task.task_wakeup(" + arg), msg
    assert handle.startswith("<Handle Task.task_wakeup(" + arg), handle
    # the handler sees the callback's value of the variable on 3.12+,
    # the loop's on 3.11 (stock's answers, which each loop must give)
    assert exc == "ZeroDivisionError"
    assert value == ("task" if sys.version_info >= (3, 12) else "outer")
    loop.set_exception_handler(lambda lp, c: None)
    del t
    gc.collect()


def test_eager_start_when_loop_not_running(loop):
    if sys.version_info < (3, 12):
        pytest.skip("Task(eager_start=) is 3.12+")
    ran = []

    async def coro():
        ran.append(asyncio.get_running_loop() is loop)
        return 1

    # is_running() is False: the task is scheduled, not run eagerly
    t = asyncio.Task(coro(), loop=loop, eager_start=True)
    assert ran == [] and not loop.is_running()
    assert loop.run_until_complete(t) == 1
    assert ran == [True]


def test_is_running(loop):
    assert loop.is_running() is False

    async def main():
        return loop.is_running()

    assert loop.run_until_complete(main()) is True
    assert loop.is_running() is False


def counts():
    return _core._path_counts()["stdtask_wakeups"]


@pytest.mark.skipif(asyncio.Task.__module__ != "_asyncio",
                    reason="asyncio.Task is not _asyncio's C Task here")
def test_cheaper_wakeup_taken(cloop):
    """casyncio: which wake-ups take stdtask.c's path (result: yes;
    exception, cancellation, a subclass, debug mode: no)."""
    async def waiter(fut):
        try:
            return await fut
        except BaseException as e:
            return type(e).__name__

    async def one(make, finish, debug=False):
        cloop.set_debug(debug)
        fut = make()
        t = asyncio.Task(waiter(fut), loop=cloop)
        await asyncio.sleep(0)
        n = counts()
        finish(fut)
        res = await t
        cloop.set_debug(False)
        return res, counts() - n

    plain = cloop.create_future
    sub = type("Sub", (type(cloop.create_future()),), {})

    async def main():
        assert await one(plain, lambda f: f.set_result(3)) == (3, 1)
        assert await one(plain, lambda f: f.set_exception(KeyError())) == (
            "KeyError", 0)
        assert await one(plain, lambda f: f.cancel()) == (
            "CancelledError", 0)
        assert await one(lambda: sub(loop=cloop),
                         lambda f: f.set_result(4)) == (4, 0)
        assert await one(plain, lambda f: f.set_result(5), debug=True) == (
            5, 0)

    cloop.run_until_complete(main())
