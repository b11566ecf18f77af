"""casyncio._core.Task: the fast wake-up path against the generic one,
interop with stock asyncio both ways, error messages, subclassing, and leak
checks.  These run on the stock asyncio loop; the loop's queue fast path
(cx_loop_push_cfunc) is exercised once the casyncio loop is merged."""
import asyncio
import contextvars
import gc
import io
import re
import sys
import types
import weakref

import pytest

from casyncio import _core
from future_task_fixtures import (loop, impl, collect_and_check_dead,  # noqa
                                  memory_growth)

Future, Task = _core.Future, _core.Task


def run_briefly(loop, n=3):
    for _ in range(n):
        loop.call_soon(loop.stop)
        loop.run_forever()


# --- fast wake-up vs generic path ------------------------------------------

def test_fast_wakeup_uses_inline_slot(loop):
    fut = Future(loop=loop)
    seen = {}

    async def waiter():
        return await fut

    async def main():
        task = Task(waiter(), loop=loop)
        await asyncio.sleep(0)
        # The task registered itself in the future's inline slot; what
        # _callbacks shows is a bound task_wakeup in the task's context.
        (cb, ctx), = fut._callbacks
        seen["cb"], seen["ctx"] = cb, ctx
        assert cb.__self__ is task
        assert cb.__name__ == "task_wakeup"
        assert ctx is task.get_context()
        assert task._fut_waiter is fut
        assert re.search(r"cb=\[Task\.task_wakeup\(\)\]", repr(fut))
        fut.set_result("v")
        return await task

    assert loop.run_until_complete(main()) == "v"
    assert fut._callbacks is None


def test_fast_wakeup_entry_removable(loop):
    fut = Future(loop=loop)

    async def waiter():
        await fut

    async def main():
        task = Task(waiter(), loop=loop)
        await asyncio.sleep(0)
        (cb, _), = fut._callbacks
        assert fut.remove_done_callback(cb) == 1
        assert fut._callbacks is None
        fut.set_result(None)
        await asyncio.sleep(0)
        assert not task.done()          # it was never woken
        assert task._fut_waiter is fut
        # The bound task_wakeup shown by _callbacks is a working callable.
        loop.call_soon(cb, fut)
        await task
        assert task.done() and task.result() is None

    loop.run_until_complete(main())


@pytest.mark.parametrize("user_first", [True, False])
def test_wakeup_ordering_matches_stock(impl, loop, user_first):
    # The inline wake-up entry, or a wake-up in the overflow list, keeps
    # registration order with user callbacks exactly as stock asyncio.
    Fut, Tsk = impl

    def scenario():
        order = []
        fut = Fut(loop=loop)

        async def waiter():
            await fut
            order.append("task")

        async def main():
            if user_first:
                fut.add_done_callback(lambda f: order.append("cb1"))
            task = Tsk(waiter(), loop=loop)
            await asyncio.sleep(0)
            fut.add_done_callback(lambda f: order.append("cb2"))
            fut.set_result(None)
            await task

        loop.run_until_complete(main())
        return order

    expected = (["cb1", "task", "cb2"] if user_first else ["task", "cb2"])
    assert scenario() == expected


def test_subclass_future_goes_through_add_done_callback(loop):
    calls = []

    class SubFuture(Future):
        def add_done_callback(self, fn, *, context=None):
            calls.append((fn.__name__, context))
            super().add_done_callback(fn, context=context)

    fut = SubFuture(loop=loop)

    async def waiter():
        loop.call_soon(fut.set_result, 1)
        return await fut

    task = Task(waiter(), loop=loop)
    assert loop.run_until_complete(task) == 1
    assert calls == [("task_wakeup", task.get_context())]


def test_stock_c_future_in_our_task(loop):
    fut = loop.create_future()          # _asyncio.Future
    assert type(fut) is asyncio.Future

    async def waiter():
        loop.call_soon(fut.set_result, "stock")
        return await fut

    assert loop.run_until_complete(Task(waiter(), loop=loop)) == "stock"


