"""gather, wait, sleep, Semaphore, BoundedSemaphore with the running asyncio's semantics.

Only gather() needs its own code: asyncio.gather() always builds its outer
future as ``asyncio.tasks._GatheringFuture``, a subclass of the stock
``asyncio.Future``, so a casyncio Task awaiting it would leave its C fast
path.  Ours builds the outer future from ``casyncio._core.Future`` when the
loop is a casyncio loop, and uses asyncio's own class for any other loop.
The function body is the running version's asyncio's (3.11, 3.12-3.13,
3.14+), line for line, so results, ordering,
exceptions and cancellation (including ``_cancel_requested``) are the same;
the per-child ``_done_callback`` is the same code in C (src/gather.c).

wait(), sleep(), Semaphore and BoundedSemaphore are asyncio's own objects,
re-exported: they create every future through ``loop.create_future()`` and
schedule through ``loop.call_later()``, so on a casyncio loop they already use
casyncio futures and timers, and copying them would only add a way to differ.
"""
import sys
from asyncio import events, futures
from asyncio import tasks as _aio_tasks
from asyncio.locks import BoundedSemaphore, Semaphore  # re-exported as is
from asyncio.tasks import (ALL_COMPLETED, FIRST_COMPLETED,  # noqa: F401
                           FIRST_EXCEPTION, sleep, wait)  # re-exported as is

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

    if _PY314:
        loop = events._get_running_loop()
        if loop is not None:
            cur_task = _aio_tasks.current_task(loop)
        else:
            cur_task = None
    else:
        loop = cur_task = None

    # asyncio's _done_callback closure, in C (src/gather.c): it runs once
    # per child; it gets the outer future once that exists.
    children = []
    _done_callback = _core._GatherCallback(children, return_exceptions,
                                           cur_task)

    arg_to_fut = {}
    nfuts = 0
    done_futs = []
    outer = None  # bpo-46672
    for arg in coros_or_futures:
        if arg not in arg_to_fut:
            if _PY312:
                fut = _aio_tasks.ensure_future(arg, loop=loop)
            else:
                fut = _aio_tasks._ensure_future(arg, loop=loop)
            if loop is None:
                loop = futures._get_loop(fut)
            if fut is not arg:
                # 'arg' was not a Future, therefore, 'fut' is a new
                # Future created specifically for 'arg'.  Since the caller
                # can't control it, disable the "destroy pending task"
                # warning.
                fut._log_destroy_pending = False

            nfuts += 1
            arg_to_fut[arg] = fut
            if _PY312 and fut.done():
                done_futs.append(fut)
            else:
                if cur_task is not None:
                    futures.future_add_to_awaited_by(fut, cur_task)
                fut.add_done_callback(_done_callback)

        else:
            # There's a duplicate Future object in coros_or_futures.
            fut = arg_to_fut[arg]

        children.append(fut)

    outer = _gathering_future_class(loop)(children, loop=loop)
    _done_callback._set_outer(outer, nfuts)
    # Run done callbacks after GatheringFuture created so any post-processing
    # can be performed at this point
    # optimization: in the special case that *all* futures finished eagerly,
    # this will effectively complete the gather eagerly, with the last
    # callback setting the result (or exception) on outer before returning it
    for fut in done_futs:
        _done_callback(fut)
    return outer
