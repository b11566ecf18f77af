"""Task and Future features of each Python version, on both loops (stock
asyncio with its own Task, casyncio with ours): the same body, the running
version's stock asyncio as the oracle.

  3.12  eager tasks, current task swapped during the eager step and the
        eager-task registry, get_context()
  3.13  uncancel() down to zero drops a pending cancellation
  3.13.x/3.15  Task(context=) must be a contextvars.Context (where the
        running tasks.py says so)
  3.14  call-graph introspection (capture_call_graph, format_call_graph,
        future_add_to_awaited_by / future_discard_from_awaited_by,
        _asyncio_awaited_by), all_tasks()/current_task() see our tasks,
        Task(eager_start=) through a factory's keyword
"""
import asyncio
import contextvars
import gc
import re
import sys

import pytest

import casyncio
from casyncio import _core

PY312 = sys.version_info >= (3, 12)
PY313 = sys.version_info >= (3, 13)
PY314 = sys.version_info >= (3, 14)

needs312 = pytest.mark.skipif(not PY312, reason="3.12+")
needs314 = pytest.mark.skipif(not PY314, reason="3.14+")


def native_task(loop):
    """The Task class loop.create_task() makes on this loop."""
    return _core.Task if isinstance(loop, casyncio.Loop) else asyncio.Task


def run(loop, coro):
    return loop.run_until_complete(loop.create_task(coro, name="main"))


def create_task_passes_keywords():
    import inspect
    params = inspect.signature(
        asyncio.BaseEventLoop.create_task).parameters
    return "name" not in params


def tasks_checks_context():
    consts = asyncio.tasks._PyTask.__init__.__code__.co_consts
    return "a contextvars.Context was expected, got " in consts


# --- 3.12: eager tasks -------------------------------------------------------

@needs312
def test_eager_completes_in_create_task(loop):
    loop.set_task_factory(asyncio.create_eager_task_factory(
        native_task(loop)))
    trace = []

    async def quick():
        me = asyncio.current_task()
        trace.append(("in", me.get_name(), me in asyncio.all_tasks()))
        return 5

    async def main():
        outer = asyncio.current_task()
        t = asyncio.create_task(quick(), name="quick")
        trace.append(("after", asyncio.current_task() is outer))
        assert t.done() and t.result() == 5
        # done during the eager step: the coroutine is dropped, and the
        # task is in no registry
        if PY313 or isinstance(loop, casyncio.Loop):
            # (3.12.1's own C Task crashes here: get_coro() returns NULL)
            assert t.get_coro() is None
        assert t not in asyncio.all_tasks()
        assert type(t) is native_task(loop)
        return await t

    assert run(loop, main()) == 5
    # The name reaches the factory where create_task() passes its keywords
    # on (3.14); before, create_task() names the task once the factory
    # returned.
    in_step_name = "quick" if create_task_passes_keywords() else "Task-"
    assert trace[0][1].startswith(in_step_name)
    assert trace == [("in", trace[0][1], True), ("after", True)]


@needs312
def test_eager_suspending_task_registered_and_current_restored(loop):
    loop.set_task_factory(casyncio.eager_task_factory
                          if isinstance(loop, casyncio.Loop)
                          else asyncio.eager_task_factory)
    seen = []

    async def child():
        seen.append(asyncio.current_task())
        await asyncio.sleep(0)
        seen.append(asyncio.current_task())
        return "child"

    async def main():
        outer = asyncio.current_task()
        t = asyncio.create_task(child())
        assert asyncio.current_task() is outer
        assert seen == [t] and not t.done()
        assert t in asyncio.all_tasks()
        assert t.get_coro() is not None
        assert await t == "child"
        assert seen == [t, t]

    run(loop, main())


