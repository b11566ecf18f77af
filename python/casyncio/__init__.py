"""casyncio: asyncio's event loop, Future and Task in C."""
from . import _core
from ._core import Future, Handle, Task, TimerHandle
from .eager import create_eager_task_factory, eager_task_factory
from ._loop import Loop
from ._policy import EventLoopPolicy, install, new_event_loop, run
from ._tasks import BoundedSemaphore, Semaphore, gather, sleep, wait
from ._tasks import install_gather as _install_gather

# asyncio.gather runs casyncio's gather while a casyncio loop runs (and
# asyncio's own on any other loop): see _tasks.install_gather.
_install_gather()

__all__ = ('Loop', 'Future', 'Task', 'Handle', 'TimerHandle',
           'EventLoopPolicy', 'install', 'new_event_loop', 'run',
           'gather', 'wait', 'sleep', 'Semaphore', 'BoundedSemaphore',
           'eager_task_factory', 'create_eager_task_factory')