def test_stock_py_future_in_our_task(loop):
    fut = asyncio.futures._PyFuture(loop=loop)

    async def waiter():
        loop.call_later(0.001, fut.set_exception, KeyError("py"))
        await fut

    with pytest.raises(KeyError):
        loop.run_until_complete(Task(waiter(), loop=loop))


def test_duck_future_in_our_task(loop):
    class Duck:
        _asyncio_future_blocking = False

        def __init__(self):
            self.cbs = []
            self._loop = loop      # no get_loop(): _loop is used

        def add_done_callback(self, fn, *, context=None):
            self.cbs.append((fn, context))

        def result(self):
            return "quack"

        def cancel(self, msg=None):
            return False

        def __await__(self):
            self._asyncio_future_blocking = True
            yield self
            return self.result()

    duck = Duck()

    async def waiter():
        return await duck

    task = Task(waiter(), loop=loop)
    loop.run_until_complete(asyncio.sleep(0.001))
    (fn, ctx), = duck.cbs
    assert ctx is task.get_context()
    loop.call_soon(fn, duck)
    assert loop.run_until_complete(task) == "quack"


def test_our_task_in_stock_gather_wait_shield(loop):
    async def work(i):
        await asyncio.sleep(0.001 * i)
        return i

    async def main():
        tasks = [Task(work(i), loop=loop) for i in range(4)]
        assert await asyncio.gather(*tasks) == [0, 1, 2, 3]
        t = Task(work(1), loop=loop)
        done, pending = await asyncio.wait({t})
        assert done == {t} and not pending
        assert await asyncio.shield(Task(work(0), loop=loop)) == 0
        assert await asyncio.wait_for(Task(work(0), loop=loop), 1) == 0
        return True

    assert loop.run_until_complete(Task(main(), loop=loop))


def test_stock_task_awaits_our_task(loop):
    async def inner():
        await asyncio.sleep(0)
        return "inner"

    async def outer():
        return await Task(inner(), loop=loop)

    assert loop.run_until_complete(asyncio.Task(outer(), loop=loop)) == \
        "inner"


# --- same body, stock asyncio and casyncio ---------------------------------

def test_current_task_and_all_tasks(impl, loop):
    _, Tsk = impl

    async def main():
        me = asyncio.current_task()
        assert isinstance(me, Tsk)
        assert me in asyncio.all_tasks()
        return me

    task = Tsk(main(), loop=loop)
    assert loop.run_until_complete(task) is task
    assert asyncio.current_task(loop) is None


def test_cancel_propagates_to_waiter_with_message(impl, loop):
    Fut, Tsk = impl
    fut = Fut(loop=loop)

    async def waiter():
        await fut

    async def main():
        task = Tsk(waiter(), loop=loop)
        await asyncio.sleep(0)
        assert task.cancel(msg="stop") is True
        assert fut.cancelled()
        assert task.cancelling() == 1
        with pytest.raises(asyncio.CancelledError) as info:
            await task
        assert info.value.args == ("stop",)
        assert task.cancelled()
        assert task.uncancel() == 0
        assert task.uncancel() == 0
        assert task.cancel() is False

    loop.run_until_complete(main())


def test_cancel_before_first_step(impl, loop):
    _, Tsk = impl
    ran = []

    async def coro():
        ran.append(1)

    async def main():
        task = Tsk(coro(), loop=loop)
        task.cancel()
        assert task._must_cancel
        with pytest.raises(asyncio.CancelledError):
            await task
        assert ran == []

    loop.run_until_complete(main())


def test_catch_cancel_and_continue(impl, loop):
    Fut, Tsk = impl

    async def stubborn():
        try:
            await Fut(loop=loop)
        except asyncio.CancelledError:
            pass
        await asyncio.sleep(0)
        return "survived"

    async def main():
        task = Tsk(stubborn(), loop=loop)
        await asyncio.sleep(0)
        task.cancel()
        return await task

    assert loop.run_until_complete(main()) == "survived"


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_base_exceptions_propagate(impl, loop, exc_type):
    _, Tsk = impl

    async def boom():
        await asyncio.sleep(0)
        raise exc_type()

    task = Tsk(boom(), loop=loop)
    with pytest.raises(exc_type):
        loop.run_until_complete(task)
    assert task.done()
    assert isinstance(task.exception(), exc_type)


