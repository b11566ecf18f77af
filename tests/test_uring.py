"""casyncio's io_uring receive path (CASYNCIO_IO_URING=1, src/uring.c).

The `loop` tests run on stock asyncio, casyncio (epoll) and casyncio on
io_uring (conftest.URING_MODULES), and assert stock asyncio's answer: what
a protocol sees when data comes while reading is paused, EOF after data, a
BufferedProtocol whose buffer is smaller than what came, closing and
aborting with the multishot recv in flight, a loop closed under a paused
transport.  The others check that the switch does what it says: the ring
path is taken when on (the counters of _core._path_counts()), not when
off, and a child after fork() does not use its parent's ring."""
import asyncio
import gc
import os
import socket
import subprocess
import sys
import warnings

import pytest

import casyncio
from casyncio import _core
from conftest import PACKAGE_PARENT, new_uring_loop
from test_tcp import HOST, nfds


def counts():
    return _core._path_counts()


class Collect(asyncio.Protocol):
    """Records what it is told; pauses reading after the first data when
    asked to."""

    def __init__(self, loop, pause_first=False):
        self.loop = loop
        self.pause_first = pause_first
        self.events = []
        self.data = bytearray()
        self.transport = None
        self.got = loop.create_future()
        self.lost = loop.create_future()
        self.want = None

    def connection_made(self, transport):
        self.transport = transport
        self.events.append('made')

    def data_received(self, data):
        if not self.events or self.events[-1] != 'data':
            self.events.append('data')
        self.data += data
        if self.pause_first:
            self.pause_first = False
            self.transport.pause_reading()
            self.events.append('paused')
        if self.want is not None and len(self.data) >= self.want \
                and not self.got.done():
            self.got.set_result(None)

    def eof_received(self):
        self.events.append('eof')
        if not self.got.done():
            self.got.set_result(None)

    def connection_lost(self, exc):
        self.events.append(('lost', type(exc).__name__ if exc else None))
        if not self.lost.done():
            self.lost.set_result(exc)


async def accepted(loop, proto_factory):
    """A listening socket and the server protocol of its first client."""
    made = loop.create_future()

    def factory():
        p = proto_factory()
        if not made.done():
            made.set_result(p)
        return p
    srv = await loop.create_server(factory, HOST, 0)
    port = srv.sockets[0].getsockname()[1]
    return srv, port, made


def test_paused_transport_keeps_what_came_in_order(loop):
    """Data that came while reading was paused is delivered, in order and
    whole, after resume_reading(), and nothing before it."""
    payload = bytes(range(256)) * 4096      # 1 MiB

    async def main():
        srv, port, made = await accepted(
            loop, lambda: Collect(loop, pause_first=True))
        r, w = await asyncio.open_connection(HOST, port)
        w.write(payload[:100])
        proto = await made
        while not proto.data:
            await asyncio.sleep(0.001)
        w.write(payload[100:])
        await asyncio.sleep(0.1)
        assert proto.events == ['made', 'data', 'paused']
        assert len(proto.data) == 100
        assert not proto.transport.is_reading()
        proto.want = len(payload)
        proto.transport.resume_reading()
        await asyncio.wait_for(proto.got, 10)
        assert bytes(proto.data) == payload
        w.close()
        await w.wait_closed()
        await asyncio.wait_for(proto.lost, 10)
        srv.close()
        await srv.wait_closed()
        return proto.events

    events = loop.run_until_complete(main())
    assert events == ['made', 'data', 'paused', 'data', 'eof',
                      ('lost', None)]


def test_eof_after_data(loop):
    async def main():
        srv, port, made = await accepted(loop, lambda: Collect(loop))
        r, w = await asyncio.open_connection(HOST, port)
        w.write(b'x' * 5000)
        w.write_eof()
        proto = await made
        await asyncio.wait_for(proto.lost, 10)
        w.close()
        srv.close()
        await srv.wait_closed()
        return proto

    proto = loop.run_until_complete(main())
    assert bytes(proto.data) == b'x' * 5000
    assert proto.events == ['made', 'data', 'eof', ('lost', None)]


class SmallBuffer(asyncio.BufferedProtocol):
    def __init__(self, loop, size):
        self.buf = bytearray(size)
        self.data = bytearray()
        self.events = []
        self.lost = loop.create_future()

    def connection_made(self, transport):
        self.events.append('made')

    def get_buffer(self, sizehint):
        return self.buf

    def buffer_updated(self, nbytes):
        self.data += self.buf[:nbytes]

    def eof_received(self):
        self.events.append('eof')

    def connection_lost(self, exc):
        self.events.append('lost')
        self.lost.set_result(exc)


def test_buffered_protocol_smaller_buffer(loop):
    """A BufferedProtocol whose buffer is smaller than what came gets it
    all, in order, a buffer at a time."""
    payload = os.urandom(300_000)

    async def main():
        srv, port, made = await accepted(loop,
                                         lambda: SmallBuffer(loop, 1000))
        r, w = await asyncio.open_connection(HOST, port)
        w.write(payload)
        w.write_eof()
        await w.drain()
        proto = await made
        await asyncio.wait_for(proto.lost, 10)
        w.close()
        srv.close()
        await srv.wait_closed()
        return proto

    proto = loop.run_until_complete(main())
    assert bytes(proto.data) == payload
    assert proto.events == ['made', 'eof', 'lost']


