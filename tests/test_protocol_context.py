"""The context each protocol callback runs in (issue #11, item 1).

asyncio's selector loop runs a protocol's callbacks in copies of contexts
it took when it scheduled them: connection_made in a copy of the context
the transport was made in, reading callbacks in the reader Handle's copy
(taken when the reader was added: at the start, and again by
resume_reading), resume_writing in the writer Handle's (taken by the
write() that started queueing), connection_lost in a copy of the context
that closed the transport.  3.15 runs them all in one context per
transport: a copy of create_connection's caller's, and for a server's
connections a copy of the server's creation context.

Each scenario runs on both loops and records, per callback, the value of
`cv` (set by whoever made the transport to 'inner', by others to other
values) and of `mark` (set by connection_made and by data_received, so a
callback that sees 'made' shares connection_made's context)."""
import asyncio
import contextvars
import os
import socket
import ssl
import sys

import pytest

from test_tls import _make_certs

cv = contextvars.ContextVar('cv', default='-')
mark = contextvars.ContextVar('mark', default='-')

PY315 = sys.version_info >= (3, 15)
HOST = '127.0.0.1'


class Recorder:
    """Mixin: records (cv, mark) at the first call of each callback."""

    def __init__(self):
        self.seen = {}
        self.data = b''
        self.made = None
        self.lost = None

    def rec(self, name):
        self.seen.setdefault(name, (cv.get(), mark.get()))

    def connection_made(self, transport):
        self.rec('made')
        self.transport = transport
        mark.set('made')
        self.made = True

    def connection_lost(self, exc):
        self.rec('lost')
        self.lost = True

    def pause_writing(self):
        self.rec('pause_writing')

    def resume_writing(self):
        self.rec('resume_writing')


class P(Recorder, asyncio.Protocol):
    def data_received(self, data):
        self.rec('data')
        mark.set('data')
        self.data += data

    def eof_received(self):
        self.rec('eof')


class BP(Recorder, asyncio.BufferedProtocol):
    def __init__(self):
        super().__init__()
        self.buf = bytearray(100)

    def get_buffer(self, hint):
        self.rec('get_buffer')
        return self.buf

    def buffer_updated(self, n):
        self.rec('buffer_updated')
        mark.set('data')
        self.data += self.buf[:n]

    def eof_received(self):
        self.rec('eof')


class DP(Recorder, asyncio.DatagramProtocol):
    def datagram_received(self, data, addr):
        self.rec('datagram')
        mark.set('data')
        self.data += data

    def error_received(self, exc):
        self.rec('error')


class SP(Recorder, asyncio.SubprocessProtocol):
    def pipe_data_received(self, fd, data):
        self.rec('pipe_data')
        self.data += data

    def pipe_connection_lost(self, fd, exc):
        self.rec(f'pipe_lost{fd}')

    def process_exited(self):
        self.rec('exited')


async def until(cond, timeout=5):
    for _ in range(int(timeout * 1000)):
        if cond():
            return
        await asyncio.sleep(0.001)
    raise AssertionError('timed out')


def in_ctx(value, coro):
    """Run coro in a new task whose cv is value; await its result."""
    async def wrap():
        cv.set(value)
        return await coro
    return asyncio.ensure_future(wrap())


def run(loop, coro):
    cv.set('outer')
    mark.set('-')
    try:
        return loop.run_until_complete(coro)
    finally:
        cv.set('-')


# ---- TCP / Unix stream: made, data, eof, lost on EOF ----

async def stream_pair(family):
    if family == 'unix':
        return socket.socketpair()
    lsock = socket.socket()
    lsock.bind((HOST, 0))
    lsock.listen()
    a = socket.create_connection(lsock.getsockname())
    b, _ = lsock.accept()
    lsock.close()
    return a, b


