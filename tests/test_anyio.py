"""anyio on casyncio: anyio.run(main, backend_options={"loop_factory": ...})
runs on the given loop, and anyio's primitives work there as on stock asyncio
(task groups, cancel scopes, timeouts, TCP/UDP streams, threads,
subprocesses, readiness waits)."""
import os
import socket
import sys
import threading

import pytest

import casyncio

anyio = pytest.importorskip("anyio", reason="anyio is in the test extra")


def run(loop, func, *args):
    """anyio.run() on *loop* (the conftest's loop fixture: each test runs
    on stock asyncio and on casyncio)."""
    return anyio.run(func, *args, backend="asyncio",
                     backend_options={"loop_factory": lambda: loop})


def test_documented_form():
    """The README's one-liner: casyncio.new_event_loop as the factory."""
    import asyncio

    async def main():
        return asyncio.get_running_loop()

    loop = anyio.run(main, backend_options={"loop_factory": casyncio.new_event_loop})
    assert isinstance(loop, casyncio.Loop)
    assert loop.is_closed()


def test_runs_on_given_loop(loop):
    import asyncio

    async def main():
        assert anyio.get_current_task().name
        return asyncio.get_running_loop()

    assert run(loop, main) is loop


def test_task_group_and_start(loop):
    async def main():
        results = []

        async def child(i, *, task_status=anyio.TASK_STATUS_IGNORED):
            await anyio.sleep(0.001 * i)
            task_status.started(i * 10)
            results.append(i)

        async with anyio.create_task_group() as tg:
            for i in range(5):
                tg.start_soon(child, i)
            started = await tg.start(child, 7)
        return sorted(results), started

    assert run(loop, main) == ([0, 1, 2, 3, 4, 7], 70)


def test_task_group_error_cancels_siblings(loop):
    async def main():
        cancelled = []

        async def sleeper():
            try:
                await anyio.sleep(10)
            except anyio.get_cancelled_exc_class():
                cancelled.append(True)
                raise

        async def failer():
            await anyio.sleep(0.001)
            raise ValueError("boom")

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(sleeper)
                tg.start_soon(failer)
        except BaseException as exc:   # ExceptionGroup on 3.11+
            excs = getattr(exc, "exceptions", [exc])
            return [type(e).__name__ for e in excs], cancelled
        return None

    assert run(loop, main) == (["ValueError"], [True])


def test_cancel_scopes_and_timeouts(loop):
    async def main():
        with anyio.move_on_after(0.01) as scope:
            await anyio.sleep(10)
        moved_on = scope.cancelled_caught

        timed_out = False
        try:
            with anyio.fail_after(0.01):
                await anyio.sleep(10)
        except TimeoutError:
            timed_out = True

        # A shielded scope inside a cancelled one finishes its work.
        done = []
        with anyio.CancelScope() as outer:
            outer.cancel()
            with anyio.CancelScope(shield=True):
                await anyio.sleep(0.001)
                done.append("shielded")
            await anyio.sleep(10)          # cancelled here
        done.append(outer.cancelled_caught)

        # Cancelling a task group from inside ends every child.
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(anyio.sleep, 10)
            await anyio.sleep(0.001)
            tg.cancel_scope.cancel()
        return moved_on, timed_out, done, tg.cancel_scope.cancel_called

    assert run(loop, main) == (True, True, ["shielded", True], True)


def test_sync_primitives_and_memory_streams(loop):
    async def main():
        send, recv = anyio.create_memory_object_stream(2)
        lock = anyio.Lock()
        sem = anyio.Semaphore(2)
        event = anyio.Event()
        got = []

        async def producer():
            async with send:
                for i in range(10):
                    async with lock, sem:
                        await send.send(i)
            event.set()

        async def consumer():
            async with recv:
                async for item in recv:
                    got.append(item)

        async with anyio.create_task_group() as tg:
            tg.start_soon(producer)
            tg.start_soon(consumer)
            await event.wait()
        return got

    assert run(loop, main) == list(range(10))


def test_tcp_streams(loop):
    async def main():
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        port = listener.extra(anyio.abc.SocketAttribute.local_port)

        async def handle(stream):
            async with stream:
                async for chunk in stream:
                    await stream.send(chunk.upper())

        async with listener, anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, handle)
            async with await anyio.connect_tcp("127.0.0.1", port) as client:
                peer = client.extra(anyio.abc.SocketAttribute.remote_port)
                for word in (b"hello ", b"casyncio ", b"x" * 100000):
                    await client.send(word)
                await client.send_eof()
                received = b"".join([chunk async for chunk in client])
            tg.cancel_scope.cancel()
        return peer == port, received

    same_port, received = run(loop, main)
    assert same_port
    assert received == b"HELLO CASYNCIO " + b"X" * 100000


