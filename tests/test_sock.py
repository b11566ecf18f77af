"""loop.sock_*(), getaddrinfo()/getnameinfo() and sock_sendfile(): each
test body runs on stock asyncio and on casyncio (the `loop` fixture).
Loopback only: socketpair() and 127.0.0.1."""
import asyncio
import errno
import gc
import os
import socket
import tempfile

import pytest


def nb_pair():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    return a, b


def nb_tcp_pair():
    lsn = socket.socket()
    lsn.bind(('127.0.0.1', 0))
    lsn.listen(1)
    c = socket.create_connection(lsn.getsockname())
    s, _ = lsn.accept()
    lsn.close()
    c.setblocking(False)
    s.setblocking(False)
    return c, s


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    addr = s.getsockname()
    s.close()
    return addr


def run(loop, coro):
    return loop.run_until_complete(asyncio.wait_for(coro, 10))


# ---- recv / send ----

def test_recv_ready_data(loop):
    a, b = nb_pair()
    with a, b:
        b.send(b'abc')

        async def main():
            return await loop.sock_recv(a, 10)
        assert run(loop, main()) == b'abc'


def test_recv_would_block_then_data(loop):
    a, b = nb_pair()
    with a, b:
        async def main():
            t = loop.create_task(loop.sock_recv(a, 10))
            await asyncio.sleep(0.01)
            assert not t.done()
            await loop.sock_sendall(b, b'later')
            return await t
        assert run(loop, main()) == b'later'
        # The watcher is gone once the future completed.
        assert loop.remove_reader(a.fileno()) is False


