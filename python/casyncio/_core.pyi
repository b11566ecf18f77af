"""Types of casyncio._core, the C extension (src/*.c).

Signatures follow typeshed's asyncio stubs wherever the C method is the
same method as stock asyncio's (tests/test_signatures.py checks the runtime
signatures against stock); tests/test_typing.py runs stubtest on this file
on every supported version.

Future, Task, Handle and TimerHandle are declared as subclasses of
asyncio's classes.  At runtime they are not (they cannot derive from
asyncio's C types): Future and Task report asyncio.Future / asyncio.Task as
their ``__class__``, so isinstance() agrees with these stubs, and Handle and
TimerHandle have every public method of asyncio's (isinstance(handle,
asyncio.Handle) is False, a difference from stock).  Declaring
them so keeps a casyncio loop usable wherever typeshed expects an
asyncio.AbstractEventLoop (asyncio.Runner's loop_factory, for one).
"""
import asyncio
import sys
from asyncio import AbstractEventLoop, _CoroutineLike
from asyncio.events import _TaskFactory
from asyncio.transports import _FlowControlMixin
from collections.abc import Callable, Coroutine, Generator, Mapping, Sequence
from contextvars import Context
from socket import socket
from types import FrameType
from typing import Any, TextIO, TypeVar
from typing_extensions import Self, TypeVarTuple, Unpack, disjoint_base

_T = TypeVar("_T")
_T_co = TypeVar("_T_co", covariant=True)
_Ts = TypeVarTuple("_Ts")

if sys.version_info >= (3, 12):
    _TaskCoro = Coroutine[Any, Any, _T_co]
else:
    _TaskCoro = (Generator[asyncio.Future[object] | None, None, _T_co]
                 | Coroutine[Any, Any, _T_co])

@disjoint_base
class Future(asyncio.Future[_T]):
    """asyncio.Future in C."""

@disjoint_base
class Task(asyncio.Task[_T_co]):
    """asyncio.Task in C; eager_start (3.12's) on every version."""
    def __init__(
        self,
        coro: _TaskCoro[_T_co],
        *,
        loop: AbstractEventLoop | None = None,
        name: str | None = None,
        context: Context | None = None,
        eager_start: bool = False,
    ) -> None: ...
    # stock has get_context() from 3.12 on; ours on every version
    def get_context(self) -> Context: ...
    def get_stack(self, *, limit: int | None = None) -> list[FrameType]: ...
    def print_stack(self, *, limit: int | None = None,
                    file: TextIO | None = None) -> None: ...

@disjoint_base
class Handle(asyncio.Handle):
    """asyncio.Handle in C."""
    def __new__(cls, callback: Callable[..., object], args: Sequence[Any],
                 loop: AbstractEventLoop,
                 context: Context | None = None) -> Self: ...
    # stock has get_context() from 3.12 on; ours on every version
    def get_context(self) -> Context: ...

# At runtime a subclass of our Handle too; both being disjoint bases (C
# layouts), the stub can name only one, and asyncio's is what typeshed's
# call_later() returns.
@disjoint_base
class TimerHandle(asyncio.TimerHandle):
    """asyncio.TimerHandle in C."""
    def __new__(cls, when: float, callback: Callable[..., object],
                 args: Sequence[Any], loop: AbstractEventLoop,
                 context: Context | None = None) -> Self: ...
    def __hash__(self) -> int: ...
    def __lt__(self, other: asyncio.TimerHandle, /) -> bool: ...
    def __le__(self, other: asyncio.TimerHandle, /) -> bool: ...
    def __gt__(self, other: asyncio.TimerHandle, /) -> bool: ...
    def __ge__(self, other: asyncio.TimerHandle, /) -> bool: ...
    def __eq__(self, other: object, /) -> bool: ...

