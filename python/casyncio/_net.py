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
import os
import socket
import warnings

from asyncio import base_events, selector_events
from asyncio import trsock, unix_events

from . import _core

__all__ = ('NetMixin',)

_SSL_MSG = ('casyncio does not support ssl= yet (TLS transports are a '
            'later issue); use the stock asyncio event loop for TLS')


def _no_ssl(ssl):
    if ssl:
        raise NotImplementedError(_SSL_MSG)


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

    def set_write_buffer_limits(self, high=None, low=None):
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
        self._set_limits(high, low)


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

    _start_tls_compatible = False

    def writelines(self, list_of_data):
        data = b''.join(list_of_data)
        self.write(data)


class NetMixin:
    """create_connection, create_server and friends for casyncio.Loop."""

    # ---- the transport ----

    def _make_socket_transport(self, sock, protocol, waiter=None, *,
                               extra=None, server=None):
        extra = _transport_extra(sock, extra)
        transport = _SocketTransport(self, sock, protocol, extra, server)
        self._transports[sock.fileno()] = transport
        if server is not None:
            server._attach()
        base_events._set_nodelay(sock)
        transport._start(waiter)
        return transport

    def _make_ssl_transport(self, *args, **kwargs):
        raise NotImplementedError(_SSL_MSG)

    _create_server_getaddrinfo = \
        base_events.BaseEventLoop._create_server_getaddrinfo

    # ---- create_connection ----

    async def _connect_sock(self, exceptions, addr_info,
                            local_addr_infos=None):
        """Create, bind and connect one socket."""
        my_exceptions = []
        exceptions.append(my_exceptions)
        family, type_, proto, _, address = addr_info
        sock = None
        try:
            sock = socket.socket(family=family, type=type_, proto=proto)
            sock.setblocking(False)
            if local_addr_infos is not None:
                for lfamily, _, _, _, laddr in local_addr_infos:
                    # skip local addresses of different family
                    if lfamily != family:
                        continue
                    try:
                        sock.bind(laddr)
                        break
                    except OSError as exc:
                        msg = (
                            f'error while attempting to bind on '
                            f'address {laddr!r}: '
                            f'{exc.strerror.lower()}'
                        )
                        exc = OSError(exc.errno, msg)
                        my_exceptions.append(exc)
                else:  # all bind attempts failed
                    if my_exceptions:
                        raise my_exceptions.pop()
                    else:
                        raise OSError(
                            f"no matching local address with {family=} "
                            f"found")
            await self.sock_connect(sock, address)
            return sock
        except OSError as exc:
            my_exceptions.append(exc)
            if sock is not None:
                sock.close()
            raise
        except:
            if sock is not None:
                sock.close()
            raise
        finally:
            exceptions = my_exceptions = None

    _create_connection_transport = \
        base_events.BaseEventLoop._create_connection_transport

    async def create_connection(self, protocol_factory, host=None, port=None,
                                *, ssl=None, **kwargs):
        """Connect to a TCP server (asyncio's create_connection; ssl= is
        not supported yet)."""
        _no_ssl(ssl)
        return await base_events.BaseEventLoop.create_connection(
            self, protocol_factory, host, port, ssl=ssl, **kwargs)

    async def connect_accepted_socket(self, protocol_factory, sock, *,
                                      ssl=None, **kwargs):
        _no_ssl(ssl)
        return await base_events.BaseEventLoop.connect_accepted_socket(
            self, protocol_factory, sock, ssl=ssl, **kwargs)

    # ---- servers: asyncio's Server, its accept loop on our reader ----

    async def create_server(self, protocol_factory, host=None, port=None,
                            *, ssl=None, **kwargs):
        """Create a TCP server (asyncio's create_server, returning an
        asyncio.base_events.Server; ssl= is not supported yet)."""
        if isinstance(ssl, bool):
            raise TypeError('ssl argument must be an SSLContext or None')
        _no_ssl(ssl)
        return await base_events.BaseEventLoop.create_server(
            self, protocol_factory, host, port, ssl=ssl, **kwargs)

    _start_serving = selector_events.BaseSelectorEventLoop._start_serving
    _accept_connection = \
        selector_events.BaseSelectorEventLoop._accept_connection
    _accept_connection2 = \
        selector_events.BaseSelectorEventLoop._accept_connection2
    _stop_serving = selector_events.BaseSelectorEventLoop._stop_serving

    # ---- Unix sockets ----

    async def create_unix_connection(
            self, protocol_factory, path=None, *,
            ssl=None, sock=None,
            server_hostname=None,
            ssl_handshake_timeout=None,
            ssl_shutdown_timeout=None):
        assert server_hostname is None or isinstance(server_hostname, str)
        if ssl:
            if server_hostname is None:
                raise ValueError(
                    'you have to pass server_hostname when using ssl')
            _no_ssl(ssl)
        else:
            if server_hostname is not None:
                raise ValueError(
                    'server_hostname is only meaningful with ssl')
            if ssl_handshake_timeout is not None:
                raise ValueError(
                    'ssl_handshake_timeout is only meaningful with ssl')
            if ssl_shutdown_timeout is not None:
                raise ValueError(
                    'ssl_shutdown_timeout is only meaningful with ssl')

        if path is not None:
            if sock is not None:
                raise ValueError(
                    'path and sock can not be specified at the same time')

            path = os.fspath(path)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0)
            try:
                sock.setblocking(False)
                await self.sock_connect(sock, path)
            except:
                sock.close()
                raise

        else:
            if sock is None:
                raise ValueError('no path and sock were specified')
            if (sock.family != socket.AF_UNIX or
                    sock.type != socket.SOCK_STREAM):
                raise ValueError(
                    f'A UNIX Domain Stream Socket was expected, got {sock!r}')
            sock.setblocking(False)

        transport, protocol = await self._create_connection_transport(
            sock, protocol_factory, ssl, server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout)
        return transport, protocol

    async def create_unix_server(self, protocol_factory, path=None, *,
                                 ssl=None, **kwargs):
        if isinstance(ssl, bool):
            raise TypeError('ssl argument must be an SSLContext or None')
        _no_ssl(ssl)
        return await unix_events._UnixSelectorEventLoop.create_unix_server(
            self, protocol_factory, path, ssl=ssl, **kwargs)
