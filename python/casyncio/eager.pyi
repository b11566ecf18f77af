"""Eager task factories for casyncio's Task (asyncio's signatures, 3.12's,
on every version)."""
import asyncio
import sys
from asyncio import AbstractEventLoop, _CoroutineLike
from contextvars import Context
from typing import Any, Protocol, TypeVar, type_check_only

from ._core import Task

__all__ = ("create_eager_task_factory", "eager_task_factory")

_T = TypeVar("_T")
_TaskT_co = TypeVar("_TaskT_co", bound=asyncio.Task[Any], covariant=True)

@type_check_only
class _CustomTaskConstructor(Protocol[_TaskT_co]):
    def __call__(self, coro: _CoroutineLike[Any], /, *,
                 loop: AbstractEventLoop, name: str | None,
                 context: Context | None,
                 eager_start: bool) -> _TaskT_co: ...

@type_check_only
class _EagerTaskFactoryType(Protocol[_TaskT_co]):
    def __call__(self, loop: AbstractEventLoop,
                 coro: _CoroutineLike[Any], *, name: str | None = None,
                 context: Context | None = None) -> _TaskT_co: ...

def create_eager_task_factory(
    custom_task_constructor: _CustomTaskConstructor[_TaskT_co],
) -> _EagerTaskFactoryType[_TaskT_co]: ...

# A function generic in the coroutine's result, as typeshed's
# asyncio.eager_task_factory, so that loop.set_task_factory() takes it.
if sys.version_info >= (3, 14):
    # runtime: (loop, coro, *, eager_start=True, **kwargs), asyncio's own
    # create_eager_task_factory's
    def eager_task_factory(
        loop: AbstractEventLoop | None, coro: _CoroutineLike[_T], *,
        name: str | None = None, context: Context | None = None,
        eager_start: bool = True) -> Task[_T]: ...
else:
    def eager_task_factory(
        loop: AbstractEventLoop | None, coro: _CoroutineLike[_T], *,
        name: str | None = None,
        context: Context | None = None) -> Task[_T]: ...
