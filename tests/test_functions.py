"""gather, wait, sleep, Semaphore, BoundedSemaphore: casyncio's against asyncio's.

Every test body runs against each implementation, with the same expected
values, so any difference in results, ordering, exceptions or cancellation
fails:

  asyncio        asyncio's functions on asyncio's loop (the reference)
  casyncio       casyncio's functions on casyncio's loop (asyncio's loop
                 while this build has no C loop)
  asyncio.gather-casyncio
                 asyncio.gather (casyncio's once casyncio is imported) on
                 casyncio's loop
  casyncio-pyfut casyncio's gather() with its own _GatheringFuture class
                 built on asyncio.Future, so that class's code is tested even
                 before casyncio._core.Future exists
"""
import asyncio
import contextvars
import types
from unittest import mock

import pytest

import casyncio._core as _core
from casyncio import _policy, _tasks



@pytest.fixture(params=["asyncio", "casyncio", "casyncio-pyfut",
                        "asyncio.gather-casyncio"])
def impl(request, monkeypatch):
    if request.param == "asyncio":
        ns = types.SimpleNamespace(
            gather=asyncio.gather, wait=asyncio.wait, sleep=asyncio.sleep,
            Semaphore=asyncio.Semaphore,
            BoundedSemaphore=asyncio.BoundedSemaphore,
            new_loop=asyncio.new_event_loop)
    else:
        ns = types.SimpleNamespace(
            gather=_tasks.gather, wait=_tasks.wait, sleep=_tasks.sleep,
            Semaphore=_tasks.Semaphore,
            BoundedSemaphore=_tasks.BoundedSemaphore,
            new_loop=_policy.new_event_loop)
        if request.param == "asyncio.gather-casyncio":
            # what an unchanged program calls, on our loop
            ns.gather = asyncio.gather
        if request.param == "casyncio-pyfut":
            cls = _tasks._make_gathering_future(asyncio.Future)
            monkeypatch.setattr(_tasks, "_gathering_future_class",
                                lambda loop: cls)
            ns.new_loop = asyncio.new_event_loop
    ns.name = request.param
    return ns


def run(impl, coro):
    with asyncio.Runner(loop_factory=impl.new_loop) as runner:
        return runner.run(coro)


async def value_after(delay, value, trace=None):
    await asyncio.sleep(delay)
    if trace is not None:
        trace.append(value)
    return value


async def fail_after(delay, exc, trace=None):
    await asyncio.sleep(delay)
    if trace is not None:
        trace.append(repr(exc))
    raise exc


# --- gather ------------------------------------------------------------------

def test_gather_results_in_argument_order(impl):
    trace = []

    async def main():
        return await impl.gather(value_after(0.03, "a", trace),
                                 value_after(0.01, "b", trace),
                                 value_after(0.02, "c", trace))

    assert run(impl, main()) == ["a", "b", "c"]
    assert trace == ["b", "c", "a"]


@pytest.mark.parametrize("n", [3, 40])   # a few arguments, and many
def test_gather_duplicate_coroutine_is_one_child(impl, n):
    async def main():
        coros = [value_after(0, i) for i in range(n)]
        args = coros + coros[::-1] + [coros[0]]
        outer = impl.gather(*args)
        kids = outer._children
        assert len(kids) == 2 * n + 1
        assert kids[:n] == kids[n:2 * n][::-1] and kids[-1] is kids[0]
        assert len({id(k) for k in kids}) == n
        return await outer

    res = run(impl, main())
    assert res == list(range(n)) + list(range(n))[::-1] + [0]


class _Eq:
    """An awaitable equal to every other _Eq: gather's dict makes the second
    one a duplicate of the first."""

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return isinstance(other, _Eq)

    def __hash__(self):
        return 1

    def __await__(self):
        return value_after(0, self.value).__await__()


def test_gather_duplicates_by_equality(impl):
    async def main():
        return await impl.gather(_Eq("a"), _Eq("b"), value_after(0, "c"))

    assert run(impl, main()) == ["a", "a", "c"]