@pytest.mark.parametrize('size', [1, 65536, 8 * 1024 * 1024])
def test_sendall_recv_sizes(loop, size):
    a, b = nb_tcp_pair()
    data = os.urandom(1024) * (size // 1024) + b'z' * (size % 1024)
    with a, b:
        async def main():
            sender = loop.create_task(loop.sock_sendall(a, data))
            got = bytearray()
            while len(got) < len(data):
                chunk = await loop.sock_recv(b, 1 << 20)
                assert chunk
                got += chunk
            assert await sender is None
            return bytes(got)
        assert run(loop, main()) == data
        assert loop.remove_writer(a.fileno()) is False


def test_sendall_memoryview_and_bytearray(loop):
    a, b = nb_pair()
    with a, b:
        async def main():
            await loop.sock_sendall(a, memoryview(b'0123456789')[2:5])
            await loop.sock_sendall(a, bytearray(b'xy'))
            await asyncio.sleep(0)
            return await loop.sock_recv(b, 100)
        assert run(loop, main()) == b'234xy'


def test_recv_into(loop):
    a, b = nb_pair()
    with a, b:
        async def main():
            buf = bytearray(8)
            t = loop.create_task(loop.sock_recv_into(a, buf))
            await asyncio.sleep(0)
            b.send(b'hello')
            n = await t
            return n, bytes(buf[:n])
        assert run(loop, main()) == (5, b'hello')


def test_recv_into_readonly_buffer(loop):
    a, b = nb_pair()
    with a, b:
        b.send(b'x')
        with pytest.raises(TypeError):
            run(loop, loop.sock_recv_into(a, b'readonly'))


def test_recv_bad_size(loop):
    a, b = nb_pair()
    with a, b:
        with pytest.raises(ValueError, match='negative buffersize'):
            run(loop, loop.sock_recv(a, -1))
        with pytest.raises(TypeError):
            run(loop, loop.sock_recv(a, 1.5))


def test_peer_closed(loop):
    a, b = nb_pair()
    with a:
        async def main():
            t = loop.create_task(loop.sock_recv(a, 10))
            await asyncio.sleep(0)
            b.close()
            return await t
        assert run(loop, main()) == b''


def test_send_to_closed_peer(loop):
    a, b = nb_pair()
    with a:
        b.close()
        with pytest.raises(BrokenPipeError):
            run(loop, loop.sock_sendall(a, b'x' * 100))


def test_closed_socket_error(loop):
    a, b = nb_pair()
    b.close()
    a.close()
    with pytest.raises(OSError) as info:
        run(loop, loop.sock_recv(a, 10))
    assert info.value.errno == errno.EBADF


def test_cancel_pending_recv_removes_reader(loop):
    a, b = nb_pair()
    with a, b:
        async def main():
            t = loop.create_task(loop.sock_recv(a, 10))
            await asyncio.sleep(0)
            t.cancel()
            with pytest.raises(asyncio.CancelledError):
                await t
            await asyncio.sleep(0)
            # The reader was removed: a new one can be added and the data
            # sent now goes to a new sock_recv.
            assert loop.remove_reader(a.fileno()) is False
            b.send(b'after')
            return await loop.sock_recv(a, 10)
        assert run(loop, main()) == b'after'


def test_cancel_pending_sendall_removes_writer(loop):
    a, b = nb_pair()
    with a, b:
        async def main():
            t = loop.create_task(loop.sock_sendall(a, b'x' * (16 << 20)))
            await asyncio.sleep(0.01)
            assert not t.done()
            t.cancel()
            with pytest.raises(asyncio.CancelledError):
                await t
            await asyncio.sleep(0)
            assert loop.remove_writer(a.fileno()) is False
        run(loop, main())


def test_remove_reader_leaves_future_pending(loop):
    a, b = nb_pair()
    with a, b:
        async def main():
            t = loop.create_task(loop.sock_recv(a, 10))
            await asyncio.sleep(0)
            assert loop.remove_reader(a.fileno()) is True
            b.send(b'x')
            await asyncio.sleep(0.02)
            assert not t.done()
            t.cancel()
            with pytest.raises(asyncio.CancelledError):
                await t
        run(loop, main())


def test_sock_recv_is_a_coroutine(loop):
    a, b = nb_pair()
    with a, b:
        b.send(b'q')
        coro = loop.sock_recv(a, 1)
        assert asyncio.iscoroutine(coro)
        # Nothing is read before the coroutine runs.
        assert a.recv(1) == b'q'
        coro.close()


def test_socket_like_object(loop):
    """Not an exact socket.socket: its Python methods are used."""
    a, b = nb_pair()

    class Wrapped(socket.socket):
        calls = 0

        def recv(self, n):
            Wrapped.calls += 1
            return super().recv(n)

    w = Wrapped(fileno=a.detach())
    w.setblocking(False)
    with w, b:
        async def main():
            t = loop.create_task(loop.sock_recv(w, 10))
            await asyncio.sleep(0)
            b.send(b'wrapped')
            return await t
        assert run(loop, main()) == b'wrapped'
        assert Wrapped.calls == 2


# ---- checks ----

def test_blocking_socket_refused_in_debug(loop):
    loop.set_debug(True)
    s = socket.socket()
    with s:
        for coro in (loop.sock_recv(s, 1),
                     loop.sock_recv_into(s, bytearray(1)),
                     loop.sock_sendall(s, b'x'), loop.sock_accept(s),
                     loop.sock_connect(s, ('127.0.0.1', 1)),
                     loop.sock_recvfrom(s, 1), loop.sock_sendto(
                         s, b'x', ('127.0.0.1', 1))):
            with pytest.raises(ValueError,
                               match='the socket must be non-blocking'):
                run(loop, coro)


def test_ssl_socket_refused(loop):
    ssl = pytest.importorskip('ssl')
    ctx = ssl.create_default_context()
    s = ctx.wrap_socket(socket.socket(), server_hostname='localhost',
                        do_handshake_on_connect=False)
    with s:
        with pytest.raises(TypeError, match='SSLSocket'):
            run(loop, loop.sock_recv(s, 1))
        with pytest.raises(TypeError, match='SSLSocket'):
            run(loop, loop.sock_sendall(s, b'x'))


def test_socket_with_timeout_outside_debug(loop):
    """Not in debug mode, a socket with a timeout is used as is: its own
    recv() waits and raises TimeoutError, as in asyncio."""
    a, b = socket.socketpair()
    a.settimeout(0.02)
    with a, b:
        with pytest.raises(TimeoutError):
            run(loop, loop.sock_recv(a, 1))
        b.send(b'ok')
        assert run(loop, loop.sock_recv(a, 10)) == b'ok'


# ---- connect / accept ----

def test_connect_accept(loop):
    lsn = socket.socket()
    lsn.bind(('127.0.0.1', 0))
    lsn.listen(1)
    lsn.setblocking(False)
    c = socket.socket()
    c.setblocking(False)
    with lsn, c:
        async def main():
            acc = loop.create_task(loop.sock_accept(lsn))
            await asyncio.sleep(0)
            await loop.sock_connect(c, lsn.getsockname())
            conn, addr = await acc
            with conn:
                assert conn.gettimeout() == 0
                assert addr == c.getsockname()
                await loop.sock_sendall(conn, b'hi')
                return await loop.sock_recv(c, 10)
        assert run(loop, main()) == b'hi'


def test_connect_refused(loop):
    addr = free_port()
    c = socket.socket()
    c.setblocking(False)
    with c:
        with pytest.raises(ConnectionRefusedError) as info:
            run(loop, loop.sock_connect(c, addr))
    assert info.value.errno == errno.ECONNREFUSED


def test_connect_resolves_localhost(loop):
    lsn = socket.socket()
    lsn.bind(('127.0.0.1', 0))
    lsn.listen(1)
    c = socket.socket()
    c.setblocking(False)
    with lsn, c:
        run(loop, loop.sock_connect(c, ('localhost', lsn.getsockname()[1])))
        assert c.getpeername() == lsn.getsockname()


def test_cancel_accept_removes_reader(loop):
    lsn = socket.socket()
    lsn.bind(('127.0.0.1', 0))
    lsn.listen(1)
    lsn.setblocking(False)
    with lsn:
        with pytest.raises(asyncio.TimeoutError):
            loop.run_until_complete(
                asyncio.wait_for(loop.sock_accept(lsn), 0.01))
        loop.run_until_complete(asyncio.sleep(0))
        assert loop.remove_reader(lsn.fileno()) is False


# ---- UDP ----

def test_udp_sendto_recvfrom(loop):
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r.bind(('127.0.0.1', 0))
    s.bind(('127.0.0.1', 0))
    r.setblocking(False)
    s.setblocking(False)
    with r, s:
        async def main():
            t = loop.create_task(loop.sock_recvfrom(r, 100))
            await asyncio.sleep(0)
            assert await loop.sock_sendto(s, b'dgram', r.getsockname()) == 5
            data, addr = await t
            assert addr == s.getsockname()
            buf = bytearray(10)
            t = loop.create_task(loop.sock_recvfrom_into(r, buf))
            await asyncio.sleep(0)
            await loop.sock_sendto(s, b'second', r.getsockname())
            n, addr = await t
            return data, bytes(buf[:n])
        assert run(loop, main()) == (b'dgram', b'second')


# ---- sendfile ----

def _file(tmp_path, data):
    p = tmp_path / 'data.bin'
    p.write_bytes(data)
    return p


@pytest.mark.parametrize('native', [True, False])
def test_sendfile(loop, tmp_path, native):
    data = os.urandom(300_000)
    p = _file(tmp_path, data)
    a, b = nb_tcp_pair()
    with a, b, open(p, 'rb') as f:
        async def main():
            if native:
                sent = loop.create_task(
                    loop.sock_sendfile(a, f, 1000, 200_000))
            else:
                # A file object without fileno(): the fallback.
                bio = open(p, 'rb', buffering=0)
                reader = io_wrapper(bio)
                sent = loop.create_task(
                    loop.sock_sendfile(a, reader, 1000, 200_000))
            got = bytearray()
            while len(got) < 200_000:
                got += await loop.sock_recv(b, 65536)
            n = await sent
            if not native:
                bio.close()
            return n, bytes(got)
        n, got = run(loop, main())
        assert n == 200_000
        assert got == data[1000:201_000]
        if native:
            assert f.tell() == 201_000


class io_wrapper:
    """A binary file object with no fileno(): sendfile falls back."""

    def __init__(self, f):
        self._f = f
        self.mode = 'rb'

    def readinto(self, b):
        return self._f.readinto(b)

    def seek(self, *a):
        return self._f.seek(*a)


def test_sendfile_no_fallback(loop, tmp_path):
    from asyncio.exceptions import SendfileNotAvailableError
    p = _file(tmp_path, b'abc')
    a, b = nb_tcp_pair()
    with a, b, open(p, 'rb', buffering=0) as f:
        with pytest.raises(SendfileNotAvailableError):
            run(loop, loop.sock_sendfile(a, io_wrapper(f), fallback=False))


def test_sendfile_checks(loop, tmp_path):
    p = _file(tmp_path, b'abc')
    a, b = nb_tcp_pair()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setblocking(False)
    with a, b, u, open(p, 'rb') as f, open(p, 'r') as ft:
        with pytest.raises(ValueError, match='binary mode'):
            run(loop, loop.sock_sendfile(a, ft))
        with pytest.raises(ValueError, match='SOCK_STREAM'):
            run(loop, loop.sock_sendfile(u, f))
        with pytest.raises(TypeError, match='count'):
            run(loop, loop.sock_sendfile(a, f, 0, 1.5))
        with pytest.raises(ValueError, match='count'):
            run(loop, loop.sock_sendfile(a, f, 0, 0))
        with pytest.raises(TypeError, match='offset'):
            run(loop, loop.sock_sendfile(a, f, 1.0))
        with pytest.raises(ValueError, match='offset'):
            run(loop, loop.sock_sendfile(a, f, -1))


def test_sendfile_empty_file(loop, tmp_path):
    p = _file(tmp_path, b'')
    a, b = nb_tcp_pair()
    with a, b, open(p, 'rb') as f:
        assert run(loop, loop.sock_sendfile(a, f)) == 0


# ---- name resolution ----

def test_getaddrinfo_numeric_fast_path(loop):
    """A numeric host is not sent to the executor (asyncio's
    _ipaddr_info), through sock_connect's _ensure_resolved."""
    infos = run(loop, loop._ensure_resolved(
        ('127.0.0.1', 80), family=socket.AF_INET, loop=loop))
    assert infos == [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP,
                      '', ('127.0.0.1', 80))]
    assert loop._default_executor is None