@pytest.mark.parametrize("yielded, message", [
    (42, r"Task got bad yield: 42"),
    ("gen", r"yield was used instead of yield from for generator in task "),
])
def test_bad_yields(impl, loop, yielded, message):
    _, Tsk = impl

    def gen():
        yield

    # An awaitable whose __await__ yields the value: a Task of 3.12+ takes
    # only coroutines (not @types.coroutine generators) itself.
    class Bad:
        def __await__(self):
            yield gen() if yielded == "gen" else yielded

    async def bad():
        await Bad()

    task = Tsk(bad(), loop=loop)
    with pytest.raises(RuntimeError, match=message):
        loop.run_until_complete(task)


def test_yield_future_without_yield_from(impl, loop):
    Fut, Tsk = impl
    fut = Fut(loop=loop)

    class Bad:
        def __await__(self):
            yield fut

    async def bad():
        await Bad()

    with pytest.raises(RuntimeError,
                       match="yield was used instead of yield from in task"):
        loop.run_until_complete(Tsk(bad(), loop=loop))
    fut.cancel()


def test_generator_coroutine_accepted_as_the_version_does(impl, loop):
    # @types.coroutine generators: a Task of 3.11 takes them, 3.12+ not.
    _, Tsk = impl

    @types.coroutine
    def gencoro():
        yield
        return 7

    if sys.version_info >= (3, 12):
        gen = gencoro()
        with pytest.raises(TypeError, match="a coroutine was expected"):
            Tsk(gen, loop=loop)
        gen.close()
    else:
        assert loop.run_until_complete(Tsk(gencoro(), loop=loop)) == 7


def test_future_of_other_loop(impl, loop):
    Fut, Tsk = impl
    other = asyncio.new_event_loop()
    try:
        fut = Fut(loop=other)

        async def main():
            await fut

        with pytest.raises(RuntimeError,
                           match=r"got Future .* attached to a different "
                                 r"loop"):
            loop.run_until_complete(Tsk(main(), loop=loop))
    finally:
        other.close()


def test_await_itself(impl, loop):
    _, Tsk = impl

    async def main():
        await task

    task = Tsk(main(), loop=loop)
    with pytest.raises(RuntimeError, match="Task cannot await on itself"):
        loop.run_until_complete(task)


def test_destroyed_pending_reported(impl, loop):
    _, Tsk = impl
    contexts = []
    loop.set_exception_handler(lambda l, c: contexts.append(c))

    async def forever():
        await loop.create_future()

    async def main():
        Tsk(forever(), loop=loop)
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    loop.run_until_complete(main())
    gc.collect()
    msgs = [c for c in contexts
            if c["message"] == "Task was destroyed but it is pending!"]
    assert len(msgs) == 1
    assert isinstance(msgs[0]["task"], Tsk)


def test_set_result_and_exception_refused(impl, loop):
    _, Tsk = impl

    async def coro():
        pass

    task = Tsk(coro(), loop=loop)
    with pytest.raises(RuntimeError,
                       match="Task does not support set_result operation"):
        task.set_result(1)
    with pytest.raises(RuntimeError,
                       match="Task does not support set_exception"):
        task.set_exception(ValueError())
    loop.run_until_complete(task)


def test_context_is_copied_or_given(impl, loop):
    _, Tsk = impl
    var = contextvars.ContextVar("var", default="unset")

    async def read():
        await asyncio.sleep(0)
        v = var.get()
        var.set("changed-in-task")
        return v

    var.set("outer")
    assert loop.run_until_complete(Tsk(read(), loop=loop)) == "outer"
    assert var.get() == "outer"
    ctx = contextvars.Context()
    task = Tsk(read(), loop=loop, context=ctx)
    assert task.get_context() is ctx if hasattr(task, "get_context") else 1
    assert loop.run_until_complete(task) == "unset"
    assert ctx[var] == "changed-in-task"


