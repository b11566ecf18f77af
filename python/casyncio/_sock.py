"""The loop's low-level socket methods: loop.sock_recv() and friends,
getaddrinfo()/getnameinfo() and sock_sendfile().

The coroutines are here, with asyncio's checks (SSL sockets refused; in
debug mode, blocking sockets refused) and address resolution.  The I/O is C
(src/sock.c): each _core._sock_* call tries the operation at once and
returns its result, or a pending Future when it would block; the fd is then
watched in C and the Future completed there.  Behaviour and messages follow
asyncio.selector_events and asyncio.base_events (3.11).
"""
import socket

from asyncio import base_events, unix_events
from asyncio.log import logger

from . import _core

__all__ = ('SockMixin',)

_Future = _core.Future
_check_ssl_socket = base_events._check_ssl_socket
_ipaddr_info = base_events._ipaddr_info
_HAS_IPv6 = hasattr(socket, 'AF_INET6')

_recv = _core._sock_recv
_recv_into = _core._sock_recv_into
_recvfrom = _core._sock_recvfrom
_recvfrom_into = _core._sock_recvfrom_into
_sendall = _core._sock_sendall
_sendto = _core._sock_sendto
_connect = _core._sock_connect
_accept = _core._sock_accept


_PROTO_OF_TYPE = {socket.SOCK_STREAM: socket.IPPROTO_TCP,
                  socket.SOCK_DGRAM: socket.IPPROTO_UDP}
_FAMILIES = ((socket.AF_INET, socket.AF_INET6) if _HAS_IPv6
             else (socket.AF_INET,))


def _numeric_addrinfo(host, port, family, type, proto):
    """socket.getaddrinfo()'s answer for a numeric host, without the
    executor (asyncio's _ipaddr_info, for getaddrinfo itself).  Only where
    the answer is provably the same: a canonical numeric host (as
    inet_ntop writes it), a numeric port or None, a stream or datagram
    type with its own protocol or 0, and no flags (checked by the caller).
    None otherwise: the executor then answers, as in asyncio."""
    if host.__class__ is not str or '%' in host:
        return None
    want = _PROTO_OF_TYPE.get(type)
    if want is None or proto not in (0, want):
        return None
    if port is None:
        port = 0
    elif port.__class__ is not int or not 0 <= port <= 65535:
        return None
    for af in _FAMILIES:
        if family not in (0, af):
            continue
        try:
            if socket.inet_ntop(af, socket.inet_pton(af, host)) != host:
                return None
        except OSError:
            continue
        addr = (host, port, 0, 0) if af == socket.AF_INET6 else (host, port)
        return af, socket.SocketKind(type), want, '', addr
    return None


def _check(loop, sock):
    _check_ssl_socket(sock)
    if loop._debug and sock.gettimeout() != 0:
        raise ValueError("the socket must be non-blocking")


