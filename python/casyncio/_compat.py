"""Legacy asyncio APIs for old tutorials, restored on Python 3.11 and later.

install() adds back what Python 3.11 and later releases removed from asyncio, and uninstall()
takes it away again.  The layer only *adds* missing names and only changes
calls that stock 3.11 rejects with an error; every call that works on stock
asyncio behaves exactly as before.

Restored:

* ``@asyncio.coroutine``: generator-based coroutines (``yield from``) and
  plain functions, as in Python 3.10 (``types.coroutine`` plus the
  ``_is_coroutine`` marker, so ``asyncio.iscoroutinefunction`` is true; from
  3.12 on, whose Task refuses generators, wrapped in a native coroutine).
* ``asyncio.Task.all_tasks()`` and ``asyncio.Task.current_task()``, with
  Python 3.8's semantics (see ``_LegacyTask``).
* ``asyncio.wait()`` given bare coroutines: they are wrapped with
  ensure_future() as Python 3.10 did, instead of 3.11's TypeError.
* ``with (await lock)`` and ``with (yield from lock)`` for Lock, Semaphore,
  BoundedSemaphore and Condition, as in Python 3.9.
* ``loop=`` accepted and ignored by asyncio.sleep(), gather(), wait() and
  Queue() (3.10 removed it; 3.11 raises TypeError).
* ``asyncio.get_event_loop()`` outside a running loop making the main
  thread's loop when none was set, as up to Python 3.13 (3.14 raises
  RuntimeError instead).

The deprecation warnings are attributed to this module, so the default
warning filters do not print them (``-W error`` or ``-W always`` still see
them).
"""
import asyncio
import collections.abc
import functools
import gc
import inspect
import sys
import threading
import types
import warnings
from asyncio import base_futures, coroutines, events, futures, locks, queues
from asyncio import tasks as _tasks

from . import _core

__all__ = ("install", "uninstall", "is_installed")

_installed = {}   # (owner, name) -> original value, or _MISSING


class _Missing:
    def __repr__(self):
        return "<missing>"


_MISSING = _Missing()


def _warn(message, category=DeprecationWarning):
    # stacklevel=1: the warning is attributed to casyncio._compat, a module
    # the default filters ignore DeprecationWarning for.
    warnings.warn(message, category, stacklevel=1)


# --- @asyncio.coroutine ----------------------------------------------------

def coroutine(func):
    """Decorator to mark generator-based coroutines (Python 3.10's).

    Deprecated since Python 3.8 and removed in 3.11: use ``async def``.
    """
    _warn('"@coroutine" decorator is deprecated since Python 3.8, use '
          '"async def" instead')
    if inspect.iscoroutinefunction(func):
        # Defined with "async def": that's all we need to do.
        return func

    if inspect.isgeneratorfunction(func):
        coro = func
    else:
        @functools.wraps(func)
        def coro(*args, **kw):
            res = func(*args, **kw)
            if base_futures.isfuture(res) or inspect.isgenerator(res):
                res = yield from res
            else:
                # If 'res' is an awaitable, run it.
                try:
                    await_meth = res.__await__
                except AttributeError:
                    pass
                else:
                    if isinstance(res, collections.abc.Awaitable):
                        res = yield from await_meth()
            return res

    wrapper = types.coroutine(coro)
    if sys.version_info >= (3, 12):
        # 3.12's Task takes coroutine objects only, no longer generators:
        # a native coroutine around the generator is what create_task()
        # accepts, and `yield from` in another generator-based coroutine
        # still drives it.
        generator_coro = wrapper

        @functools.wraps(func)
        async def wrapper(*args, **kw):
            return await generator_coro(*args, **kw)
    wrapper._is_coroutine = coroutines._is_coroutine  # iscoroutinefunction()
    return wrapper


# --- asyncio.Task.all_tasks() / current_task() ------------------------------

_StockTask = _tasks.Task   # _asyncio.Task, immutable: no setattr on it


def _task_types():
    types_ = [_StockTask, _tasks._PyTask]
    core_task = getattr(_core, "Task", None)
    if core_task is not None:
        types_.append(core_task)
    return tuple(types_)


def _all_tasks_compat(loop=None):
    """Python 3.8's: every task of *loop*, finished ones included."""
    if loop is None:
        loop = events.get_event_loop()
    # Every task ever made, while alive: 3.11's _all_tasks, 3.12's
    # _scheduled_tasks.  3.14 registers pending tasks only (per-thread
    # lists, and a weak set inside _asyncio for other task types): there the
    # garbage collector's list of objects is what still holds every live
    # task, finished ones included (a rare, legacy call: its cost is the
    # heap's size).
    if sys.version_info >= (3, 14):
        task_types = _task_types()
        registry = [o for o in gc.get_objects()
                    if issubclass(type(o), task_types)]
    else:
        registry = getattr(_tasks, "_all_tasks", None)
        if registry is None:
            registry = _tasks._scheduled_tasks
    i = 0
    while True:
        try:
            tasks = list(registry)
        except RuntimeError:
            i += 1
            if i >= 1000:
                raise
        else:
            break
    return {t for t in tasks if futures._get_loop(t) is loop}