@needs312
def test_eager_exception_context_and_cancel(loop):
    var = contextvars.ContextVar("var", default="none")
    Task = native_task(loop)

    async def fail():
        var.set("in-task")
        raise ValueError("eager")

    async def cancels_itself():
        asyncio.current_task().cancel("stop")
        await asyncio.sleep(1)

    async def main():
        ctx = contextvars.copy_context()
        t = Task(fail(), loop=loop, context=ctx, eager_start=True)
        assert t.done() and t.get_context() is ctx
        assert ctx[var] == "in-task" and var.get() == "none"
        with pytest.raises(ValueError, match="eager"):
            await t
        t2 = Task(cancels_itself(), loop=loop, eager_start=True)
        assert not t2.done() and t2.cancelling() == 1
        with pytest.raises(asyncio.CancelledError, match="stop"):
            await t2
        assert t2.cancelled()

    run(loop, main())


@needs312
def test_eager_start_in_a_running_task_swaps_c_current_task(loop):
    # asyncio's (C) current-task functions see the eager task as current,
    # and give the enclosing task back.
    Task = native_task(loop)
    seen = {}

    async def child():
        seen["current"] = asyncio.tasks.current_task(loop)
        seen["swap"] = asyncio.tasks._swap_current_task(loop, None)
        asyncio.tasks._swap_current_task(loop, seen["swap"])
        return 1

    async def main():
        t = Task(child(), loop=loop, eager_start=True)
        assert seen["current"] is t and seen["swap"] is t
        assert asyncio.current_task() is not t
        return t.result()

    assert run(loop, main()) == 1


@needs312
def test_eager_task_not_started_when_loop_not_running(loop):
    ran = []

    async def coro():
        ran.append(1)

    t = native_task(loop)(coro(), loop=loop, eager_start=True)
    assert ran == [] and not t.done()
    loop.run_until_complete(t)
    assert ran == [1]


# --- 3.13: uncancel ----------------------------------------------------------

def test_uncancel_to_zero_and_pending_cancellation(loop):
    async def main():
        t = asyncio.current_task()
        assert t.cancel() is True
        assert t.cancelling() == 1 and t._must_cancel
        assert t.uncancel() == 0
        if PY313:
            # 3.13: back at zero, the pending cancellation is dropped
            assert not t._must_cancel
            await asyncio.sleep(0)
            return "ran on"
        assert t._must_cancel
        with pytest.raises(asyncio.CancelledError):
            await asyncio.sleep(0)
        return "cancelled"

    assert run(loop, main()) == ("ran on" if PY313 else "cancelled")


def test_uncancel_not_at_zero_keeps_cancellation(loop):
    async def main():
        t = asyncio.current_task()
        t.cancel()
        t.cancel()
        assert t.cancelling() == 2
        assert t.uncancel() == 1
        assert t._must_cancel
        with pytest.raises(asyncio.CancelledError):
            await asyncio.sleep(0)
        assert t.uncancel() == 0
        assert t.uncancel() == 0
        return "ok"

    assert run(loop, main()) == "ok"


# --- Task(context=) type check -----------------------------------------------

def test_task_context_must_be_a_context_where_the_version_says(loop):
    if not tasks_checks_context():
        pytest.skip("this asyncio takes any context object")
    Task = native_task(loop)
    reports = []
    loop.set_exception_handler(lambda lp, ctx: reports.append(ctx))

    async def coro():
        return 1

    co = coro()
    with pytest.raises(TypeError,
                       match="a contextvars.Context was expected, got int"):
        Task(co, loop=loop, context=42)
    with pytest.raises(TypeError,
                       match="a contextvars.Context was expected, got dict"):
        loop.create_task(co, context={})
    co.close()
    gc.collect()
    # refused before it was scheduled: no "destroyed but pending" report
    assert reports == []


# --- 3.14: the task registry and call graphs ---------------------------------

@needs314
def test_all_tasks_and_current_task_see_our_tasks(loop):
    async def child(ev):
        await ev.wait()

    async def main():
        ev = asyncio.Event()
        t = loop.create_task(child(ev), name="child")
        me = asyncio.current_task()
        assert asyncio.current_task(loop) is me
        assert {me, t} <= asyncio.all_tasks()
        assert {me, t} <= asyncio.all_tasks(loop)
        ev.set()
        await t
        await asyncio.sleep(0)
        assert t not in asyncio.all_tasks()

    run(loop, main())


