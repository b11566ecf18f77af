"""loop.sendfile() on a stream transport: the native os.sendfile() path
(the write buffer drained first through the transport's
_make_empty_waiter(), reading paused during the transfer), the fallback,
and the empty-waiter protocol itself.  Each test runs on stock asyncio and
on casyncio (the `loop` fixture); CPython's own test_sendfile runs as the
conformance group `sendfile`."""
import asyncio
import io
import os
import socket
import sys

import pytest

HOST = '127.0.0.1'
DATA = os.urandom(1024 * 1024 + 7)


class Sink(asyncio.Protocol):
    """Collects what it receives; `lost` is connection_lost's argument."""

    def __init__(self, loop):
        self.data = bytearray()
        self.transport = None
        self.lost = loop.create_future()

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.data += data

    def connection_lost(self, exc):
        if not self.lost.done():
            self.lost.set_result(exc)


async def pair(loop):
    """A server-side Sink and a client (transport, Sink), connected."""
    sinks = []

    def factory():
        sinks.append(Sink(loop))
        return sinks[-1]
    srv = await loop.create_server(factory, HOST, 0)
    port = srv.sockets[0].getsockname()[1]
    tr, cli = await loop.create_connection(lambda: Sink(loop), HOST, port)
    while not sinks:
        await asyncio.sleep(0)
    # A small send buffer: what the peer does not read (its receive
    # window does not grow while it is paused) stays queued in the
    # transport.
    tr.get_extra_info('socket').setsockopt(socket.SOL_SOCKET,
                                           socket.SO_SNDBUF, 4096)
    return srv, sinks[0], tr, cli


async def finish(srv, tr, server_side):
    tr.close()
    await asyncio.wait_for(server_side.lost, 10)
    srv.close()
    await srv.wait_closed()


def run(loop, coro):
    return loop.run_until_complete(asyncio.wait_for(coro, 30))


@pytest.fixture
def datafile(tmp_path):
    p = tmp_path / 'data.bin'
    p.write_bytes(DATA)
    with open(p, 'rb') as f:
        yield f


def test_native_sendfile_with_queued_prefix(loop, datafile):
    """Data queued before sendfile() goes first (the empty waiter waits for
    the buffer to drain), then the file through os.sendfile(); meanwhile
    write() is refused and reading is paused; both come back after."""
    async def main():
        srv, peer, tr, cli = await pair(loop)
        prefix = b'P' * (1024 * 1024)
        peer.transport.pause_reading()
        tr.write(prefix)
        assert tr.get_write_buffer_size() > 0     # queued: peer not reading
        task = loop.create_task(loop.sendfile(tr, datafile, 1000, 200_000))
        await asyncio.sleep(0.01)
        assert not task.done()
        assert not tr.is_reading()
        with pytest.raises(RuntimeError,
                           match='unable to write; sendfile is in progress'):
            tr.write(b'x')
        peer.transport.resume_reading()
        assert await task == 200_000
        assert datafile.tell() == 201_000
        assert tr.is_reading()
        tr.write(b'SUFFIX')
        await finish(srv, tr, peer)
        assert peer.data == prefix + DATA[1000:201_000] + b'SUFFIX'
    run(loop, main())


def test_native_sendfile_whole_file(loop, datafile):
    async def main():
        srv, peer, tr, cli = await pair(loop)
        assert await loop.sendfile(tr, datafile) == len(DATA)
        assert datafile.tell() == len(DATA)
        await finish(srv, tr, peer)
        assert peer.data == DATA
    run(loop, main())


def test_fallback_for_file_without_fileno(loop):
    """A file with no fileno(): SendfileNotAvailableError from the native
    path, then read+write, unless fallback=False."""
    async def main():
        srv, peer, tr, cli = await pair(loop)
        f = io.BytesIO(DATA)
        with pytest.raises(asyncio.SendfileNotAvailableError,
                           match='not a regular file'):
            await loop.sendfile(tr, f, fallback=False)
        assert tr.is_reading()
        tr.write(b'<')              # no empty waiter left behind
        assert await loop.sendfile(tr, f, 10, 100_000) == 100_000
        assert f.tell() == 100_010
        await finish(srv, tr, peer)
        assert peer.data == b'<' + DATA[10:100_010]
    run(loop, main())


def test_sendfile_refusals(loop, datafile):
    async def main():
        srv, peer, tr, cli = await pair(loop)
        with pytest.raises(ValueError, match='count must be a positive'):
            await loop.sendfile(tr, datafile, 0, 0)
        tr.close()
        with pytest.raises(RuntimeError, match='Transport is closing'):
            await loop.sendfile(tr, datafile)
        assert datafile.tell() == 0
        await asyncio.wait_for(peer.lost, 10)
        srv.close()
        await srv.wait_closed()
    run(loop, main())