def test_getaddrinfo_localhost(loop):
    infos = run(loop, loop.getaddrinfo('localhost', 80,
                                       type=socket.SOCK_STREAM))
    assert infos == socket.getaddrinfo('localhost', 80,
                                       type=socket.SOCK_STREAM)


def test_getaddrinfo_debug(loop, caplog):
    loop.set_debug(True)
    infos = run(loop, loop.getaddrinfo('127.0.0.1', 80,
                                       family=socket.AF_INET,
                                       type=socket.SOCK_STREAM))
    assert infos[0][4] == ('127.0.0.1', 80)


def test_getnameinfo(loop):
    flags = socket.NI_NUMERICHOST | socket.NI_NUMERICSERV
    r = run(loop, loop.getnameinfo(('127.0.0.1', 80), flags))
    assert r == ('127.0.0.1', '80')


# ---- casyncio only ----

def test_pending_op_is_collected(cloop):
    """A pending operation abandoned with its closed loop leaves no cycle
    alive (SockOp <-> Future <-> Task are collectable)."""
    import weakref
    a, b = nb_pair()
    with a, b:
        async def main():
            t = cloop.create_task(cloop.sock_recv(a, 10))
            await asyncio.sleep(0)
            return weakref.ref(t)
        ref = cloop.run_until_complete(main())
        cloop.close()
        gc.collect()
        assert ref() is None


