"""TLS: asyncio's SSLProtocol over the loop's stream transport.

create_connection / create_server / Unix sockets / connect_accepted_socket
with ssl=, loop.start_tls, the streams API (open_connection, start_server,
StreamWriter.start_tls), the ssl extra info, clean close_notify shutdown,
and the faults: a certificate the client rejects, a peer that stalls the
handshake or the shutdown, a reset during the handshake.  A CA and a server
certificate (localhost, 127.0.0.1) are made at test time with
`cryptography`.

Each test runs on stock asyncio and on casyncio, the latter with its
SSLProtocol's data path in C (casyncio._tls, the default) and with
asyncio's pure-Python SSLProtocol (_tls.USE_C = False): the `loop` fixture
below."""
import asyncio
import datetime
import gc
import ipaddress
import os
import socket
import ssl
import struct
import threading

import pytest

from test_tcp import HOST, Recorder, nfds


@pytest.fixture(params=['asyncio', 'casyncio', 'casyncio-pytls',
                        'casyncio-uring'])
def loop(request, monkeypatch):
    """Stock asyncio; casyncio (TLS data path in C); casyncio with
    asyncio's Python SSLProtocol; casyncio (TLS data path in C) on its
    io_uring receive path."""
    if request.param == 'asyncio':
        lp = asyncio.new_event_loop()
    else:
        import casyncio
        from casyncio import _tls
        from conftest import new_uring_loop
        monkeypatch.setattr(_tls, 'USE_C', request.param != 'casyncio-pytls')
        lp = (new_uring_loop() if request.param == 'casyncio-uring'
              else casyncio.new_event_loop())
    yield lp
    if not lp.is_closed():
        lp.close()


# ---- certificates, made once per session ----

