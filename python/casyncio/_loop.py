"""casyncio.Loop: the C loop core (_core.Loop) plus its cold paths.

The hot paths (call_soon, call_later/call_at, the ready queue, the timer
heap, epoll, the task fast paths) are C.  Here is what runs once per
run_forever() or rarely: set-up and tear-down, run_until_complete, close,
the exception handler, executors and async generator hooks.  Behaviour and
messages follow asyncio.base_events of the running Python.
"""
import concurrent.futures
import errno
import signal
import sys
import threading
import time
import traceback
import warnings
import weakref

from asyncio import base_events, coroutines, events, futures, tasks
from asyncio import selector_events, sslproto, unix_events
from asyncio import constants as _constants
from asyncio.log import logger

from . import _core, _net, _tls, _udp, _unix
from ._methods import bind_as_python_methods
from ._sock import SockMixin
from ._net import NetMixin
from ._udp import UDPMixin
from ._unix import UnixMixin

__all__ = ('Loop',)

# 3.14 deprecates asyncio.iscoroutinefunction; its loop uses the private
# one, which warns about nothing.
_iscoroutinefunction = getattr(coroutines, '_iscoroutinefunction',
                               coroutines.iscoroutinefunction)


def _run_until_complete_cb(fut):
    if not fut.cancelled():
        exc = fut.exception()
        if isinstance(exc, (SystemExit, KeyboardInterrupt)):
            # Issue #22429: run_forever() already finished, no need to
            # stop it.
            return
    futures._get_loop(fut).stop()


def _sighandler_noop(signum, frame):
    """Dummy signal handler."""
    pass


def _format_handle(handle):
    if isinstance(handle, (_core.Task, tasks.Task)):
        return repr(handle)
    cb = getattr(handle, '_callback', None)
    owner = getattr(cb, '__self__', None)
    if isinstance(owner, (_core.Task, tasks.Task)):
        return repr(owner)
    return str(handle)


