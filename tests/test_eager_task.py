"""Eager start: Task(..., eager_start=True) and casyncio.eager's factory,
with Python 3.12's semantics, on 3.11's stock loop."""
import asyncio
import contextvars

import pytest

from casyncio import _core
from casyncio.eager import create_eager_task_factory, eager_task_factory
from future_task_fixtures import loop  # noqa: F401


def test_completes_synchronously(loop):
    loop.set_task_factory(eager_task_factory)
    steps = []

    async def quick():
        steps.append("ran")
        return 5

    async def main():
        t = asyncio.create_task(quick(), name="quick")
        # Ran inside create_task(): done before this coroutine yields.
        assert steps == ["ran"]
        assert t.done() and t.result() == 5
        assert t.get_name() == "quick"
        assert type(t) is _core.Task
        return await t

    assert loop.run_until_complete(main()) == 5


def test_current_task_swapped_and_restored(loop):
    loop.set_task_factory(eager_task_factory)
    seen = []

    async def child():
        seen.append(asyncio.current_task())
        assert asyncio.current_task() in asyncio.all_tasks()
        await asyncio.sleep(0)
        seen.append(asyncio.current_task())
        return "child"

    async def main():
        outer = asyncio.current_task()
        t = asyncio.create_task(child())
        assert asyncio.current_task() is outer
        assert seen == [t] and not t.done()
        assert await t == "child"
        assert seen == [t, t]

    loop.run_until_complete(main())


def test_not_running_loop_starts_lazily(loop):
    ran = []

    async def coro():
        ran.append(1)

    t = _core.Task(coro(), loop=loop, eager_start=True)
    assert ran == [] and not t.done()
    loop.run_until_complete(t)
    assert ran == [1]


def test_exception_and_context(loop):
    var = contextvars.ContextVar("var", default="none")
    factory = create_eager_task_factory(_core.Task)
    loop.set_task_factory(factory)

    async def fail():
        var.set("in-task")
        raise ValueError("eager")

    async def main():
        ctx = contextvars.copy_context()
        t = loop.create_task(fail(), context=ctx)
        assert t.done()
        assert ctx[var] == "in-task" and var.get() == "none"
        with pytest.raises(ValueError, match="eager"):
            await t

    loop.run_until_complete(main())


def test_eager_cancel_after_first_step(loop):
    loop.set_task_factory(eager_task_factory)

    async def forever():
        await loop.create_future()

    async def main():
        t = asyncio.create_task(forever())
        assert not t.done() and t._fut_waiter is not None
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t

    loop.run_until_complete(main())
