"""asyncio streams on our transports: StreamReaderProtocol.data_received ->
StreamReader.feed_data, which casyncio does in C (src/readerproto.c) when
the protocol and reader are asyncio's own, unchanged.

Every behaviour test runs on stock asyncio and on casyncio (the `loop`
fixture): the C path must do exactly what feed_data does (buffer, waiter,
pause over 2 * limit, errors), and must step aside for subclasses and for
methods patched on the class or the instance.  The `cloop` tests check that
the C path is the one taken, by watching for Python calls of feed_data."""
import asyncio
import gc
import os
import socket
import struct
import subprocess
import sys
import textwrap
from unittest import mock

import pytest

from conftest import PACKAGE_PARENT
from test_tls import certs, client_ctx, server_ctx  # noqa: F401 (fixtures)

HOST = '127.0.0.1'


async def reader_pair(loop, reader=None, proto_cls=None, limit=2 ** 16):
    """A StreamReaderProtocol on a transport over one end of a socketpair;
    (reader, protocol, transport, blocking peer socket)."""
    a, b = socket.socketpair()
    if reader is None:
        reader = asyncio.StreamReader(limit=limit, loop=loop)
    proto = (proto_cls or asyncio.StreamReaderProtocol)(reader, loop=loop)
    tr, _ = await loop.connect_accepted_socket(lambda: proto, a)
    return reader, proto, tr, b


