"""The event loop policy that makes casyncio loops, and run()."""
import asyncio
from asyncio import events, unix_events
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ._startup import disabled

if TYPE_CHECKING:
    from ._loop import Loop

_T = TypeVar("_T")

__all__ = ("EventLoopPolicy", "install", "new_event_loop", "run")


def new_event_loop() -> "Loop":
    """Return a new casyncio event loop (a stock asyncio one when
    CASYNCIO_DISABLE=1)."""
    if disabled():
        # The switch back to stock: a stock loop stands in for ours.
        return cast("Loop", unix_events.SelectorEventLoop())
    from ._loop import Loop
    return Loop()


# asyncio's default policy class by its private name: from 3.14 on the
# public asyncio.DefaultEventLoopPolicy is deprecated (a DeprecationWarning
# on every access), the private one is the same class without the warning.
class EventLoopPolicy(unix_events._UnixDefaultEventLoopPolicy):
    """asyncio's default policy (per-thread loops, and child watchers before
    3.14), making casyncio loops."""

    def _loop_factory(self) -> "Loop":
        return new_event_loop()


def install() -> None:
    """Make casyncio's policy the current one: asyncio.run(),
    asyncio.new_event_loop() and get_event_loop() then make casyncio loops.
    Does nothing when CASYNCIO_DISABLE=1."""
    if disabled():
        return
    # 3.14 deprecated the policy system (to go in 3.16) but still runs
    # asyncio.run() and new_event_loop() through it: set ours the way asyncio
    # does internally, so that a program on casyncio sees no warning that it
    # does not see on stock asyncio.
    set_policy = getattr(events, '_set_event_loop_policy',
                         events.set_event_loop_policy)
    set_policy(EventLoopPolicy())


def run(main: Coroutine[Any, Any, _T], *, debug: bool | None = None) -> _T:
    """asyncio.run(), on a new casyncio loop."""
    if events._get_running_loop() is not None:
        # fail fast with short traceback
        raise RuntimeError(
            "casyncio.run() cannot be called from a running event loop")

    with asyncio.Runner(debug=debug, loop_factory=new_event_loop) as runner:
        return runner.run(main)
