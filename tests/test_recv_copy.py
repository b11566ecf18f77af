"""The receive paths that detour through the transports' page-aligned
receive buffer (src/copy.h): a BufferedProtocol's buffer and
sock_recv_into()'s buffer a few bytes past a page boundary, and sock_recv()
of up to 256 KiB.  The bytes must land exactly in the caller's buffer
slice, nothing outside it touched, on both loops; stock asyncio is the
reference."""
import asyncio
import ctypes
import os
import socket

import pytest

PAGE = 4096


def address(buf):
    return ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))


def slice_at_page_offset(backing, in_page, size):
    """A writable memoryview of `size` bytes of `backing` whose first byte
    is `in_page` bytes past a page boundary."""
    start = (in_page - address(backing)) % PAGE
    assert start + size <= len(backing)
    view = memoryview(backing)[start:start + size]
    assert (address(backing) + start) % PAGE == in_page
    return start, view


class SliceProtocol(asyncio.BufferedProtocol):
    def __init__(self, loop, view):
        self.view = view
        self.data = bytearray()
        self.sizes = []
        self.lost = loop.create_future()

    def get_buffer(self, sizehint):
        return self.view

    def buffer_updated(self, nbytes):
        self.sizes.append(nbytes)
        self.data += self.view[:nbytes]

    def connection_lost(self, exc):
        self.lost.set_result(exc)


@pytest.mark.parametrize('in_page', [0, 1, 16, 31, 32, 64])
@pytest.mark.parametrize('size', [4096, 200_000, 256 * 1024, 300_000])
def test_buffered_protocol_buffer_at_page_offset(loop, in_page, size):
    payload = os.urandom(700_000)
    backing = bytearray(b'\xaa') * (size + 2 * PAGE)
    start, view = slice_at_page_offset(backing, in_page, size)

    async def main():
        a, b = socket.socketpair()
        proto = SliceProtocol(loop, view)
        tr, _ = await loop.connect_accepted_socket(lambda: proto, a)
        b.setblocking(False)
        await loop.sock_sendall(b, payload)
        b.close()
        assert await proto.lost is None
        assert bytes(proto.data) == payload
        assert max(proto.sizes) <= size
        # nothing written outside the slice
        assert backing[:start] == b'\xaa' * start
        assert backing[start + size:] == b'\xaa' * (len(backing) - start
                                                     - size)
    loop.run_until_complete(asyncio.wait_for(main(), 20))


@pytest.mark.parametrize('in_page', [0, 16, 31, 40])
def test_sock_recv_into_at_page_offset(loop, in_page):
    payload = os.urandom(150_000)
    backing = bytearray(b'\x55') * (200_000 + 2 * PAGE)
    start, view = slice_at_page_offset(backing, in_page, 200_000)

    async def main():
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        got = bytearray()
        sender = asyncio.ensure_future(loop.sock_sendall(b, payload))
        while len(got) < len(payload):
            n = await loop.sock_recv_into(a, view)
            assert 0 < n <= len(view)
            got += view[:n]
        await sender
        assert bytes(got) == payload
        assert backing[:start] == b'\x55' * start
        tail = len(backing) - start - 200_000
        assert backing[start + 200_000:] == b'\x55' * tail
        a.close()
        b.close()
    loop.run_until_complete(asyncio.wait_for(main(), 20))


@pytest.mark.parametrize('nbytes', [0, 1, 5000, 256 * 1024, 300_000])
def test_sock_recv_sizes(loop, nbytes):
    payload = os.urandom(400_000)

    async def main():
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        sender = asyncio.ensure_future(loop.sock_sendall(b, payload))
        if nbytes == 0:
            assert await loop.sock_recv(a, 0) == b''
        got = bytearray()
        while len(got) < len(payload):
            data = await loop.sock_recv(a, nbytes or 65536)
            assert type(data) is bytes and 0 < len(data) <= (nbytes or 65536)
            got += data
        await sender
        assert bytes(got) == payload
        a.close()
        b.close()
    loop.run_until_complete(asyncio.wait_for(main(), 20))