@needs314
def test_awaited_by_functions_on_futures(loop):
    async def main():
        t = asyncio.current_task()
        fut = loop.create_future()
        assert fut._asyncio_awaited_by is None
        asyncio.future_add_to_awaited_by(fut, t)
        asyncio.future_add_to_awaited_by(fut, t)
        assert fut._asyncio_awaited_by == frozenset({t})
        assert type(fut._asyncio_awaited_by) is frozenset
        other = loop.create_future()
        asyncio.futures.future_add_to_awaited_by(fut, other)
        assert fut._asyncio_awaited_by == frozenset({t, other})
        # not futures: nothing recorded, no error
        asyncio.future_add_to_awaited_by(fut, 42)
        asyncio.future_add_to_awaited_by(42, fut)
        asyncio.future_discard_from_awaited_by(42, fut)
        asyncio.future_discard_from_awaited_by(fut, other)
        asyncio.future_discard_from_awaited_by(fut, t)
        asyncio.future_discard_from_awaited_by(fut, t)
        assert fut._asyncio_awaited_by == frozenset()
        with pytest.raises(TypeError, match="expected 2 arguments, got 1"):
            asyncio.future_add_to_awaited_by(fut)
        with pytest.raises(AttributeError):
            fut._asyncio_awaited_by = None
        fut.cancel()

    run(loop, main())


def _shape(graph):
    """A FutureCallGraph as comparable data: the future's name (or class),
    its frames' function names, and its waiters, sorted."""
    fut = graph.future
    name = fut.get_name() if hasattr(fut, "get_name") else "future"
    return (name, [e.frame.f_code.co_name for e in graph.call_stack],
            sorted((_shape(g) for g in graph.awaited_by), key=repr))


@needs314
def test_capture_call_graph_await_gather_taskgroup(loop):
    graphs = {}

    async def leaf(key):
        await asyncio.sleep(0)
        graphs[key] = asyncio.capture_call_graph()
        return key

    async def middle():
        return await loop.create_task(leaf("await"), name="awaited")

    async def main():
        await middle()
        await asyncio.gather(loop.create_task(leaf("g1"), name="g1"),
                             loop.create_task(leaf("g2"), name="g2"))
        async with asyncio.TaskGroup() as tg:
            tg.create_task(leaf("tg"), name="tg")
        fut = loop.create_future()

        async def shielded():
            await asyncio.shield(fut)

        waiter = loop.create_task(shielded(), name="shielded")
        await asyncio.sleep(0)
        graphs["future"] = asyncio.capture_call_graph(fut)
        fut.set_result(None)
        await waiter
        graphs["after"] = asyncio.capture_call_graph(fut)

    run(loop, main())
    assert _shape(graphs["await"]) == (
        "awaited", ["leaf"],
        [("main", ["middle", "main"], [])])
    assert _shape(graphs["g1"]) == ("g1", ["leaf"], [("main", ["main"], [])])
    assert _shape(graphs["tg"]) == (
        "tg", ["leaf"], [("main", ["_aexit", "__aexit__", "main"], [])])
    assert _shape(graphs["future"]) == (
        "future", [], [("shielded", ["shielded"], [])])
    assert _shape(graphs["after"]) == ("future", [], [])


@needs314
def test_format_call_graph_text(loop):
    out = {}

    async def leaf():
        await asyncio.sleep(0)
        out["text"] = asyncio.format_call_graph()

    async def main():
        await asyncio.gather(loop.create_task(leaf(), name="leaf"))

    run(loop, main())
    text = re.sub(r"0x[0-9a-f]+", "0x?", out["text"])
    text = re.sub(r'line \d+', "line ?", text)
    where = f"File {__file__!r}, line ?, in async test_format_call_graph_text"
    assert [ln.rstrip() for ln in text.splitlines() if ln.strip()] == [
        "* Task(name='leaf', id=0x?)",
        "  + Call stack:",
        f"  |   {where}.<locals>.leaf()",
        "  + Awaited by:",
        "    * Task(name='main', id=0x?)",
        "      + Call stack:",
        f"      |   {where}.<locals>.main()",
    ]