class _LegacyTaskMeta(type):
    """Makes ``_LegacyTask`` stand for every Task class in checks and calls."""

    def __instancecheck__(cls, obj):
        if cls is _LegacyTask:
            return isinstance(obj, _task_types())
        return super().__instancecheck__(obj)

    def __subclasscheck__(cls, sub):
        if cls is _LegacyTask:
            return issubclass(sub, _task_types())
        return super().__subclasscheck__(sub)

    def __call__(cls, *args, **kwargs):
        if cls is _LegacyTask:
            return _StockTask(*args, **kwargs)
        return super().__call__(*args, **kwargs)


class _LegacyTask(_StockTask, metaclass=_LegacyTaskMeta):
    """``asyncio.Task`` in compat mode: the stock Task plus 3.8's class methods.

    ``asyncio.Task`` is ``_asyncio.Task``, an immutable C type, so the two
    class methods cannot be added to it.  In compat mode ``asyncio.Task``
    names this subclass instead.  Its metaclass keeps it a stand-in for the
    real classes:

    * ``asyncio.Task(coro)`` returns a plain ``_asyncio.Task``;
    * ``isinstance(t, asyncio.Task)`` / ``issubclass`` are true for
      ``_asyncio.Task``, the pure-Python ``asyncio.tasks._PyTask`` and
      ``casyncio._core.Task`` (which is not an asyncio.Task subclass);
    * subclassing ``asyncio.Task`` still gives a working Task subclass.

    Trade-offs: ``type(t) is asyncio.Task`` is false for every task, and
    ``asyncio.Task is asyncio.tasks.Task`` is false.  ``asyncio.tasks.Task``
    (what loops instantiate) is left alone, so tasks keep their exact C type
    and its fast paths.
    """

    @classmethod
    def current_task(cls, loop=None):
        """Return the currently running task in an event loop or None.

        By default the current task for the current event loop is returned.

        None is returned when called not in the context of a Task.
        """
        warnings.warn("Task.current_task() is deprecated, "
                      "use asyncio.current_task() instead",
                      PendingDeprecationWarning, stacklevel=2)
        if loop is None:
            loop = events.get_event_loop()
        return _tasks.current_task(loop)

    @classmethod
    def all_tasks(cls, loop=None):
        """Return a set of all tasks for an event loop.

        By default all tasks for the current event loop are returned.
        """
        warnings.warn("Task.all_tasks() is deprecated, "
                      "use asyncio.all_tasks() instead",
                      PendingDeprecationWarning, stacklevel=2)
        return _all_tasks_compat(loop)


_LegacyTask.__name__ = _LegacyTask.__qualname__ = "Task"
_LegacyTask.__module__ = _StockTask.__module__


# --- asyncio.wait() with coroutines, loop= ----------------------------------

def _warn_loop():
    _warn("The loop argument is deprecated since Python 3.8, "
          "and scheduled for removal in Python 3.10.")


def _make_wait(stock_wait):
    @functools.wraps(stock_wait)
    async def wait(fs, *, loop=_MISSING, timeout=None,
                   return_when=_tasks.ALL_COMPLETED):
        if loop is not _MISSING:
            _warn_loop()
        if not (futures.isfuture(fs) or coroutines.iscoroutine(fs)) and fs:
            # Look for coroutines without consuming an iterator for good.
            items = list(fs)
            if any(coroutines.iscoroutine(f) for f in items):
                _warn("The explicit passing of coroutine objects to "
                      "asyncio.wait() is deprecated since Python 3.8, and "
                      "scheduled for removal in Python 3.11.")
                # Python 3.10 wrapped them in set order; we keep the
                # caller's order so tasks start deterministically.
                fs = {_tasks.ensure_future(f) for f in dict.fromkeys(items)}
            elif iter(fs) is fs:
                fs = iter(items)
        return await stock_wait(fs, timeout=timeout, return_when=return_when)
    return wait


def _make_sleep(stock_sleep):
    """asyncio.sleep() taking loop=, still a coroutine function for
    inspect.iscoroutinefunction(), mock.patch('asyncio.sleep') (an
    AsyncMock) and add_signal_handler()'s check, as the stock one."""
    if hasattr(inspect, "markcoroutinefunction"):
        # 3.12+: a marked plain function returning the stock coroutine
        # itself (its repr and frames are stock's).
        @functools.wraps(stock_sleep)
        def sleep(delay, result=None, *, loop=_MISSING):
            if loop is not _MISSING:
                _warn_loop()
            return stock_sleep(delay, result)
        return inspect.markcoroutinefunction(sleep)

    # 3.11: inspect knows coroutine functions by their code only.
    @functools.wraps(stock_sleep)
    async def sleep(delay, result=None, *, loop=_MISSING):
        if loop is not _MISSING:
            _warn_loop()
        return await stock_sleep(delay, result)
    return sleep