def test_buffered_text_stream(loop):
    from anyio.streams.buffered import BufferedByteReceiveStream

    async def main():
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        port = listener.extra(anyio.abc.SocketAttribute.local_port)

        async def handle(stream):
            async with stream:
                await stream.send(b"line one\r\nline two\r\n")

        async with listener, anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, handle)
            async with await anyio.connect_tcp("127.0.0.1", port) as client:
                buffered = BufferedByteReceiveStream(client)
                lines = [await buffered.receive_until(b"\r\n", 100)
                         for _ in range(2)]
            tg.cancel_scope.cancel()
        return lines

    assert run(loop, main) == [b"line one", b"line two"]


def test_udp(loop):
    async def main():
        async with await anyio.create_udp_socket(local_host="127.0.0.1") as a, \
                await anyio.create_connected_udp_socket(
                    "127.0.0.1", 0, local_host="127.0.0.1") as _unused:
            port = a.extra(anyio.abc.SocketAttribute.local_port)
            async with await anyio.create_connected_udp_socket(
                    "127.0.0.1", port, local_host="127.0.0.1") as b:
                await b.send(b"ping")
                data, addr = await a.receive()
                await a.sendto(b"pong", *addr)
                return data, await b.receive()

    assert run(loop, main) == (b"ping", b"pong")


def test_threads(loop):
    async def main():
        def in_thread(x):
            # back into the loop from the worker thread
            y = anyio.from_thread.run(async_double, x)
            return y, threading.current_thread() is not threading.main_thread()

        async def async_double(x):
            await anyio.sleep(0)
            return 2 * x

        results = []
        async with anyio.create_task_group() as tg:
            async def one(i):
                results.append(await anyio.to_thread.run_sync(in_thread, i))
            for i in range(4):
                tg.start_soon(one, i)
        return sorted(results)

    assert run(loop, main) == [(0, True), (2, True), (4, True), (6, True)]


def test_subprocess(loop):
    async def main():
        result = await anyio.run_process(
            [sys.executable, "-c", "import sys; print(sys.stdin.read().upper())"],
            input=b"abc")
        async with await anyio.open_process(
                [sys.executable, "-c", "import sys; sys.exit(3)"]) as proc:
            code = await proc.wait()
        return result.stdout.strip(), result.returncode, code

    assert run(loop, main) == (b"ABC", 0, 3)


def test_wait_readable(loop):
    async def main():
        a, b = socket.socketpair()
        with a, b:
            async with anyio.create_task_group() as tg:
                async def write_later():
                    await anyio.sleep(0.01)
                    b.send(b"!")
                tg.start_soon(write_later)
                with anyio.fail_after(5):
                    await anyio.wait_readable(a)
            return a.recv(1)

    assert run(loop, main) == b"!"


def test_file_io(loop, tmp_path):
    async def main():
        path = anyio.Path(tmp_path) / "f.txt"
        await path.write_text("casyncio")
        async with await anyio.open_file(path) as f:
            text = await f.read()
        return text, await path.exists(), os.path.exists(tmp_path / "f.txt")

    assert run(loop, main) == ("casyncio", True, True)


# anyio's pytest plugin with its backend option, the other way a suite picks
# casyncio: anyio_backend = ("asyncio", {"loop_factory": ...}).
LOOP_FACTORIES = {"asyncio": None, "casyncio": casyncio.new_event_loop}


@pytest.fixture(params=sorted(LOOP_FACTORIES))
def anyio_backend(request):
    factory = LOOP_FACTORIES[request.param]
    return "asyncio", ({"loop_factory": factory} if factory else {})


@pytest.fixture
async def anyio_fixture_loop(anyio_backend):
    import asyncio
    yield asyncio.get_running_loop()


@pytest.mark.anyio
async def test_pytest_backend_option(anyio_backend, anyio_fixture_loop):
    import asyncio
    loop = asyncio.get_running_loop()
    assert loop is anyio_fixture_loop
    expected = casyncio.Loop if "loop_factory" in anyio_backend[1] else asyncio.BaseEventLoop
    assert isinstance(loop, expected)
    async with anyio.create_task_group() as tg:
        tg.start_soon(anyio.sleep, 0.001)
