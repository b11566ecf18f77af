"""Stream networking for casyncio.Loop: the cold paths in Python.

The transport itself (reading, writing, flow control, closing) is C:
_core.SocketTransport.  Here is what runs once per connection or server:
create_connection / create_server / create_unix_* / connect_accepted_socket,
the accept loop, and the transport's repr and __del__.  Where asyncio's own
code only needs the loop's public and private methods (Server, create_server,
the accept callbacks), NetMixin reuses it as is, so the behaviour and the
messages are asyncio's by construction.  Resolution and connecting use the
loop's own getaddrinfo / _ensure_resolved / sock_connect (_sock.py).
"""
import math
import os
import socket
import sys
import types
import warnings

from asyncio import base_events, constants, selector_events
from asyncio import trsock, unix_events

from . import _core, _tls

__all__ = ('NetMixin',)

# 3.13: Server._attach(transport) / _detach(transport) keep a WeakSet of the
# clients (close_clients(), abort_clients()); before, a count.
_SERVER_KNOWS_CLIENTS = sys.version_info >= (3, 13)
# 3.14: writelines() after the connection was lost counts it as write()
# does; 3.12 and 3.13 queue the data, never sent.
_WRITELINES_COUNTS_LOST = sys.version_info >= (3, 14)
# 3.14: writelines() calls _maybe_pause_protocol(); 3.12 and 3.13 do not.
_WRITELINES_PAUSES = sys.version_info >= (3, 14)

def _with_globals(func, super_class=None, **names):
    """func (a function of asyncio) with some of its module's global names
    bound to other objects and, given super_class, its zero-argument
    super() starting after super_class instead of func's own class: its
    code, defaults and behaviour otherwise."""
    g = dict(func.__globals__)
    g.update(names)
    closure = func.__closure__
    if super_class is not None:
        closure = tuple(
            types.CellType(super_class) if name == '__class__' else cell
            for name, cell in zip(func.__code__.co_freevars, closure))
    f = types.FunctionType(func.__code__, g, func.__name__,
                           func.__defaults__, closure)
    f.__kwdefaults__ = func.__kwdefaults__
    f.__qualname__ = func.__qualname__
    f.__doc__ = func.__doc__
    return f


class _TransportCommon:
    """What casyncio's socket transports (stream, datagram) share in
    Python: asyncio's _SelectorTransport repr and __del__, and
    _FlowControlMixin.set_write_buffer_limits."""

    def __repr__(self):
        info = [self.__class__.__name__]
        if self._sock is None:
            info.append('closed')
        elif self._closing:
            info.append('closing')
        info.append(f'fd={self._sock_fd}')
        loop = self._loop
        if loop is not None and not loop.is_closed():
            info.append('read=polling' if self._reader_on else 'read=idle')
            state = 'polling' if self._writer_on else 'idle'
            bufsize = self.get_write_buffer_size()
            info.append(f'write=<{state}, bufsize={bufsize}>')
        return '<{}>'.format(' '.join(info))

    def __del__(self, _warn=warnings.warn):
        if self._sock is not None:
            _warn(f"unclosed transport {self!r}", ResourceWarning,
                  source=self)
            self._sock.close()
            if _SERVER_KNOWS_CLIENTS and self._server is not None:
                self._server._detach(self)      # 3.13

    def set_write_buffer_limits(self, high=None, low=None):
        """Set the high- and low-water limits for write flow control."""
        if high is None:
            if low is None:
                high = 64 * 1024
            else:
                high = 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(
                f'high ({high!r}) must be >= low ({low!r}) must be >= 0')
        self._set_limits(_water_mark(high), _water_mark(low))


def _water_mark(v):
    """A checked limit (>= 0) as the Py_ssize_t the C transport keeps:
    asyncio takes any number (2**70, inf, 1.5); compared with an int size,
    its floor, capped at sys.maxsize, decides the same."""
    if v >= sys.maxsize:
        return sys.maxsize
    return v if type(v) is int else math.floor(v)


def _transport_extra(sock, extra):
    """The extra info asyncio's _SelectorTransport.__init__ adds: socket,
    sockname, peername."""
    if extra is None:
        extra = {}
    extra['socket'] = trsock.TransportSocket(sock)
    try:
        extra['sockname'] = sock.getsockname()
    except OSError:
        extra['sockname'] = None
    if 'peername' not in extra:
        try:
            extra['peername'] = sock.getpeername()
        except socket.error:
            extra['peername'] = None
    return extra


class _SocketTransport(_TransportCommon, _core.SocketTransport):
    """A stream transport over a connected socket: asyncio's
    _SelectorSocketTransport, its hot paths in C."""

    _start_tls_compatible = True
    _sendfile_compatible = constants._SendfileMode.TRY_NATIVE

    if sys.version_info >= (3, 12):
        def writelines(self, list_of_data):
            """Write a list (or any iterable) of data bytes to the
            transport."""
            # _SelectorSocketTransport.writelines of 3.12+: its own checks
            # (not write()'s), each item taken as a memoryview, then sent
            # (or queued) as one write.
            if self._eof:
                raise RuntimeError(
                    'Cannot call writelines() after write_eof()')
            if self._empty_waiter is not None:
                raise RuntimeError(
                    'unable to writelines; sendfile is in progress')
            if not list_of_data:
                return
            if _WRITELINES_COUNTS_LOST and self._conn_lost:
                # 3.14: counted (and warned about) as write() does
                self.write(b'\0')
                return
            views = [memoryview(data) for data in list_of_data]
            if not any(v.nbytes for v in views):
                return
            if self._conn_lost:
                # 3.12 and 3.13 queue it, never sent; once connection_lost
                # ran, their _loop._add_writer() fails on None
                if self._loop is None:
                    raise AttributeError(
                        "'NoneType' object has no attribute '_add_writer'")
                return
            if all(v.c_contiguous for v in views):
                # queued as they are, no copy (3.12 and 3.13 never call
                # pause_writing() here)
                self._write_views(views, _WRITELINES_PAUSES)
                return
            data = b''.join(views)      # a non-contiguous view: its error
            if _WRITELINES_PAUSES:
                self.write(data)
            else:
                self._write_nopause(data)
    else:
        def writelines(self, list_of_data):
            """Write a list (or any iterable) of data bytes to the
            transport."""
            data = b''.join(list_of_data)
            self.write(data)