@disjoint_base
class Loop:
    """The C half of casyncio.Loop: the run phases, scheduling, tasks."""
    slow_callback_duration: float
    def time(self) -> float: ...
    def call_soon(self, callback: Callable[[Unpack[_Ts]], object],
                  *args: Unpack[_Ts],
                  context: Context | None = None) -> Handle: ...
    def call_soon_threadsafe(self, callback: Callable[[Unpack[_Ts]], object],
                             *args: Unpack[_Ts],
                             context: Context | None = None) -> Handle: ...
    def call_later(self, delay: float,
                   callback: Callable[[Unpack[_Ts]], object],
                   *args: Unpack[_Ts],
                   context: Context | None = None) -> TimerHandle: ...
    def call_at(self, when: float, callback: Callable[[Unpack[_Ts]], object],
                *args: Unpack[_Ts],
                context: Context | None = None) -> TimerHandle: ...
    def stop(self) -> None: ...
    def is_closed(self) -> bool: ...
    def get_debug(self) -> bool: ...
    def set_debug(self, enabled: bool) -> None: ...
    def create_future(self) -> Future[Any]: ...
    if sys.version_info >= (3, 14):
        def create_task(self, coro: _CoroutineLike[_T], *,
                        name: object = None, context: Context | None = None,
                        eager_start: bool | None = None) -> Task[_T]: ...
    else:
        def create_task(self, coro: _CoroutineLike[_T], *,
                        name: object = None,
                        context: Context | None = None) -> Task[_T]: ...
    def set_task_factory(self, factory: _TaskFactory | None) -> None: ...
    def get_task_factory(self) -> _TaskFactory | None: ...

@disjoint_base
class _Transport(_FlowControlMixin):
    """What the stream, datagram and pipe transports share."""
    def close(self) -> None: ...
    def abort(self) -> None: ...
    def is_closing(self) -> bool: ...
    def is_reading(self) -> bool: ...
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None: ...
    def get_protocol(self) -> asyncio.BaseProtocol: ...
    def get_extra_info(self, name: str, default: Any = None) -> Any: ...
    def get_write_buffer_size(self) -> int: ...
    def get_write_buffer_limits(self) -> tuple[int, int]: ...

@disjoint_base
class SocketTransport(_Transport):
    """A TCP or Unix stream socket's transport."""
    def __new__(cls, loop: AbstractEventLoop, sock: socket,
                 protocol: asyncio.BaseProtocol,
                 extra: Mapping[str, Any] | None = None,
                 server: asyncio.Server | None = None) -> Self: ...
    def write(self, data: bytes | bytearray | memoryview) -> None: ...
    def write_eof(self) -> None: ...
    def can_write_eof(self) -> bool: ...

@disjoint_base
class DatagramTransport(_Transport, asyncio.DatagramTransport):
    """A UDP (or Unix datagram) socket's transport."""
    def __new__(cls, loop: AbstractEventLoop, sock: socket,
                 protocol: asyncio.BaseProtocol, address: Any = None,
                 extra: Mapping[str, Any] | None = None) -> Self: ...
    def sendto(self, data: bytes | bytearray | memoryview,
               addr: Any = None) -> None: ...

class ReadPipeTransport(_Transport):
    """The read end of a pipe (connect_read_pipe)."""
    def __new__(cls, loop: AbstractEventLoop, pipe: Any,
                 protocol: asyncio.BaseProtocol,
                 extra: Mapping[str, Any] | None = None) -> Self: ...

class WritePipeTransport(_Transport):
    """The write end of a pipe (connect_write_pipe)."""
    def __new__(cls, loop: AbstractEventLoop, pipe: Any,
                 protocol: asyncio.BaseProtocol,
                 extra: Mapping[str, Any] | None = None) -> Self: ...
    def write(self, data: bytes | bytearray | memoryview) -> None: ...
    def write_eof(self) -> None: ...
    def can_write_eof(self) -> bool: ...

class SSLAppTransportBase(_FlowControlMixin):
    """The C half of the application-side TLS transport (casyncio._tls)."""
    def write(self, data: bytes | bytearray | memoryview) -> None: ...

@disjoint_base
class SSLProtocolBase:
    """The C half of the TLS protocol (casyncio._tls): a buffered
    protocol's get_buffer() / buffer_updated()."""
    def get_buffer(self, n: int) -> memoryview: ...
    def buffer_updated(self, nbytes: int) -> None: ...

if sys.version_info >= (3, 14):
    # asyncio's call-graph bookkeeping, extended to casyncio's futures
    def future_add_to_awaited_by(future: asyncio.Future[Any],
                                 waiter: asyncio.Future[Any], /) -> None: ...
    def future_discard_from_awaited_by(future: asyncio.Future[Any],
                                       waiter: asyncio.Future[Any],
                                       /) -> None: ...
