"""Pipe transports: loop.connect_read_pipe / connect_write_pipe over pipes,
socketpairs, FIFOs and PTYs; reading, writing, flow control, closing, and
the faults asyncio handles (the other end closing, a PTY's EIO).

Each test runs on stock asyncio and on casyncio (the `loop` fixture)."""
import asyncio
import errno
import gc
import os
import pty
import socket
import tempfile
import warnings

import pytest


class ReadProto(asyncio.Protocol):
    def __init__(self, loop):
        self.events = []
        self.data = bytearray()
        self.transport = None
        self.lost = loop.create_future()

    def connection_made(self, transport):
        self.transport = transport
        self.events.append('made')

    def data_received(self, data):
        assert type(data) is bytes
        self.data += data

    def eof_received(self):
        self.events.append('eof')

    def connection_lost(self, exc):
        self.events.append('lost')
        self.lost.set_result(exc)


class WriteProto(asyncio.BaseProtocol):
    def __init__(self, loop):
        self.events = []
        self.transport = None
        self.lost = loop.create_future()

    def connection_made(self, transport):
        self.transport = transport
        self.events.append('made')

    def pause_writing(self):
        self.events.append('pause')

    def resume_writing(self):
        self.events.append('resume')

    def connection_lost(self, exc):
        self.events.append('lost')
        self.lost.set_result(exc)


async def _drain_fd(fd, n):
    """Read n bytes from the blocking fd in a thread."""
    loop = asyncio.get_running_loop()
    out = bytearray()
    while len(out) < n:
        chunk = await loop.run_in_executor(None, os.read, fd, 1 << 20)
        if not chunk:
            break
        out += chunk
    return bytes(out)


def test_read_pipe_data_eof_lost_order(loop):
    async def main():
        r, w = os.pipe()
        t, p = await loop.connect_read_pipe(lambda: ReadProto(loop),
                                            open(r, 'rb', 0))
        assert isinstance(t, asyncio.ReadTransport)
        assert p.events == ['made'] and t.is_reading()
        assert t.get_extra_info('pipe').fileno() == r
        os.write(w, b'hello ')
        os.write(w, b'world')
        while len(p.data) < 11:
            await asyncio.sleep(0)
        os.close(w)
        assert await p.lost is None
        assert bytes(p.data) == b'hello world'
        assert p.events == ['made', 'eof', 'lost']
        assert t.is_closing() and t.get_extra_info('pipe').closed
        assert 'closed' in repr(t)
    loop.run_until_complete(main())


def test_read_pipe_pause_resume(loop):
    async def main():
        r, w = os.pipe()
        t, p = await loop.connect_read_pipe(lambda: ReadProto(loop),
                                            open(r, 'rb', 0))
        t.pause_reading()
        assert not t.is_reading()
        os.write(w, b'x' * 100)
        for _ in range(5):
            await asyncio.sleep(0)
        assert p.data == b''
        t.resume_reading()
        assert t.is_reading()
        while len(p.data) < 100:
            await asyncio.sleep(0)
        t.close()
        assert t.is_closing() and not t.is_reading()
        assert await p.lost is None
        assert p.events == ['made', 'lost']
        os.close(w)
    loop.run_until_complete(main())


def test_read_pipe_large_reads_all(loop):
    async def main():
        r, w = os.pipe()
        t, p = await loop.connect_read_pipe(lambda: ReadProto(loop),
                                            open(r, 'rb', 0))
        payload = os.urandom(3 * 1024 * 1024)
        await loop.run_in_executor(None, _write_all, w, payload)
        os.close(w)
        await p.lost
        assert bytes(p.data) == payload
    loop.run_until_complete(main())


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def test_read_pipe_rejects_regular_file(loop):
    async def main():
        with tempfile.TemporaryFile() as f:
            with pytest.raises(ValueError,
                               match='Pipe transport is for pipes/sockets '
                                     'only.'):
                await loop.connect_read_pipe(lambda: ReadProto(loop), f)
            with pytest.raises(ValueError,
                               match='Pipe transport is only for pipes, '
                                     'sockets and character devices'):
                await loop.connect_write_pipe(lambda: WriteProto(loop), f)
    loop.run_until_complete(main())


def test_read_pipe_socketpair_and_fifo(loop):
    async def main():
        a, b = socket.socketpair()
        t, p = await loop.connect_read_pipe(lambda: ReadProto(loop), a)
        b.sendall(b'sock')
        b.close()
        await p.lost
        assert p.data == b'sock'
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, 'fifo')
            os.mkfifo(path)
            rfd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            wfd = os.open(path, os.O_WRONLY)
            t, p = await loop.connect_read_pipe(lambda: ReadProto(loop),
                                                open(rfd, 'rb', 0))
            wt, wp = await loop.connect_write_pipe(lambda: WriteProto(loop),
                                                   open(wfd, 'wb', 0))
            wt.write(b'through the fifo')
            wt.close()
            assert await wp.lost is None
            await p.lost
            assert p.data == b'through the fifo'
    loop.run_until_complete(main())