async def until(cond, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, 'timed out'
        await asyncio.sleep(0.001)


async def sent(peer, reader, data, buffered):
    """Send data from the peer; wait until the reader buffers `buffered`
    bytes."""
    peer.sendall(data)
    await until(lambda: len(reader._buffer) == buffered)


def record_errors(loop):
    errors = []
    loop.set_exception_handler(lambda lp, ctx: errors.append(ctx))
    return errors


def run(loop, coro):
    return loop.run_until_complete(asyncio.wait_for(coro, 10))


async def fatal_error(errors, tr, peer, data):
    """Send data; the transport's fatal error for the failed data_received
    (asyncio's message, transport closing): its exception."""
    peer.sendall(data)
    await until(lambda: errors)
    assert errors[0]['message'] == (
        'Fatal error: protocol.data_received() call failed.')
    assert tr.is_closing()
    peer.close()
    return errors[0]['exception']


# ---- the data path ----

@pytest.mark.parametrize('size', [1, 1000, 300_000])
def test_echo_through_streams(loop, size):
    payload = os.urandom(size)

    async def handle(r, w):
        w.write(await r.readexactly(size))
        await w.drain()
        w.close()

    async def main():
        srv = await asyncio.start_server(handle, HOST, 0)
        port = srv.sockets[0].getsockname()[1]
        r, w = await asyncio.open_connection(HOST, port)
        w.write(payload)
        assert await r.readexactly(size) == payload
        assert await r.read() == b''
        w.close()
        await w.wait_closed()
        srv.close()
        await srv.wait_closed()
    run(loop, main())


def test_read_wakes_and_buffers(loop):
    async def main():
        reader, proto, tr, peer = await reader_pair(loop)
        task = asyncio.ensure_future(reader.read(100))
        await asyncio.sleep(0.01)
        assert reader._waiter is not None
        peer.sendall(b'abc')
        assert await task == b'abc'
        assert reader._waiter is None
        await sent(peer, reader, b'def', 3)
        await sent(peer, reader, b'gh', 5)
        assert type(reader._buffer) is bytearray
        assert await reader.read(100) == b'defgh'
        tr.close()
        peer.close()
    run(loop, main())


def test_pause_over_twice_the_limit(loop):
    async def main():
        reader, proto, tr, peer = await reader_pair(loop, limit=1000)
        await sent(peer, reader, b'x' * 1500, 1500)
        assert not reader._paused and tr.is_reading()
        peer.sendall(b'x' * 600)                 # 2100 > 2 * 1000
        await until(lambda: len(reader._buffer) == 2100)
        assert reader._paused and not tr.is_reading()
        assert await reader.read(2100) == b'x' * 2100
        assert not reader._paused and tr.is_reading()
        tr.close()
        peer.close()
    run(loop, main())


def test_limit_not_an_int(loop):
    async def main():
        reader, proto, tr, peer = await reader_pair(loop)
        reader._limit = 10.25              # 2 * limit = 20.5
        await sent(peer, reader, b'x' * 20, 20)
        assert not reader._paused
        await sent(peer, reader, b'x', 21)
        assert reader._paused
        tr.close()
        peer.close()
    run(loop, main())


def test_pause_not_implemented_drops_transport(loop):
    class NoPause:
        def pause_reading(self):
            raise NotImplementedError

    async def main():
        reader, proto, tr, peer = await reader_pair(loop, limit=1)
        reader._transport = NoPause()
        await sent(peer, reader, b'xyz', 3)
        assert reader._transport is None and not reader._paused
        assert tr.is_reading()
        tr.close()
        peer.close()
    run(loop, main())


def test_pause_reading_error_is_fatal(loop):
    class BadPause:
        def pause_reading(self):
            raise ZeroDivisionError

    async def main():
        errors = record_errors(loop)
        reader, proto, tr, peer = await reader_pair(loop, limit=1)
        reader._transport = BadPause()
        exc = await fatal_error(errors, tr, peer, b'xyz')
        assert type(exc) is ZeroDivisionError
        assert bytes(reader._buffer) == b'xyz'
    run(loop, main())


# ---- the waiter ----

def test_cancelled_waiter_is_dropped(loop):
    async def main():
        reader, proto, tr, peer = await reader_pair(loop)
        waiter = reader._waiter = loop.create_future()
        waiter.cancel()
        await sent(peer, reader, b'ab', 2)
        assert reader._waiter is None and waiter.cancelled()
        tr.close()
        peer.close()
    run(loop, main())


def test_waiter_already_done_is_fatal(loop):
    async def main():
        errors = record_errors(loop)
        reader, proto, tr, peer = await reader_pair(loop)
        waiter = reader._waiter = loop.create_future()
        waiter.set_result('early')
        exc = await fatal_error(errors, tr, peer, b'ab')
        assert isinstance(exc, asyncio.InvalidStateError)
        assert bytes(reader._buffer) == b'ab' and reader._waiter is None
        await until(lambda: reader._exception is not None)
    run(loop, main())


def test_foreign_waiters(loop):
    """A waiter that is not the loop's own future gets the generic calls:
    cancelled(), then set_result(None)."""
    calls = []

    class Duck:
        def __init__(self, cancelled):
            self._cancelled = cancelled

        def cancelled(self):
            calls.append('cancelled')
            return self._cancelled

        def set_result(self, value):
            calls.append(('set_result', value))

    async def main():
        reader, proto, tr, peer = await reader_pair(loop)
        reader._waiter = Duck(False)
        await sent(peer, reader, b'a', 1)
        assert calls == ['cancelled', ('set_result', None)]
        del calls[:]
        reader._waiter = Duck(True)
        await sent(peer, reader, b'b', 2)
        assert calls == ['cancelled'] and reader._waiter is None
        # a stock asyncio.Future bound to this loop
        stock = reader._waiter = asyncio.futures._PyFuture(loop=loop)
        await sent(peer, reader, b'c', 3)
        assert stock.result() is None
        tr.close()
        peer.close()
    run(loop, main())


def send_in_thread(peer, pieces):
    """peer.sendall() of each piece from a thread (the reader's loop keeps
    running while the socket is full); the thread, started."""
    import threading

    def send():
        for piece in pieces:
            peer.sendall(piece)
    t = threading.Thread(target=send)
    t.start()
    return t


def test_bulk_reads_keep_every_byte(loop):
    """Megabytes through a reader read in odd sizes, so that bytes are
    still buffered when the next read comes (casyncio then receives
    straight into the reader's buffer, after what it holds), mixed with
    small pieces; every byte arrives, in order."""
    payload = os.urandom(6 * 1024 * 1024 + 12345)
    cuts = [0, 1_000_000, 1_000_010, 1_000_011, 3_500_000, 3_500_100,
            len(payload)]
    pieces = [payload[a:b] for a, b in zip(cuts, cuts[1:])]

    async def main():
        reader, proto, tr, peer = await reader_pair(loop)
        t = send_in_thread(peer, pieces)
        got = bytearray()
        while len(got) < len(payload):
            n = min(99_991, len(payload) - len(got))
            got += await reader.readexactly(n)
        t.join()
        assert got == payload
        tr.close()
        peer.close()
    run(loop, main())


def test_buffer_exported_after_bulk_reads_is_fatal(loop):
    """A memoryview held on the reader's buffer while a bulk transfer goes
    on: extend()'s BufferError, a fatal error, as without one."""
    async def main():
        errors = record_errors(loop)
        reader, proto, tr, peer = await reader_pair(loop, limit=2 ** 22)
        t = send_in_thread(peer, [b'x' * (4 * 1024 * 1024)])
        await until(lambda: len(reader._buffer) == 4 * 1024 * 1024)
        t.join()
        view = memoryview(reader._buffer)
        exc = await fatal_error(errors, tr, peer, b'y' * 100_000)
        assert type(exc) is BufferError
        view.release()
        assert len(reader._buffer) == 4 * 1024 * 1024
    run(loop, main())


def queued(fd):
    """Bytes waiting in a socket's receive queue (FIONREAD)."""
    import fcntl
    import termios
    return struct.unpack('i', fcntl.ioctl(fd, termios.FIONREAD, b'\0' * 4))[0]


def test_c_path_receives_bulk_into_the_buffer(cloop):
    """A transfer of megabytes: after a read that filled half the receive
    buffer, the next go straight into the reader's buffer (epoll's path:
    on io_uring, CASYNCIO_IO_URING=1, the bytes are in the ring's buffers
    already and are fed from there)."""
    async def main():
        from casyncio import _core
        reader, proto, tr, peer = await reader_pair(cloop)
        before = _core._path_counts()
        # a first read of 256 KiB: the bytes queued while not reading
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 21)
        tr.pause_reading()
        t = send_in_thread(peer, [os.urandom(8 * 1024 * 1024)])
        fd = tr.get_extra_info('socket').fileno()
        await until(lambda: queued(fd) >= 512 * 1024)
        tr.resume_reading()
        total = 0
        while total < 8 * 1024 * 1024:
            total += len(await reader.read(1 << 20))
        t.join()
        after = _core._path_counts()
        fed = after['streams_fed'] - before['streams_fed']
        direct = after['streams_direct'] - before['streams_direct']
        if cloop._io_uring:
            assert direct == 0 < fed
        else:
            assert 0 < direct <= fed
        tr.close()
        peer.close()
    run(cloop, main())