@needs314
def test_gather_drops_edges_when_failing(loop):
    # gh-157213 (the running 3.14's gather): children outliving a failed
    # gather() lose the edge to the waiting task.
    async def fail():
        raise ValueError

    async def main():
        slow = loop.create_task(asyncio.sleep(1), name="slow")
        with pytest.raises(ValueError):
            await asyncio.gather(slow, loop.create_task(fail()))
        assert not slow._asyncio_awaited_by
        slow.cancel()

    run(loop, main())


@needs314
def test_task_awaited_by_is_cleared_on_wakeup(loop):
    async def child():
        await asyncio.sleep(0)

    async def main():
        me = asyncio.current_task()
        t = loop.create_task(child())
        await asyncio.sleep(0)
        assert not t._asyncio_awaited_by
        await t
        assert not t._asyncio_awaited_by
        fut = loop.create_future()
        loop.call_soon(fut.set_result, 1)
        await fut
        assert not fut._asyncio_awaited_by
        return me

    run(loop, main())


@needs314
def test_create_task_eager_start_through_factory_keyword(loop):
    loop.set_task_factory(asyncio.create_eager_task_factory(
        native_task(loop)))
    ran = []

    async def coro():
        ran.append(1)

    async def main():
        t = loop.create_task(coro(), eager_start=False)
        assert ran == [] and not t.done()
        await t
        t = loop.create_task(coro())
        assert ran == [1, 1] and t.done()

    run(loop, main())


def assert_no_growth(loop, once, n, refs):
    """Run the coroutine function *once* n times after a warm-up: traced
    memory stays flat, and every object *refs* (weak references) names is
    gone."""
    import tracemalloc

    async def rounds(count):
        for _ in range(count):
            await once()

    run(loop, rounds(20))
    gc.collect()
    tracemalloc.start()
    try:
        run(loop, rounds(5))
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        nrefs = len(refs)
        run(loop, rounds(n))
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    # Less the test's own weak references, which refs keeps (a list slot
    # and a weakref each).
    import sys
    import weakref
    growth -= (len(refs) - nrefs) * (sys.getsizeof(weakref.ref(gc)) + 8)
    assert growth < 32 * 1024
    for _ in range(3):
        gc.collect()
    assert [r for r in refs if r() is not None] == []


@needs314
def test_call_graph_edges_leak_nothing(loop):
    import weakref
    refs = []

    async def child():
        await asyncio.sleep(0)
        asyncio.capture_call_graph()
        return 1

    async def fail():
        raise ValueError

    async def once():
        a = loop.create_task(child())
        b = loop.create_task(child())
        refs.append(weakref.ref(a))
        await asyncio.gather(a, b)
        await loop.create_task(child())
        async with asyncio.TaskGroup() as tg:
            tg.create_task(child())
        slow = loop.create_task(asyncio.sleep(1))
        refs.append(weakref.ref(slow))
        with pytest.raises(ValueError):
            await asyncio.gather(slow, loop.create_task(fail()))
        slow.cancel()
        await asyncio.sleep(0)

    assert_no_growth(loop, once, 100, refs)


@needs312
def test_eager_tasks_leak_nothing(loop):
    import weakref
    Task = native_task(loop)
    refs = []

    async def quick():
        return 1

    async def suspends():
        await asyncio.sleep(0)
        return 2

    async def fails():
        raise ValueError("x")

    async def once():
        for coro in (quick(), suspends(), fails()):
            t = Task(coro, loop=loop, eager_start=True)
            refs.append(weakref.ref(t))
            try:
                await t
            except ValueError:
                pass
        # gather of children done at once (3.12's done_futs path)
        assert await asyncio.gather(
            Task(quick(), loop=loop, eager_start=True),
            Task(quick(), loop=loop, eager_start=True)) == [1, 1]

    assert_no_growth(loop, once, 200, refs)