def test_sendall_empty_on_closed_socket(loop):
    a, b = nb_pair()
    b.close()
    a.close()
    with pytest.raises(OSError) as info:
        run(loop, loop.sock_sendall(a, b''))
    assert info.value.errno == errno.EBADF


def test_sendall_empty(loop):
    a, b = nb_pair()
    with a, b:
        assert run(loop, loop.sock_sendall(a, b'')) is None


NUMERIC_CASES = [
    ('127.0.0.1', 80, 0, socket.SOCK_STREAM, 0),
    ('127.0.0.1', None, socket.AF_INET, socket.SOCK_DGRAM, 0),
    ('127.0.0.1', 0, 0, socket.SOCK_DGRAM, socket.IPPROTO_UDP),
    ('::1', 443, 0, socket.SOCK_STREAM, 0),
    ('::1', 443, socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP),
    # Not taken by the fast path (executor), answers must still agree:
    ('127.0.0.1', 80, 0, 0, 0),
    ('127.0.0.1', '80', 0, socket.SOCK_STREAM, 0),
    ('::0001', 80, 0, socket.SOCK_STREAM, 0),
    ('127.0.0.1', 80, socket.AF_INET6, socket.SOCK_STREAM, 0),
]


@pytest.mark.parametrize('host,port,family,type_,proto', NUMERIC_CASES)
def test_getaddrinfo_numeric_same_as_socket(loop, host, port, family, type_,
                                            proto):
    try:
        want = socket.getaddrinfo(host, port, family, type_, proto)
    except socket.gaierror as exc:
        with pytest.raises(socket.gaierror) as info:
            run(loop, loop.getaddrinfo(host, port, family=family,
                                       type=type_, proto=proto))
        assert info.value.errno == exc.errno
        return
    got = run(loop, loop.getaddrinfo(host, port, family=family, type=type_,
                                     proto=proto))
    assert got == want
    assert [tuple(map(repr, i)) for i in got] == \
        [tuple(map(repr, i)) for i in want]


def test_getaddrinfo_numeric_no_executor(cloop):
    infos = cloop.run_until_complete(cloop.getaddrinfo(
        '127.0.0.1', 80, type=socket.SOCK_STREAM))
    assert infos[0][4] == ('127.0.0.1', 80)
    assert cloop._default_executor is None


