"""The loop's low-level socket methods: loop.sock_recv() and friends,
getaddrinfo()/getnameinfo() and sock_sendfile().

The coroutines are here, with asyncio's checks (SSL sockets refused; in
debug mode, blocking sockets refused) and address resolution.  The I/O is C
(src/sock.c): each _core._sock_* call tries the operation at once and
returns its result, or a pending Future when it would block; the fd is then
watched in C and the Future completed there.  Behaviour and messages follow
asyncio.selector_events and asyncio.base_events (3.11).
"""
import errno
import io
import os
import socket

from asyncio import base_events, constants, exceptions
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
    # these operations) to await.

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

    async def sock_sendfile(self, sock, file, offset=0, count=None,
                            *, fallback=True):
        if self._debug and sock.gettimeout() != 0:
            raise ValueError("the socket must be non-blocking")
        _check_ssl_socket(sock)
        self._check_sendfile_params(sock, file, offset, count)
        try:
            return await self._sock_sendfile_native(sock, file,
                                                    offset, count)
        except exceptions.SendfileNotAvailableError:
            if not fallback:
                raise

        return await self._sock_sendfile_fallback(sock, file,
                                                  offset, count)

    async def _sock_sendfile_native(self, sock, file, offset, count):
        try:
            os.sendfile
        except AttributeError:
            raise exceptions.SendfileNotAvailableError(
                "os.sendfile() is not available")
        try:
            fileno = file.fileno()
        except (AttributeError, io.UnsupportedOperation):
            raise exceptions.SendfileNotAvailableError("not a regular file")
        try:
            fsize = os.fstat(fileno).st_size
        except OSError:
            raise exceptions.SendfileNotAvailableError("not a regular file")
        blocksize = count if count else fsize
        if not blocksize:
            return 0  # empty file

        fut = self.create_future()
        self._sock_sendfile_native_impl(fut, None, sock, fileno,
                                        offset, count, blocksize, 0)
        return await fut

    def _sock_sendfile_native_impl(self, fut, registered_fd, sock, fileno,
                                   offset, count, blocksize, total_sent):
        # asyncio.unix_events, line for line.
        fd = sock.fileno()
        if registered_fd is not None:
            self.remove_writer(registered_fd)
        if fut.cancelled():
            self._sock_sendfile_update_filepos(fileno, offset, total_sent)
            return
        if count:
            blocksize = count - total_sent
            if blocksize <= 0:
                self._sock_sendfile_update_filepos(fileno, offset,
                                                   total_sent)
                fut.set_result(total_sent)
                return

        try:
            sent = os.sendfile(fd, fileno, offset, blocksize)
        except (BlockingIOError, InterruptedError):
            if registered_fd is None:
                self._sock_add_cancellation_callback(fut, sock)
            self.add_writer(fd, self._sock_sendfile_native_impl, fut,
                            fd, sock, fileno,
                            offset, count, blocksize, total_sent)
        except OSError as exc:
            if (registered_fd is not None and
                    exc.errno == errno.ENOTCONN and
                    type(exc) is not ConnectionError):
                # The connection was closed in the middle of the
                # operation: ConnectionError, as on all Posix systems.
                new_exc = ConnectionError(
                    "socket is not connected", errno.ENOTCONN)
                new_exc.__cause__ = exc
                exc = new_exc
            if total_sent == 0:
                # Not a regular mmap(2)-like file, say: fall back on
                # plain send().
                err = exceptions.SendfileNotAvailableError(
                    "os.sendfile call failed")
                self._sock_sendfile_update_filepos(fileno, offset,
                                                   total_sent)
                fut.set_exception(err)
            else:
                self._sock_sendfile_update_filepos(fileno, offset,
                                                   total_sent)
                fut.set_exception(exc)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._sock_sendfile_update_filepos(fileno, offset, total_sent)
            fut.set_exception(exc)
        else:
            if sent == 0:
                # EOF
                self._sock_sendfile_update_filepos(fileno, offset,
                                                   total_sent)
                fut.set_result(total_sent)
            else:
                offset += sent
                total_sent += sent
                if registered_fd is None:
                    self._sock_add_cancellation_callback(fut, sock)
                self.add_writer(fd, self._sock_sendfile_native_impl, fut,
                                fd, sock, fileno,
                                offset, count, blocksize, total_sent)

    def _sock_sendfile_update_filepos(self, fileno, offset, total_sent):
        if total_sent > 0:
            os.lseek(fileno, offset, os.SEEK_SET)

    def _sock_add_cancellation_callback(self, fut, sock):
        def cb(fut):
            if fut.cancelled():
                fd = sock.fileno()
                if fd != -1:
                    self.remove_writer(fd)
        fut.add_done_callback(cb)

    async def _sock_sendfile_fallback(self, sock, file, offset, count):
        if offset:
            file.seek(offset)
        blocksize = (
            min(count, constants.SENDFILE_FALLBACK_READBUFFER_SIZE)
            if count else constants.SENDFILE_FALLBACK_READBUFFER_SIZE
        )
        buf = bytearray(blocksize)
        total_sent = 0
        try:
            while True:
                if count:
                    blocksize = min(count - total_sent, blocksize)
                    if blocksize <= 0:
                        break
                view = memoryview(buf)[:blocksize]
                read = await self.run_in_executor(None, file.readinto, view)
                if not read:
                    break  # EOF
                await self.sock_sendall(sock, view[:read])
                total_sent += read
            return total_sent
        finally:
            if total_sent > 0 and hasattr(file, 'seek'):
                file.seek(offset + total_sent)

    def _check_sendfile_params(self, sock, file, offset, count):
        if 'b' not in getattr(file, 'mode', 'b'):
            raise ValueError("file should be opened in binary mode")
        if not sock.type == socket.SOCK_STREAM:
            raise ValueError("only SOCK_STREAM type sockets are supported")
        if count is not None:
            if not isinstance(count, int):
                raise TypeError(
                    "count must be a positive integer (got {!r})".format(
                        count))
            if count <= 0:
                raise ValueError(
                    "count must be a positive integer (got {!r})".format(
                        count))
        if not isinstance(offset, int):
            raise TypeError(
                "offset must be a non-negative integer (got {!r})".format(
                    offset))
        if offset < 0:
            raise ValueError(
                "offset must be a non-negative integer (got {!r})".format(
                    offset))

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
