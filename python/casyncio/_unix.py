"""Pipes and subprocesses for casyncio.Loop: the cold paths in Python.

The pipe transports themselves (reading, writing, flow control, closing)
are C: _core.ReadPipeTransport and _core.WritePipeTransport.  Here are the
mode checks, the reprs and __del__, connect_read_pipe / connect_write_pipe
and subprocess_exec / subprocess_shell (asyncio's own code, which only needs
the loop's methods), the subprocess transport (asyncio's
_UnixSubprocessTransport as is) and the reaping of children.

Children are reaped by the loop itself, with no child watcher: a pidfd
(os.pidfd_open) is watched for readability, then os.waitpid(pid, WNOHANG).
Where pidfds are not available (ENOSYS, EPERM, or _USE_PIDFD set to False)
a SIGCHLD handler polls the loop's children with WNOHANG; that fallback
needs the main thread, the pidfd path does not.
"""
import contextvars
import errno
import os
import signal
import stat
import sys
import threading
import warnings

from asyncio import base_events, transports, unix_events
from asyncio.log import logger

from . import _core
from ._net import _TransportCommon

__all__ = ('UnixMixin',)

# False forces the SIGCHLD fallback (tests).
_USE_PIDFD = hasattr(os, 'pidfd_open')

# 3.11: the exit of a child is reported in an empty context (see
# _child_exited).
_EMPTY_EXIT_CONTEXT = sys.version_info < (3, 12)


def _pipe_repr(tr, event_on, extra=''):
    info = [tr.__class__.__name__]
    if tr._pipe is None:
        info.append('closed')
    elif tr._closing:
        info.append('closing')
    info.append(f'fd={tr._fileno}')
    loop = tr._loop
    if tr._pipe is not None and loop is not None and not loop.is_closed():
        info.append('polling' if event_on else 'idle')
        if extra:
            info.append(extra)
    elif tr._pipe is not None:
        info.append('open')
    else:
        info.append('closed')
    return '<{}>'.format(' '.join(info))


def _pipe_del(tr, _warn):
    if tr._pipe is not None:
        _warn(f"unclosed transport {tr!r}", ResourceWarning, source=tr)
        tr._pipe.close()


class _UnixReadPipeTransport(_core.ReadPipeTransport):
    """asyncio's _UnixReadPipeTransport, its hot paths in C."""

    max_size = 256 * 1024  # max bytes we read in one event loop iteration

    def __repr__(self):
        return _pipe_repr(self, self._reader_on)

    def __del__(self, _warn=warnings.warn):
        _pipe_del(self, _warn)


class _UnixWritePipeTransport(_core.WritePipeTransport):
    """asyncio's _UnixWritePipeTransport, its hot paths in C."""

    def __repr__(self):
        return _pipe_repr(self, self._writer_on,
                          f'bufsize={self.get_write_buffer_size()}')

    def __del__(self, _warn=warnings.warn):
        _pipe_del(self, _warn)

    # asyncio.WriteTransport.writelines: b"".join() then write()
    writelines = transports.WriteTransport.writelines
    set_write_buffer_limits = _TransportCommon.set_write_buffer_limits

    # asyncio's write pipe is no ReadTransport: these raise
    # NotImplementedError (ours would take out the reader that sees the
    # read end close).
    is_reading = transports.ReadTransport.is_reading
    pause_reading = transports.ReadTransport.pause_reading
    resume_reading = transports.ReadTransport.resume_reading


class _Child:
    """A child process the loop reaps: its pid, transport, and pidfd (None
    on the SIGCHLD fallback)."""
    __slots__ = ('pid', 'transport', 'pidfd')

    def __init__(self, pid, transport, pidfd):
        self.pid = pid
        self.transport = transport
        self.pidfd = pidfd


def _waitpid_exitcode(pid):
    """The child's exit code (-signum if killed), None if it still runs,
    255 (with asyncio's warning) if its status was already read."""
    try:
        wpid, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        logger.warning(
            "child process pid %d exit status already read: "
            " will report returncode 255", pid)
        return 255
    if wpid == 0:
        return None
    return os.waitstatus_to_exitcode(status)


def _reap_after_close(loop, pid):
    """A loop closed with this child running: wait for it in a thread, as
    asyncio's ThreadedChildWatcher, so that no zombie is left."""
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        return
    logger.warning("Loop %r that handles pid %r is closed", loop, pid)


