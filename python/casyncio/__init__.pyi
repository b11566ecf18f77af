"""casyncio's public names (casyncio/__init__.py binds them at import, in
_import_all(), which mypy cannot follow)."""
from ._core import Future as Future
from ._core import Handle as Handle
from ._core import Task as Task
from ._core import TimerHandle as TimerHandle
from ._loop import Loop as Loop
from ._policy import EventLoopPolicy as EventLoopPolicy
from ._policy import install as install
from ._policy import new_event_loop as new_event_loop
from ._policy import run as run
from ._tasks import BoundedSemaphore as BoundedSemaphore
from ._tasks import Semaphore as Semaphore
from ._tasks import gather as gather
from ._tasks import sleep as sleep
from ._tasks import wait as wait
from .eager import create_eager_task_factory as create_eager_task_factory
from .eager import eager_task_factory as eager_task_factory

__version__: str

__all__ = ('__version__', 'Loop', 'Future', 'Task', 'Handle', 'TimerHandle',
           'EventLoopPolicy', 'install', 'new_event_loop', 'run',
           'gather', 'wait', 'sleep', 'Semaphore', 'BoundedSemaphore',
           'eager_task_factory', 'create_eager_task_factory')