# ---- errors and odd states: the generic call's outcome ----

def test_buffer_exported_is_fatal(loop):
    async def main():
        errors = record_errors(loop)
        reader, proto, tr, peer = await reader_pair(loop)
        view = memoryview(reader._buffer)
        exc = await fatal_error(errors, tr, peer, b'ab')
        assert type(exc) is BufferError
        view.release()
    run(loop, main())


def test_data_after_eof_asserts(loop):
    async def main():
        errors = record_errors(loop)
        reader, proto, tr, peer = await reader_pair(loop)
        reader.feed_eof()
        exc = await fatal_error(errors, tr, peer, b'late')
        assert type(exc) is AssertionError
        assert str(exc) == 'feed_data after feed_eof'
    run(loop, main())


def test_buffer_replaced_by_other_type(loop):
    async def main():
        reader, proto, tr, peer = await reader_pair(loop)
        reader._buffer = []             # list.extend(bytes): ints
        await sent(peer, reader, b'ab', 2)
        assert reader._buffer == [97, 98]
        tr.close()
        peer.close()
    run(loop, main())


def test_dead_reader_drops_data(loop):
    async def main():
        errors = record_errors(loop)
        reader, proto, tr, peer = await reader_pair(loop)
        del reader
        gc.collect()
        assert proto._stream_reader is None
        peer.sendall(b'nobody reads this')
        await asyncio.sleep(0.05)
        assert not errors and not tr.is_closing()
        tr.close()
        peer.close()
    run(loop, main())


# ---- the fast path steps aside ----

class CountingReader(asyncio.StreamReader):
    fed = []

    def feed_data(self, data):
        self.fed.append(bytes(data))
        super().feed_data(data)


class CountingProtocol(asyncio.StreamReaderProtocol):
    got = []

    def data_received(self, data):
        self.got.append(bytes(data))
        super().data_received(data)