def test_repr_like_stock(loop):
    async def spin():
        await asyncio.sleep(0.01)

    async def main():
        ours = Task(spin(), loop=loop, name="spinner")
        stock = asyncio.Task(spin(), loop=loop, name="spinner")
        await asyncio.sleep(0)
        r_ours = repr(ours)
        r_stock = repr(stock)
        await ours
        await stock
        return r_ours, r_stock, repr(ours), repr(stock)

    r1, r2, done1, done2 = loop.run_until_complete(main())
    assert re.fullmatch(r"<Task pending name=.spinner. coro=<.*spin\(\) "
                        r"running at .*test_task\.py:\d+> wait_for=<Future "
                        r"pending cb=\[Task\.task_wakeup\(\)\]>>", r1), r1
    assert r1 == r2
    assert done1 == done2


def test_names(impl, loop):
    _, Tsk = impl

    async def coro():
        pass

    t1, t2 = Tsk(coro(), loop=loop), Tsk(coro(), loop=loop)
    n1, n2 = (int(t.get_name().split("-")[1]) for t in (t1, t2))
    assert t1.get_name().startswith("Task-") and n2 == n1 + 1
    t3 = Tsk(coro(), loop=loop, name=123)
    assert t3.get_name() == "123"
    t3.set_name(4.5)
    assert t3.get_name() == "4.5"
    loop.run_until_complete(asyncio.gather(t1, t2, t3))


def test_stack(impl, loop):
    _, Tsk = impl

    async def sleeper():
        await asyncio.sleep(0.01)

    async def main():
        task = Tsk(sleeper(), loop=loop)
        await asyncio.sleep(0)
        stack = task.get_stack()
        assert len(stack) == 1 and stack[0].f_code.co_name == "sleeper"
        buf = io.StringIO()
        task.print_stack(file=buf)
        assert "sleeper" in buf.getvalue()
        await task

    loop.run_until_complete(main())


# --- casyncio specifics -----------------------------------------------------

def test_bad_arguments(loop):
    async def coro():
        pass

    with pytest.raises(TypeError):
        Task()
    c = coro()
    with pytest.raises(TypeError):
        Task(c, loop)                      # loop is keyword-only
    with pytest.raises(TypeError, match="a coroutine was expected, got 42"):
        Task(42, loop=loop)
    with pytest.raises(TypeError, match="a coroutine was expected"):
        Task(lambda: None, loop=loop)
    c.close()
    t = Task(coro(), loop=loop)
    with pytest.raises(TypeError):
        t.cancel(1, 2)
    with pytest.raises(TypeError):
        t.get_stack(3)                     # limit is keyword-only
    with pytest.raises(AttributeError):
        del t._log_destroy_pending
    loop.run_until_complete(t)


def test_uninitialized_task_never_crashes(loop):
    t = Task.__new__(Task)
    assert t.get_coro() is None and t.get_name() is None
    assert not t.done()
    assert t.cancel() is True    # nothing to cancel yet, as CPython's C Task
    with pytest.raises(RuntimeError):
        repr(t)
    with pytest.raises(RuntimeError):
        t.add_done_callback(print)
    del t
    gc.collect()


def test_reinit_does_not_leak(loop):
    async def coro():
        return 1

    task = Task(coro(), loop=loop)
    loop.run_until_complete(task)

    if sys.version_info >= (3, 15):
        # 3.15: __init__ runs once; the refused calls leak nothing either.
        def rounds():
            for _ in range(200):
                co = coro()
                with pytest.raises(RuntimeError):
                    task.__init__(co, loop=loop)
                co.close()
    else:
        def rounds():
            for _ in range(200):
                task.__init__(coro(), loop=loop)
                loop.run_until_complete(task)

    assert memory_growth(rounds) < 64 * 1024


