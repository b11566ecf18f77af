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
    """The address of a writable buffer's first byte."""
    view = memoryview(buf).cast('B')
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(view))
    finally:
        view.release()


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


# ---- when the detour is taken ----

def detours():
    from casyncio import _core
    return _core._path_counts()['recv_detours']


@pytest.mark.parametrize('in_page,taken', [(0, False), (1, True),
                                           (16, True), (31, True),
                                           (32, False), (100, False)])
def test_detour_only_for_slow_bytearray_offsets(cloop, in_page, taken):
    backing = bytearray(64 * 1024)
    start, view = slice_at_page_offset(backing, in_page, 32 * 1024)

    async def main():
        a, b = socket.socketpair()
        a.setblocking(False)
        b.sendall(b'z' * 5000)
        before = detours()
        assert await cloop.sock_recv_into(a, view) == 5000
        assert (detours() - before == 1) is taken
        assert backing[start:start + 5000] == b'z' * 5000
        # small buffers go straight in
        b.sendall(b'y' * 100)
        small = slice_at_page_offset(backing, in_page or 1, 1000)[1]
        before = detours()
        assert await cloop.sock_recv_into(a, small) == 100
        assert detours() == before
        a.close()
        b.close()
    cloop.run_until_complete(asyncio.wait_for(main(), 10))


def test_no_detour_for_other_exporters(cloop):
    """Only a bytearray's memory is copied into by casyncio itself: an
    array or an mmap meets the kernel's copy (and its EFAULT)."""
    import array
    import mmap
    arr = array.array('b', bytes(64 * 1024))
    mm = mmap.mmap(-1, 64 * 1024)

    async def main():
        a, b = socket.socketpair()
        a.setblocking(False)
        for backing in (arr, mm):
            buf = slice_at_page_offset(backing, 16, 8192)[1]
            b.sendall(b'q' * 3000)
            before = detours()
            assert await cloop.sock_recv_into(a, buf) == 3000
            assert detours() == before
            assert bytes(buf[:3000]) == b'q' * 3000
        a.close()
        b.close()
    cloop.run_until_complete(asyncio.wait_for(main(), 10))
    mm.close()


def test_recv_into_unbacked_mmap_is_efault(loop, tmp_path):
    """A file mapping past the file's end: the kernel's copy fails with
    EFAULT, reported as OSError, on both loops (no SIGBUS)."""
    import errno
    import mmap
    path = tmp_path / 'shrinks'
    path.write_bytes(bytes(3 * PAGE))
    with open(path, 'r+b') as f:
        mm = mmap.mmap(f.fileno(), 3 * PAGE)
        f.truncate(0)

        whole = memoryview(mm)
        view = whole[16:16 + 8192]

        async def main():
            a, b = socket.socketpair()
            a.setblocking(False)
            b.sendall(b'e' * 4000)
            try:
                await loop.sock_recv_into(a, view)
            except OSError as exc:
                return exc.errno
            finally:
                a.close()
                b.close()
        try:
            assert loop.run_until_complete(
                asyncio.wait_for(main(), 10)) == errno.EFAULT
        finally:
            view.release()
            whole.release()
            mm.close()


@pytest.mark.parametrize('in_page', [1, 7, 15, 17, 31])
def test_copy_head_and_tail_lengths(loop, in_page):
    """Every alignment head (0-15 bytes) and tail (0-63 bytes) of the
    vector copy: exact bytes, nothing past the end."""
    backing = bytearray(b'\x11') * (16 * 1024)
    start, view = slice_at_page_offset(backing, in_page, 8192)

    async def main():
        a, b = socket.socketpair()
        a.setblocking(False)
        for length in (2048, 2049, 2063, 2111, 4095, 4097, 8192):
            payload = os.urandom(length)
            backing[start:start + 8192] = b'\x11' * 8192
            b.sendall(payload)
            got = await loop.sock_recv_into(a, view)
            assert got == length
            assert backing[start:start + length] == payload
            assert backing[start + length:start + 8192] == (
                b'\x11' * (8192 - length))
        a.close()
        b.close()
    loop.run_until_complete(asyncio.wait_for(main(), 10))