def _patch(kind, reader, proto, record):
    """A context manager replacing one of the methods on the path."""
    def wrap(orig):
        def recorded(*args):
            record.append(bytes(args[-1]) if args and isinstance(
                args[-1], (bytes, bytearray)) else 'called')
            return orig(*args)
        return recorded
    sr, srp = asyncio.StreamReader, asyncio.StreamReaderProtocol
    if kind == 'class feed_data':
        return mock.patch.object(sr, 'feed_data', wrap(sr.feed_data))
    if kind == 'class _wakeup_waiter':
        return mock.patch.object(sr, '_wakeup_waiter',
                                 wrap(sr._wakeup_waiter))
    if kind == 'class data_received':
        return mock.patch.object(srp, 'data_received',
                                 wrap(srp.data_received))
    if kind == 'class _stream_reader':
        orig = srp._stream_reader

        def getter(self):
            record.append('called')
            return orig.fget(self)
        return mock.patch.object(srp, '_stream_reader', property(getter))
    if kind == 'instance feed_data':
        return mock.patch.object(reader, 'feed_data', wrap(reader.feed_data))
    if kind == 'instance _wakeup_waiter':
        return mock.patch.object(reader, '_wakeup_waiter',
                                 wrap(reader._wakeup_waiter))
    if kind == 'instance data_received':
        return mock.patch.object(proto, 'data_received',
                                 wrap(proto.data_received))
    raise AssertionError(kind)


PATCHES = ['class feed_data', 'class _wakeup_waiter', 'class data_received',
           'class _stream_reader', 'instance feed_data',
           'instance _wakeup_waiter', 'instance data_received']


@pytest.mark.parametrize('kind', PATCHES)
def test_patched_methods_are_called(loop, kind):
    async def main():
        reader, proto, tr, peer = await reader_pair(loop)
        # a read first: casyncio has then cached its check of the classes
        # (by their version tags), which the patch must invalidate
        peer.sendall(b'first')
        assert await reader.readexactly(5) == b'first'
        record = []
        with _patch(kind, reader, proto, record):
            task = asyncio.ensure_future(reader.readexactly(5))
            peer.sendall(b'hello')
            assert await task == b'hello'
            assert record and record[0] in (b'hello', 'called')
        del record[:]
        # unpatched again: the same data path, nothing recorded
        peer.sendall(b'again')
        assert await reader.readexactly(5) == b'again'
        assert record == []
        tr.close()
        peer.close()
    run(loop, main())


def test_subclasses_take_their_own_methods(loop):
    async def main():
        CountingReader.fed.clear()
        CountingProtocol.got.clear()
        reader = CountingReader(loop=loop)
        reader, proto, tr, peer = await reader_pair(
            loop, reader=reader, proto_cls=CountingProtocol)
        peer.sendall(b'sub')
        assert await reader.readexactly(3) == b'sub'
        assert CountingProtocol.got == [b'sub']
        assert CountingReader.fed == [b'sub']
        tr.close()
        peer.close()
    run(loop, main())


# ---- tracers see the Python methods ----

class PythonCalls:
    """The names of the Python functions called inside the block (those of
    asyncio/streams.py as 'streams.NAME'), seen by a profiler (or by a
    tracer, with settrace=True)."""

    def __init__(self, settrace=False):
        self.settrace = settrace

    def __enter__(self):
        self.names = set()
        if self.settrace:
            sys.settrace(self._trace)
        else:
            sys.setprofile(self._prof)
        return self.names

    def _prof(self, frame, event, arg):
        if event == 'call':
            code = frame.f_code
            streams = code.co_filename.endswith(
                os.path.join('asyncio', 'streams.py'))
            self.names.add(('streams.' if streams else '') + code.co_name)

    def _trace(self, frame, event, arg):
        self._prof(frame, event, arg)
        return None

    def __exit__(self, *exc):
        sys.settrace(None)
        sys.setprofile(None)


FED_IN_PYTHON = {'streams.data_received', 'streams.feed_data',
                 'streams._wakeup_waiter'}


@pytest.mark.parametrize('settrace', [False, True],
                         ids=['setprofile', 'settrace'])
def test_tracers_see_the_python_methods(loop, settrace):
    async def main():
        reader, proto, tr, peer = await reader_pair(loop)
        with PythonCalls(settrace) as names:
            task = asyncio.ensure_future(reader.readexactly(4))
            await asyncio.sleep(0)
            peer.sendall(b'seen')
            assert await task == b'seen'
        tr.close()
        peer.close()
        assert FED_IN_PYTHON <= names
    run(loop, main())


@pytest.mark.skipif(sys.version_info < (3, 12),
                    reason='sys.monitoring is new in 3.12')
