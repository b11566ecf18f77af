"""A program using casyncio's public API, type-checked with mypy --strict
on every supported version (tests/test_typing.py), and run.

assert_type() makes mypy check that the stubs give precise types (an Any
where a type is expected fails the check); at runtime it returns its
argument."""
import asyncio
import socket
import sys
from typing import Any, assert_type

import casyncio


async def add(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


class Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


class Client(asyncio.Protocol):
    def __init__(self) -> None:
        self.got: asyncio.Future[bytes] = (
            asyncio.get_running_loop().create_future())

    def data_received(self, data: bytes) -> None:
        self.got.set_result(data)


async def echo_round_trip(loop: casyncio.Loop) -> bytes:
    server = await loop.create_server(Echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport, client = await loop.create_connection(
        Client, "127.0.0.1", port)
    assert_type(client, Client)
    transport.write(b"ping")
    data = await client.got
    transport.close()
    server.close()
    await server.wait_closed()
    return data


async def main() -> str:
    loop = asyncio.get_running_loop()
    handle = loop.call_soon(lambda: None)
    timer = loop.call_later(10, print)
    assert_type(timer.when(), float)
    timer.cancel()
    assert not handle.cancelled()

    task = asyncio.create_task(add(1, 2))
    assert_type(await task, int)
    total = await casyncio.gather(add(1, 2), add(3, 4))
    assert_type(total, tuple[int, int])
    await casyncio.sleep(0)
    done, _ = await casyncio.wait([asyncio.ensure_future(add(0, 0))])
    assert len(done) == 1
    async with casyncio.Semaphore(2):
        pass
    infos = await loop.getaddrinfo("127.0.0.1", 0, type=socket.SOCK_STREAM)
    assert infos
    return "done"


def with_a_loop() -> None:
    loop = casyncio.new_event_loop()
    assert_type(loop, casyncio.Loop)
    abstract: asyncio.AbstractEventLoop = loop
    assert abstract.is_running() is False
    fut = loop.create_future()
    loop.call_soon(fut.set_result, 5)
    assert loop.run_until_complete(fut) == 5
    task = loop.create_task(add(2, 3), name="add")
    assert_type(task, casyncio.Task[int])
    assert_type(loop.run_until_complete(task), int)
    assert isinstance(loop.time(), float)
    t = loop.call_at(loop.time() + 100, print, "never")
    assert_type(t, casyncio.TimerHandle)
    t.cancel()
    loop.set_task_factory(casyncio.eager_task_factory)
    assert loop.run_until_complete(add(4, 5)) == 9
    loop.set_task_factory(casyncio.create_eager_task_factory(casyncio.Task))
    assert loop.run_until_complete(add(5, 5)) == 10
    loop.set_task_factory(None)
    loop.slow_callback_duration = 0.5
    loop.set_debug(False)
    assert loop.run_until_complete(echo_round_trip(loop)) == b"ping"
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    loop.run_until_complete(loop.sock_sendall(a, b"x"))
    data = loop.run_until_complete(loop.sock_recv(b, 1))
    assert_type(data, bytes)
    a.close()
    b.close()
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()

    other = casyncio.Loop()
    other.close()


def run_every_way() -> None:
    assert_type(casyncio.run(main()), str)
    assert casyncio.run(add(1, 1), debug=False) == 2
    with asyncio.Runner(loop_factory=casyncio.new_event_loop) as runner:
        assert runner.run(add(2, 2)) == 4
    if sys.version_info >= (3, 12):
        assert asyncio.run(add(3, 3), loop_factory=casyncio.new_event_loop) == 6
    policy: Any = casyncio.EventLoopPolicy()
    assert policy is not None
    casyncio.install()
    assert asyncio.run(main()) == "done"


if __name__ == "__main__":
    with_a_loop()
    run_every_way()
    print("ok")
