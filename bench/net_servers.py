"""Servers for the networking benchmarks (bench/net.py starts them).

    python bench/net_servers.py IMPL KIND

IMPL: asyncio, uvloop or casyncio (the loop factory, as in run.py).
KIND: one of SERVERS below.  Listens on 127.0.0.1, a free port; prints
"PORT <n> <loop class> <file of IMPL's module>" (the class followed by
"+io_uring" for casyncio on its io_uring path) and serves until killed.
"""

import asyncio
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import load_impl  # noqa: E402

MAX_READ = 256 * 1024   # asyncio's max_size for a transport's recv()


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


class EchoBufferedProtocol(asyncio.BufferedProtocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buffer = bytearray(MAX_READ)

    def get_buffer(self, sizehint):
        return self.buffer

    def buffer_updated(self, nbytes):
        # A bytearray slice is a copy: the buffer is reused by the next read.
        self.transport.write(self.buffer[:nbytes])


async def serve_protocol(loop):
    return await loop.create_server(EchoProtocol, "127.0.0.1", 0)


async def serve_buffered(loop):
    return await loop.create_server(EchoBufferedProtocol, "127.0.0.1", 0)


async def stream_echo(reader, writer):
    while True:
        data = await reader.read(MAX_READ)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()


async def serve_streams(loop):
    return await asyncio.start_server(stream_echo, "127.0.0.1", 0)


async def sock_echo(loop, sock):
    with sock:
        while True:
            data = await loop.sock_recv(sock, MAX_READ)
            if not data:
                break
            await loop.sock_sendall(sock, data)


async def sock_accept_loop(loop, lsock):
    while True:
        conn, _ = await loop.sock_accept(lsock)
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        loop.create_task(sock_echo(loop, conn))


async def serve_sock(loop):
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(128)
    lsock.setblocking(False)
    loop.create_task(sock_accept_loop(loop, lsock))
    return lsock


SERVERS = {
    "protocol": serve_protocol,     # asyncio.Protocol, data_received -> write
    "buffered": serve_buffered,     # asyncio.BufferedProtocol
    "streams": serve_streams,       # start_server: read(), write(), drain()
    "sock": serve_sock,             # loop.sock_recv / loop.sock_sendall
}


async def main(serve, origin):
    loop = asyncio.get_running_loop()
    server = await serve(loop)
    sock = server if isinstance(server, socket.socket) else server.sockets[0]
    cls = type(loop)
    # casyncio on its io_uring path (CASYNCIO_IO_URING=1) says so
    ring = "+io_uring" if getattr(loop, "_io_uring", False) else ""
    print(f"PORT {sock.getsockname()[1]} {cls.__module__}.{cls.__qualname__}"
          f"{ring} {origin}", flush=True)
    await loop.create_future()


def serve_from_argv(servers):
    """`python SCRIPT IMPL KIND`: servers[KIND] on IMPL's loop, forever."""
    impl, kind = sys.argv[1:3]
    mod, factory, _ = load_impl(impl)
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main(servers[kind], os.path.dirname(mod.__file__)))


if __name__ == "__main__":
    serve_from_argv(SERVERS)