def test_monitoring_tool_sees_the_python_methods(loop):
    """A sys.monitoring tool (3.12+) sees asyncio's own data_received and
    feed_data run for each chunk, on either loop."""
    mon = sys.monitoring
    tool = mon.PROFILER_ID
    codes = {asyncio.StreamReaderProtocol.data_received.__code__: 'dr',
             asyncio.StreamReader.feed_data.__code__: 'fd'}
    seen = []

    def on_start(code, offset):
        name = codes.get(code)
        if name is not None:
            seen.append(name)

    async def main():
        reader, proto, tr, peer = await reader_pair(loop)
        mon.use_tool_id(tool, 'casyncio-test')
        try:
            mon.register_callback(tool, mon.events.PY_START, on_start)
            mon.set_events(tool, mon.events.PY_START)
            for chunk in (b'one', b'two'):
                peer.sendall(chunk)
                assert await reader.readexactly(len(chunk)) == chunk
        finally:
            mon.set_events(tool, 0)
            mon.register_callback(tool, mon.events.PY_START, None)
            mon.free_tool_id(tool)
        tr.close()
        peer.close()
        assert seen == ['dr', 'fd', 'dr', 'fd']
    run(loop, main())


@pytest.mark.skipif(sys.version_info < (3, 12),
                    reason='sys.monitoring is new in 3.12')
@pytest.mark.parametrize('event', ['LINE', 'PY_START', 'RAISE'])
def test_monitoring_local_events_see_the_python_methods(loop, event):
    """Local events set on feed_data's code alone (a debugger's
    breakpoint): the tool sees it run for each chunk, on either loop, and
    once they are cleared reads are fed as before.  casyncio finds them
    in the code object's monitoring data (a private layout from 3.14: this
    is its check on each version).  RAISE is a local event from 3.15
    on (before, set_local_events refuses it)."""
    mon = sys.monitoring
    tool = mon.PROFILER_ID
    code = asyncio.StreamReader.feed_data.__code__
    ev = getattr(mon.events, event)
    seen = []

    async def main():
        reader, proto, tr, peer = await reader_pair(loop)
        mon.use_tool_id(tool, 'casyncio-test')
        try:
            mon.register_callback(tool, ev, lambda *a: seen.append(a[0]))
            try:
                mon.set_local_events(tool, code, ev)
            except ValueError:
                assert event == 'RAISE' and sys.version_info < (3, 15)
                return
            for chunk in (b'one', b'two'):
                peer.sendall(chunk)
                assert await reader.readexactly(len(chunk)) == chunk
            if event != 'RAISE':    # feed_data raises nothing here
                assert len(seen) >= 2
            before = streams_fed() if loop_is_ours(loop) else 0
            # the generic path was taken: the counter did not move
            peer.sendall(b'three')
            assert await reader.readexactly(5) == b'three'
            if loop_is_ours(loop):
                assert streams_fed() == before
        finally:
            mon.set_local_events(tool, code, 0)
            mon.register_callback(tool, ev, None)
            mon.free_tool_id(tool)
        before = streams_fed() if loop_is_ours(loop) else 0
        peer.sendall(b'four')
        assert await reader.readexactly(4) == b'four'
        if loop_is_ours(loop):
            assert streams_fed() - before == 1
        tr.close()
        peer.close()
    run(loop, main())


def loop_is_ours(loop):
    import casyncio
    return isinstance(loop, casyncio.Loop)


# ---- casyncio: the C path is the one taken ----

def streams_fed():
    from casyncio import _core
    return _core._path_counts()['streams_fed']


def test_c_path_taken(cloop):
    async def main():
        reader, proto, tr, peer = await reader_pair(cloop)
        before = streams_fed()
        for chunk in (b'one', b'two', b'three'):
            peer.sendall(chunk)
            assert await reader.readexactly(len(chunk)) == chunk
        assert streams_fed() - before == 3
        # a patched method: the Python path, not counted
        with mock.patch.object(reader, 'feed_data', reader.feed_data):
            peer.sendall(b'four')
            assert await reader.readexactly(4) == b'four'
        assert streams_fed() - before == 3
        tr.close()
        peer.close()
    run(cloop, main())


