"""Timers and the clock as asyncio's loop has them (both loops): the
deadline kept as given, a time() patched on the instance or overridden by a
subclass driving the timers, NaN deadlines due at once."""
import asyncio
import inspect
import math
from unittest import mock

import pytest

import casyncio
from casyncio import _tasks


def test_call_at_keeps_the_deadline_as_given(loop):
    h = loop.call_at(10**6, print)
    try:
        assert h.when() == 1000000 and type(h.when()) is int
        assert h._when == 1000000 and type(h._when) is int
        assert 'when=1000000 ' in repr(h)
    finally:
        h.cancel()
    f = loop.call_at(2.5, print)
    assert type(f.when()) is float and f.when() == 2.5
    f.cancel()
    later = loop.call_later(10, print)       # time() + delay: a float
    assert type(later.when()) is float
    later.cancel()


def test_timer_handle_constructor_keeps_when(loop):
    cls = type(loop.call_at(0, print))
    h = cls(7, print, (), loop)
    assert h.when() == 7 and type(h.when()) is int
    assert hash(h) == hash(7)


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return self.now


async def advance_and_collect(clock, fired):
    await asyncio.sleep(0)
    assert fired == []                   # 100 s of fake time not passed
    clock.now += 100
    for _ in range(3):
        await asyncio.sleep(0)


def test_time_patched_on_the_instance_drives_timers(loop):
    clock = FakeClock()
    fired = []
    with mock.patch.object(loop, 'time', clock):
        h = loop.call_later(100, fired.append, 'later')
        assert h.when() == 1100.0            # scheduled on the fake clock
        loop.call_at(1050, fired.append, 'at')
        loop.run_until_complete(advance_and_collect(clock, fired))
    assert fired == ['at', 'later']
    assert clock.calls >= 3


def test_time_overridden_by_a_subclass_drives_timers(loop):
    clock = FakeClock()

    class Virtual(type(loop)):
        def time(self):
            return clock()

    lp = Virtual()
    fired = []
    try:
        lp.call_later(100, fired.append, 'later')
        lp.run_until_complete(advance_and_collect(clock, fired))
        assert fired == ['later']
        # asyncio.sleep and timeouts read the same clock
        async def main():
            t0 = lp.time()
            task = asyncio.ensure_future(asyncio.sleep(30, 'slept'))
            await asyncio.sleep(0)
            clock.now += 30
            r = await task
            return r, lp.time() - t0
        assert lp.run_until_complete(main()) == ('slept', 30)
    finally:
        lp.close()


def test_time_raising_propagates(loop):
    def broken():
        raise ZeroDivisionError('clock')

    with mock.patch.object(loop, 'time', broken):
        with pytest.raises(ZeroDivisionError):
            loop.call_later(1, print)


def test_unpatched_clock_is_monotonic(loop):
    import time
    assert abs(loop.time() - time.monotonic()) < 1.0


# asyncio.sleep() itself refuses NaN from 3.13 (and some patch releases
# before): the same function runs on both loops (casyncio's sleep() once
# casyncio is imported, which does as the running version's own).
SLEEP_REFUSES_NAN = 'isnan' in inspect.getsource(_tasks._stock_sleep)
# asyncio's _run_once clamps the select timeout with max(0, ...) up to
# 3.12, which makes a NaN one 0; from 3.13 it compares, a NaN goes through
# and the selector raises ValueError when the loop is idle with a NaN
# deadline first.  casyncio: due at once on every version.
STOCK_SELECT_CLAMPS_NAN = 'max(0' in inspect.getsource(
    asyncio.base_events.BaseEventLoop._run_once)


def test_nan_deadline_is_due_at_once(loop):
    fired = []
    nan = float('nan')
    h = loop.call_at(nan, fired.append, 'at')
    assert math.isnan(h.when())
    loop.call_later(nan, fired.append, 'later')

    async def busy():
        # the loop is never idle: no select timeout is computed
        for _ in range(3):
            await asyncio.sleep(0)
        if SLEEP_REFUSES_NAN:
            with pytest.raises(ValueError, match='NaN'):
                await asyncio.sleep(nan, 'x')
            return 'x'
        return await asyncio.sleep(nan, 'x')

    assert loop.run_until_complete(busy()) == 'x'
    assert sorted(fired) == ['at', 'later']


def test_nan_timeout_on_an_idle_loop(loop):
    # Idle: the task waits on a 2 s sleep with a NaN deadline first.
    import time
    nan = float('nan')

    async def main():
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(nan):
                await asyncio.sleep(2)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.sleep(2), nan)
        return 'timed out'

    t0 = time.monotonic()
    if isinstance(loop, casyncio.Loop) or STOCK_SELECT_CLAMPS_NAN:
        assert loop.run_until_complete(main()) == 'timed out'
        assert time.monotonic() - t0 < 1.5
    else:
        with pytest.raises(ValueError, match='NaN'):
            loop.run_until_complete(main())