def test_write_pipe_write_and_close(loop):
    async def main():
        r, w = os.pipe()
        t, p = await loop.connect_write_pipe(lambda: WriteProto(loop),
                                             open(w, 'wb', 0))
        assert isinstance(t, asyncio.WriteTransport)
        assert t.can_write_eof()
        t.write(b'abc')
        t.write(bytearray(b'def'))
        t.write(memoryview(b'ghi'))
        t.writelines([b'j', b'k'])
        t.write(b'')
        assert os.read(r, 100) == b'abcdefghijk'
        t.close()
        assert t.is_closing()
        t.write(b'dropped')        # after close: silently dropped
        assert await p.lost is None
        assert os.read(r, 100) == b''
        os.close(r)
        with pytest.raises(AssertionError):
            t.write('str')
    loop.run_until_complete(main())


def test_write_pipe_flow_control_and_drain_on_close(loop):
    async def main():
        r, w = os.pipe()
        t, p = await loop.connect_write_pipe(lambda: WriteProto(loop),
                                             open(w, 'wb', 0))
        t.set_write_buffer_limits(high=1000)
        assert t.get_write_buffer_limits() == (250, 1000)
        payload = os.urandom(1 << 20)
        t.write(payload)
        assert t.get_write_buffer_size() > 0
        assert p.events == ['made', 'pause']
        t.close()                 # flushes what is queued, then lost
        got = await _drain_fd(r, len(payload))
        assert got == payload
        assert await p.lost is None
        assert p.events == ['made', 'pause', 'resume', 'lost']
        assert t.get_write_buffer_size() == 0
        os.close(r)
        with pytest.raises(ValueError):
            t.set_write_buffer_limits(high=1, low=2)
    loop.run_until_complete(main())


def test_write_pipe_reader_closes_idle(loop):
    async def main():
        r, w = os.pipe()
        t, p = await loop.connect_write_pipe(lambda: WriteProto(loop),
                                             open(w, 'wb', 0))
        os.close(r)
        # The write pipe watches for the read end closing.
        assert await p.lost is None
        assert t.is_closing()
    loop.run_until_complete(main())


def test_write_pipe_reader_closes_with_queued_data(loop):
    async def main():
        r, w = os.pipe()
        t, p = await loop.connect_write_pipe(lambda: WriteProto(loop),
                                             open(w, 'wb', 0))
        t.write(b'x' * (1 << 20))
        assert t.get_write_buffer_size() > 0
        os.close(r)
        exc = await p.lost
        assert isinstance(exc, BrokenPipeError)
        assert t.get_write_buffer_size() == 0
    loop.run_until_complete(main())


def test_write_pipe_broken_on_write(loop):
    async def main():
        a, b = socket.socketpair()
        # A socketpair whose peer is gone: the write fails with EPIPE.
        t, p = await loop.connect_write_pipe(lambda: WriteProto(loop), a)
        b.close()
        t.write(b'data')
        exc = await p.lost
        # Either the reader saw the close first (None) or the write failed
        # (BrokenPipeError, only logged in debug mode, as asyncio).
        assert exc is None or isinstance(exc, BrokenPipeError)
        for _ in range(6):
            t.write(b'more')      # counted, then a warning, never raised
    loop.run_until_complete(main())


def test_write_pipe_abort_drops_queue(loop):
    async def main():
        r, w = os.pipe()
        t, p = await loop.connect_write_pipe(lambda: WriteProto(loop),
                                             open(w, 'wb', 0))
        t.write(b'y' * (1 << 20))
        t.abort()
        assert await p.lost is None
        assert t.get_write_buffer_size() == 0
        os.close(r)
    loop.run_until_complete(main())


def test_pty_read_eio_is_connection_lost(loop):
    async def main():
        master, slave = pty.openpty()
        t, p = await loop.connect_read_pipe(lambda: ReadProto(loop),
                                            open(master, 'rb', 0))
        os.write(slave, b'tty data\n')
        while b'tty data' not in p.data:
            await asyncio.sleep(0)
        os.close(slave)
        # A PTY master reads EIO once the slave closes: asyncio passes it to
        # connection_lost (logged only in debug mode).
        exc = await p.lost
        assert isinstance(exc, OSError) and exc.errno == errno.EIO
        assert p.events == ['made', 'lost']
    loop.run_until_complete(main())


def test_pty_write(loop):
    async def main():
        master, slave = pty.openpty()
        slave_f = open(slave, 'wb', 0)
        t, p = await loop.connect_write_pipe(lambda: WriteProto(loop),
                                             slave_f)
        t.write(b'to the tty\n')
        got = b''
        while b'to the tty' not in got:
            got += await loop.run_in_executor(None, os.read, master, 100)
        t.close()
        assert await p.lost is None
        os.close(master)
    loop.run_until_complete(main())


def test_unclosed_pipe_transport_warns(loop):
    async def main():
        r, w = os.pipe()
        t, p = await loop.connect_read_pipe(lambda: ReadProto(loop),
                                            open(r, 'rb', 0))
        os.close(w)
        return t

    t = loop.run_until_complete(main())
    loop.close()
    assert 'open' in repr(t)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        del t
        gc.collect()
    assert any(issubclass(c.category, ResourceWarning) and
               'unclosed transport' in str(c.message) for c in caught)


def test_streams_over_pipe(loop):
    async def main():
        r, w = os.pipe()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), open(r, 'rb', 0))
        os.write(w, b'line one\nline two\n')
        os.close(w)
        assert await reader.readline() == b'line one\n'
        assert await reader.read() == b'line two\n'
    loop.run_until_complete(main())