async def scenario_connection(loop, proto_cls, family='tcp'):
    a, b = await stream_pair(family)
    b.setblocking(False)

    async def make():
        if family == 'unix':
            return await loop.create_unix_connection(proto_cls, sock=a)
        return await loop.create_connection(proto_cls, sock=a)
    tr, pr = await in_ctx('inner', make())
    await loop.sock_sendall(b, b'x')
    await until(lambda: pr.data)
    b.shutdown(socket.SHUT_WR)
    await until(lambda: pr.lost)
    b.close()
    return pr.seen


async def scenario_server(loop, proto_cls, family='tcp', tmp=None):
    prs = []

    def factory():
        prs.append(proto_cls())
        return prs[-1]

    async def make():
        if family == 'unix':
            path = os.path.join(tmp, 'sock')
            return await loop.create_unix_server(factory, path)
        return await loop.create_server(factory, HOST, 0)
    srv = await in_ctx('server', make())
    if family == 'unix':
        c = socket.socket(socket.AF_UNIX)
        addr = os.path.join(tmp, 'sock')
    else:
        c = socket.socket()
        addr = srv.sockets[0].getsockname()
    c.setblocking(False)
    await in_ctx('client', loop.sock_connect(c, addr))
    await loop.sock_sendall(c, b'x')
    await until(lambda: prs and prs[0].data)
    c.shutdown(socket.SHUT_WR)
    await until(lambda: prs[0].lost)
    c.close()
    srv.close()
    await srv.wait_closed()
    return prs[0].seen


async def scenario_accepted(loop, proto_cls):
    a, b = socket.socketpair()
    b.setblocking(False)
    tr, pr = await in_ctx('inner', loop.connect_accepted_socket(
        proto_cls, a))
    await loop.sock_sendall(b, b'x')
    await until(lambda: pr.data)
    b.close()
    await until(lambda: pr.lost)
    return pr.seen


async def scenario_close(loop, how):
    """connection_lost after close() / abort() from another context."""
    a, b = socket.socketpair()
    tr, pr = await in_ctx('inner', loop.create_connection(P, sock=a))

    async def closer():
        getattr(tr, how)()
    await in_ctx('closer', closer())
    await until(lambda: pr.lost)
    b.close()
    return pr.seen


async def scenario_resume_reading(loop):
    """The reader added again by resume_reading()."""
    a, b = socket.socketpair()
    b.setblocking(False)
    tr, pr = await in_ctx('inner', loop.create_connection(P, sock=a))
    await asyncio.sleep(0)
    tr.pause_reading()

    async def resume():
        tr.resume_reading()
    await in_ctx('resumer', resume())
    await loop.sock_sendall(b, b'x')
    await until(lambda: pr.data)
    tr.close()
    await until(lambda: pr.lost)
    b.close()
    return pr.seen


async def scenario_flow(loop, kind='tcp'):
    """pause_writing from the write() that filled the buffer,
    resume_writing when the peer drained it; connection_lost after close()
    from the loop's caller."""
    if kind == 'pipe':
        r, w = os.pipe()
        os.set_blocking(r, False)
        wf = open(w, 'wb', buffering=0)
        tr, pr = await in_ctx('inner', loop.connect_write_pipe(P, wf))

        def drain():
            try:
                while os.read(r, 1 << 20):
                    pass
            except BlockingIOError:
                pass

        def end():
            os.close(r)
    else:
        a, b = socket.socketpair()
        b.setblocking(False)
        tr, pr = await in_ctx('inner', loop.create_connection(P, sock=a))

        def drain():
            try:
                while b.recv(1 << 20):
                    pass
            except BlockingIOError:
                pass

        def end():
            b.close()
    await asyncio.sleep(0)

    async def write():
        tr.write(b'x' * (4 << 20))
    await in_ctx('writer', write())
    assert 'pause_writing' in pr.seen
    for _ in range(1000):
        drain()
        await asyncio.sleep(0.002)
        if not tr.get_write_buffer_size():
            break
    assert 'resume_writing' in pr.seen
    tr.close()
    await until(lambda: pr.lost)
    end()
    return pr.seen


