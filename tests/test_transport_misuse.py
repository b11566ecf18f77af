"""Transports misused: wrong arguments, calls at odd times, evil protocols.

Each test runs on stock asyncio and on casyncio (the `loop` fixture) and
checks what both do, or compares the outcomes of the same calls on both
loops; casyncio must never crash, leak, or touch an fd that is no longer
its own.  Where asyncio itself fails on its `self._sock = None` after
connection_lost (an AttributeError), matching it is the contract."""
import array
import asyncio
import gc
import os
import socket
import tempfile

import pytest

import casyncio


class Recorder(asyncio.Protocol):
    """Records the calls a stream or pipe protocol receives."""

    def __init__(self):
        self.calls = []
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.calls.append('made')

    def data_received(self, data):
        self.calls.append(('data', bytes(data)))

    def eof_received(self):
        self.calls.append('eof')

    def pause_writing(self):
        self.calls.append('pause')

    def resume_writing(self):
        self.calls.append('resume')

    def connection_lost(self, exc):
        self.calls.append(('lost', type(exc).__name__))


class DgramRecorder(asyncio.DatagramProtocol):
    def __init__(self):
        self.calls = []
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self.calls.append('made')

    def datagram_received(self, data, addr):
        self.calls.append(('dgram', bytes(data)))

    def error_received(self, exc):
        self.calls.append(('error', type(exc).__name__))

    def pause_writing(self):
        self.calls.append('pause')

    def resume_writing(self):
        self.calls.append('resume')

    def connection_lost(self, exc):
        self.calls.append(('lost', type(exc).__name__))


def outcome(f, *args, **kw):
    try:
        f(*args, **kw)
    except Exception as e:          # noqa: BLE001 - the type is compared
        return type(e).__name__
    return 'ok'


async def settle(n=5):
    for _ in range(n):
        await asyncio.sleep(0)


async def until(cond, limit=2000):
    for _ in range(limit):
        if cond():
            return
        await asyncio.sleep(0.001)
    raise AssertionError('condition not reached')


# ---- regressions: the fd is no longer ours after connection_lost ----

def test_write_after_flushed_close_does_not_reach_reused_fd(loop):
    """close() with data queued: the queue drains, connection_lost runs and
    the socket is closed.  A write() then must not send() on the old fd
    number, which a new socket may own by now (it did: the bytes reached
    the new socket)."""
    async def main():
        a, b = socket.socketpair()
        a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        t, p = await loop.create_connection(Recorder, sock=a)
        t.write(b'x' * 300_000)
        assert t.get_write_buffer_size() > 0
        t.close()
        b.setblocking(False)

        def drained():
            try:
                while b.recv(1 << 20):
                    pass
            except BlockingIOError:
                pass
            return ('lost', 'NoneType') in p.calls
        await until(drained)
        c, d = socket.socketpair()
        c.setblocking(False)
        try:
            # asyncio: sock.send() on None, then _fatal_error on loop None
            with pytest.raises(AttributeError):
                t.write(b'LEAK')
            with pytest.raises(AttributeError):
                t.write(memoryview(b'LEAK')[::2])
            with pytest.raises(BlockingIOError):
                c.recv(100)
            assert t.get_write_buffer_size() == 0
        finally:
            for s in (b, c, d):
                s.close()
    loop.run_until_complete(main())


async def unix_dgram_pair(loop, tmp):
    """A connected AF_UNIX datagram transport whose peer does not read, so
    that sends block and queue."""
    path = os.path.join(tmp, 's')
    peer = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    peer.bind(path)
    peer.setblocking(False)
    t, p = await loop.create_datagram_endpoint(
        DgramRecorder, remote_addr=path, family=socket.AF_UNIX)
    return t, p, peer


def test_dgram_queue_of_wide_memoryview_drains_and_closes(loop, tmp_path):
    """asyncio's datagram _buffer_size counts len(data) in (3 for an 'i'
    memoryview of 3 items) and len(bytes) out (12): it ends negative.  Ours
    took the size for the queue's emptiness, so the writer stayed on and
    close() never called connection_lost (fd leak, busy loop)."""
    async def main():
        t, p, peer = await unix_dgram_pair(loop, str(tmp_path))
        try:
            while t.get_write_buffer_size() == 0:
                t.sendto(b'y' * 100)
            queued = t.get_write_buffer_size()
            t.sendto(memoryview(array.array('i', [1, 2, 3])))
            assert t.get_write_buffer_size() == queued + 3

            def drained():
                try:
                    while True:
                        peer.recv(1000)
                except BlockingIOError:
                    pass
                return not t._buffer
            await until(drained)
            await settle()
            assert t.get_write_buffer_size() == -9      # asyncio's count
            t.close()
            await until(lambda: ('lost', 'NoneType') in p.calls)
            assert t.get_extra_info('socket').fileno() == -1
        finally:
            peer.close()
    loop.run_until_complete(main())


# ---- the bad-input sweep: the same calls on both loops ----