def test_c_path_taken_over_tls(cloop, server_ctx, client_ctx):
    from casyncio import _core

    async def handle(r, w):
        w.write(await r.readexactly(3))
        await w.drain()

    async def main():
        srv = await asyncio.start_server(handle, HOST, 0, ssl=server_ctx)
        port = srv.sockets[0].getsockname()[1]
        r, w = await asyncio.open_connection(HOST, port, ssl=client_ctx,
                                             server_hostname='localhost')
        before = _core._path_counts()
        w.write(b'tls')
        assert await r.readexactly(3) == b'tls'
        after = _core._path_counts()
        # server and client, each decrypted straight into the reader's
        # buffer (a small read: never copy.h's slow band)
        fed = after['streams_fed'] - before['streams_fed']
        direct = after['streams_direct'] - before['streams_direct']
        assert fed == 2
        assert direct == 2
        w.close()
        await w.wait_closed()
        srv.close()
        await srv.wait_closed()
    run(cloop, main())


def test_tls_msg_callback_changing_the_reader(loop, server_ctx,
                                              client_ctx):
    """An SSLContext message callback (Python code OpenSSL runs while it
    decrypts) that empties the reader's buffer: no crash on either loop.
    asyncio decrypts into a new object, so the callback may clear the
    buffer; casyncio decrypts into the buffer itself and
    holds an export meanwhile, so the callback's clear() fails there with
    BufferError instead of freeing the memory OpenSSL writes into."""
    seen = []

    def cb(conn, direction, version, content_type, msg_type, data):
        if direction == 'read' and reader is not None:
            try:
                reader._buffer.clear()
                seen.append('cleared')
            except BufferError:
                seen.append('refused')
    reader = None
    client_ctx._msg_callback = cb
    payload = os.urandom(512 * 1024)

    async def handle(r, w):
        w.write(payload)
        await w.drain()
        w.close()

    async def main():
        nonlocal reader
        srv = await asyncio.start_server(handle, HOST, 0, ssl=server_ctx)
        port = srv.sockets[0].getsockname()[1]
        r, w = await asyncio.open_connection(HOST, port, ssl=client_ctx,
                                             server_hostname='localhost')
        reader = r
        got = bytearray()
        while chunk := await r.read(1 << 20):
            got += chunk
        w.close()
        srv.close()
        await srv.wait_closed()
        return got
    got = run(loop, main())
    assert seen
    assert isinstance(got, bytearray) and len(got) <= len(payload)
    if type(loop).__module__.startswith('casyncio'):
        assert 'refused' in seen        # the buffer was exported


def test_tls_bulk_reads_keep_every_byte(loop, server_ctx, client_ctx):
    """Megabytes over TLS in writes of odd sizes, read with odd sizes: the
    reader gets every byte in order (casyncio decrypts into one object
    per read, sized from what OpenSSL and the BIO hold, grown when OpenSSL
    had more than it could tell, and feeds the reader in C)."""
    payload = os.urandom(3 * 1024 * 1024 + 4321)
    sizes = [1, 70_000, 16_385, 1_000_000, 3]

    async def handle(r, w):
        i = k = 0
        while i < len(payload):
            n = sizes[k % len(sizes)]
            w.write(payload[i:i + n])
            i += n
            k += 1
        await w.drain()
        w.close()

    async def main():
        srv = await asyncio.start_server(handle, HOST, 0, ssl=server_ctx)
        port = srv.sockets[0].getsockname()[1]
        r, w = await asyncio.open_connection(HOST, port, ssl=client_ctx,
                                             server_hostname='localhost')
        got = bytearray()
        k = 0
        while chunk := await r.read((37, 1 << 20, 5000)[k % 3]):
            got += chunk
            k += 1
        assert got == payload
        w.close()
        srv.close()
        await srv.wait_closed()
    run(loop, main())


def test_tls_sslobject_returning_bytearray(loop, server_ctx, client_ctx):
    """SSLContext.sslobject_class whose read() returns a bytearray: the
    reader gets the same bytes as on asyncio."""
    import ssl

    class ByteArrayReads(ssl.SSLObject):
        def read(self, *args):
            r = super().read(*args)
            return bytearray(r) if isinstance(r, bytes) else r

    client_ctx.sslobject_class = ByteArrayReads
    payload = b'forty bytes of payload over tls, really'

    async def handle(r, w):
        w.write(payload)
        await w.drain()
        w.close()

    async def main():
        srv = await asyncio.start_server(handle, HOST, 0, ssl=server_ctx)
        port = srv.sockets[0].getsockname()[1]
        r, w = await asyncio.open_connection(HOST, port, ssl=client_ctx,
                                             server_hostname='localhost')
        assert await r.readexactly(len(payload)) == payload
        w.close()
        srv.close()
        await srv.wait_closed()
    run(loop, main())