async def scenario_write_error(loop):
    """connection_lost after a failed send: in the writer's context."""
    a, b = socket.socketpair()
    tr, pr = await in_ctx('inner', loop.create_connection(P, sock=a))
    await asyncio.sleep(0)
    tr.pause_reading()          # only the writer sees the peer go

    async def write():
        tr.write(b'x' * (4 << 20))
    await in_ctx('writer', write())
    b.close()
    await until(lambda: pr.lost)
    return pr.seen


async def scenario_datagram(loop):
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind((HOST, 0))
    tr, pr = await in_ctx('inner', loop.create_datagram_endpoint(
        DP, local_addr=(HOST, 0)))
    peer.sendto(b'x', tr.get_extra_info('sockname'))
    await until(lambda: pr.data)
    # error_received: ICMP port unreachable from a closed port
    dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dead.bind((HOST, 0))
    dead_addr = dead.getsockname()
    dead.close()
    tr2, pr2 = await in_ctx('inner2', loop.create_datagram_endpoint(
        DP, remote_addr=dead_addr))

    async def send():
        for _ in range(20):
            tr2.sendto(b'x')
            await asyncio.sleep(0.005)
            if 'error' in pr2.seen:
                break
    await in_ctx('sender', send())

    async def closer():
        tr.close()
        tr2.close()
    await in_ctx('closer', closer())
    await until(lambda: pr.lost and pr2.lost)
    peer.close()
    return {'recv': pr.seen, 'send': pr2.seen}


async def scenario_pipes(loop):
    r, w = os.pipe()
    rf = open(r, 'rb', buffering=0)
    tr, pr = await in_ctx('inner', loop.connect_read_pipe(P, rf))
    os.write(w, b'x')
    await until(lambda: pr.data)
    os.close(w)
    await until(lambda: pr.lost)
    r2, w2 = os.pipe()
    wf = open(w2, 'wb', buffering=0)
    tr2, pr2 = await in_ctx('inner2', loop.connect_write_pipe(P, wf))
    await asyncio.sleep(0)
    os.close(r2)          # the write pipe's reader sees the other end close
    await until(lambda: pr2.lost)
    return {'read': pr.seen, 'write': pr2.seen}


async def scenario_subprocess(loop):
    code = 'import sys; sys.stdout.write("x"); sys.stdout.flush()'
    tr, pr = await in_ctx('inner', loop.subprocess_exec(
        SP, sys.executable, '-c', code, stdin=None, stderr=None))
    await until(lambda: pr.lost)
    tr.close()
    return pr.seen


async def scenario_tls(loop, ctxs, how):
    server_ctx, client_ctx = ctxs
    prs = []

    def factory():
        prs.append(P())
        return prs[-1]
    srv = await in_ctx('server', loop.create_server(
        factory, HOST, 0, ssl=server_ctx))
    port = srv.sockets[0].getsockname()[1]
    if how == 'connect':
        tr, pr = await in_ctx('inner', loop.create_connection(
            P, HOST, port, ssl=client_ctx, server_hostname='localhost'))
    else:
        tr0, pr0 = await in_ctx('inner', loop.create_connection(
            P, HOST, port))
        pr = P()
        tr = await in_ctx('tls', loop.start_tls(
            tr0, pr, client_ctx, server_hostname='localhost'))
    await until(lambda: prs and prs[0].made)

    async def write():
        tr.write(b'x')
        prs[0].transport.write(b'y')
    await in_ctx('writer', write())
    await until(lambda: pr.data and prs[0].data)
    prs[0].transport.close()
    await until(lambda: pr.lost and prs[0].lost)
    srv.close()
    await srv.wait_closed()
    return {'client': pr.seen, 'server': prs[0].seen}


