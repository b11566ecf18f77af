"""gather, wait, sleep, Semaphore, BoundedSemaphore with the running asyncio's semantics.

Only gather() needs its own code: asyncio.gather() always builds its outer
future as ``asyncio.tasks._GatheringFuture``, a subclass of the stock
``asyncio.Future``, so a casyncio Task awaiting it would leave its C fast
path.  Ours builds the outer future from ``casyncio._core.Future`` when the
loop is a casyncio loop, and uses asyncio's own class for any other loop.
The body is the running version's asyncio's (3.11, 3.12-3.13, 3.14+) line
for line, in C (src/gather.c), so results, ordering, exceptions and
cancellation (including ``_cancel_requested``) are the same.

Importing casyncio makes ``asyncio.gather`` this gather() while a casyncio
loop runs, and asyncio's own function on any other loop (install_gather()).

sleep() is asyncio's own ``async def sleep(delay, result=None)`` of the
running version, line for line, but for sleep(0)'s one yield: asyncio awaits
a new ``__sleep0()`` generator, which yields None once; ours awaits
``_core._sleep0``, whose C iterator yields None once, without the generator
and its frame.  It works the same on any loop (a task takes a bare yield as
"run me again on the next iteration"), so importing casyncio makes
``asyncio.sleep`` this sleep() (install_sleep()).

wait(), Semaphore and BoundedSemaphore are asyncio's own objects,
re-exported: they create every future through ``loop.create_future()`` and
schedule through ``loop.call_later()``, so on a casyncio loop they already use
casyncio futures and timers, and copying them would only add a way to differ.
"""
import functools
import math
import sys
from asyncio import events, futures
from asyncio import tasks as _aio_tasks
from asyncio.locks import BoundedSemaphore, Semaphore  # re-exported as is
from asyncio.tasks import (ALL_COMPLETED, FIRST_COMPLETED,  # noqa: F401
                           FIRST_EXCEPTION, wait)  # re-exported as is

from . import _core

__all__ = ("gather", "wait", "sleep", "Semaphore", "BoundedSemaphore",
           "FIRST_COMPLETED", "FIRST_EXCEPTION", "ALL_COMPLETED")


def _make_gathering_future(base):
    """Return asyncio's ``_GatheringFuture`` rebuilt on the future type *base*."""

    class _GatheringFuture(base):
        """Helper for gather().

        This overrides cancel() to cancel all the children and act more
        like Task.cancel(), which doesn't immediately mark itself as
        cancelled.
        """

        if base is not futures.Future:
            # No __dict__ made per gather (our Future has one, made when
            # first used): the two attributes live in slots.
            __slots__ = ("_children", "_cancel_requested")

            # Report asyncio's class, as our plain Future reports
            # asyncio.Future (src/future.c): isinstance(g, asyncio.Future),
            # singledispatch and tornado's is_future() / add_future() see
            # what stock gather() returns; type(g) stays ours (C fast paths).
            @property
            def __class__(self):
                return _aio_tasks._GatheringFuture

        def __init__(self, children, *, loop):
            assert loop is not None
            super().__init__(loop=loop)
            self._children = children
            self._cancel_requested = False

        def cancel(self, msg=None):
            if self.done():
                return False
            ret = False
            for child in self._children:
                if child.cancel(msg=msg):
                    ret = True
            if ret:
                # If any child tasks were actually cancelled, we should
                # propagate the cancellation request regardless of
                # *return_exceptions* argument.  See issue 32684.
                self._cancel_requested = True
            return ret

    return _GatheringFuture


_PY312 = sys.version_info >= (3, 12)
_PY314 = sys.version_info >= (3, 14)

if _PY314:
    # asyncio's call-graph functions, extended to our futures (asyncio's own
    # record only its own C futures and tasks; ours delegate to them for
    # any other future).  asyncio looks them up in asyncio.futures at each
    # use (gather, shield, wait, TaskGroup, staggered), so every caller
    # sees ours.
    import asyncio as _asyncio_pkg
    for _name in ("future_add_to_awaited_by",
                  "future_discard_from_awaited_by"):
        setattr(futures, _name, getattr(_core, _name))
        setattr(_asyncio_pkg, _name, getattr(_core, _name))
    del _name