def test_waiter_methods_patched_on_the_instance(loop):
    """_wakeup_waiter calls waiter.cancelled() and waiter.set_result():
    instance attributes on the loop's own future replace them, as on
    stock asyncio's."""
    async def main():
        reader, proto, tr, peer = await reader_pair(loop)
        task = asyncio.ensure_future(reader.read(10))
        await until(lambda: reader._waiter is not None)
        waiter = reader._waiter
        calls = []
        waiter.cancelled = lambda: calls.append('cancelled') or False
        waiter.set_result = lambda v: calls.append(('set_result', v))
        await sent(peer, reader, b'hi', 2)
        await asyncio.sleep(0.01)
        assert calls == ['cancelled', ('set_result', None)]
        assert not waiter.done() and not task.done()
        task.cancel()
        tr.close()
        peer.close()
    run(loop, main())


def test_feed_data_globals_are_looked_up(loop, monkeypatch):
    """feed_data's `len` and `NotImplementedError` are global names of
    asyncio.streams: rebinding them there changes what it does."""
    import asyncio.streams as streams

    class Boom(Exception):
        pass

    async def main():
        monkeypatch.setattr(streams, 'len', lambda b: 10 ** 9,
                            raising=False)
        reader, proto, tr, peer = await reader_pair(loop)
        await sent(peer, reader, b'x', 1)
        assert reader._paused and not tr.is_reading()
        tr.close()
        peer.close()
        monkeypatch.delattr(streams, 'len')

        monkeypatch.setattr(streams, 'NotImplementedError', Boom,
                            raising=False)
        reader, proto, tr, peer = await reader_pair(loop, limit=1)

        def no_pause():
            raise Boom('no pause')
        tr.pause_reading = no_pause
        await sent(peer, reader, b'xyz', 3)
        assert reader._transport is None and not tr.is_closing()
        tr.close()
        peer.close()
    run(loop, main())


# ---- no Python code between the recv() and the copy ----

def test_hash_colliding_key_cannot_corrupt_another_read(loop):
    """A key in the reader's __dict__ whose hash collides with '_eof' runs
    Python code (its __eq__) when the attribute is looked up: here that
    code makes a second transport read.  Each reader still gets its own
    bytes (the lookups come before the recv() into the shared buffer)."""
    hook = {}

    async def main():
        r1, p1, t1, peer1 = await reader_pair(loop)
        r2, p2, t2, peer2 = await reader_pair(loop)

        class Evil:
            def __hash__(self):
                return hash('_eof')

            def __eq__(self, other):
                if not hook.get('done'):
                    hook['done'] = True
                    peer2.sendall(b'BBBBB')
                    t2._read_ready()
                return False
        d = r1.__dict__
        del r1._eof
        hook['done'] = True
        d[Evil()] = 1           # takes _eof's slot in the probe sequence
        r1._eof = False
        hook.clear()
        peer1.sendall(b'AAAAA')
        await until(lambda: len(r1._buffer) and len(r2._buffer))
        assert (bytes(r1._buffer), bytes(r2._buffer)) == (b'AAAAA',
                                                          b'BBBBB')
        for t in (t1, t2):
            t.close()
        peer1.close()
        peer2.close()
    run(loop, main())


def test_class_attribute_turned_descriptor(loop):
    """A class attribute of an instance attribute's name whose type later
    gains __get__ (the class's version tag does not change): the attribute
    read runs Python code; each reader still gets its own bytes."""
    hook = {}

    class D:
        pass

    async def main():
        r1, p1, t1, peer1 = await reader_pair(loop)
        r2, p2, t2, peer2 = await reader_pair(loop)
        peer1.sendall(b'warm')
        await until(lambda: len(r1._buffer))
        r1._buffer.clear()

        def get(self, obj, tp=None):
            if obj is r1 and not hook.get('done'):
                hook['done'] = True
                peer2.sendall(b'BBBBB')
                t2._read_ready()
            return obj.__dict__.get('_eof', False) if obj is not None \
                else self

        def set_(self, obj, v):
            obj.__dict__['_eof'] = v
        D.__get__ = get
        D.__set__ = set_
        peer1.sendall(b'AAAAA')
        await until(lambda: len(r1._buffer) and len(r2._buffer))
        assert (bytes(r1._buffer), bytes(r2._buffer)) == (b'AAAAA',
                                                          b'BBBBB')
        for t in (t1, t2):
            t.close()
        peer1.close()
        peer2.close()

    with mock.patch.object(asyncio.StreamReader, '_eof', D(), create=True):
        run(loop, main())