class UnixMixin:
    """Pipes, subprocesses and the reaping of children for casyncio.Loop."""

    # ---- pipes ----

    def _check_pipe_mode(self, pipe, *, write):
        mode = os.fstat(pipe.fileno()).st_mode
        is_fifo = stat.S_ISFIFO(mode)
        is_socket = stat.S_ISSOCK(mode)
        if not (stat.S_ISCHR(mode) or is_fifo or is_socket):
            if write:
                raise ValueError("Pipe transport is only for "
                                 "pipes, sockets and character devices")
            raise ValueError("Pipe transport is for pipes/sockets only.")
        return is_fifo or is_socket

    def _make_read_pipe_transport(self, pipe, protocol, waiter=None,
                                  extra=None):
        self._check_pipe_mode(pipe, write=False)
        extra = {} if extra is None else extra
        extra['pipe'] = pipe
        os.set_blocking(pipe.fileno(), False)
        transport = _UnixReadPipeTransport(self, pipe, protocol, extra)
        transport._start(waiter)
        return transport

    def _make_write_pipe_transport(self, pipe, protocol, waiter=None,
                                   extra=None):
        # The reader only sees the read end close: pipes and sockets.
        watch_reader = self._check_pipe_mode(pipe, write=True)
        extra = {} if extra is None else extra
        extra['pipe'] = pipe
        os.set_blocking(pipe.fileno(), False)
        transport = _UnixWritePipeTransport(self, pipe, protocol, extra)
        transport._start(waiter, watch_reader)
        return transport

    connect_read_pipe = base_events.BaseEventLoop.connect_read_pipe
    connect_write_pipe = base_events.BaseEventLoop.connect_write_pipe

    # ---- subprocesses ----

    subprocess_shell = base_events.BaseEventLoop.subprocess_shell
    subprocess_exec = base_events.BaseEventLoop.subprocess_exec
    _log_subprocess = base_events.BaseEventLoop._log_subprocess

    async def _make_subprocess_transport(self, protocol, args, shell,
                                         stdin, stdout, stderr, bufsize,
                                         extra=None, **kwargs):
        # No child watcher: the loop reaps its children itself.
        waiter = self.create_future()
        transp = unix_events._UnixSubprocessTransport(
            self, protocol, args, shell, stdin, stdout, stderr, bufsize,
            waiter=waiter, extra=extra, **kwargs)
        self._watch_child(transp.get_pid(), transp)
        try:
            await waiter
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException:
            transp.close()
            await transp._wait()
            raise
        return transp

    # ---- reaping children ----

    def _watch_child(self, pid, transport):
        self._check_closed()
        pidfd = None
        if _USE_PIDFD:
            try:
                pidfd = os.pidfd_open(pid)
            except OSError as exc:
                if exc.errno not in (errno.ENOSYS, errno.EPERM):
                    raise
        child = _Child(pid, transport, pidfd)
        self._children[pid] = child
        if pidfd is not None:
            self._add_reader(pidfd, self._child_pidfd_ready, child)
        else:
            self.add_signal_handler(signal.SIGCHLD, self._sigchld_poll)
            # It may have exited before the handler was in place.
            self.call_soon(self._sigchld_poll)

    def _child_exited(self, child, returncode):
        del self._children[child.pid]
        if child.pidfd is not None:
            self._remove_reader(child.pidfd)
            os.close(child.pidfd)
            child.pidfd = None
        # As asyncio's _child_watcher_callback: skip one iteration, for the
        # callbacks already scheduled to run first.
        if _EMPTY_EXIT_CONTEXT:
            # 3.11's default ThreadedChildWatcher reports the exit from its
            # thread, so process_exited (and connection_lost after it) run
            # in a copy of that thread's empty context, not in the one the
            # transport was made in as every other callback: stock's
            # inconsistency, matched.  3.12+ watch with a pidfd reader in
            # the loop (or share the loop's context): the caller's context.
            self.call_soon(self.call_soon, child.transport._process_exited,
                           returncode, context=contextvars.Context())
        else:
            self.call_soon(self.call_soon, child.transport._process_exited,
                           returncode)

    def _child_pidfd_ready(self, child):
        returncode = _waitpid_exitcode(child.pid)
        if returncode is not None:
            self._child_exited(child, returncode)

    def _sigchld_poll(self):
        children = self._children
        for child in list(children.values()):
            if child.pidfd is not None:
                continue
            returncode = _waitpid_exitcode(child.pid)
            if returncode is not None:
                self._child_exited(child, returncode)
        if (signal.SIGCHLD in self._signal_handlers and
                not any(c.pidfd is None for c in children.values())):
            self.remove_signal_handler(signal.SIGCHLD)

    def _close_children(self):
        """The loop closes: stop watching its children; one still running
        is waited for in a thread (asyncio's ThreadedChildWatcher warns
        the same way when it exits)."""
        children = self._children
        for child in list(children.values()):
            if child.pidfd is not None:
                self._remove_reader(child.pidfd)
                os.close(child.pidfd)
                child.pidfd = None
            try:
                running = os.waitpid(child.pid, os.WNOHANG)[0] == 0
            except ChildProcessError:
                running = False
            if running:
                threading.Thread(target=_reap_after_close,
                                 args=(self, child.pid), daemon=True,
                                 name=f"waitpid-{child.pid}").start()
        children.clear()