def test_gather_duplicate_future_counts_once(impl):
    async def main():
        fut = asyncio.ensure_future(value_after(0.01, 7))
        outer = impl.gather(fut, fut, fut)
        assert outer._children == [fut, fut, fut]
        return await outer

    assert run(impl, main()) == [7, 7, 7]


def test_gather_many_futures_with_duplicates(impl):
    # More arguments than a short scan covers, every one a future (tasks
    # and a plain future), repeated out of order.
    async def main():
        loop = asyncio.get_running_loop()
        futs = [asyncio.ensure_future(value_after(0, i)) for i in range(30)]
        plain = loop.create_future()
        loop.call_soon(plain.set_result, "p")
        futs.append(plain)
        args = futs + futs[::3] + [plain, futs[0]]
        outer = impl.gather(*args)
        kids = outer._children
        assert len(kids) == len(args)
        assert all(k is a for k, a in zip(kids, args))
        return await outer

    res = run(impl, main())
    want = list(range(30)) + ["p"]
    assert res == want + want[::3] + ["p", 0]


def test_gather_first_exception_propagates_others_keep_running(impl):
    trace = []

    async def main():
        slow = asyncio.ensure_future(value_after(0.05, "slow", trace))
        outer = impl.gather(fail_after(0.01, ValueError("boom"), trace),
                            slow)
        with pytest.raises(ValueError, match="boom"):
            await outer
        assert outer.done() and not slow.done()
        assert not outer.cancel()   # done: cancelling it is a no-op
        assert await slow == "slow"

    run(impl, main())
    assert trace == ["ValueError('boom')", "slow"]


def test_gather_return_exceptions(impl):
    async def main():
        err = KeyError("k")
        res = await impl.gather(value_after(0.01, 1), fail_after(0, err),
                                return_exceptions=True)
        assert res[1] is err
        return res[0]

    assert run(impl, main()) == 1


def test_gather_outer_cancel_cancels_children(impl):
    async def main():
        a = asyncio.ensure_future(value_after(1, "a"))
        b = asyncio.ensure_future(value_after(1, "b"))
        outer = impl.gather(a, b)
        if impl.name == "casyncio-pyfut":
            assert type(outer).__module__ == "casyncio._tasks"
        await asyncio.sleep(0)
        assert outer.cancel(msg="stop") is True
        assert outer._cancel_requested is True
        assert not outer.done()      # like Task.cancel(): not yet cancelled
        with pytest.raises(asyncio.CancelledError) as ei:
            await outer
        assert a.cancelled() and b.cancelled()
        # asyncio sets a CancelledError *exception* on the outer future
        assert not outer.cancelled()
        assert type(outer.exception()) is asyncio.CancelledError
        return ei.value.args

    assert run(impl, main()) == ("stop",)


def test_gather_cancel_propagates_despite_return_exceptions(impl):
    async def main():
        a = asyncio.ensure_future(value_after(1, "a"))
        outer = impl.gather(a, return_exceptions=True)
        await asyncio.sleep(0)
        outer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await outer
        return outer.cancelled(), type(outer.exception()).__name__

    assert run(impl, main()) == (False, "CancelledError")


def test_gather_cancel_with_all_children_done_returns_false(impl):
    async def main():
        loop = asyncio.get_running_loop()
        f = loop.create_future()
        f.set_result(1)
        outer = impl.gather(f)
        # The child is done but its callback has not run yet.
        assert outer.cancel() is False
        assert outer._cancel_requested is False
        return await outer

    assert run(impl, main()) == [1]


def test_gather_child_cancelled_is_an_error_not_outer_cancel(impl):
    async def main():
        a = asyncio.ensure_future(value_after(1, "a"))
        b = asyncio.ensure_future(value_after(0.01, "b"))
        outer = impl.gather(a, b)
        await asyncio.sleep(0)
        a.cancel(msg="only a")
        with pytest.raises(asyncio.CancelledError) as ei:
            await outer
        assert not outer.cancelled()
        assert isinstance(outer.exception(), asyncio.CancelledError)
        assert not b.done()
        assert await b == "b"
        return ei.value.args

    assert run(impl, main()) == ("only a",)