BAD = [None, -1, 0, 2**70, -2**70, 1.5, float('inf'), float('nan'), 'x',
       b'', b'x', bytearray(b'ab'), memoryview(b'abcd'),
       memoryview(b'abcd')[::2], memoryview(array.array('i', [1, 2, 3])),
       memoryview(b'abcdef').cast('B', (2, 3)),
       memoryview(b'a').cast('B', ()), array.array('b', b'xy'), (), [], {},
       object(), [b'a', b'b'], (b'a',), [b'a', 'b'],
       memoryview(bytearray(b'q')), b'x' * 100_000]
BAD_IDS = [f'{i}-{type(v).__name__}' for i, v in enumerate(BAD)]

KINDS = ['tcp', 'udp', 'udp-connected', 'read-pipe', 'write-pipe']


async def make(kind, loop):
    """A transport of that kind, its protocol, and what to close after."""
    if kind == 'tcp':
        a, b = socket.socketpair()
        t, p = await loop.create_connection(Recorder, sock=a)
        return t, p, [b]
    if kind == 'udp':
        t, p = await loop.create_datagram_endpoint(
            DgramRecorder, local_addr=('127.0.0.1', 0))
        return t, p, []
    if kind == 'udp-connected':
        t, p = await loop.create_datagram_endpoint(
            DgramRecorder, remote_addr=('127.0.0.1', 9))
        return t, p, []
    r, w = os.pipe()
    if kind == 'read-pipe':
        t, p = await loop.connect_read_pipe(Recorder, open(r, 'rb', 0))
        return t, p, [open(w, 'wb', 0)]
    t, p = await loop.connect_write_pipe(Recorder, open(w, 'wb', 0))
    return t, p, [open(r, 'rb', 0)]


def run_on(new_loop, kind, body):
    """body(transport, protocol, out) on a fresh loop of new_loop; what it
    appended to out, what the exception handler saw, and the protocol's
    calls."""
    loop = new_loop()
    out = []
    loop.set_exception_handler(lambda lp, ctx: out.append(
        ('handler', type(ctx.get('exception')).__name__)))

    async def main():
        t, p, keep = await make(kind, loop)
        try:
            await body(t, p, out)
        finally:
            t.close()
            await settle()
            for k in keep:
                k.close()
        out.append(p.calls)
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    return out


def same_on_both(kind, body):
    theirs = run_on(asyncio.new_event_loop, kind, body)
    ours = run_on(casyncio.new_event_loop, kind, body)
    assert ours == theirs


def write_method(t):
    # asyncio's datagram transport is no asyncio.DatagramTransport
    return t.sendto if hasattr(t, 'sendto') else t.write


@pytest.mark.parametrize('kind', KINDS[:3])
@pytest.mark.parametrize('arg', BAD, ids=BAD_IDS)
def test_write_bad_data(kind, arg):
    async def body(t, p, out):
        out.append(outcome(write_method(t), arg))
        await settle()
        out.append(outcome(write_method(t), arg))
        if hasattr(t, 'writelines'):
            out.append(outcome(t.writelines, arg))
        if hasattr(t, 'sendto'):
            out.append(outcome(t.sendto, b'x', arg))
        await settle()
    same_on_both(kind, body)


@pytest.mark.parametrize('kind', ['tcp', 'udp'])
@pytest.mark.parametrize('arg', BAD, ids=BAD_IDS)
def test_write_bad_data_after_close(kind, arg):
    async def body(t, p, out):
        t.close()
        out.append(outcome(write_method(t), arg))
        await settle()
        out.append(outcome(write_method(t), arg))
    same_on_both(kind, body)


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('arg', BAD, ids=BAD_IDS)
def test_limits_extra_protocol_bad_values(kind, arg):
    async def body(t, p, out):
        if kind != 'read-pipe':     # asyncio's read pipe has no limits
            out.append(outcome(t.set_write_buffer_limits, arg))
            out.append(outcome(t.set_write_buffer_limits, 10, arg))
            out.append(outcome(t.set_write_buffer_limits, arg, 10))
            out.append(outcome(t.set_write_buffer_limits, low=arg))
            out.append(outcome(t.get_write_buffer_size))
        out.append(outcome(t.get_extra_info, arg))
        out.append(outcome(t.get_extra_info, arg, 5))
        out.append(outcome(t.set_protocol, arg))
        out.append(t.get_protocol() is arg)
        t.set_protocol(p)
    same_on_both(kind, body)


def test_write_buffer_limits_any_number(loop):
    """asyncio keeps any number as a limit; ours keeps its floor, capped,
    which compares the same with an int buffer size."""
    async def main():
        a, b = socket.socketpair()
        t, p = await loop.create_connection(Recorder, sock=a)
        t.set_write_buffer_limits(2**70)
        t.set_write_buffer_limits(float('inf'), 2**65)
        t.set_write_buffer_limits(1.5)
        assert t.get_write_buffer_limits()[1] in (1, 1.5)
        t.write(b'xy' * 1_000_000)
        if t.get_write_buffer_size() > 1:
            assert p.calls[-1] == 'pause'
        t.abort()
        await settle()
        b.close()
    loop.run_until_complete(main())