def test_reinit_as_the_version_does(impl, loop):
    Fut, Tsk = impl

    async def coro():
        return 1

    fut = Fut(loop=loop)
    fut.set_result(1)
    task = Tsk(coro(), loop=loop)
    loop.run_until_complete(task)
    co = coro()
    if sys.version_info >= (3, 15):
        with pytest.raises(RuntimeError,
                           match=r"\bFuture object is already initialized"):
            fut.__init__(loop=loop)
        assert fut.result() == 1
        with pytest.raises(RuntimeError,
                           match=r"\bTask object is already initialized"):
            task.__init__(co, loop=loop)
        co.close()
        assert task.result() == 1
    else:
        fut.__init__(loop=loop)
        assert not fut.done()
        fut.cancel()
        task.__init__(co, loop=loop)
        assert not task.done()
        assert loop.run_until_complete(task) == 1


def test_subclass_task_from_python(loop):
    class MyTask(Task):
        def __init__(self, coro, *, loop=None, tag=None):
            super().__init__(coro, loop=loop)
            self.tag = tag

    async def coro():
        return asyncio.current_task()

    t = MyTask(coro(), loop=loop, tag="x")
    assert t.tag == "x"
    assert loop.run_until_complete(t) is t
    assert repr(t).startswith("<MyTask finished name=")
    r = weakref.ref(t)
    del t
    collect_and_check_dead([r])


def test_task_and_coro_freed_after_completion(loop):
    refs = []

    class Marker:
        pass

    async def work(fail):
        m = Marker()  # noqa: F841
        refs.append(weakref.ref(m))
        await asyncio.sleep(0)
        if fail:
            raise ValueError("x")
        return 1

    async def main():
        for i in range(20):
            t = Task(work(i % 2), loop=loop)
            refs.append(weakref.ref(t))
            try:
                await t
            except ValueError:
                pass
            del t

    loop.run_until_complete(main())
    collect_and_check_dead(refs)


def test_no_memory_growth_many_tasks(loop):
    async def leaf(i):
        fut = Future(loop=loop)
        loop.call_soon(fut.set_result, i)
        await fut
        if i % 3 == 0:
            raise KeyError(i)
        return i

    async def main():
        tasks = [Task(leaf(i), loop=loop) for i in range(300)]
        await asyncio.gather(*tasks, return_exceptions=True)
        t = Task(leaf(1), loop=loop)
        await asyncio.sleep(0)
        t.cancel()
        await asyncio.gather(t, return_exceptions=True)

    def rounds():
        loop.run_until_complete(main())

    assert memory_growth(rounds) < 128 * 1024


def test_step_of_a_done_task_raises_as_the_version_does(impl, loop):
    # The step callback a task scheduled on a stock loop, run once more
    # after the task is done.
    _, Tsk = impl

    async def coro():
        return 1

    task = Tsk(coro(), loop=loop)
    handle, = [h for h in loop._ready if not h.cancelled()]
    step = handle._callback
    loop.run_until_complete(task)
    name = "__step()" if sys.version_info >= (3, 14) else "_step()"
    errors = []

    def call_step():
        # in the running loop, outside any task (3.14's _enter_task wants
        # the running loop)
        try:
            step()
        except BaseException as e:
            errors.append(e)

    loop.call_soon(call_step)
    run_briefly(loop)
    err, = errors
    assert type(err) is asyncio.InvalidStateError
    assert str(err).startswith(f"{name}: already done: ")
    assert asyncio.current_task(loop) is None


def test_waiting_future_repr_names_task_wakeup(loop):
    async def main():
        fut = loop.create_future()
        task = loop.create_task(fut_waiter(fut))
        await asyncio.sleep(0)
        r = repr(fut), repr(task)
        fut.set_result(None)
        await task
        return r

    async def fut_waiter(fut):
        await fut

    fut_r, task_r = loop.run_until_complete(main())
    assert fut_r == '<Future pending cb=[Task.task_wakeup()]>'
    assert task_r.endswith(
        ' wait_for=<Future pending cb=[Task.task_wakeup()]>>')
