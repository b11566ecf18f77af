"""casyncio: asyncio's event loop, Future and Task in C."""
from . import _core
from ._policy import EventLoopPolicy, install, new_event_loop, run
from ._tasks import BoundedSemaphore, Semaphore, gather, sleep, wait

__all__ = ["EventLoopPolicy", "install", "new_event_loop", "run",
           "gather", "wait", "sleep", "Semaphore", "BoundedSemaphore"]