_CoreLoop = getattr(_core, "Loop", None)
_CoreFuture = getattr(_core, "Future", None)
_CoreGatheringFuture = (_make_gathering_future(_CoreFuture)
                        if _CoreFuture is not None else None)


def _gathering_future_class(loop):
    """The outer-future class gather() uses on *loop*."""
    if _CoreGatheringFuture is not None and isinstance(loop, _CoreLoop):
        return _CoreGatheringFuture
    return _aio_tasks._GatheringFuture


_core._gather_setup(
    _aio_tasks.ensure_future if _PY312 else _aio_tasks._ensure_future,
    futures._get_loop,
    # looked up at each call: tests replace _gathering_future_class
    lambda loop: _gathering_future_class(loop),
    _aio_tasks.current_task,
    # made in C on a casyncio loop, without running its __init__
    _CoreGatheringFuture)


def gather(*coros_or_futures, return_exceptions=False):
    """Return a future aggregating results from the given coroutines/futures.

    Exactly asyncio.gather() of the running version, see its documentation;
    the only difference is the class of the returned future on a casyncio
    loop.
    """
    if not coros_or_futures:
        loop = (events.get_event_loop() if _PY312
                else events._get_event_loop())
        outer = loop.create_future()
        outer.set_result([])
        return outer

    # The body of asyncio's gather() after that, line for line in C
    # (src/gather.c), with its _done_callback closure as a C callable.
    return _core._gather(coros_or_futures, return_exceptions, None)


_stock_gather = _aio_tasks.gather


@functools.wraps(_stock_gather)
def _asyncio_gather(*coros_or_futures, return_exceptions=False):
    # What asyncio.gather names once casyncio is imported (install_gather):
    # gather() above while a casyncio loop runs, asyncio's own otherwise.
    if not coros_or_futures:
        return _stock_gather(return_exceptions=return_exceptions)
    return _core._gather(coros_or_futures, return_exceptions, _stock_gather)


def install_gather():
    """Make asyncio.gather (and asyncio.tasks.gather) casyncio's: an
    unchanged program's gather() on a casyncio loop runs in C; on any other
    loop it is asyncio's own function that runs."""
    if _aio_tasks.gather is _stock_gather:
        _aio_tasks.gather = _asyncio_gather
    import asyncio
    if asyncio.gather is _stock_gather:
        asyncio.gather = _asyncio_gather


_stock_sleep = _aio_tasks.sleep
_sleep0 = _core._sleep0

# asyncio's sleep() refuses a NaN delay from 3.13 on (and in some patch
# releases before): ours does when the running version's does.
_CHECK_NAN = "isnan" in _stock_sleep.__code__.co_names


async def sleep(delay, result=None):
    """Coroutine that completes after a given time (in seconds)."""
    if delay <= 0:
        await _sleep0
        return result

    if _CHECK_NAN and math.isnan(delay):
        raise ValueError("Invalid delay: NaN (not a number)")

    loop = events.get_running_loop()
    future = loop.create_future()
    h = loop.call_later(delay,
                        futures._set_result_unless_cancelled,
                        future, result)
    try:
        return await future
    finally:
        h.cancel()


# Named as asyncio's: pickle, repr and help() find asyncio.tasks.sleep,
# which is this function once install_sleep() has run.
sleep.__module__ = _stock_sleep.__module__
sleep.__qualname__ = _stock_sleep.__qualname__
sleep.__doc__ = _stock_sleep.__doc__


def install_sleep():
    """Make asyncio.sleep (and asyncio.tasks.sleep) casyncio's sleep(),
    unless a program or tool has already replaced asyncio's own."""
    if _aio_tasks.sleep is _stock_sleep:
        _aio_tasks.sleep = sleep
    import asyncio
    if asyncio.sleep is _stock_sleep:
        asyncio.sleep = sleep
