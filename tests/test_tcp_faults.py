"""Stream transports under faults: clients that reset the connection while
the server writes, refused connects, EPIPE, a peer gone with a big queued
buffer.  Each test runs on stock asyncio and on casyncio (the `loop`
fixture) and asserts the exceptions and the connection_lost() calls that
asyncio gives, so a difference is a failing test."""
import asyncio
import errno
import gc
import os
import resource
import socket
import struct

import pytest

from test_tcp import Recorder as Client

HOST = '127.0.0.1'
RESPONSE = b'r' * (512 * 1024)
LINGER_0 = struct.pack('ii', 1, 0)      # SO_LINGER 0: close() sends a RST


def nfds():
    return len(os.listdir('/proc/self/fd'))


class Server(asyncio.Protocol):
    """b'BIG' gets RESPONSE (through a small send buffer, so most of it
    stays queued in the transport); anything else is echoed."""

    def __init__(self, stats):
        self.stats = stats

    def connection_made(self, transport):
        self.transport = transport
        self.stats['made'] += 1
        transport.get_extra_info('socket').setsockopt(
            socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024)

    def data_received(self, data):
        if data == b'BIG':
            self.transport.write(RESPONSE)
            if self.transport.get_write_buffer_size():
                self.stats['queued'] += 1
        else:
            self.transport.write(data)

    def connection_lost(self, exc):
        self.stats['lost'].append(exc)


async def accepted_peer(loop, lsock):
    """The server end of a connection made to the listening lsock."""
    peer, _ = await loop.sock_accept(lsock)
    return peer


def listener():
    lsock = socket.socket()
    lsock.bind((HOST, 0))
    lsock.listen(16)
    lsock.setblocking(False)
    return lsock


def test_server_survives_1000_resets(loop):
    """1,000 clients each ask for a large response and reset the
    connection (SO_LINGER 0, close) once it has started: the server keeps
    serving, every server-side connection_lost() gets asyncio's
    ConnectionResetError, and no fd is left open."""
    total = 1000
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    # each connection holds two fds here (client and server side)
    batch = max(1, min(100, (soft - nfds() - 64) // 2))
    stats = {'made': 0, 'queued': 0, 'lost': []}

    async def reset_client(port):
        s = socket.socket()
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            await loop.sock_connect(s, (HOST, port))
            await loop.sock_sendall(s, b'BIG')
            first = await loop.sock_recv(s, 1024)
            assert first and first == RESPONSE[:len(first)]
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_0)
        finally:
            s.close()

    async def wait_lost(n):
        while len(stats['lost']) < n:
            await asyncio.sleep(0.005)

    async def main():
        srv = await loop.create_server(lambda: Server(stats), HOST, 0,
                                       backlog=batch)
        port = srv.sockets[0].getsockname()[1]
        done = 0
        while done < total:
            n = min(batch, total - done)
            await asyncio.gather(*(reset_client(port) for _ in range(n)))
            done += n
            await asyncio.wait_for(wait_lost(done), 30)

        # still serving
        tr, cl = await loop.create_connection(lambda: Client(loop), HOST,
                                              port)
        tr.write(b'hello')
        while cl.data != b'hello':
            await asyncio.sleep(0.001)
        tr.close()
        await asyncio.wait_for(wait_lost(total + 1), 10)
        assert await cl.lost is None
        srv.close()
        await srv.wait_closed()

    gc.collect()            # what earlier tests left behind
    before = nfds()
    loop.run_until_complete(main())
    assert stats['made'] == total + 1
    assert stats['queued'] == total        # reset mid-transfer every time
    reset, last = stats['lost'][:total], stats['lost'][total]
    assert {type(e) for e in reset} == {ConnectionResetError}
    assert all(e.errno == errno.ECONNRESET for e in reset)
    assert last is None                    # the normal client's close()
    del reset, stats['lost']
    gc.collect()
    assert nfds() == before


def test_refused_connect(loop):
    """create_connection() and sock_connect() to a closed port: asyncio's
    ConnectionRefusedError and message, no fd left open."""
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()

    async def main():
        with pytest.raises(ConnectionRefusedError) as info:
            await loop.create_connection(asyncio.Protocol, HOST, port)
        assert info.value.errno == errno.ECONNREFUSED
        assert str(info.value) == \
            f"[Errno {errno.ECONNREFUSED}] Connect call failed " \
            f"('{HOST}', {port})"
        with socket.socket() as c:
            c.setblocking(False)
            with pytest.raises(ConnectionRefusedError) as info:
                await loop.sock_connect(c, (HOST, port))
            assert str(info.value) == \
                f"[Errno {errno.ECONNREFUSED}] Connect call failed " \
                f"('{HOST}', {port})"

    gc.collect()
    before = nfds()
    loop.run_until_complete(main())
    gc.collect()
    assert nfds() == before


def test_epipe_on_write_after_peer_close(loop):
    """The peer closed (reading paused, so its EOF is not seen): write()
    fails with EPIPE, a fatal write error -- not reported to the exception
    handler (an OSError), connection_lost(BrokenPipeError) once; later
    writes are counted and dropped."""
    async def main():
        errors = []
        loop.set_exception_handler(lambda lp, ctx: errors.append(ctx))
        a, b = socket.socketpair()
        tr, cl = await loop.create_unix_connection(lambda: Client(loop),
                                                   sock=a)
        tr.pause_reading()
        b.close()
        tr.write(b'x')
        assert tr.is_closing()
        exc = await asyncio.wait_for(cl.lost, 5)
        assert type(exc) is BrokenPipeError and exc.errno == errno.EPIPE
        assert cl.events == ['made', ('lost', BrokenPipeError)]
        tr.write(b'more')
        tr.write(b'more')
        assert tr._conn_lost == 3
        assert not errors
        assert tr.get_extra_info('socket').fileno() == -1
    loop.run_until_complete(main())


@pytest.mark.parametrize('reading', [True, False])
def test_peer_gone_with_big_queued_buffer(loop, reading):
    """A big buffer queued (pause_writing called), then the peer resets:
    the read or the write path sees ECONNRESET; connection_lost(
    ConnectionResetError) once, resume_writing never, the buffer is
    dropped, nothing reported to the exception handler."""
    async def main():
        errors = []
        loop.set_exception_handler(lambda lp, ctx: errors.append(ctx))
        lsock = listener()
        port = lsock.getsockname()[1]
        peer_task = loop.create_task(accepted_peer(loop, lsock))
        tr, cl = await loop.create_connection(lambda: Client(loop), HOST,
                                              port)
        peer = await peer_task
        if not reading:
            tr.pause_reading()
        tr.write(b'y' * (8 * 1024 * 1024))
        assert tr.get_write_buffer_size() > 0
        assert cl.events == ['made', 'pause']
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_0)
        peer.close()
        exc = await asyncio.wait_for(cl.lost, 5)
        assert type(exc) is ConnectionResetError
        assert exc.errno == errno.ECONNRESET
        assert cl.events == ['made', 'pause',
                             ('lost', ConnectionResetError)]
        assert tr.get_write_buffer_size() == 0
        assert not errors
        lsock.close()
    loop.run_until_complete(main())