def test_gather_child_cancelled_with_return_exceptions(impl):
    async def main():
        a = asyncio.ensure_future(value_after(1, "a"))
        outer = impl.gather(a, value_after(0.01, "b"),
                            return_exceptions=True)
        await asyncio.sleep(0)
        a.cancel(msg="why")
        res = await outer
        assert type(res[0]) is asyncio.CancelledError
        return res[0].args, res[1]

    # the Task does not keep the message: asyncio gives CancelledError('')
    assert run(impl, main()) == (("",), "b")


def test_gather_cancelled_when_awaiting_task_cancelled(impl):
    async def main():
        children = []

        async def waiter():
            a = asyncio.ensure_future(value_after(1, "a"))
            children.append(a)
            return await impl.gather(a)

        t = asyncio.ensure_future(waiter())
        await asyncio.sleep(0.01)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        return children[0].cancelled()

    assert run(impl, main()) is True


def test_gather_wraps_coroutines_in_tasks_without_destroy_warning(impl):
    async def main():
        coro = value_after(0, 1)
        outer = impl.gather(coro)
        (child,) = outer._children
        assert isinstance(child, asyncio.Future) or \
            type(child).__name__ == "Task"
        assert child._log_destroy_pending is False
        assert outer.get_loop() is asyncio.get_running_loop()
        return await outer

    assert run(impl, main()) == [1]


def test_gather_awaitable_objects(impl):
    class Awaitable:
        def __await__(self):
            return value_after(0, "aw").__await__()

    async def main():
        return await impl.gather(Awaitable())

    assert run(impl, main()) == ["aw"]


def test_gather_empty(impl):
    async def main():
        outer = impl.gather()
        assert outer.done() and outer.get_loop() is asyncio.get_running_loop()
        return await outer

    assert run(impl, main()) == []


def test_gather_empty_without_running_loop(impl):
    loop = impl.new_loop()
    asyncio.set_event_loop(loop)
    try:
        outer = impl.gather()
        assert outer.get_loop() is loop
        assert outer.result() == []
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def test_gather_type_errors(impl):
    with pytest.raises(TypeError, match="An asyncio.Future, a coroutine or "
                                        "an awaitable is required"):
        impl.gather(1)


def test_gather_futures_of_different_loops(impl):
    loop1, loop2 = impl.new_loop(), impl.new_loop()
    try:
        with pytest.raises(ValueError, match="different loop"):
            impl.gather(loop1.create_future(), loop2.create_future())
    finally:
        loop1.close()
        loop2.close()


def test_gather_exception_retrieved_after_outer_done(impl):
    # The second exception must be marked retrieved (no "never retrieved"
    # log) once the outer future is already done.
    errors = []

    async def main():
        asyncio.get_running_loop().set_exception_handler(
            lambda loop, ctx: errors.append(ctx["message"]))
        a = asyncio.ensure_future(fail_after(0, ValueError("1")))
        b = asyncio.ensure_future(fail_after(0.01, ValueError("2")))
        with pytest.raises(ValueError, match="1"):
            await impl.gather(a, b)
        await asyncio.sleep(0.03)
        del a, b

    run(impl, main())
    import gc
    gc.collect()
    assert errors == []


def test_gather_outer_is_core_future_on_casyncio_loop():
    async def main():
        outer = _tasks.gather(value_after(0, 1))
        assert isinstance(outer, _core.Future)
        assert isinstance(outer, _tasks._CoreGatheringFuture)
        return await outer

    assert _policy.run(main()) == [1]


def test_gather_outer_is_asyncio_class_on_asyncio_loop():
    async def main():
        outer = _tasks.gather(value_after(0, 1))
        assert type(outer) is asyncio.tasks._GatheringFuture
        return await outer

    assert asyncio.run(main()) == [1]


# --- wait --------------------------------------------------------------------

def _results(futs):
    return sorted(f.result() for f in futs)


