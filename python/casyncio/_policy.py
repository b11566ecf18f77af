"""The event loop policy that makes casyncio loops, and run()."""
import asyncio
from asyncio import events

__all__ = ("EventLoopPolicy", "install", "new_event_loop", "run")


def new_event_loop():
    """Return a new casyncio event loop."""
    from ._loop import Loop
    return Loop()


class EventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """asyncio's default policy (per-thread loops, child watchers), making
    casyncio loops."""

    def _loop_factory(self):
        return new_event_loop()


def install():
    """Make casyncio's policy the current one: asyncio.run(),
    asyncio.new_event_loop() and get_event_loop() then make casyncio loops."""
    asyncio.set_event_loop_policy(EventLoopPolicy())


def run(main, *, debug=None):
    """asyncio.run(), on a new casyncio loop."""
    if events._get_running_loop() is not None:
        # fail fast with short traceback
        raise RuntimeError(
            "casyncio.run() cannot be called from a running event loop")

    with asyncio.Runner(debug=debug, loop_factory=new_event_loop) as runner:
        return runner.run(main)