# ---- the tests: what stock asyncio answers, on both loops ----

def connection(c, data='data'):
    """A connection made in context value c, reading, then EOF: before
    3.15 every callback has a copy of its own (the reader's is shared by
    the reading callbacks, eof_received and the connection_lost it
    schedules); 3.15 runs them all in one."""
    first = 'made' if PY315 else '-'
    seen = {'made': (c, '-'), 'eof': (c, 'data'), 'lost': (c, 'data')}
    if data == 'data':
        seen['data'] = (c, first)
    else:
        seen['get_buffer'] = seen['buffer_updated'] = (c, first)
    return seen


def check(loop, coro):
    seen = run(loop, coro)
    # nothing ran in (and so changed) the loop's caller's context
    assert mark.get() == '-'
    return seen


@pytest.mark.parametrize('proto_cls', [P, BP], ids=['Protocol',
                                                    'BufferedProtocol'])
@pytest.mark.parametrize('family', ['tcp', 'unix'])
def test_connection(loop, proto_cls, family):
    """create_connection / create_unix_connection: made, data (get_buffer,
    buffer_updated), eof, lost in the caller's context."""
    seen = check(loop, scenario_connection(loop, proto_cls, family))
    assert seen == connection('inner',
                              'data' if proto_cls is P else 'buffered')


@pytest.mark.parametrize('proto_cls', [P, BP], ids=['Protocol',
                                                    'BufferedProtocol'])
@pytest.mark.parametrize('family', ['tcp', 'unix'])
def test_server(loop, proto_cls, family, tmp_path):
    """An accepted connection's callbacks: in create_server's caller's
    context, not the client's or the loop's."""
    seen = check(loop, scenario_server(loop, proto_cls, family,
                                       str(tmp_path)))
    assert seen == connection('server',
                              'data' if proto_cls is P else 'buffered')


def test_connect_accepted_socket(loop):
    seen = check(loop, scenario_accepted(loop, P))
    assert seen == connection('inner')


@pytest.mark.parametrize('how', ['close', 'abort'])
def test_lost_after_close(loop, how):
    """connection_lost after close() / abort(): in (a copy of) the closer's
    context; 3.15: the transport's."""
    seen = check(loop, scenario_close(loop, how))
    lost = ('inner', 'made') if PY315 else ('closer', '-')
    assert seen == {'made': ('inner', '-'), 'lost': lost}


def test_resume_reading(loop):
    """resume_reading() adds the reader again: reading then runs in the
    resumer's context (3.15: still the transport's)."""
    seen = check(loop, scenario_resume_reading(loop))
    if PY315:
        assert seen == {'made': ('inner', '-'), 'data': ('inner', 'made'),
                        'lost': ('inner', 'data')}
    else:
        assert seen == {'made': ('inner', '-'), 'data': ('resumer', '-'),
                        'lost': ('outer', '-')}


@pytest.mark.parametrize('kind', ['tcp', 'pipe'])
def test_flow_control(loop, kind):
    """pause_writing in the write() caller's context; resume_writing in the
    writer's, added by the write() that started queueing (3.15 sockets: the
    transport's).  Pipes have no context of their own on 3.15."""
    seen = check(loop, scenario_flow(loop, kind))
    if PY315 and kind == 'tcp':
        assert seen == {'made': ('inner', '-'),
                        'pause_writing': ('writer', '-'),
                        'resume_writing': ('inner', 'made'),
                        'lost': ('inner', 'made')}
    else:
        assert seen == {'made': ('inner', '-'),
                        'pause_writing': ('writer', '-'),
                        'resume_writing': ('writer', '-'),
                        'lost': ('outer', '-')}


def test_lost_after_write_error(loop):
    seen = check(loop, scenario_write_error(loop))
    lost = ('inner', 'made') if PY315 else ('writer', '-')
    assert seen == {'made': ('inner', '-'), 'pause_writing': ('writer', '-'),
                    'lost': lost}


