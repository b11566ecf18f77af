"""Our tasks in asyncio's task registry, written by task.c directly.

tasks._register_task puts a task that is not _asyncio's own into a WeakSet
(3.11 tasks._all_tasks, 3.12/3.13 tasks._scheduled_tasks, 3.14+ a WeakSet
inside _asyncio): task.c finds that WeakSet at import and adds a
_TaskRef itself (taskref.c: answers in the set as a weakref would, without
the garbage collector's cost), and takes it out when the task goes, as the
WeakSet would.  Up to
3.13 it defers that while the set is iterated, as WeakSet._remove does.
The current task is written into tasks._current_tasks directly up to 3.13.
"""
import asyncio
import gc
import sys
import weakref

import pytest

import casyncio
from casyncio import _core

PY314 = sys.version_info >= (3, 14)


def registry():
    """The WeakSet tasks._register_task adds our tasks to."""
    tasks = asyncio.tasks
    if not PY314:
        if hasattr(tasks, "_all_tasks"):
            return tasks._all_tasks
        return tasks._scheduled_tasks
    import _asyncio
    sets = [o for o in gc.get_referents(_asyncio)
            if type(o) is weakref.WeakSet]
    assert len(sets) == 1
    return sets[0]


async def _nothing():
    pass


def test_fast_paths_found():
    paths = _core._task_paths()
    assert paths["registry"] is True
    assert paths["current_tasks"] is (not PY314)


def test_registered_until_gone():
    ws = registry()
    loop = casyncio.new_event_loop()
    try:
        before = len(ws.data)
        t = loop.create_task(_nothing())
        assert t in ws
        assert len(ws.data) == before + 1
        loop.run_until_complete(t)
        assert t in ws                       # done, still alive
        ref = weakref.ref(t)
        del t
        gc.collect()
        assert ref() is None
        assert len(ws.data) == before
    finally:
        loop.close()


def test_cyclic_garbage_task_leaves_registry():
    ws = registry()
    loop = casyncio.new_event_loop()
    try:
        before = len(ws.data)
        t = loop.create_task(_nothing())
        loop.run_until_complete(t)
        t.cycle = [t]
        ref = weakref.ref(t)
        del t
        gc.collect()
        assert ref() is None
        assert len(ws.data) == before
    finally:
        loop.close()


def test_unregister_task_and_all_tasks():
    loop = casyncio.new_event_loop()
    try:
        async def main():
            fut = loop.create_future()
            async def waiter():
                await fut
            t = loop.create_task(waiter())
            await asyncio.sleep(0)
            assert t in asyncio.all_tasks()
            asyncio.tasks._unregister_task(t)
            assert t not in asyncio.all_tasks()
            asyncio.tasks._register_task(t)
            assert t in asyncio.all_tasks()
            fut.set_result(None)
            await t
            assert t not in asyncio.all_tasks()
        loop.run_until_complete(main())
    finally:
        loop.close()


@pytest.mark.skipif(PY314, reason="3.14's WeakSet iterates a copy")
def test_removal_deferred_while_iterating():
    ws = registry()
    loop = casyncio.new_event_loop()
    try:
        before = len(ws.data)
        t = loop.create_task(_nothing())
        loop.run_until_complete(t)
        ref = weakref.ref(t)
        from _weakrefset import _IterationGuard
        with _IterationGuard(ws):            # what iterating the set does
            del t
            gc.collect()
            assert ref() is None
            assert len(ws._pending_removals) == 1
            assert len(ws.data) == before + 1
        ws.add(loop)                         # add() commits the removals
        ws.discard(loop)
        assert len(ws.data) == before
        # a task made while removals are pending goes in all the same
        t2 = loop.create_task(_nothing())
        assert t2 in ws
        loop.run_until_complete(t2)
    finally:
        loop.close()


def test_current_task_seen_by_asyncio():
    loop = casyncio.new_event_loop()
    try:
        async def main():
            me = asyncio.current_task()
            assert isinstance(me, _core.Task)
            assert asyncio.tasks.current_task(loop) is me
            return me
        t = loop.create_task(main())
        assert loop.run_until_complete(t) is t
        assert asyncio.tasks.current_task(loop) is None
    finally:
        loop.close()


def test_registry_entry_answers_as_a_weakref():
    loop = casyncio.new_event_loop()
    try:
        task = loop.create_task(_nothing())
        ws = registry()
        assert task in ws                    # ref(task) in data
        (entry,) = [e for e in ws.data if e() is task]
        assert entry == weakref.ref(task) and weakref.ref(task) == entry
        assert hash(entry) == hash(weakref.ref(task)) == hash(task)
        assert entry != weakref.ref(loop) and entry() is task
        assert task in list(ws)
        # _unregister_task and a second registration, as asyncio may do
        asyncio.tasks._unregister_task(task)
        assert task not in ws
        asyncio.tasks._register_task(task)
        assert task in ws
        loop.run_until_complete(task)
        del task
        gc.collect()
        assert entry() is None               # the task is gone
        assert [e for e in ws.data if e is entry] == []
    finally:
        loop.close()


def test_registry_entry_after_reinit():
    loop = casyncio.new_event_loop()
    try:
        first, second = _nothing(), _nothing()
        task = _core.Task(first, loop=loop)
        first.close()
        try:
            task.__init__(second, loop=loop)  # registers the task again
        except RuntimeError as e:
            second.close()
            assert 'already initialized' in str(e)
            pytest.skip("this version's Task refuses a second __init__, "
                        "as asyncio's does")
        ws = registry()
        assert len([e for e in ws.data if e() is task]) == 1
        loop.run_until_complete(task)
        del task
        gc.collect()
        assert all(e() is not None for e in ws.data)
    finally:
        loop.close()