def test_sendfile_peer_reset_mid_transfer(loop, datafile):
    """The peer resets the connection during the transfer: a
    ConnectionError from sendfile(), part of the file sent, and the
    transport closes."""
    async def main():
        srv, peer, tr, cli = await pair(loop)
        peer.transport.pause_reading()
        task = loop.create_task(loop.sendfile(tr, datafile))
        await asyncio.sleep(0.01)
        peer.transport.abort()
        with pytest.raises(ConnectionError):
            await task
        assert 0 < datafile.tell() < len(DATA)
        # The reset was sendfile's error; reading resumed, recv() then sees
        # EOF: connection_lost(None), as in asyncio.
        assert await asyncio.wait_for(cli.lost, 10) is None
        assert tr.is_closing()
        srv.close()
        await srv.wait_closed()
    run(loop, main())


# ---- the transport's empty waiter ----

def test_empty_waiter_protocol(loop):
    async def main():
        srv, peer, tr, cli = await pair(loop)
        w = tr._make_empty_waiter()
        assert w.done() and w.result() is None      # nothing queued
        with pytest.raises(RuntimeError, match='Empty waiter is already set'):
            tr._make_empty_waiter()
        tr._reset_empty_waiter()
        tr._reset_empty_waiter()                    # idempotent

        peer.transport.pause_reading()
        tr.write(b'z' * (2 * 1024 * 1024))
        w = tr._make_empty_waiter()
        assert not w.done()
        peer.transport.resume_reading()
        assert await w is None                      # drained
        assert tr.get_write_buffer_size() == 0
        tr._reset_empty_waiter()
        await finish(srv, tr, peer)
        assert len(peer.data) == 2 * 1024 * 1024
    run(loop, main())


def test_empty_waiter_connection_lost(loop):
    """abort() with data queued: the waiter gets asyncio's
    ConnectionError('Connection is closed by peer') after
    connection_lost."""
    async def main():
        srv, peer, tr, cli = await pair(loop)
        peer.transport.pause_reading()
        tr.write(b'z' * (2 * 1024 * 1024))
        w = tr._make_empty_waiter()
        tr.abort()
        with pytest.raises(ConnectionError,
                           match='Connection is closed by peer') as info:
            await w
        assert type(info.value) is ConnectionError
        assert cli.lost.done() and cli.lost.result() is None
        peer.transport.close()
        srv.close()
        await srv.wait_closed()
    run(loop, main())


def test_empty_waiter_write_error(loop):
    """The peer resets while data is queued: the waiter gets the write
    error itself, connection_lost gets it too -- and then fails to set
    its ConnectionError on the waiter, done already: InvalidStateError,
    reported by the loop (asyncio 3.11 does so)."""
    async def main():
        errors = []
        loop.set_exception_handler(lambda lp, ctx: errors.append(ctx))
        srv, peer, tr, cli = await pair(loop)
        tr.pause_reading()          # the error comes from the write path
        peer.transport.pause_reading()
        tr.write(b'z' * (2 * 1024 * 1024))
        w = tr._make_empty_waiter()
        peer.transport.abort()
        with pytest.raises(ConnectionResetError) as info:
            await asyncio.wait_for(w, 10)
        exc = await asyncio.wait_for(cli.lost, 10)
        assert exc is info.value
        assert [type(c['exception']) for c in errors] == \
            [asyncio.InvalidStateError]
        assert errors[0]['message'].startswith('Exception in callback')
        srv.close()
        await srv.wait_closed()
    run(loop, main())


def test_sock_sendfile_fallback_seeks_to_offset(loop):
    """sock_sendfile's read+send fallback: 3.14 seeks to offset whenever
    the file can seek (offset 0 included), before it only for a nonzero
    offset, so a file already read from is sent from where it stands."""
    async def main():
        a, b = socket.socketpair()
        a.setblocking(False)
        f = io.BytesIO(b'0123456789')       # no fileno(): the fallback
        f.seek(4)
        n = await loop.sock_sendfile(a, f)
        a.close()
        got = b''
        b.settimeout(5)
        while chunk := b.recv(100):
            got += chunk
        b.close()
        if sys.version_info >= (3, 14):
            assert (n, got) == (10, b'0123456789')
        else:
            assert (n, got) == (6, b'456789')
    run(loop, main())
