"""Fixtures shared by test_future.py and test_task.py (imported by name)."""
import asyncio
import gc

import pytest

from casyncio import _core


@pytest.fixture
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
    gc.collect()


# The same test bodies run against stock asyncio's types and ours.
@pytest.fixture(params=["stock", "casyncio"])
def impl(request):
    if request.param == "stock":
        return asyncio.Future, asyncio.Task
    return _core.Future, _core.Task


def collect_and_check_dead(refs):
    """gc, then assert every weakref in refs is dead."""
    for _ in range(3):
        gc.collect()
    alive = [r() for r in refs if r() is not None]
    assert alive == []


def memory_growth(fn, rounds=5, warmup=2):
    """Peak-free growth in bytes traced by tracemalloc over `rounds` calls of
    fn() after `warmup` calls: a leak of a few objects per call shows up as
    steady growth."""
    import tracemalloc
    for _ in range(warmup):
        fn()
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(rounds):
            fn()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