class Loop(SockMixin, NetMixin, UDPMixin, UnixMixin, _core.Loop,
           events.AbstractEventLoop):
    """An asyncio event loop whose core is written in C."""

    def __init__(self):
        self._default_executor = None
        self._executor_shutdown_called = False
        self._asyncgens = _core._AsyncGenSet(self)
        self._coroutine_origin_tracking_enabled = False
        self._coroutine_origin_tracking_saved_depth = None
        self._clock_resolution = time.get_clock_info('monotonic').resolution
        self._current_handle = None
        self._transports = weakref.WeakValueDictionary()    # fd -> transport
        self._children = {}     # pid -> _unix._Child, reaped by the loop
        # 3.13: listening Unix socket -> its inode, unlinked when the
        # server stops (create_unix_server(cleanup_socket=True))
        self._unix_server_sockets = {}
        # 3.13: the hooks _run_forever_setup() replaced
        self._old_agen_hooks = None
        self.set_debug(coroutines._is_debug_mode())

    def __repr__(self):
        return (f'<{self.__class__.__name__} running={self.is_running()} '
                f'closed={self.is_closed()} debug={self.get_debug()}>')

    def __del__(self, _warn=warnings.warn):
        if not self.is_closed():
            _warn(f"unclosed event loop {self!r}", ResourceWarning,
                  source=self)
            if not self.is_running():
                self.close()

    # ---- checks ----

    def _check_closed(self):
        if self.is_closed():
            raise RuntimeError('Event loop is closed')

    def _check_running(self):
        if self.is_running():
            raise RuntimeError('This event loop is already running')
        if events._get_running_loop() is not None:
            raise RuntimeError(
                'Cannot run the event loop while another loop is running')

    def _check_thread(self):
        """Debug mode: the loop's non-thread-safe methods are called from
        the thread that runs it (asyncio's message)."""
        if self._thread_id is None:
            return
        if threading.get_ident() != self._thread_id:
            raise RuntimeError(
                "Non-thread-safe operation invoked on an event loop other "
                "than the current one")

    def _check_callback(self, callback, method):
        if (coroutines.iscoroutine(callback) or
                _iscoroutinefunction(callback)):
            raise TypeError(
                f"coroutines cannot be used with {method}()")
        if not callable(callback):
            raise TypeError(
                f'a callable object was expected by {method}(), '
                f'got {callback!r}')

    def _check_default_executor(self):
        if self._executor_shutdown_called:
            raise RuntimeError('Executor shutdown has been called')

    # ---- running and stopping ----

    # is_running() is _core.Loop's (C): asyncio.Task(..., eager_start=True)
    # calls it for every task it makes.

    if sys.version_info >= (3, 13):
        # asyncio's own set-up and clean-up of the running version (3.13
        # made them methods, for loops that integrate another event loop:
        # _run_forever_setup(), then _run_once() calls, then
        # _run_forever_cleanup()).
        _run_forever_setup = base_events.BaseEventLoop._run_forever_setup
        _run_forever_cleanup = base_events.BaseEventLoop._run_forever_cleanup

        if sys.version_info >= (3, 14):
            def run_forever(self):
                """Run until stop() is called."""
                self._run_forever_setup()
                try:
                    self._run_forever_core()
                finally:
                    self._run_forever_cleanup()
        else:
            def run_forever(self):
                """Run until stop() is called."""
                try:
                    self._run_forever_setup()
                    self._run_forever_core()
                finally:
                    self._run_forever_cleanup()
    else:
        def run_forever(self):
            """Run until stop() is called."""
            self._check_closed()
            self._check_running()
            self._set_coroutine_origin_tracking(self.get_debug())
            old_agen_hooks = sys.get_asyncgen_hooks()
            try:
                self._thread_id = threading.get_ident()
                sys.set_asyncgen_hooks(
                    firstiter=self._asyncgen_firstiter_hook,
                    finalizer=self._asyncgen_finalizer_hook)
                events._set_running_loop(self)
                self._run_forever_core()
            finally:
                self._stopping = False
                self._thread_id = None
                events._set_running_loop(None)
                self._set_coroutine_origin_tracking(False)
                sys.set_asyncgen_hooks(*old_agen_hooks)

    def run_until_complete(self, future):
        """Run until the Future is done.

        If the argument is a coroutine, it is wrapped in a Task.

        Return the Future's result, or raise its exception.
        """
        self._check_closed()
        self._check_running()
        new_task = not futures.isfuture(future)
        future = tasks.ensure_future(future, loop=self)
        if new_task:
            # An exception is raised if the future didn't complete, so
            # there is no need to log the "destroy pending task" message.
            future._log_destroy_pending = False
        future.add_done_callback(_run_until_complete_cb)
        try:
            self.run_forever()
        except:
            if new_task and future.done() and not future.cancelled():
                # The coroutine raised a BaseException. Consume the
                # exception to not log a warning, the caller doesn't have
                # access to the local task.
                future.exception()
            raise
        finally:
            future.remove_done_callback(_run_until_complete_cb)
        if not future.done():
            raise RuntimeError('Event loop stopped before Future completed.')
        return future.result()

    def close(self):
        """Close the event loop.

        This clears the queues and shuts down the executor,
        but does not wait for the executor to finish.

        The event loop must not be running.
        """
        if self.is_running():
            raise RuntimeError("Cannot close a running event loop")
        if self.is_closed():
            return
        if self.get_debug():
            logger.debug("Close %r", self)
        self._close_children()
        self._close_signals()
        self._close_core()     # closes the signal pipe too
        self._executor_shutdown_called = True
        executor = self._default_executor
        if executor is not None:
            self._default_executor = None
            executor.shutdown(wait=False)

    def set_debug(self, enabled):
        super().set_debug(enabled)
        if self.is_running():
            self.call_soon_threadsafe(self._set_coroutine_origin_tracking,
                                      enabled)

    def _set_coroutine_origin_tracking(self, enabled):
        if bool(enabled) == bool(self._coroutine_origin_tracking_enabled):
            return
        if enabled:
            self._coroutine_origin_tracking_saved_depth = (
                sys.get_coroutine_origin_tracking_depth())
            sys.set_coroutine_origin_tracking_depth(
                _constants.DEBUG_STACK_DEPTH)
        else:
            sys.set_coroutine_origin_tracking_depth(
                self._coroutine_origin_tracking_saved_depth)
        self._coroutine_origin_tracking_enabled = enabled

    def _log_slow_callback(self, what, dt):
        logger.warning('Executing %s took %.3f seconds',
                       _format_handle(what), dt)

    if hasattr(events, '_ThreadSafeHandle'):
        # 3.14's: the handle is asyncio's _ThreadSafeHandle, whose cancel()
        # and cancelled() wait for a callback that is running in the loop's
        # thread.  The C queue runs its _run(), which takes that lock and
        # checks for a cancel made after the handle was queued.  (Slower
        # than the C path that versions before 3.14 take: compatibility
        # first.)
        def call_soon_threadsafe(self, callback, *args, context=None):
            """Like call_soon(), but thread-safe."""
            self._check_closed()
            if self._debug:
                self._check_callback(callback, 'call_soon_threadsafe')
            handle = events._ThreadSafeHandle(callback, args, self, context)
            _core.Loop.call_soon_threadsafe(self, handle._run)
            if handle._source_traceback:
                # as asyncio: drop this method's and __init__'s frames, so
                # the traceback ends at the caller
                del handle._source_traceback[-2:]
            return handle

    # ---- file descriptors ----

    def _ensure_fd_no_transport(self, fd):
        """An fd that a live transport of this loop reads or writes is not
        for add_reader() and friends (asyncio's message)."""
        fileno = fd
        if not isinstance(fileno, int):
            try:
                fileno = int(fileno.fileno())
            except (AttributeError, TypeError, ValueError):
                # This code matches selectors._fileobj_to_fd function.
                raise ValueError(f"Invalid file object: {fd!r}") from None
        try:
            transport = self._transports[fileno]
        except KeyError:
            pass
        else:
            if not transport.is_closing():
                raise RuntimeError(
                    f'File descriptor {fd!r} is used by transport '
                    f'{transport!r}')

    def add_reader(self, fd, callback, *args):
        """Start watching the file descriptor for read availability."""
        self._ensure_fd_no_transport(fd)
        self._add_reader(fd, callback, *args)

    def remove_reader(self, fd):
        """Stop watching the file descriptor for read availability."""
        self._ensure_fd_no_transport(fd)
        return self._remove_reader(fd)

    def add_writer(self, fd, callback, *args):
        """Start watching the file descriptor for write availability."""
        self._ensure_fd_no_transport(fd)
        self._add_writer(fd, callback, *args)

    def remove_writer(self, fd):
        """Stop watching the file descriptor for write availability."""
        self._ensure_fd_no_transport(fd)
        return self._remove_writer(fd)

    # ---- signals ----
    # As asyncio's unix_events, with the loop's own pipe: its write end is
    # the signal wake-up fd (Python's C-level handler writes the signal
    # number to it), its read end is read in C in the poll phase, which
    # queues the Handle of self._signal_handlers (a dict the C loop owns).
    # Here: the checks, signal.signal() and set_wakeup_fd().

    def _check_signal(self, sig):
        if not isinstance(sig, int):
            raise TypeError(f'sig must be an int, not {sig!r}')
        if sig not in signal.valid_signals():
            raise ValueError(f'invalid signal number {sig}')

    def add_signal_handler(self, sig, callback, *args):
        """Add a handler for a signal.  UNIX only.

        Raise ValueError if the signal number is invalid or uncatchable.
        Raise RuntimeError if there is a problem setting up the handler.
        """
        if (coroutines.iscoroutine(callback) or
                _iscoroutinefunction(callback)):
            raise TypeError("coroutines cannot be used "
                            "with add_signal_handler()")
        self._check_signal(sig)
        self._check_closed()
        try:
            # set_wakeup_fd() raises ValueError off the main thread: a
            # loop running in another thread cannot add a signal handler.
            signal.set_wakeup_fd(self._signal_wakeup_fd())
        except (ValueError, OSError) as exc:
            raise RuntimeError(str(exc))

        handle = _core.Handle(callback, args, self, None)
        self._signal_handlers[sig] = handle
        try:
            # A no-op Python handler: the C-level one writes the signal
            # number to the wake-up fd, which is all we need.
            signal.signal(sig, _sighandler_noop)
            signal.siginterrupt(sig, False)
        except OSError as exc:
            del self._signal_handlers[sig]
            if not self._signal_handlers:
                try:
                    signal.set_wakeup_fd(-1)
                except (ValueError, OSError) as nexc:
                    logger.info('set_wakeup_fd(-1) failed: %s', nexc)
            if exc.errno == errno.EINVAL:
                raise RuntimeError(f'sig {sig} cannot be caught')
            else:
                raise

    def remove_signal_handler(self, sig):
        """Remove a handler for a signal.  UNIX only.

        Return True if a signal handler was removed, False if not.
        """
        self._check_signal(sig)
        try:
            del self._signal_handlers[sig]
        except KeyError:
            return False
        if sig == signal.SIGINT:
            handler = signal.default_int_handler
        else:
            handler = signal.SIG_DFL
        try:
            signal.signal(sig, handler)
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                raise RuntimeError(f'sig {sig} cannot be caught')
            else:
                raise
        if not self._signal_handlers:
            try:
                signal.set_wakeup_fd(-1)
            except (ValueError, OSError) as exc:
                logger.info('set_wakeup_fd(-1) failed: %s', exc)
        return True

    def _close_signals(self):
        if not sys.is_finalizing():
            for sig in list(self._signal_handlers):
                self.remove_signal_handler(sig)
        elif self._signal_handlers:
            warnings.warn(f"Closing the loop {self!r} "
                          f"on interpreter shutdown "
                          f"stage, skipping signal handlers removal",
                          ResourceWarning,
                          source=self)
            self._signal_handlers.clear()

    # ---- async generators ----

    def _asyncgen_finalizer_hook(self, agen):
        self._asyncgens.discard(agen)
        if not self.is_closed():
            self.call_soon_threadsafe(self.create_task, agen.aclose())

    # The hook the interpreter calls at each generator's first iteration,
    # as asyncio's method: warn after shutdown_asyncgens(), then add the
    # generator to _asyncgens.  In C (src/agenset.h): no frame per
    # generator.  A subclass may still override it with a method.
    @property
    def _asyncgen_firstiter_hook(self):
        return self._asyncgens.firstiter

    @property
    def _asyncgens_shutdown_called(self):
        return self._asyncgens.shutdown_called

    @_asyncgens_shutdown_called.setter
    def _asyncgens_shutdown_called(self, value):
        self._asyncgens.shutdown_called = value

    async def shutdown_asyncgens(self):
        """Shutdown all active asynchronous generators."""
        self._asyncgens_shutdown_called = True
        if not len(self._asyncgens):
            # If Python version is <3.6 or we don't have any asynchronous
            # generators alive.
            return
        closing_agens = list(self._asyncgens)
        self._asyncgens.clear()
        results = await tasks.gather(
            *[ag.aclose() for ag in closing_agens],
            return_exceptions=True)
        for result, agen in zip(results, closing_agens):
            if isinstance(result, Exception):
                self.call_exception_handler({
                    'message': f'an error occurred during closing of '
                               f'asynchronous generator {agen!r}',
                    'exception': result,
                    'asyncgen': agen
                })

    # ---- executors ----

    def run_in_executor(self, executor, func, *args):
        self._check_closed()
        if self.get_debug():
            self._check_callback(func, 'run_in_executor')
        if executor is None:
            executor = self._default_executor
            # Only check when the default executor is being used
            self._check_default_executor()
            if executor is None:
                executor = concurrent.futures.ThreadPoolExecutor(
                    thread_name_prefix='asyncio'
                )
                self._default_executor = executor
        return futures.wrap_future(
            executor.submit(func, *args), loop=self)

    def set_default_executor(self, executor):
        if not isinstance(executor, concurrent.futures.ThreadPoolExecutor):
            raise TypeError('executor must be ThreadPoolExecutor')
        self._default_executor = executor

    # asyncio's own, of the running version (3.12 added the timeout).
    shutdown_default_executor = base_events.BaseEventLoop.shutdown_default_executor
    _do_shutdown = base_events.BaseEventLoop._do_shutdown

    # ---- error handling ----

    def get_exception_handler(self):
        """Return an exception handler, or None if the default one is in
        use."""
        return self._exception_handler

    def set_exception_handler(self, handler):
        """Set handler as the new event loop exception handler.

        If handler is None, the default exception handler will be set;
        otherwise handler must be a callable with the signature
        handler(loop, context), where loop is the event loop and context
        is a dict (see call_exception_handler()).
        """
        if handler is not None and not callable(handler):
            raise TypeError(f'A callable object or None is expected, '
                            f'got {handler!r}')
        self._exception_handler = handler

    def default_exception_handler(self, context):
        """Default exception handler: logs the context, as asyncio."""
        message = context.get('message')
        if not message:
            message = 'Unhandled exception in event loop'

        exception = context.get('exception')
        if exception is not None:
            exc_info = (type(exception), exception, exception.__traceback__)
        else:
            exc_info = False

        if ('source_traceback' not in context and
                self._current_handle is not None and
                self._current_handle._source_traceback):
            context['handle_traceback'] = \
                self._current_handle._source_traceback

        log_lines = [message]
        for key in sorted(context):
            if key in {'message', 'exception'}:
                continue
            value = context[key]
            if key == 'source_traceback':
                tb = ''.join(traceback.format_list(value))
                value = 'Object created at (most recent call last):\n'
                value += tb.rstrip()
            elif key == 'handle_traceback':
                tb = ''.join(traceback.format_list(value))
                value = 'Handle created at (most recent call last):\n'
                value += tb.rstrip()
            else:
                value = repr(value)
            log_lines.append(f'{key}: {value}')

        logger.error('\n'.join(log_lines), exc_info=exc_info)

    def call_exception_handler(self, context):
        """Call the current event loop's exception handler."""
        if self._exception_handler is None:
            try:
                self.default_exception_handler(context)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException:
                # Second protection layer for unexpected errors
                # in the default implementation, as well as for subclassed
                # event loops with overloaded "default_exception_handler".
                logger.error('Exception in default exception handler',
                             exc_info=True)
        else:
            try:
                ctx = None
                if sys.version_info >= (3, 12):
                    # 3.12 (gh-96704): the handler runs in the context of
                    # the task, future or handle the report is about.
                    thing = context.get("task")
                    if thing is None:
                        thing = context.get("future")
                    if thing is None:
                        thing = context.get("handle")
                    if thing is not None and hasattr(thing, "get_context"):
                        ctx = thing.get_context()
                if ctx is not None and hasattr(ctx, "run"):
                    ctx.run(self._exception_handler, self, context)
                else:
                    self._exception_handler(self, context)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                # Exception in the user set custom exception handler.
                try:
                    # Let's try default handler.
                    self.default_exception_handler({
                        'message': 'Unhandled error in exception handler',
                        'exception': exc,
                        'context': context,
                    })
                except (SystemExit, KeyboardInterrupt):
                    raise
                except BaseException:
                    # Guard 'default_exception_handler' in case it is
                    # overloaded.
                    logger.error('Exception in default exception handler '
                                 'while handling an unexpected error '
                                 'in custom exception handler',
                                 exc_info=True)