@pytest.mark.parametrize("when, done, pending", [
    (asyncio.FIRST_COMPLETED, [1], [2, 3]),
    (asyncio.FIRST_EXCEPTION, [1, 2, 3], []),
    (asyncio.ALL_COMPLETED, [1, 2, 3], []),
])
def test_wait_return_when(impl, when, done, pending):
    async def main():
        # Each future done some loop iterations after the one before (not
        # some milliseconds: a loaded machine could let two timers fall
        # due in one iteration), far more than wait() needs to return.
        loop = asyncio.get_running_loop()
        fs = [loop.create_future() for _ in (1, 2, 3)]

        def later(hops, fut, value):
            if hops:
                loop.call_soon(later, hops - 1, fut, value)
            elif not fut.done():
                fut.set_result(value)
        for i, f in enumerate(fs):
            later(10 * i, f, i + 1)
        d, p = await impl.wait(fs, return_when=when)
        assert isinstance(d, set) and isinstance(p, set)
        got = _results(d), sorted(fs.index(f) + 1 for f in p)
        for f in p:
            f.cancel()
        return got

    assert run(impl, main()) == (done, pending)


def test_wait_first_exception(impl):
    async def main():
        ok = asyncio.ensure_future(value_after(0.2, "ok"))
        bad = asyncio.ensure_future(fail_after(0.01, KeyError()))
        d, p = await impl.wait([ok, bad], return_when=asyncio.FIRST_EXCEPTION)
        ok.cancel()
        return d == {bad}, p == {ok}

    assert run(impl, main()) == (True, True)


def test_wait_timeout_returns_pending_without_raising(impl):
    async def main():
        slow = asyncio.ensure_future(value_after(1, "slow"))
        fast = asyncio.ensure_future(value_after(0, "fast"))
        d, p = await impl.wait({slow, fast}, timeout=0.02)
        assert not slow.cancelled()
        slow.cancel()
        return d == {fast}, p == {slow}

    assert run(impl, main()) == (True, True)


def test_wait_accepts_iterators_and_duplicates(impl):
    async def main():
        f = asyncio.ensure_future(value_after(0, 1))
        d, p = await impl.wait(iter([f, f]))
        return d == {f}, p

    assert run(impl, main()) == (True, set())


@pytest.mark.parametrize("bad, exc, msg", [
    ([], ValueError, "Set of Tasks/Futures is empty."),
    (set(), ValueError, "Set of Tasks/Futures is empty."),
    ("future", TypeError, "expect a list of futures, not _GatheringFuture"
                          "|expect a list of futures, not Future"),
    ("coro", TypeError, "expect a list of futures, not coroutine"),
    ("list-of-coro", TypeError,
     "Passing coroutines is forbidden, use tasks explicitly."),
])
def test_wait_argument_errors(impl, bad, exc, msg):
    async def main():
        loop = asyncio.get_running_loop()
        coro = value_after(0, 1)
        arg = {"future": loop.create_future(), "coro": coro,
               "list-of-coro": [coro]}[bad] if isinstance(bad, str) else bad
        try:
            with pytest.raises(exc, match=msg):
                await impl.wait(arg)
        finally:
            coro.close()

    run(impl, main())


def test_wait_invalid_return_when(impl):
    async def main():
        f = asyncio.get_running_loop().create_future()
        with pytest.raises(ValueError, match="Invalid return_when value: x"):
            await impl.wait([f], return_when="x")

    run(impl, main())


def test_wait_cancelled_does_not_cancel_futures(impl):
    async def main():
        f = asyncio.ensure_future(value_after(0.05, 1))
        t = asyncio.ensure_future(impl.wait([f]))
        await asyncio.sleep(0)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        return await f

    assert run(impl, main()) == 1


# --- sleep -------------------------------------------------------------------

@pytest.mark.parametrize("delay", [0, -1, 0.01])
def test_sleep_returns_result(impl, delay):
    async def main():
        return await impl.sleep(delay, "r"), await impl.sleep(delay)

    assert run(impl, main()) == ("r", None)


def test_sleep_zero_yields_once(impl):
    trace = []

    async def other():
        trace.append("other")

    async def main():
        asyncio.ensure_future(other())
        trace.append("before")
        await impl.sleep(0)
        trace.append("after")

    run(impl, main())
    assert trace == ["before", "other", "after"]