def test_stock_and_our_tasks_share_the_current_task(loop):
    # asyncio's Task and ours on the same loop: each is current in its own
    # steps, as asyncio's (C from 3.12) current-task functions see it.
    async def worker(tag):
        me = asyncio.current_task()
        for _ in range(3):
            assert asyncio.current_task() is me
            assert asyncio.current_task(loop) is me
            assert me in asyncio.all_tasks()
            await asyncio.sleep(0)
        return tag

    async def main():
        me = asyncio.current_task()
        tasks = [asyncio.Task(worker("stock"), loop=loop),
                 _core.Task(worker("ours"), loop=loop)]
        if PY312:
            tasks += [asyncio.Task(worker("stock-eager"), loop=loop,
                                   eager_start=True),
                      _core.Task(worker("ours-eager"), loop=loop,
                                 eager_start=True)]
        assert asyncio.current_task() is me
        # entering another task while this one runs: asyncio's error
        with pytest.raises(RuntimeError, match="Cannot enter into task"):
            asyncio.tasks._enter_task(loop, tasks[0])
        with pytest.raises(RuntimeError,
                           match="Invalid attempt to leave task" if PY314
                           else "does not match the current task"):
            asyncio.tasks._leave_task(loop, tasks[1])
        return await asyncio.gather(*tasks)

    expected = ["stock", "ours"]
    if PY312:
        expected += ["stock-eager", "ours-eager"]
    assert run(loop, main()) == expected


def test_task_step_refused_while_another_task_is_current(loop):
    # A callback leaves another "task" current: the next task step's
    # _enter_task refuses, through the exception handler, and leaves the
    # current task as it was.
    errors = []
    loop.set_exception_handler(lambda lp, ctx: errors.append(ctx))
    other = loop.create_future()
    ran, seen = [], []

    async def victim():
        ran.append(1)

    loop.call_soon(asyncio.tasks._enter_task, loop, other)
    task = loop.create_task(victim())
    loop.call_soon(lambda: seen.append(asyncio.current_task(loop)))
    loop.call_soon(asyncio.tasks._leave_task, loop, other)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == [other] and ran == []
    assert len(errors) == 1
    assert isinstance(errors[0]["exception"], RuntimeError)
    assert "Cannot enter into task" in str(errors[0]["exception"])
    # never stepped: asyncio leaves it pending (nothing reschedules it)
    assert not task.done()
    task._log_destroy_pending = False
    task.get_coro().close()


def test_task_step_leave_refused_when_current_task_changed(loop):
    # The step's coroutine makes another "task" current: leaving at the end
    # of the step refuses (through the exception handler), and the other
    # one stays current, as asyncio leaves it.
    errors = []
    loop.set_exception_handler(lambda lp, ctx: errors.append(ctx))
    other = loop.create_future()
    seen = []

    async def swapper():
        me = asyncio.current_task()
        asyncio.tasks._leave_task(loop, me)
        asyncio.tasks._enter_task(loop, other)

    loop.create_task(swapper())
    loop.call_soon(lambda: seen.append(asyncio.current_task(loop)))
    loop.call_soon(asyncio.tasks._leave_task, loop, other)
    loop.call_soon(lambda: seen.append(asyncio.current_task(loop)))
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == [other, None]
    assert len(errors) == 1
    exc = errors[0]["exception"]
    assert isinstance(exc, RuntimeError)
    assert ("Invalid attempt to leave task" if PY314
            else "does not match the current task") in str(exc)


def test_exception_handler_runs_in_the_task_context(loop):
    # 3.12 (gh-96704): a custom exception handler runs in the context of
    # the task (or handle) it reports on.
    name = contextvars.ContextVar("name", default="foo")
    seen = []
    loop.set_exception_handler(lambda lp, ctx: seen.append(name.get()))

    async def task():
        name.set("bar")
        1 / 0

    def callback():
        name.set("bar")
        1 / 0

    async def main():
        loop.create_task(task())
        loop.call_soon(callback)
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    run(loop, main())
    gc.collect()
    expected = "bar" if PY312 else "foo"
    assert seen == [expected, expected]