def udp_pair():
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r.bind(('127.0.0.1', 0))
    s.bind(('127.0.0.1', 0))
    r.setblocking(False)
    s.setblocking(False)
    return r, s


def test_udp_ready_datagrams(loop):
    r, s = udp_pair()
    with r, s:
        async def main():
            s.sendto(b'one', r.getsockname())
            s.sendto(b'two', r.getsockname())
            await asyncio.sleep(0.01)
            a = await loop.sock_recvfrom(r, 2)          # truncated
            buf = bytearray(8)
            n, addr = await loop.sock_recvfrom_into(r, buf, 3)
            return a, (n, bytes(buf[:n]), addr)
        a, b = run(loop, main())
        assert a == (b'on', s.getsockname())
        assert b == (3, b'two', s.getsockname())


def test_udp_argument_errors(loop):
    r, s = udp_pair()
    with r, s:
        with pytest.raises(ValueError, match='negative buffersize'):
            run(loop, loop.sock_recvfrom(r, -1))
        with pytest.raises(ValueError, match='nbytes is greater'):
            run(loop, loop.sock_recvfrom_into(r, bytearray(2), 5))
        with pytest.raises(TypeError):
            run(loop, loop.sock_recvfrom_into(r, b'readonly'))
        with pytest.raises(OverflowError):
            run(loop, loop.sock_sendto(s, b'x', ('127.0.0.1', 70000)))
        with pytest.raises(TypeError):
            run(loop, loop.sock_sendto(s, 'text', r.getsockname()))
        with pytest.raises(TypeError):
            run(loop, loop.sock_sendto(s, b'x', ['127.0.0.1', 1]))


def test_udp_sendto_name_and_audit(loop):
    import sys
    seen = []

    def hook(event, args):
        if event == 'socket.sendto':
            seen.append(args[1])
    sys.addaudithook(hook)
    r, s = udp_pair()
    with r, s:
        port = r.getsockname()[1]

        async def main():
            assert await loop.sock_sendto(s, b'a', ('127.0.0.1', port)) == 1
            assert await loop.sock_sendto(s, b'b', ('localhost', port)) == 1
            await asyncio.sleep(0.01)
            return [await loop.sock_recvfrom(r, 10) for _ in range(2)]
        got = run(loop, main())
        assert [d for d, _ in got] == [b'a', b'b']
        assert seen[-2:] == [('127.0.0.1', port), ('localhost', port)]


def test_udp_connected_recv_send(loop):
    r, s = udp_pair()
    with r, s:
        s.connect(r.getsockname())

        async def main():
            t = loop.create_task(loop.sock_recvfrom(r, 100))
            await asyncio.sleep(0)
            await loop.sock_sendall(s, b'conn')
            return await t
        assert run(loop, main()) == (b'conn', s.getsockname())


# ---- an fd that a transport uses ----

def test_sock_methods_refuse_transport_fd(loop):
    """sock_*() refuse the socket of a live transport, with asyncio's
    message, when they would block (_ensure_fd_no_transport): what
    completes at once is not checked, as in asyncio, and the transport
    keeps its reader."""
    async def main():
        got = bytearray()
        lost = loop.create_future()

        class Proto(asyncio.Protocol):
            def data_received(self, data):
                got.extend(data)

            def connection_lost(self, exc):
                lost.set_result(exc)

        server = await loop.create_server(Proto, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        tr, _ = await loop.create_connection(asyncio.Protocol, '127.0.0.1',
                                             port)
        sock = tr.get_extra_info('socket')._sock
        fd = sock.fileno()
        msg = f'File descriptor {fd} is used by transport'
        with pytest.raises(RuntimeError, match=msg):
            await loop.sock_recv(sock, 10)
        with pytest.raises(RuntimeError, match=msg):
            await loop.sock_recv_into(sock, bytearray(10))
        # sent at once: no check (asyncio's order)
        await loop.sock_sendall(sock, b'now')
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        with pytest.raises(RuntimeError, match=msg):
            await loop.sock_sendall(sock, b'x' * (16 * 1024 * 1024))
        # the transport still reads its fd and writes it
        assert tr.is_reading()
        tr.write(b'!')
        tr.close()
        assert await lost is None
        server.close()
        await server.wait_closed()
        assert got.startswith(b'nowx') and got.endswith(b'x!')
    loop.run_until_complete(asyncio.wait_for(main(), 10))