class _SelectorStopServing:
    """The selector loop's _stop_serving, which asyncio's unix one (3.13)
    reaches through super(): NetMixin's base."""

    _stop_serving = selector_events.BaseSelectorEventLoop._stop_serving


class NetMixin(_SelectorStopServing):
    """create_connection, create_server and friends for casyncio.Loop."""

    # ---- the transport ----

    def _make_socket_transport(self, sock, protocol, waiter=None, *,
                               extra=None, server=None, context=None):
        extra = _transport_extra(sock, extra)
        transport = _SocketTransport(self, sock, protocol, extra, server)
        if context is not None:
            # 3.15: the protocol's callbacks run in this context (a copy
            # of create_connection's caller's, or of the server's per
            # connection)
            transport._set_context(context)
        self._transports[sock.fileno()] = transport
        if server is not None:
            if _SERVER_KNOWS_CLIENTS:
                server._attach(transport)
            else:
                server._attach()
        base_events._set_nodelay(sock)
        transport._start(waiter)
        return transport

    def _make_ssl_transport(
            self, rawsock, protocol, sslcontext, waiter=None,
            *, server_side=False, server_hostname=None,
            extra=None, server=None,
            ssl_handshake_timeout=constants.SSL_HANDSHAKE_TIMEOUT,
            ssl_shutdown_timeout=constants.SSL_SHUTDOWN_TIMEOUT,
            context=None,
    ):
        """TLS over our C stream transport: an SSLProtocol (asyncio's,
        its data path in C: _tls.py) between the socket transport and the
        application's protocol, as selector_events does."""
        ssl_protocol = _tls.new_ssl_protocol(
            self, protocol, sslcontext, waiter,
            server_side, server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout
        )
        self._make_socket_transport(rawsock, ssl_protocol,
                                    extra=extra, server=server,
                                    context=context)
        return ssl_protocol._app_transport

    # asyncio's own start_tls of the running version (3.14 moves what a
    # server's StreamReader buffered into the SSLProtocol, gh-142352), its
    # SSLProtocol ours (_tls.py).
    start_tls = _with_globals(
        base_events.BaseEventLoop.start_tls,
        sslproto=types.SimpleNamespace(SSLProtocol=_tls.new_ssl_protocol))

    _create_server_getaddrinfo = \
        base_events.BaseEventLoop._create_server_getaddrinfo

    # ---- sendfile: asyncio's, the native path on os.sendfile() ----
    # _sendfile_native takes the fd out of _transports, pauses reading,
    # awaits the transport's _make_empty_waiter() (the write buffer drained,
    # src/stream.c) and runs sock_sendfile(fallback=False) (_sock.py).

    sendfile = base_events.BaseEventLoop.sendfile
    _sendfile_native = selector_events.BaseSelectorEventLoop._sendfile_native
    _sendfile_fallback = base_events.BaseEventLoop._sendfile_fallback

    # ---- create_connection ----

    # asyncio's own, of the running version (3.13 words the bind error
    # with str(exc); 3.14 ignores an OSError from closing the socket)
    _connect_sock = base_events.BaseEventLoop._connect_sock

    _create_connection_transport = \
        base_events.BaseEventLoop._create_connection_transport

    create_connection = base_events.BaseEventLoop.create_connection
    connect_accepted_socket = base_events.BaseEventLoop.connect_accepted_socket

    # ---- servers: asyncio's Server, its accept loop on our reader ----

    create_server = base_events.BaseEventLoop.create_server

    _start_serving = selector_events.BaseSelectorEventLoop._start_serving
    _accept_connection = \
        selector_events.BaseSelectorEventLoop._accept_connection
    _accept_connection2 = \
        selector_events.BaseSelectorEventLoop._accept_connection2
    # ---- Unix sockets ----

    create_unix_connection = \
        unix_events._UnixSelectorEventLoop.create_unix_connection
    create_unix_server = unix_events._UnixSelectorEventLoop.create_unix_server


# 3.13 (create_unix_server(cleanup_socket=True) unlinks the socket's path):
# asyncio's own unix_events._UnixSelectorEventLoop._stop_serving, its super()
# the selector's one of _SelectorStopServing.  Its frame is asyncio's
# (unix_events.py) as on stock: blockbuster, for one, allows its os.stat()
# and os.unlink() in the running loop by that file and function name.
if sys.version_info >= (3, 13):
    NetMixin._stop_serving = _with_globals(
        unix_events._UnixSelectorEventLoop._stop_serving, NetMixin)