def _make_certs(directory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def pem_key(key, path):
        with open(path, 'wb') as f:
            f.write(key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()))

    def pem_cert(cert, path):
        with open(path, 'wb') as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder()
          .subject_name(name('casyncio test CA'))
          .issuer_name(name('casyncio test CA'))
          .public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                         critical=True)
          # 3.13's default context verifies strictly (VERIFY_X509_STRICT):
          # key usage and key identifiers are required
          .add_extension(x509.KeyUsage(
              digital_signature=True, content_commitment=False,
              key_encipherment=False, data_encipherment=False,
              key_agreement=False, key_cert_sign=True, crl_sign=True,
              encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(
              ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(name('localhost'))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName('localhost'),
                x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    ca_key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(
                key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {k: os.path.join(directory, k + '.pem')
             for k in ('ca', 'cert', 'key')}
    pem_cert(ca, paths['ca'])
    pem_cert(cert, paths['cert'])
    pem_key(key, paths['key'])
    return paths


@pytest.fixture(scope='session')
def certs(tmp_path_factory):
    pytest.importorskip('cryptography', reason='certificates are made '
                        'with cryptography (the test extra)')
    return _make_certs(str(tmp_path_factory.mktemp('certs')))


@pytest.fixture
def server_ctx(certs):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs['cert'], certs['key'])
    return ctx


@pytest.fixture
def client_ctx(certs):
    return ssl.create_default_context(cafile=certs['ca'])


async def wait_for_data(pr, n):
    while len(pr.data) < n:
        await asyncio.sleep(0.001)


async def closed(srv):
    """Close srv once its connections are gone (3.11's Server.wait_closed
    does not wait for them after close(); 3.13 keeps a set of them)."""
    while (len(srv._clients) if hasattr(srv, '_clients')
           else srv._active_count):
        await asyncio.sleep(0.005)
    srv.close()
    await srv.wait_closed()


def check_ssl_extra(transport, ctx, *, server_side):
    sslobj = transport.get_extra_info('ssl_object')
    assert isinstance(sslobj, ssl.SSLObject)
    assert sslobj.server_side is server_side
    assert transport.get_extra_info('sslcontext') is ctx
    cipher = transport.get_extra_info('cipher')
    assert cipher == sslobj.cipher() and len(cipher) == 3
    assert transport.get_extra_info('compression') == sslobj.compression()
    peercert = transport.get_extra_info('peercert')
    if server_side:
        assert peercert is None          # no client certificate asked for
    else:
        assert dict(x[0] for x in peercert['subject']) == {
            'commonName': 'localhost'}
    # the raw transport's info shows through
    assert transport.get_extra_info('peername')[0] in (HOST, '')
    assert transport.get_extra_info('socket') is not None
    assert transport.get_extra_info('nonexistent', 'dflt') == 'dflt'


# ---- round trips ----

def test_tls_echo_protocol(loop, server_ctx, client_ctx):
    async def main():
        servers = []

        def factory():
            servers.append(Recorder(loop, echo=True))
            return servers[-1]
        srv = await loop.create_server(factory, HOST, 0, ssl=server_ctx)
        port = srv.sockets[0].getsockname()[1]
        tr, pr = await loop.create_connection(
            lambda: Recorder(loop), HOST, port, ssl=client_ctx,
            server_hostname='localhost')
        assert pr.events == ['made']
        check_ssl_extra(tr, client_ctx, server_side=False)
        tr.write(b'hello ')
        tr.writelines([b'tls ', b'world'])
        await wait_for_data(pr, 15)
        assert bytes(pr.data) == b'hello tls world'
        sp = servers[0]
        check_ssl_extra(sp.transport, server_ctx, server_side=True)
        assert not tr.can_write_eof()
        # clean close: close_notify both ways, then both sides lost(None)
        tr.close()
        assert tr.is_closing()
        assert await pr.lost is None
        assert await sp.lost is None
        lost = ('lost', type(None))
        assert pr.events == ['made', 'eof', lost]
        assert sp.events == ['made', 'eof', lost]
        srv.close()
        await srv.wait_closed()
    loop.run_until_complete(main())


def test_tls_large_payload_flow_control(loop, server_ctx, client_ctx):
    payload = os.urandom(3 * 1024 * 1024 + 7)

    async def main():
        async def handle(reader, writer):
            data = await reader.readexactly(len(payload))
            writer.write(struct.pack('!Q', len(data)) + data)
            await writer.drain()
            writer.close()
            await writer.wait_closed()
        srv = await asyncio.start_server(handle, HOST, 0, ssl=server_ctx)
        port = srv.sockets[0].getsockname()[1]
        r, w = await asyncio.open_connection(HOST, port, ssl=client_ctx,
                                             server_hostname='localhost')
        w.write(payload)
        await w.drain()
        n, = struct.unpack('!Q', await r.readexactly(8))
        assert n == len(payload)
        assert await r.readexactly(n) == payload
        assert await r.read() == b''
        w.close()
        await w.wait_closed()
        srv.close()
        await srv.wait_closed()
    loop.run_until_complete(main())


def test_tls_unix(loop, server_ctx, client_ctx, tmp_path):
    path = str(tmp_path / 'tls.sock')

    async def main():
        srv = await loop.create_unix_server(
            lambda: Recorder(loop, echo=True), path, ssl=server_ctx)
        tr, pr = await loop.create_unix_connection(
            lambda: Recorder(loop), path, ssl=client_ctx,
            server_hostname='localhost')
        assert isinstance(tr.get_extra_info('ssl_object'), ssl.SSLObject)
        tr.write(b'over unix')
        await wait_for_data(pr, 9)
        assert bytes(pr.data) == b'over unix'
        tr.close()
        assert await pr.lost is None
        srv.close()
        await srv.wait_closed()
    loop.run_until_complete(main())


def test_tls_connect_accepted_socket(loop, server_ctx, client_ctx):
    async def main():
        lsock = socket.create_server((HOST, 0))
        lsock.setblocking(False)
        port = lsock.getsockname()[1]
        connect = asyncio.ensure_future(loop.create_connection(
            lambda: Recorder(loop), HOST, port, ssl=client_ctx,
            server_hostname='localhost'))
        conn, _ = await loop.sock_accept(lsock)
        lsock.close()
        str_, spr = await loop.connect_accepted_socket(
            lambda: Recorder(loop, echo=True), conn, ssl=server_ctx)
        tr, pr = await connect
        tr.write(b'accepted')
        await wait_for_data(pr, 8)
        assert bytes(pr.data) == b'accepted'
        check_ssl_extra(str_, server_ctx, server_side=True)
        tr.close()
        assert await pr.lost is None
        assert await spr.lost is None
    loop.run_until_complete(main())


def test_start_tls_upgrade(loop, server_ctx, client_ctx):
    """A plain connection upgraded on both sides: StreamWriter.start_tls on
    the client, loop.start_tls on the server's transport."""
    async def main():
        done = loop.create_future()

        async def handle(reader, writer):
            assert await reader.readline() == b'STARTTLS\n'
            writer.write(b'GO\n')
            await writer.drain()
            await writer.start_tls(server_ctx)
            assert writer.get_extra_info('ssl_object').server_side
            line = await reader.readline()
            writer.write(line.upper())
            await writer.drain()
            writer.close()
            await writer.wait_closed()
            done.set_result(None)
        srv = await asyncio.start_server(handle, HOST, 0)
        port = srv.sockets[0].getsockname()[1]
        r, w = await asyncio.open_connection(HOST, port)
        assert w.get_extra_info('ssl_object') is None
        w.write(b'STARTTLS\n')
        assert await r.readline() == b'GO\n'
        await w.start_tls(client_ctx, server_hostname='localhost')
        assert isinstance(w.get_extra_info('ssl_object'), ssl.SSLObject)
        w.write(b'secret\n')
        assert await r.readline() == b'SECRET\n'
        assert await r.read() == b''
        await done
        w.close()
        await w.wait_closed()
        srv.close()
        await srv.wait_closed()
    loop.run_until_complete(main())


def test_start_tls_protocol_level(loop, server_ctx, client_ctx):
    """loop.start_tls() directly: the old transport is handed over (its
    protocol becomes the SSLProtocol), the new one talks TLS."""
    async def main():
        srv = await loop.create_server(
            lambda: Recorder(loop, echo=True), HOST, 0, ssl=server_ctx)
        port = srv.sockets[0].getsockname()[1]
        raw, pr = await loop.create_connection(lambda: Recorder(loop),
                                               HOST, port)
        assert raw._start_tls_compatible
        with pytest.raises(TypeError, match='sslcontext is expected'):
            await loop.start_tls(raw, pr, object())
        tls = await loop.start_tls(raw, pr, client_ctx,
                                   server_hostname='localhost')
        assert tls is not raw
        assert raw.get_protocol() is not pr      # now the SSLProtocol
        assert tls.get_protocol() is pr
        assert tls.get_extra_info('ssl_object') is not None
        tls.write(b'upgraded')
        await wait_for_data(pr, 8)
        assert bytes(pr.data) == b'upgraded'
        tls.close()
        assert await pr.lost is None
        assert raw.is_closing()
        srv.close()
        await srv.wait_closed()
    loop.run_until_complete(main())


def test_ssl_argument_checks(loop, client_ctx):
    async def main():
        with pytest.raises(TypeError, match='ssl argument must be'):
            await loop.create_server(asyncio.Protocol, HOST, 0, ssl=True)
        with pytest.raises(ValueError, match='server_hostname is only'):
            await loop.create_connection(asyncio.Protocol, HOST, 1,
                                         server_hostname='x')
        with pytest.raises(ValueError, match='ssl_handshake_timeout is'):
            await loop.create_connection(asyncio.Protocol, HOST, 1,
                                         ssl_handshake_timeout=1)
        with pytest.raises(ValueError, match='ssl_shutdown_timeout is'):
            await loop.create_unix_connection(asyncio.Protocol, '/nonexist',
                                              ssl_shutdown_timeout=1)
        with pytest.raises(ValueError, match='you have to pass server_'):
            await loop.create_unix_connection(asyncio.Protocol, '/nonexist',
                                              ssl=client_ctx)
    loop.run_until_complete(main())


async def tls_pair(loop, server_ctx, client_ctx, client=None, echo=False):
    """A TLS server of Recorders and one connection to it: (server, the
    server's protocols, the client's transport and protocol)."""
    servers = []

    def factory():
        servers.append(Recorder(loop, echo=echo))
        return servers[-1]
    srv = await loop.create_server(factory, HOST, 0, ssl=server_ctx)
    port = srv.sockets[0].getsockname()[1]
    tr, pr = await loop.create_connection(
        client or (lambda: Recorder(loop)), HOST, port, ssl=client_ctx,
        server_hostname='localhost')
    return srv, servers, tr, pr


async def tls_pair_peer_paused(loop, server_ctx, client_ctx):
    """tls_pair, with the server's protocol once it is made and its reading
    paused: (server, that protocol, the client's transport and protocol)."""
    srv, servers, tr, pr = await tls_pair(loop, server_ctx, client_ctx)
    while not servers or servers[0].transport is None:
        await asyncio.sleep(0.001)
    servers[0].transport.pause_reading()
    return srv, servers[0], tr, pr


class BufferedClient(asyncio.BufferedProtocol):
    """Reads into a memoryview of `size` bytes (a bytearray would meet
    asyncio's slicing of it: buf[offset:] copies)."""

    def __init__(self, loop, size):
        self.view = memoryview(bytearray(size))
        self.data = bytearray()
        self.sizes = []
        self.events = []
        self.lost = loop.create_future()

    def connection_made(self, transport):
        self.transport = transport

    def get_buffer(self, sizehint):
        return self.view

    def buffer_updated(self, nbytes):
        self.sizes.append(nbytes)
        self.data += self.view[:nbytes]

    def eof_received(self):
        self.events.append('eof')

    def connection_lost(self, exc):
        self.lost.set_result(exc)


@pytest.mark.parametrize('size', [1000, 64 * 1024])
def test_tls_buffered_app_protocol(loop, server_ctx, client_ctx, size):
    """An app BufferedProtocol: records read into its buffer, several per
    buffer when they fit, the rest on the next loop iteration when it is
    full."""
    payload = os.urandom(200_000)

    async def main():
        srv, _, tr, pr = await tls_pair(
            loop, server_ctx, client_ctx,
            lambda: BufferedClient(loop, size), echo=True)
        for i in range(0, len(payload), 7000):
            tr.write(payload[i:i + 7000])
        while len(pr.data) < len(payload):
            await asyncio.sleep(0.001)
        assert bytes(pr.data) == payload
        assert max(pr.sizes) <= size
        if size == 1000:
            assert max(pr.sizes) == size        # a full buffer
        tr.close()
        assert await pr.lost is None
        assert pr.events == ['eof']
        srv.close()
        await srv.wait_closed()
    loop.run_until_complete(main())


class KeepingClient(asyncio.Protocol):
    """Keeps every bytes object data_received() is given, with a copy made
    then and its hash; drops every other one after hashing it."""

    def __init__(self):
        self.kept = []
        self.copies = []
        self.size = 0

    def data_received(self, data):
        assert type(data) is bytes
        self.size += len(data)
        self.copies.append((bytes(bytearray(data)), hash(data)))
        if len(self.copies) % 2:
            self.kept.append(data)


def test_tls_received_bytes_kept_or_dropped(loop, server_ctx, client_ctx):
    """casyncio decrypts into one bytes object that it reuses while no
    protocol keeps it: the objects a protocol kept never change, and every
    object has its own length, content and hash."""
    sizes = [200_000, 100, 150_000, 5000, 300_000, 1, 64 * 1024, 70_000]
    payload = os.urandom(sum(sizes))

    async def main():
        srv, servers, tr, pr = await tls_pair(loop, server_ctx, client_ctx,
                                              KeepingClient)
        while not servers or servers[0].transport is None:
            await asyncio.sleep(0.001)
        off = 0
        for n in sizes:
            servers[0].transport.write(payload[off:off + n])
            off += n
            while pr.size < off:
                await asyncio.sleep(0.001)
        assert b''.join(c for c, _ in pr.copies) == payload
        for data, (copy, h) in zip(pr.kept, pr.copies[::2]):
            assert data == copy and hash(data) == h == hash(copy)
        tr.close()
        await closed(srv)
    loop.run_until_complete(main())


def test_tls_app_write_flow_control(loop, server_ctx, client_ctx):
    """Writing to a peer that does not read: pause_writing once the TLS
    transport's buffer passes its high-water mark, resume_writing once the
    peer reads again; nothing lost."""
    chunk = os.urandom(64 * 1024)

    async def main():
        srv, servers, tr, pr = await tls_pair(loop, server_ctx, client_ctx)
        tr.set_write_buffer_limits(high=128 * 1024)
        assert tr.get_write_buffer_limits() == (32 * 1024, 128 * 1024)
        while not servers or servers[0].transport is None:
            await asyncio.sleep(0.001)
        sp = servers[0]
        sp.transport.pause_reading()
        assert not sp.transport.is_reading()
        sent = 0
        while 'pause' not in pr.events:
            assert sent < 64 * 1024 * 1024
            tr.write(chunk)
            sent += len(chunk)
            await asyncio.sleep(0)
        assert tr.get_write_buffer_size() >= 128 * 1024
        assert len(sp.data) < sent
        sp.transport.resume_reading()
        while len(sp.data) < sent:
            await asyncio.sleep(0.001)
        assert pr.events == ['made', 'pause', 'resume']
        assert tr.get_write_buffer_size() <= 32 * 1024
        assert bytes(sp.data) == chunk * (sent // len(chunk))
        tr.close()
        await pr.lost
        await sp.lost
        srv.close()
        await srv.wait_closed()
    loop.run_until_complete(main())


def test_tls_large_writes_while_transport_paused(loop, server_ctx,
                                                 client_ctx):
    """Writes of 2 MiB (casyncio encrypts them a slice at a time) to a peer
    that does not read: once the socket transport is full what follows
    counts in the TLS transport's buffer size, so the app is paused as
    asyncio pauses it; a small write and a large one after, then close():
    the peer gets every byte in order, then the close_notify."""
    chunks = [os.urandom(2 * 1024 * 1024 + 5) for _ in range(4)]

    async def main():
        srv, sp, tr, pr = await tls_pair_peer_paused(loop, server_ctx,
                                                     client_ctx)
        sent = []
        while 'pause' not in pr.events:
            assert len(sent) < 64
            sent.append(chunks[len(sent) % len(chunks)])
            tr.write(sent[-1])
            await asyncio.sleep(0)
        # the last write waits whole, encrypted, behind the full transport
        assert tr.get_write_buffer_size() >= len(sent[-1])
        sent += [b'small', chunks[0]]
        tr.write(sent[-2])
        tr.write(sent[-1])
        assert tr.get_write_buffer_size() >= len(sent[-1]) + len(sent[-3])
        tr.close()
        sp.transport.resume_reading()
        await sp.lost
        await pr.lost
        assert bytes(sp.data) == b''.join(sent)
        assert sp.events == ['made', 'eof', ('lost', type(None))]
        assert pr.events[:3] == ['made', 'pause', 'resume']
        srv.close()
        await srv.wait_closed()
    loop.run_until_complete(main())


def test_tls_writelines_large_then_small_all_to_the_transport(
        loop, server_ctx, client_ctx):
    """writelines([32 MiB, small]) on a fresh connection to a peer that does
    not read: asyncio encrypts both and hands all of it to the socket
    transport, which pauses only after; nothing is left counted in the TLS
    transport's buffer and the app is not paused (casyncio: even though its
    slices of the large write fill the transport on the way)."""
    big = bytes(range(256)) * (128 * 1024)

    async def main():
        srv, sp, tr, pr = await tls_pair_peer_paused(loop, server_ctx,
                                                     client_ctx)
        tr.writelines([big, b'small'])
        assert tr.get_write_buffer_size() == 0
        assert pr.events == ['made']
        tr.close()
        sp.transport.resume_reading()
        await sp.lost
        await pr.lost
        assert bytes(sp.data) == big + b'small'
        srv.close()
        await srv.wait_closed()
    loop.run_until_complete(main())


def test_tls_large_write_to_a_reset_connection_logs_nothing(
        loop, server_ctx, client_ctx, caplog):
    """A 10 MiB write to a connection the peer has reset: asyncio makes one
    transport.write() of its ciphertext, which finds the reset and loses
    the connection quietly.  casyncio writes it a slice at a time and must
    not go on writing to the lost transport (each such write counts, and
    from the fifth on logs 'socket.send() raised exception.')."""
    lsock = socket.create_server((HOST, 0))
    closed = threading.Event()

    def server():
        conn, _ = lsock.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                           struct.pack('ii', 1, 0))
        closed.set()                # closed with a reset
    t = threading.Thread(target=server)
    t.start()

    async def main():
        tr, pr = await loop.create_connection(
            lambda: Recorder(loop), HOST, lsock.getsockname()[1],
            ssl=client_ctx, server_hostname='localhost')
        assert closed.wait(10)      # the reset is in before the write
        with caplog.at_level('DEBUG', logger='asyncio'):
            tr.write(b'x' * (10 * 1024 * 1024))
            exc = await pr.lost
        # (io_uring's receive may take the reset first: EPIPE on the send)
        assert isinstance(exc, (ConnectionResetError, BrokenPipeError))
        assert [r.getMessage() for r in caplog.records
                if r.name == 'asyncio' and r.levelname == 'WARNING'] == []
    try:
        loop.run_until_complete(main())
    finally:
        t.join()
        lsock.close()


def test_tls_app_pause_reading(loop, server_ctx, client_ctx):
    async def main():
        srv, servers, tr, pr = await tls_pair(loop, server_ctx, client_ctx)
        tr.write(b'first')
        while not servers or len(servers[0].data) < 5:
            await asyncio.sleep(0.001)
        sp = servers[0]
        sp.transport.pause_reading()
        tr.write(b'second')
        for _ in range(20):
            await asyncio.sleep(0.001)
        assert bytes(sp.data) == b'first'
        assert sp.transport.get_read_buffer_size() > 0   # still in the BIO
        sp.transport.resume_reading()
        assert sp.transport.is_reading()
        await wait_for_data(sp, 11)
        assert bytes(sp.data) == b'firstsecond'
        assert sp.transport.get_read_buffer_size() == 0
        tr.close()
        await pr.lost
        srv.close()
        await srv.wait_closed()
    loop.run_until_complete(main())


def test_tls_writelines_and_closed_writes(loop, server_ctx, client_ctx,
                                          caplog):
    """writelines() takes any iterable; writes after close() are dropped,
    counted, and logged from the sixth on, as asyncio does."""
    async def main():
        srv, _, tr, pr = await tls_pair(loop, server_ctx, client_ctx,
                                        echo=True)
        tr.writelines(bytes([65 + i]) * 3 for i in range(4))
        tr.writelines([bytearray(b'-'), memoryview(b'!')])
        await wait_for_data(pr, 14)
        assert bytes(pr.data) == b'AAABBBCCCDDD-!'
        tr.close()
        with caplog.at_level('WARNING', logger='asyncio'):
            for _ in range(7):
                tr._ssl_protocol._write_appdata([b'late'])
        warned = [r for r in caplog.records
                  if r.getMessage() == 'SSL connection is closed']
        assert len(warned) == 2
        assert await pr.lost is None
        assert bytes(pr.data) == b'AAABBBCCCDDD-!'
        srv.close()
        await srv.wait_closed()
    loop.run_until_complete(main())


@pytest.mark.parametrize('where', ['data_received', 'pause_writing'])
def test_tls_app_callback_error(loop, server_ctx, client_ctx, where):
    """An app protocol's data_received() raising: asyncio's 'Fatal error
    on SSL protocol', the connection closed with it; pause_writing()
    raising: reported, the connection kept."""
    async def main():
        errors = []
        loop.set_exception_handler(lambda lp, ctx: errors.append(ctx))

        class Failing(Recorder):
            def data_received(self, data):
                super().data_received(data)
                if where == 'data_received':
                    raise ValueError('boom')

            def pause_writing(self):
                super().pause_writing()
                raise ValueError('boom')
        srv, _, tr, pr = await tls_pair(loop, server_ctx, client_ctx,
                                        lambda: Failing(loop), echo=True)
        if where == 'pause_writing':
            tr.set_write_buffer_limits(high=0)
        tr.write(b'ping')
        if where == 'data_received':
            exc = await pr.lost
            assert type(exc) is ValueError
            [ctx] = errors
            assert ctx['message'] == 'Fatal error on SSL protocol'
            assert ctx['exception'] is exc
            assert ctx['protocol'] is tr._ssl_protocol
        else:
            await wait_for_data(pr, 4)
            # high=0: paused at once (set_write_buffer_limits), resumed
            # by the write (nothing left buffered), paused again when the
            # echo is read
            assert pr.events == ['made', 'pause', 'resume', 'pause']
            assert len(errors) == 2
            for ctx in errors:
                assert ctx['message'] == 'protocol.pause_writing() failed'
                assert type(ctx['exception']) is ValueError
                assert ctx['transport'] is tr
                assert ctx['protocol'] is tr._ssl_protocol
            tr.close()
            assert await pr.lost is None
        srv.close()
        await srv.wait_closed()
    loop.run_until_complete(main())


def test_tls_protocol_class(loop, server_ctx, client_ctx):
    """The SSLProtocol in use: casyncio's (C data path) unless USE_C is
    off, asyncio's otherwise; either way an asyncio SSLProtocol."""
    from asyncio import sslproto

    import casyncio
    from casyncio import _tls

    async def main():
        srv, _, tr, pr = await tls_pair(loop, server_ctx, client_ctx,
                                        echo=True)
        proto = tr._ssl_protocol
        assert isinstance(proto, sslproto.SSLProtocol)
        c_path = isinstance(loop, casyncio.Loop) and _tls.USE_C
        assert (type(proto) is _tls.SSLProtocol) is c_path
        assert proto._state is sslproto.SSLProtocolState.WRAPPED
        assert isinstance(proto._sslobj, ssl.SSLObject)
        assert proto._get_write_buffer_size() == 0
        assert isinstance(tr, sslproto._SSLProtocolTransport)
        with pytest.raises(TypeError, match='^data: expecting a bytes-like '
                                            'instance, got str$'):
            tr.write('x')
        tr.write(b'')
        tr.write(memoryview(b''))
        assert proto._write_backlog == type(proto._write_backlog)()
        tr.write(b'x')
        await wait_for_data(pr, 1)
        tr.close()
        await pr.lost
        assert proto._state is sslproto.SSLProtocolState.UNWRAPPED
        assert proto._transport is None and proto._app_protocol is None
        srv.close()
        await srv.wait_closed()
    loop.run_until_complete(main())


# ---- faults ----

def test_untrusted_certificate(loop, server_ctx, client_ctx):
    async def main():
        lost = []

        class Server(Recorder):
            def connection_lost(self, exc):
                lost.append(exc)
        srv = await loop.create_server(lambda: Server(loop), HOST, 0,
                                       ssl=server_ctx)
        port = srv.sockets[0].getsockname()[1]
        # the system's CAs: our test CA is not among them
        with pytest.raises(ssl.SSLCertVerificationError,
                           match='self.signed|unable to get local issuer'):
            await loop.create_connection(
                asyncio.Protocol, HOST, port,
                ssl=ssl.create_default_context(),
                server_hostname='localhost')
        # a name the certificate does not carry
        with pytest.raises(ssl.SSLCertVerificationError,
                           match="Hostname mismatch"):
            await loop.create_connection(
                asyncio.Protocol, HOST, port, ssl=client_ctx,
                server_hostname='wrong.example')
        await closed(srv)
        assert lost == []         # the app protocol never saw a connection
    loop.run_until_complete(main())


def _raw_listener():
    lsock = socket.create_server((HOST, 0))
    lsock.setblocking(False)
    return lsock, lsock.getsockname()[1]


def test_handshake_timeout(loop, client_ctx):
    """A peer that accepts and never answers the ClientHello."""
    async def main():
        lsock, port = _raw_listener()
        connect = asyncio.ensure_future(loop.create_connection(
            asyncio.Protocol, HOST, port, ssl=client_ctx,
            server_hostname='localhost', ssl_handshake_timeout=0.2))
        conn, _ = await loop.sock_accept(lsock)
        with pytest.raises(ConnectionAbortedError,
                           match='SSL handshake is taking longer than 0.2 '
                                 'seconds: aborting the connection'):
            await connect
        # the ClientHello (over 1 KiB with a post-quantum key share), then
        # closed
        hello = await loop.sock_recv(conn, 1024)
        assert hello
        while chunk := await loop.sock_recv(conn, 65536):
            hello += chunk
        assert hello[0] == 0x16                 # a TLS handshake record
        assert len(hello) == 5 + int.from_bytes(hello[3:5], 'big')
        conn.close()
        lsock.close()
    loop.run_until_complete(main())


def test_handshake_timeout_server_side(loop, server_ctx):
    """A client that connects and never sends the ClientHello: the server
    aborts the connection; no application protocol is made."""
    async def main():
        made = []
        srv = await loop.create_server(
            lambda: made.append(1) or asyncio.Protocol(), HOST, 0,
            ssl=server_ctx, ssl_handshake_timeout=0.1)
        port = srv.sockets[0].getsockname()[1]
        sock = socket.socket()
        sock.setblocking(False)
        await loop.sock_connect(sock, (HOST, port))
        assert await loop.sock_recv(sock, 10) == b''   # closed by server
        sock.close()
        assert made == [1]        # the factory runs; connection_made never
        await closed(srv)
    loop.run_until_complete(main())


def test_shutdown_timeout(loop, server_ctx, client_ctx):
    """A peer that completes the handshake, then never answers the
    close_notify: the transport is closed after ssl_shutdown_timeout and
    connection_lost gets asyncio's TimeoutError."""
    a, b = socket.socketpair()
    stop = threading.Event()
    peer = []

    def stalling_peer():
        s = server_ctx.wrap_socket(b, server_side=True)
        peer.append(s)
        stop.wait(10)
    th = threading.Thread(target=stalling_peer)
    th.start()

    async def main():
        tr, pr = await loop.create_connection(
            lambda: Recorder(loop), sock=a, ssl=client_ctx,
            server_hostname='localhost', ssl_shutdown_timeout=0.2)
        tr.close()
        exc = await pr.lost
        assert type(exc) is TimeoutError
        assert str(exc) == 'SSL shutdown timed out'
        assert a.fileno() == -1
    try:
        loop.run_until_complete(main())
    finally:
        stop.set()
        th.join()
        for s in peer:
            s.close()
        b.close()


@pytest.mark.parametrize('reset', [True, False], ids=['rst', 'eof'])
def test_peer_gone_during_handshake(loop, client_ctx, reset):
    """The peer reads the ClientHello, then resets the connection or closes
    it cleanly (asyncio's SSLProtocol turns that EOF into
    ConnectionResetError too)."""
    async def main():
        lsock, port = _raw_listener()
        connect = asyncio.ensure_future(loop.create_connection(
            asyncio.Protocol, HOST, port, ssl=client_ctx,
            server_hostname='localhost'))
        conn, _ = await loop.sock_accept(lsock)
        lsock.close()
        assert await loop.sock_recv(conn, 1024)       # the ClientHello
        if reset:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack('ii', 1, 0))
        conn.close()
        with pytest.raises(ConnectionResetError):
            await connect
    loop.run_until_complete(main())


def test_no_leak(loop, server_ctx, client_ctx):
    """Round trips and every fault above leave no fd and no transport."""
    async def round_trip():
        srv = await loop.create_server(lambda: Recorder(loop, echo=True),
                                       HOST, 0, ssl=server_ctx,
                                       ssl_handshake_timeout=0.1)
        port = srv.sockets[0].getsockname()[1]
        for _ in range(5):
            tr, pr = await loop.create_connection(
                lambda: Recorder(loop), HOST, port, ssl=client_ctx,
                server_hostname='localhost')
            tr.write(b'x')
            await wait_for_data(pr, 1)
            tr.close()
            await pr.lost
        tr, pr = await loop.create_connection(
            lambda: Recorder(loop), HOST, port, ssl=client_ctx,
            server_hostname='localhost')
        tr.abort()
        await pr.lost
        with pytest.raises(ssl.SSLCertVerificationError):
            await loop.create_connection(
                asyncio.Protocol, HOST, port, ssl=client_ctx,
                server_hostname='wrong.example')
        sock = socket.create_connection((HOST, port))   # stalls handshake
        sock.setblocking(False)
        assert await loop.sock_recv(sock, 10) == b''
        sock.close()
        await closed(srv)
        lsock, port = _raw_listener()       # a server that stalls it
        connect = asyncio.ensure_future(loop.create_connection(
            asyncio.Protocol, HOST, port, ssl=client_ctx,
            server_hostname='localhost', ssl_handshake_timeout=0.1))
        conn, _ = await loop.sock_accept(lsock)
        with pytest.raises(ConnectionAbortedError):
            await connect
        conn.close()
        lsock.close()
        for _ in range(5):
            await asyncio.sleep(0)
    loop.run_until_complete(round_trip())    # warm-up
    gc.collect()
    before = nfds()
    loop.run_until_complete(round_trip())
    gc.collect()
    assert nfds() == before
    transports = getattr(loop, '_transports', {})
    assert not [t for t in transports.values() if t is not None]


# ---- casyncio only ----

def test_tls_runs_over_c_transport(cloop, server_ctx, client_ctx):
    """The raw transport under SSLProtocol is casyncio's C one."""
    from casyncio import _core

    async def main():
        srv = await cloop.create_server(lambda: Recorder(cloop, echo=True),
                                        HOST, 0, ssl=server_ctx)
        port = srv.sockets[0].getsockname()[1]
        tr, pr = await cloop.create_connection(
            lambda: Recorder(cloop), HOST, port, ssl=client_ctx,
            server_hostname='localhost')
        raw = tr._ssl_protocol._transport
        assert isinstance(raw, _core.SocketTransport)
        tr.write(b'c')
        await wait_for_data(pr, 1)
        tr.close()
        await pr.lost
        srv.close()
        await srv.wait_closed()
    cloop.run_until_complete(main())


def test_aiohttp_https_round_trip(loop, server_ctx, client_ctx):
    aiohttp = pytest.importorskip('aiohttp', reason='aiohttp (the test '
                                  'extra) is not installed')
    from aiohttp import web

    async def main():
        async def hello(request):
            body = await request.read()
            return web.json_response({'path': request.path,
                                      'secure': request.secure,
                                      'len': len(body)})
        app = web.Application()
        app.router.add_route('*', '/{tail:.*}', hello)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, HOST, 0, ssl_context=server_ctx)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with aiohttp.ClientSession() as session:
                for n in (0, 200_000):
                    async with session.post(
                            f'https://{HOST}:{port}/echo', data=b'z' * n,
                            ssl=client_ctx) as resp:
                        assert resp.status == 200
                        assert await resp.json() == {
                            'path': '/echo', 'secure': True, 'len': n}
        finally:
            await runner.cleanup()
    loop.run_until_complete(main())