def _make_gather(stock_gather):
    @functools.wraps(stock_gather)
    def gather(*coros_or_futures, loop=_MISSING, return_exceptions=False):
        if loop is not _MISSING:
            _warn_loop()
        return stock_gather(*coros_or_futures,
                            return_exceptions=return_exceptions)
    return gather


def _make_queue_init(stock_init):
    @functools.wraps(stock_init)
    def __init__(self, maxsize=0, *, loop=_MISSING):
        if loop is not _MISSING:
            _warn_loop()
        stock_init(self, maxsize)
    return __init__


# --- with (await lock) / with (yield from lock) ------------------------------

class _ContextManager:
    """Context manager returned by ``await lock`` / ``yield from lock``.

    This enables the following idiom for acquiring and releasing a
    lock around a block:

        with (yield from lock):
            <block>

    while failing loudly when accidentally using:

        with lock:
            <block>
    """

    def __init__(self, lock):
        self._lock = lock

    def __enter__(self):
        # We have no use for the "as ..."  clause in the with
        # statement for locks.
        return None

    def __exit__(self, *args):
        try:
            self._lock.release()
        finally:
            self._lock = None  # Crudely prevent reuse.


@types.coroutine
def _lock_iter(self):
    # Not a coroutine: enables "with (yield from lock):" (Python 3.9's).
    _warn("'with (yield from lock)' is deprecated "
          "use 'async with lock' instead")
    yield from self.acquire()
    return _ContextManager(self)


_lock_iter._is_coroutine = coroutines._is_coroutine
_lock_iter.__name__ = _lock_iter.__qualname__ = "__iter__"


async def _acquire_ctx(lock):
    await lock.acquire()
    return _ContextManager(lock)


def _lock_await(self):
    # To make "with await lock" work (Python 3.9's).
    _warn("'with await lock' is deprecated use 'async with lock' instead")
    return _acquire_ctx(self).__await__()


_lock_await.__name__ = _lock_await.__qualname__ = "__await__"


# --- get_event_loop() making the main thread's loop -------------------------

_BasePolicy = getattr(events, "_BaseDefaultEventLoopPolicy", None) \
    or events.BaseDefaultEventLoopPolicy


def _make_get_event_loop(stock_get):
    @functools.wraps(stock_get)
    def get_event_loop(self):
        # Python 3.13's: the main thread gets a loop on first use unless
        # set_event_loop() was called (asyncio.run() calls it at its end).
        if (self._local._loop is None
                and not getattr(self._local, "_compat_set_called", False)
                and threading.current_thread() is threading.main_thread()):
            _warn("There is no current event loop")
            self.set_event_loop(self.new_event_loop())
        return stock_get(self)
    return get_event_loop


def _make_set_event_loop(stock_set):
    @functools.wraps(stock_set)
    def set_event_loop(self, loop):
        self._local._compat_set_called = True
        stock_set(self, loop)
    return set_event_loop


# --- install / uninstall -------------------------------------------------

def _patch(owner, name, value):
    key = (owner, name)
    if key not in _installed:
        _installed[key] = owner.__dict__.get(name, _MISSING) \
            if isinstance(owner, type) else getattr(owner, name, _MISSING)
    setattr(owner, name, value)


def is_installed():
    """True while the compat layer is installed."""
    return bool(_installed)


def install():
    """Install the legacy APIs into asyncio.  Idempotent."""
    if _installed:
        return
    for mod in (asyncio, coroutines):
        if not hasattr(mod, "coroutine"):
            _patch(mod, "coroutine", coroutine)
    if not hasattr(asyncio.Task, "all_tasks"):
        _patch(asyncio, "Task", _LegacyTask)
    # Only the package's names: asyncio's own modules keep calling the
    # stock functions directly.
    _patch(asyncio, "wait", _make_wait(asyncio.wait))
    _patch(asyncio, "sleep", _make_sleep(asyncio.sleep))
    _patch(asyncio, "gather", _make_gather(asyncio.gather))
    _patch(queues.Queue, "__init__", _make_queue_init(queues.Queue.__init__))
    mixin = locks._ContextManagerMixin
    if not hasattr(mixin, "__await__"):
        _patch(mixin, "__await__", _lock_await)
    if not hasattr(mixin, "__iter__"):
        _patch(mixin, "__iter__", _lock_iter)
    if sys.version_info >= (3, 14):
        _patch(_BasePolicy, "get_event_loop",
               _make_get_event_loop(_BasePolicy.get_event_loop))
        _patch(_BasePolicy, "set_event_loop",
               _make_set_event_loop(_BasePolicy.set_event_loop))


def uninstall():
    """Remove everything install() added; asyncio is stock again."""
    for (owner, name), value in reversed(list(_installed.items())):
        if value is _MISSING:
            delattr(owner, name)
        else:
            setattr(owner, name, value)
    _installed.clear()