def test_datagram(loop):
    """Datagram transports have no context of their own, on 3.15 too:
    datagram_received and error_received in the reader's, lost in the
    closer's."""
    seen = check(loop, scenario_datagram(loop))
    assert seen == {
        'recv': {'made': ('inner', '-'), 'datagram': ('inner', '-'),
                 'lost': ('closer', '-')},
        'send': {'made': ('inner2', '-'), 'error': ('inner2', '-'),
                 'lost': ('closer', '-')}}


def test_pipes(loop):
    """connect_read_pipe: made, data, eof, lost in the caller's context;
    connect_write_pipe: lost when the reader goes, too."""
    seen = check(loop, scenario_pipes(loop))
    assert seen == {
        'read': {'made': ('inner', '-'), 'data': ('inner', '-'),
                 'eof': ('inner', 'data'), 'lost': ('inner', 'data')},
        'write': {'made': ('inner2', '-'), 'lost': ('inner2', '-')}}


def test_subprocess(loop):
    """A subprocess protocol: in subprocess_exec's caller's context, but
    for 3.11, whose child watcher thread reports the exit in its own empty
    context (process_exited, then connection_lost)."""
    seen = check(loop, scenario_subprocess(loop))
    exited = ('-', '-') if sys.version_info < (3, 12) else ('inner', '-')
    assert seen == {'made': ('inner', '-'), 'pipe_data': ('inner', '-'),
                    'pipe_lost1': ('inner', '-'), 'exited': exited,
                    'lost': exited}


@pytest.fixture(scope='module')
def tls_ctxs(tmp_path_factory):
    pytest.importorskip('cryptography', reason='certificates are made '
                        'with cryptography (the test extra)')
    certs = _make_certs(str(tmp_path_factory.mktemp('certs')))
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(certs['cert'], certs['key'])
    return server_ctx, ssl.create_default_context(cafile=certs['ca'])


def test_tls(loop, tls_ctxs):
    """ssl=: the application protocol's callbacks, client and server side,
    in the context of create_connection's / create_server's caller (the
    handshake completes while reading, so connection_made shares the
    reader's context)."""
    seen = check(loop, scenario_tls(loop, tls_ctxs, 'connect'))
    made = {'data': 'made', 'eof': 'data', 'lost': 'data', 'made': '-'}
    assert seen == {
        'client': {k: ('inner', v) for k, v in made.items()},
        'server': {k: ('server', v) for k, v in made.items()}}


def test_start_tls(loop, tls_ctxs):
    """start_tls() resumes reading from its caller's context: the new
    protocol reads there (3.15: in the transport's context)."""
    seen = check(loop, scenario_tls(loop, tls_ctxs, 'start'))
    client = ({'data': ('inner', 'made'), 'eof': ('inner', 'data'),
               'lost': ('inner', 'data')} if PY315 else
              {'data': ('tls', '-'), 'eof': ('tls', 'data'),
               'lost': ('tls', 'data')})
    made = {'data': 'made', 'eof': 'data', 'lost': 'data', 'made': '-'}
    assert seen == {
        'client': client,
        'server': {k: ('server', v) for k, v in made.items()}}


def test_start_server_handler(loop):
    """streams: start_server's client_connected_cb task is made by the
    protocol's connection_made, so it runs in (a copy of) the context of
    start_server's caller."""
    async def main():
        seen = []

        async def handler(reader, writer):
            seen.append(cv.get())
            writer.write(await reader.read(1))
            await writer.drain()
            writer.close()
        srv = await in_ctx('server', asyncio.start_server(handler, HOST, 0))
        r, w = await asyncio.open_connection(*srv.sockets[0].getsockname())
        w.write(b'x')
        assert await r.read() == b'x'
        w.close()
        srv.close()
        await srv.wait_closed()
        return seen
    assert check(loop, main()) == ['server']