def test_sleep_cancelled(impl):
    async def main():
        t = asyncio.ensure_future(impl.sleep(10, "never"))
        await asyncio.sleep(0)
        t.cancel("msg")
        with pytest.raises(asyncio.CancelledError):
            await t
        loop = asyncio.get_running_loop()
        # the timer handle was cancelled by sleep's finally:
        return t.cancelled(), [h for h in loop._scheduled
                               if not h.cancelled()] \
            if hasattr(loop, "_scheduled") else []

    assert run(impl, main()) == (True, [])


def test_sleep_ordering_by_deadline(impl):
    trace = []

    async def main():
        await impl.gather(*(value_after(d, d, trace)
                            for d in (0.03, 0.01, 0.02, 0)))

    run(impl, main())
    assert trace == [0, 0.01, 0.02, 0.03]


# --- Semaphore / BoundedSemaphore ----------------------------------------------

def test_semaphore_fifo_and_limit(impl):
    trace = []

    async def worker(sem, i):
        async with sem:
            # locked() is also true while others wait (3.11)
            trace.append(("in", i, sem.locked()))
            await asyncio.sleep(0.01)
            trace.append(("out", i))

    async def main():
        sem = impl.Semaphore(2)
        await impl.gather(*(worker(sem, i) for i in range(4)))
        return sem.locked(), sem._value

    assert run(impl, main()) == (False, 2)
    assert trace == [("in", 0, False), ("in", 1, True),
                     ("out", 0), ("out", 1),
                     ("in", 2, True), ("in", 3, True),
                     ("out", 2), ("out", 3)]


def test_semaphore_acquire_cancel_wakes_next(impl):
    async def main():
        sem = impl.Semaphore(0)
        a = asyncio.ensure_future(sem.acquire())
        b = asyncio.ensure_future(sem.acquire())
        await asyncio.sleep(0)
        sem.release()
        a.cancel()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return a.cancelled(), b.done() and b.result()

    assert run(impl, main()) == (True, True)


def test_semaphore_errors(impl):
    with pytest.raises(ValueError, match="Semaphore initial value must be"):
        impl.Semaphore(-1)
    b = impl.BoundedSemaphore(1)
    with pytest.raises(ValueError, match="BoundedSemaphore released too many"):
        b.release()
    s = impl.Semaphore(1)
    s.release()
    assert s._value == 2


def test_semaphore_bound_to_one_loop(impl):
    sem = impl.Semaphore(0)

    async def acquire():
        await sem.acquire()

    async def release_soon():
        asyncio.get_running_loop().call_later(0.01, sem.release)
        await sem.acquire()

    run(impl, release_soon())
    with pytest.raises(RuntimeError, match="is bound to a different event"):
        run(impl, acquire())


def test_gather_children_list_shrunk_by_a_child_method(impl):
    """A child's Python methods may change outer._children while the
    results are collected: the results follow the live list, as asyncio's."""
    loop = impl.new_loop()
    base = type(loop.create_future())
    calls = []

    class F(base):
        def cancelled(self):
            calls.append(1)
            if len(calls) == 3:       # inside the final results loop
                outer._children.clear()
            return super().cancelled()

    async def main():
        global outer
        a, b = F(loop=loop), F(loop=loop)
        outer = impl.gather(a, b)
        a.set_result(1)
        b.set_result(2)
        return await outer
    try:
        # the first child was being read when the list was cleared
        assert loop.run_until_complete(main()) == [1]
    finally:
        loop.close()


# --- asyncio.gather once casyncio is imported ---

def test_asyncio_gather_names_casyncio_gather():
    import inspect
    assert asyncio.gather is asyncio.tasks.gather is _tasks._asyncio_gather
    stock = _tasks._stock_gather
    assert stock.__module__ == "asyncio.tasks"
    assert inspect.signature(asyncio.gather) == inspect.signature(stock)
    assert asyncio.gather.__doc__ == stock.__doc__
    assert asyncio.gather.__name__ == "gather"
    assert asyncio.gather.__wrapped__ is stock