# ---- patches the class check must see ----

def test_class_getattribute_is_honoured(loop):
    """A __getattribute__ on the class runs Python code on every attribute
    read: the generic path, which calls it."""
    seen = []
    orig = object.__getattribute__

    def getattribute(self, name):
        if name == 'feed_data':
            seen.append(name)
        return orig(self, name)

    async def main():
        reader, proto, tr, peer = await reader_pair(loop)
        with mock.patch.object(asyncio.StreamReader, '__getattribute__',
                               getattribute, create=True):
            peer.sendall(b'attr')
            assert await reader.readexactly(4) == b'attr'
        assert seen
        tr.close()
        peer.close()
    run(loop, main())


def _feed_data_recording(self, data):
    # runs with asyncio.streams' globals: records on the reader
    self.__dict__.setdefault('seen_by_test', []).append(bytes(data))
    self._buffer.extend(data)
    self._wakeup_waiter()


def test_code_replaced_in_place(loop):
    feed_data = _feed_data_recording
    func = asyncio.StreamReader.feed_data
    saved = func.__code__

    async def main():
        reader, proto, tr, peer = await reader_pair(loop)
        func.__code__ = feed_data.__code__
        try:
            peer.sendall(b'code')
            assert await reader.readexactly(4) == b'code'
        finally:
            func.__code__ = saved
        assert reader.seen_by_test == [b'code']
        tr.close()
        peer.close()
    run(loop, main())


@pytest.mark.skipif(sys.version_info >= (3, 12), reason='3.11 only: '
                    "3.12+'s specializing interpreter keeps the old getter "
                    'in its inline cache on either loop')
def test_property_getter_replaced_in_place(loop):
    prop = asyncio.StreamReaderProtocol._stream_reader
    orig = prop.fget
    seen = []

    def getter(self):
        seen.append('called')
        return orig(self)

    async def main():
        reader, proto, tr, peer = await reader_pair(loop)
        prop.__init__(getter)
        try:
            peer.sendall(b'prop')
            assert await reader.readexactly(4) == b'prop'
        finally:
            prop.__init__(orig)
        assert seen
        tr.close()
        peer.close()
    run(loop, main())


def test_transport_read_again_before_pausing(loop):
    """feed_data reads self._transport twice; what `2 * self._limit` does
    in between decides which transport is paused."""
    paused = []

    class Other:
        def pause_reading(self):
            paused.append('other')

    async def main():
        reader, proto, tr, peer = await reader_pair(loop)

        class Limit(int):
            def __rmul__(self, other):
                reader._transport = Other()
                return 0
        reader._limit = Limit(1)
        peer.sendall(b'x')
        await until(lambda: paused)
        assert paused == ['other'] and reader._paused
        assert tr.is_reading()
        tr.close()
        peer.close()
    run(loop, main())


@pytest.mark.parametrize('wrapper', ['plain', 'functools.wraps'])
def test_class_patched_before_import(wrapper):
    """A StreamReader.feed_data replaced before casyncio was imported is
    not asyncio's: the C path never replaces it, even when the wrapper
    copies the original's names (functools.wraps, as tracing agents do)."""
    code = textwrap.dedent('''
        import asyncio, functools, socket
        seen = []
        orig = asyncio.StreamReader.feed_data
        def feed_data(self, data):
            seen.append(bytes(data))
            orig(self, data)
        if WRAPS:
            feed_data = functools.wraps(orig)(feed_data)
        asyncio.StreamReader.feed_data = feed_data
        import casyncio

        async def main():
            a, b = socket.socketpair()
            r, w = await asyncio.open_connection(sock=a)
            b.sendall(b'patched')
            assert await r.readexactly(7) == b'patched'
            w.close()
            b.close()
        casyncio.run(main())
        print(seen)
    ''').replace('WRAPS', str(wrapper != 'plain'))
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    p = subprocess.run([sys.executable, '-c', code], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[b'patched']"