@pytest.mark.parametrize('how', ['close', 'abort'])
def test_close_with_recv_in_flight(loop, how):
    """Server transports closed or aborted while their reads wait (on
    io_uring: a multishot recv in the kernel): each client sees the
    connection end, connection_lost comes once, and no fd is left open."""
    async def main():
        protos = []
        srv = await loop.create_server(
            lambda: protos.append(Collect(loop)) or protos[-1], HOST, 0)
        port = srv.sockets[0].getsockname()[1]
        clients = [await asyncio.open_connection(HOST, port)
                   for _ in range(20)]
        while len(protos) < 20 or not all(p.transport for p in protos):
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.01)
        for p in protos:
            getattr(p.transport, how)()
        for r, w in clients:
            assert await asyncio.wait_for(r.read(), 10) == b''
            w.close()
        await asyncio.gather(*(p.lost for p in protos))
        srv.close()
        await srv.wait_closed()
        return protos

    gc.collect()
    before = nfds()
    protos = loop.run_until_complete(main())
    assert all(p.events == ['made', ('lost', None)] for p in protos)
    del protos
    gc.collect()
    assert nfds() == before


def test_loop_closed_under_paused_transport(loop):
    """A loop closed while a transport that is paused holds received bytes
    (on io_uring: queued buffers of the ring, unmapped with the ring): no
    crash when the transport goes later, its socket closed then."""
    a, b = socket.socketpair()

    async def main():
        proto = Collect(loop, pause_first=True)
        tr, _ = await loop.connect_accepted_socket(lambda: proto, a)
        b.sendall(b'first')
        while not proto.data:
            await asyncio.sleep(0.001)
        b.sendall(b'then more')
        await asyncio.sleep(0.05)
        return proto

    proto = loop.run_until_complete(main())
    assert bytes(proto.data) == b'first'
    assert not proto.transport.is_reading()
    loop.close()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ResourceWarning)   # unclosed
        del proto
        gc.collect()
    assert a.fileno() == -1         # closed by the transport's __del__
    b.settimeout(5)
    with pytest.raises(ConnectionResetError):
        b.recv(100)         # closed with 'then more' unread: a reset
    b.close()


# ---- the switch ----

def echo_round_trips(lp, n, size=1000):
    async def main():
        class Echo(asyncio.Protocol):
            def connection_made(self, tr):
                self.tr = tr

            def data_received(self, data):
                self.tr.write(data)

        srv = await lp.create_server(Echo, HOST, 0)
        r, w = await asyncio.open_connection(
            HOST, srv.sockets[0].getsockname()[1])
        for i in range(n):
            msg = bytes([i % 256]) * size
            w.write(msg)
            assert await r.readexactly(size) == msg
        w.close()
        await w.wait_closed()
        srv.close()
        await srv.wait_closed()
    lp.run_until_complete(main())


def test_switch_on_takes_the_ring():
    c0 = counts()
    lp = new_uring_loop()
    try:
        assert lp._io_uring
        echo_round_trips(lp, 50)
    finally:
        lp.close()
    c1 = counts()
    assert c1['uring_rings'] == c0['uring_rings'] + 1
    # both ends are on the loop: 50 messages each way
    assert c1['uring_recvs'] - c0['uring_recvs'] >= 100


def test_switch_off_stays_on_epoll(monkeypatch):
    monkeypatch.delenv('CASYNCIO_IO_URING', raising=False)
    c0 = counts()
    lp = casyncio.new_event_loop()
    try:
        assert not lp._io_uring
        echo_round_trips(lp, 20)
    finally:
        lp.close()
    c1 = counts()
    assert c1['uring_rings'] == c0['uring_rings']
    assert c1['uring_recvs'] == c0['uring_recvs']


@pytest.mark.parametrize('value', ['0', '', 'yes'])
def test_switch_takes_only_1(monkeypatch, value):
    monkeypatch.setenv('CASYNCIO_IO_URING', value)
    lp = casyncio.new_event_loop()
    try:
        assert not lp._io_uring
    finally:
        lp.close()


FORK_SCRIPT = r"""
import asyncio, os, socket, sys
sys.path[:0] = sys.argv[1:]
from conftest import PACKAGE_PARENT, new_uring_loop
from test_uring import Collect, echo_round_trips

lp = new_uring_loop()
echo_round_trips(lp, 5)
a, b = socket.socketpair()


async def start():
    return await lp.connect_accepted_socket(lambda: Collect(lp), a)
tr, proto = lp.run_until_complete(start())
lp.run_until_complete(asyncio.sleep(0.01))
pid = os.fork()
if pid == 0:    # the child
    code = 1
    try:
        lp.close()
        child = new_uring_loop()
        echo_round_trips(child, 5)
        child.close()
        code = 0
    finally:
        os._exit(code)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
proto.want = 4
b.sendall(b'ping')
lp.run_until_complete(asyncio.wait_for(proto.got, 10))
assert bytes(proto.data) == b'ping'
tr.close()
b.close()
lp.run_until_complete(asyncio.sleep(0.01))
echo_round_trips(lp, 5)
lp.close()
print('ok')
"""


def test_fork_child_does_not_use_parents_ring():
    """A child forked while the loop has a ring and a reading transport:
    it closes its copy of the loop and makes its own, without touching the
    parent's ring; the parent goes on.  In a fresh single-threaded
    process (fork() with threads is not safe)."""
    new_uring_loop().close()        # skipped where io_uring is refused
    here = os.path.dirname(os.path.abspath(__file__))
    p = subprocess.run([sys.executable, '-c', FORK_SCRIPT, here,
                        PACKAGE_PARENT], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == 'ok', p.stderr