def test_asyncio_gather_outer_class_per_loop(loop):
    async def main():
        return type(asyncio.gather(value_after(0, 1)))

    cls = loop.run_until_complete(main())
    if isinstance(loop, _core.Loop):
        assert cls is _tasks._CoreGatheringFuture
    else:
        assert cls is asyncio.tasks._GatheringFuture


def test_gather_uses_task_factory(loop):
    made = []
    task_type = _core.Task if isinstance(loop, _core.Loop) else asyncio.Task

    def factory(lp, coro, **kw):
        made.append(coro.__name__)
        return task_type(coro, loop=lp, **kw)

    async def main():
        loop.set_task_factory(factory)
        try:
            return await asyncio.gather(value_after(0, 1), value_after(0, 2))
        finally:
            loop.set_task_factory(None)

    assert loop.run_until_complete(main()) == [1, 2]
    assert made == ["value_after", "value_after"]


def test_gather_create_task_runtime_error_closes_coroutine(loop):
    import warnings

    class Refusing(type(loop)):
        refuse = False

        def create_task(self, coro, **kw):
            if self.refuse:
                raise RuntimeError("no tasks here")
            return super().create_task(coro, **kw)

    lp = Refusing()
    first, coro = value_after(0, 0), value_after(0, 1)

    async def main():
        lp.refuse = True
        with pytest.raises(RuntimeError, match="no tasks here"):
            asyncio.gather(first, coro)
        lp.refuse = False

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            lp.run_until_complete(main())
        assert first.cr_frame is None        # closed by ensure_future
        assert coro.cr_frame is not None     # never reached: not closed
    finally:
        lp.close()
        coro.close()


def test_gather_calls_create_task_patched_on_the_loop(loop):
    made = []
    real = loop.create_task

    def create_task(coro, **kw):
        made.append(coro.__name__)
        return real(coro, **kw)

    async def main():
        with mock.patch.object(loop, 'create_task', create_task):
            return await asyncio.gather(value_after(0, 1), value_after(0, 2))

    assert loop.run_until_complete(main()) == [1, 2]
    assert made == ["value_after", "value_after"]


def test_gather_calls_add_done_callback_of_a_future_subclass(loop):
    seen = []

    class Watched(asyncio.Future):
        def add_done_callback(self, fn, *, context=None):
            seen.append(type(context).__name__)
            super().add_done_callback(fn, context=context)

    async def main():
        fut = Watched(loop=loop)
        loop.call_soon(fut.set_result, 3)
        return await asyncio.gather(fut, value_after(0, 4))

    assert loop.run_until_complete(main()) == [3, 4]
    assert seen == ['NoneType']


def test_gather_done_callbacks_run_in_a_copy_of_the_context(loop):
    var = contextvars.ContextVar('var')

    async def main():
        var.set('caller')
        children = [loop.create_task(value_after(0, i)) for i in range(3)]
        outer = asyncio.gather(*children)
        for child in children:
            ((fn, ctx),) = child._callbacks[-1:]
            assert isinstance(ctx, contextvars.Context)
            assert ctx is not contextvars.copy_context()
            assert ctx[var] == 'caller'
        var.set('later')            # the copies keep what was set before
        assert all(c._callbacks[-1][1][var] == 'caller' for c in children)
        return await outer

    assert loop.run_until_complete(main()) == [0, 1, 2]


def test_gather_on_a_loop_whose_subclass_overrides_create_task(loop):
    made = []

    class Counting(type(loop)):
        def create_task(self, coro, **kw):
            made.append(1)
            return super().create_task(coro, **kw)

    async def main(*values):
        return await asyncio.gather(*[value_after(0, v) for v in values])

    plain = type(loop)()
    lp = Counting()
    try:
        # The plain loop first: its type is the one remembered by the fast
        # check; the subclass must still be looked at.
        assert plain.run_until_complete(main(0)) == [0]
        assert lp.run_until_complete(main(1, 2)) == [1, 2]
        assert made == [1, 1, 1]      # main's task and gather's two children
    finally:
        lp.close()
        plain.close()
