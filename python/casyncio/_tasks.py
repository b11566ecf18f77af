"""gather, wait, sleep, Semaphore, BoundedSemaphore with asyncio 3.11 semantics.

Only gather() needs its own code: asyncio.gather() always builds its outer
future as ``asyncio.tasks._GatheringFuture``, a subclass of the stock
``asyncio.Future``, so a casyncio Task awaiting it would leave its C fast
path.  Ours builds the outer future from ``casyncio._core.Future`` when the
loop is a casyncio loop, and uses asyncio's own class for any other loop.
The function body is asyncio 3.11.7's, line for line, so results, ordering,
exceptions and cancellation (including ``_cancel_requested``) are the same.

wait(), sleep(), Semaphore and BoundedSemaphore are asyncio's own objects,
re-exported: they create every future through ``loop.create_future()`` and
schedule through ``loop.call_later()``, so on a casyncio loop they already use
casyncio futures and timers, and copying them would only add a way to differ.
"""
from asyncio import events, exceptions, futures
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

    Exactly asyncio.gather() (Python 3.11), see its documentation; the only
    difference is the class of the returned future on a casyncio loop.
    """
    if not coros_or_futures:
        loop = events._get_event_loop()
        outer = loop.create_future()
        outer.set_result([])
        return outer

    def _done_callback(fut):
        nonlocal nfinished
        nfinished += 1

        if outer is None or outer.done():
            if not fut.cancelled():
                # Mark exception retrieved.
                fut.exception()
            return

        if not return_exceptions:
            if fut.cancelled():
                # Check if 'fut' is cancelled first, as
                # 'fut.exception()' will *raise* a CancelledError
                # instead of returning it.
                exc = fut._make_cancelled_error()
                outer.set_exception(exc)
                return
            else:
                exc = fut.exception()
                if exc is not None:
                    outer.set_exception(exc)
                    return

        if nfinished == nfuts:
            # All futures are done; create a list of results
            # and set it to the 'outer' future.
            results = []

            for fut in children:
                if fut.cancelled():
                    # Check if 'fut' is cancelled first, as 'fut.exception()'
                    # will *raise* a CancelledError instead of returning it.
                    # Also, since we're adding the exception return value
                    # to 'results' instead of raising it, don't bother
                    # setting __context__.  This also lets us preserve
                    # calling '_make_cancelled_error()' at most once.
                    res = exceptions.CancelledError(
                        '' if fut._cancel_message is None else
                        fut._cancel_message)
                else:
                    res = fut.exception()
                    if res is None:
                        res = fut.result()
                results.append(res)

            if outer._cancel_requested:
                # If gather is being cancelled we must propagate the
                # cancellation regardless of *return_exceptions* argument.
                # See issue 32684.
                exc = fut._make_cancelled_error()
                outer.set_exception(exc)
            else:
                outer.set_result(results)

    arg_to_fut = {}
    children = []
    nfuts = 0
    nfinished = 0
    loop = None
    outer = None  # bpo-46672
    for arg in coros_or_futures:
        if arg not in arg_to_fut:
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
            fut.add_done_callback(_done_callback)

        else:
            # There's a duplicate Future object in coros_or_futures.
            fut = arg_to_fut[arg]

        children.append(fut)

    outer = _gathering_future_class(loop)(children, loop=loop)
    return outer