class SockMixin:
    """Socket methods of casyncio.Loop (a mixin of _core.Loop)."""

    # ---- low-level socket I/O ----
    # Each: the result at once, or a _core.Future (never a valid result of
    # these operations) to await.  type(), not __class__: ours reports
    # asyncio.Future there.

    async def sock_recv(self, sock, n):
        """Receive up to n bytes from sock (non-blocking)."""
        _check(self, sock)
        r = _recv(self, sock, n)
        if type(r) is _Future:
            return await r
        return r

    async def sock_recv_into(self, sock, buf):
        """Receive data from sock into buf; return the number of bytes."""
        _check(self, sock)
        r = _recv_into(self, sock, buf)
        if type(r) is _Future:
            return await r
        return r

    async def sock_recvfrom(self, sock, bufsize):
        """Receive a datagram: (bytes, address)."""
        _check(self, sock)
        r = _recvfrom(self, sock, bufsize)
        if type(r) is _Future:
            return await r
        return r

    async def sock_recvfrom_into(self, sock, buf, nbytes=0):
        """Receive a datagram into buf: (nbytes, address)."""
        _check(self, sock)
        if not nbytes:
            nbytes = len(buf)
        r = _recvfrom_into(self, sock, buf, nbytes)
        if type(r) is _Future:
            return await r
        return r

    async def sock_sendall(self, sock, data):
        """Send all of data to sock."""
        _check(self, sock)
        r = _sendall(self, sock, data)
        if type(r) is _Future:
            return await r
        return r

    async def sock_sendto(self, sock, data, address):
        """Send a datagram to address; return the number of bytes sent."""
        _check(self, sock)
        r = _sendto(self, sock, data, address)
        if type(r) is _Future:
            return await r
        return r

    async def sock_connect(self, sock, address):
        """Connect sock to a remote address (resolved first if needed)."""
        _check(self, sock)
        if sock.family == socket.AF_INET or (
                _HAS_IPv6 and sock.family == socket.AF_INET6):
            resolved = await self._ensure_resolved(
                address, family=sock.family, type=sock.type,
                proto=sock.proto, loop=self,
            )
            _, _, _, _, address = resolved[0]
        r = _connect(self, sock, address)
        if type(r) is _Future:
            try:
                return await r
            finally:
                # Needed to break cycles when an exception occurs.
                r = None
        return r

    async def sock_accept(self, sock):
        """Accept a connection: (conn, address), conn non-blocking."""
        _check(self, sock)
        r = _accept(self, sock)
        if type(r) is _Future:
            return await r
        return r

    # ---- sendfile ----

    # asyncio's own, of the running version: base_events' checks and
    # read+send fallback (3.14 seeks whenever the file can), unix_events'
    # os.sendfile() loop on add_writer (3.14 always sets the file position
    # back).
    sock_sendfile = base_events.BaseEventLoop.sock_sendfile
    _sock_sendfile_fallback = base_events.BaseEventLoop._sock_sendfile_fallback
    _check_sendfile_params = base_events.BaseEventLoop._check_sendfile_params
    _sock_sendfile_native = \
        unix_events._UnixSelectorEventLoop._sock_sendfile_native
    _sock_sendfile_native_impl = \
        unix_events._UnixSelectorEventLoop._sock_sendfile_native_impl
    _sock_sendfile_update_filepos = \
        unix_events._UnixSelectorEventLoop._sock_sendfile_update_filepos
    _sock_add_cancellation_callback = \
        unix_events._UnixSelectorEventLoop._sock_add_cancellation_callback

    # ---- name resolution (in the default executor, as asyncio) ----

    def _getaddrinfo_debug(self, host, port, family, type, proto, flags):
        msg = [f"{host}:{port!r}"]
        if family:
            msg.append(f'family={family!r}')
        if type:
            msg.append(f'type={type!r}')
        if proto:
            msg.append(f'proto={proto!r}')
        if flags:
            msg.append(f'flags={flags!r}')
        msg = ', '.join(msg)
        logger.debug('Get address info %s', msg)

        t0 = self.time()
        addrinfo = socket.getaddrinfo(host, port, family, type, proto, flags)
        dt = self.time() - t0

        msg = (f'Getting address info {msg} took {dt * 1e3:.3f}ms: '
               f'{addrinfo!r}')
        if dt >= self.slow_callback_duration:
            logger.info(msg)
        else:
            logger.debug(msg)
        return addrinfo

    async def getaddrinfo(self, host, port, *,
                          family=0, type=0, proto=0, flags=0):
        if not flags and not self._debug:
            info = _numeric_addrinfo(host, port, family, type, proto)
            if info is not None:
                return [info]
        if self._debug:
            getaddr_func = self._getaddrinfo_debug
        else:
            getaddr_func = socket.getaddrinfo

        return await self.run_in_executor(
            None, getaddr_func, host, port, family, type, proto, flags)

    async def getnameinfo(self, sockaddr, flags=0):
        return await self.run_in_executor(
            None, socket.getnameinfo, sockaddr, flags)

    async def _ensure_resolved(self, address, *,
                               family=0, type=socket.SOCK_STREAM,
                               proto=0, flags=0, loop):
        host, port = address[:2]
        info = _ipaddr_info(host, port, family, type, proto, *address[2:])
        if info is not None:
            # "host" is already a resolved IP: no executor.
            return [info]
        else:
            return await loop.getaddrinfo(host, port, family=family,
                                          type=type, proto=proto,
                                          flags=flags)
