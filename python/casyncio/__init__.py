"""casyncio: asyncio's event loop, Future and Task in C."""
from . import _core
from ._core import Handle, TimerHandle
from ._loop import Loop

__all__ = ('Loop', 'Handle', 'TimerHandle', 'new_event_loop')


def new_event_loop():
    """A new casyncio event loop."""
    return Loop()