def _take_stock_qualnames(cls):
    """Name our coroutine methods as the stock loop's (a never-awaited one
    warns "coroutine 'BaseEventLoop.shutdown_asyncgens' was never awaited",
    which test tools filter by that name; bound-method reprs match too)."""
    import inspect
    from asyncio import unix_events
    stock = unix_events._UnixSelectorEventLoop
    for klass in cls.__mro__:
        if not klass.__module__.startswith('casyncio.'):
            continue
        for name, func in vars(klass).items():
            if not (inspect.isfunction(func)
                    and inspect.iscoroutinefunction(func)
                    and func.__module__.startswith('casyncio.')):
                continue
            stock_func = getattr(stock, name, None)
            if inspect.isfunction(stock_func):
                func.__qualname__ = stock_func.__qualname__


_take_stock_qualnames(Loop)


for _ours, _stock in [
        (Loop, unix_events._UnixSelectorEventLoop),
        (_core.Handle, events.Handle),
        (_core.TimerHandle, events.TimerHandle),
        (_net._SocketTransport, selector_events._SelectorSocketTransport),
        (_udp._DatagramTransport, selector_events._SelectorDatagramTransport),
        (_unix._UnixReadPipeTransport, unix_events._UnixReadPipeTransport),
        (_unix._UnixWritePipeTransport, unix_events._UnixWritePipeTransport),
        (_tls._SSLProtocolTransport, sslproto._SSLProtocolTransport),
        (_tls.SSLProtocol, sslproto.SSLProtocol)]:
    bind_as_python_methods(_ours, _stock)
del _ours, _stock
