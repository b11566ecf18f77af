"""isinstance(x, asyncio.Future / asyncio.Task) on casyncio's C types.

Our Future and Task cannot derive from asyncio's C types, so they report
asyncio.Future / asyncio.Task as their __class__ (isinstance() falls back to
it).  The library tests are the places a survey found that depend on it:
tornado's is_future() and anyio's cancellation checks.
"""
import asyncio
import datetime
import functools

import pytest

import casyncio


async def _value(x):
    await asyncio.sleep(0)
    return x


def test_isinstance_future_and_task(loop):
    fut = loop.create_future()
    task = loop.create_task(_value(1))
    assert isinstance(fut, asyncio.Future)
    assert isinstance(task, asyncio.Future)
    assert isinstance(task, asyncio.Task)
    assert not isinstance(fut, asyncio.Task)
    assert fut.__class__ is asyncio.Future
    assert task.__class__ is asyncio.Task
    assert repr(fut) == '<Future pending>'
    loop.run_until_complete(task)


def test_type_is_unchanged(cloop):
    fut = cloop.create_future()
    task = cloop.create_task(_value(1))
    assert type(fut) is casyncio.Future
    assert type(task) is casyncio.Task
    assert not issubclass(type(task), asyncio.Task)
    assert isinstance(task, casyncio.Task)
    cloop.run_until_complete(task)


def test_subclass_reports_itself(cloop):
    class MyFuture(casyncio.Future):
        pass

    class MyTask(casyncio.Task):
        pass

    fut = MyFuture(loop=cloop)
    task = MyTask(_value(2), loop=cloop)
    assert fut.__class__ is MyFuture
    assert task.__class__ is MyTask
    assert not isinstance(fut, asyncio.Future)
    assert cloop.run_until_complete(task) == 2


def test_class_assignment_uses_objects_rules(cloop):
    class MyFuture(casyncio.Future):
        pass

    class OtherFuture(casyncio.Future):
        pass

    # our Future is an immutable type, as _asyncio.Future: no assignment
    fut = cloop.create_future()
    stock = asyncio.Future(loop=cloop)
    for f in (fut, stock):
        with pytest.raises(TypeError, match='mutable types'):
            f.__class__ = MyFuture
    # between subclasses, object's rules
    fut = MyFuture(loop=cloop)
    fut.__class__ = OtherFuture
    assert type(fut) is OtherFuture
    with pytest.raises(TypeError):
        fut.__class__ = int
    with pytest.raises(TypeError):
        del fut.__class__


def test_singledispatch_sees_asyncio_types(cloop):
    # singledispatch dispatches on __class__: our objects count as asyncio's.
    @functools.singledispatch
    def kind(obj):
        return 'other'

    kind.register(asyncio.Future, lambda obj: 'future')
    kind.register(asyncio.Task, lambda obj: 'task')
    task = cloop.create_task(_value(3))
    assert kind(cloop.create_future()) == 'future'
    assert kind(task) == 'task'
    cloop.run_until_complete(task)


def test_tornado_gen_on_our_loop(loop):
    tornado = pytest.importorskip('tornado', reason='tornado not installed '
                                  '(it is in the test extra)')
    from tornado import concurrent, gen, ioloop

    @gen.coroutine
    def legacy():
        result = yield [_value(6), _value(7)]
        return result

    async def main():
        task = asyncio.ensure_future(_value(1))
        assert concurrent.is_future(task)
        assert await gen.multi([_value(1), _value(2)]) == [1, 2]
        assert await gen.with_timeout(datetime.timedelta(seconds=5),
                                      asyncio.ensure_future(_value(3))) == 3
        assert await legacy() == [6, 7]
        done = []
        fut = loop.create_future()
        ioloop.IOLoop.current().add_future(fut, done.append)
        fut.set_result(9)
        for _ in range(3):
            await asyncio.sleep(0)
        assert done == [fut]
        await task

    assert tornado.version_info >= (6,)
    loop.run_until_complete(main())


def test_tornado_run_sync(loop):
    pytest.importorskip('tornado', reason='tornado not installed '
                        '(it is in the test extra)')
    from tornado import ioloop
    asyncio.set_event_loop(loop)
    try:
        io = ioloop.IOLoop.current()
        assert io.run_sync(lambda: _value(11)) == 11
    finally:
        asyncio.set_event_loop(None)


def test_anyio_send_nowait_to_cancelled_receiver(loop):
    anyio = pytest.importorskip('anyio', reason='anyio not installed '
                                '(it is in the test extra)')
    events = []

    async def main():
        send, recv = anyio.create_memory_object_stream(0)

        async def receiver():
            try:
                events.append(await recv.receive())
            except asyncio.CancelledError:
                events.append('cancelled')

        task = asyncio.get_running_loop().create_task(receiver())
        await asyncio.sleep(0.01)
        task.cancel()
        # The receiver's task has a pending cancellation: anyio must not
        # hand it the item (it would be lost).
        with pytest.raises(anyio.WouldBlock):
            send.send_nowait('item')
        await task

    anyio.run(main, backend_options={'loop_factory': lambda: loop})
    assert events == ['cancelled']


# --- gather's outer future: what stock gather() returns ----------------------

def test_gather_future_reports_asyncio_class(loop):
    @functools.singledispatch
    def kind(x):
        return 'other'

    @kind.register(asyncio.Future)
    def _(x):
        return 'future'

    async def main():
        results = []
        for gather in (asyncio.gather, casyncio.gather):
            g = gather(_value(1), _value(2))
            results.append((isinstance(g, asyncio.Future), kind(g),
                            g.__class__ is asyncio.tasks._GatheringFuture,
                            repr(g), await g))
        return results

    stock_gather, our_gather = loop.run_until_complete(main())
    assert our_gather == stock_gather == (True, 'future', True,
                             '<_GatheringFuture pending>', [1, 2])


def test_gather_with_tornado(loop):
    tornado_ioloop = pytest.importorskip('tornado.ioloop')
    from tornado.concurrent import is_future

    async def main():
        io_loop = tornado_ioloop.IOLoop.current()
        done = loop.create_future()
        g = casyncio.gather(_value(3))
        assert is_future(g)
        io_loop.add_future(g, lambda f: done.set_result(f.result()))
        return await done

    assert loop.run_until_complete(main()) == [3]
