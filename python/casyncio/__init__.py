"""casyncio: asyncio's event loop, Future and Task in C."""
import sys as _sys

__version__ = "0.1.0"   # as pyproject.toml's (tests/test_launcher.py)

__all__ = ('__version__', 'Loop', 'Future', 'Task', 'Handle', 'TimerHandle',
           'EventLoopPolicy', 'install', 'new_event_loop', 'run',
           'gather', 'wait', 'sleep', 'Semaphore', 'BoundedSemaphore',
           'eager_task_factory', 'create_eager_task_factory')


def _import_all():
    """Import the package's contents (the C extension, asyncio)."""
    # asyncio first: under the launcher, its import runs the start-up hook,
    # which imports casyncio's modules, _core among them.  Imported from
    # _core's initialisation instead, asyncio would run the hook while _core
    # is still empty (a program whose first import is casyncio).
    import asyncio  # noqa: F401
    from . import _core  # noqa: F401  (all bound below by locals())
    from ._core import Future, Handle, Task, TimerHandle
    from .eager import create_eager_task_factory, eager_task_factory
    from ._loop import Loop
    from ._policy import EventLoopPolicy, install, new_event_loop, run
    from ._tasks import BoundedSemaphore, Semaphore, gather, sleep, wait
    globals().update(locals())
    # asyncio.gather runs casyncio's gather while a casyncio loop runs (and
    # asyncio's own on any other loop): see _tasks.install_gather.
    # asyncio.sleep is casyncio's on every loop (_tasks.install_sleep).
    # Not with CASYNCIO_DISABLE=1: stock asyncio untouched, to compare.
    from ._startup import disabled
    from ._tasks import install_gather, install_sleep
    if not disabled():
        install_gather()
        install_sleep()


def _starting_launcher():
    """True while ``python -m casyncio`` imports this package on its way to
    casyncio.__main__ (sys.argv[0] is "-m" until runpy has found it)."""
    if _sys.argv[:1] != ["-m"]:
        return False
    orig = getattr(_sys, "orig_argv", [])
    head = orig[1:len(orig) - (len(_sys.argv) - 1)]
    return bool(head) and (head[-1] == "casyncio"
                           or (head[-1].startswith("-")
                               and head[-1].endswith("mcasyncio")))


# The launcher starts the program in a new interpreter (casyncio/_startup):
# its own process needs neither asyncio nor the C loop, unless it has to
# run the program itself, and then it calls _import_all().
if not _starting_launcher():
    _import_all()
