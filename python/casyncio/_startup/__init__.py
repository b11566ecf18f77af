"""Switching casyncio on at interpreter start-up, for ``python -m casyncio``.

The launcher starts the program the way plain ``python`` does (it replaces
itself with ``python [interpreter options] PROGRAM ARGS``), so no launcher
frame is ever on the program's stack.  Two environment variables, which
child processes inherit, switch casyncio on in that interpreter and in every
Python process it starts (``multiprocessing`` workers, subprocesses):

* ``PYTHONPATH`` starts with this folder, whose ``sitecustomize`` module
  ``site`` imports at start-up;
* ``CASYNCIO_INSTALL=1`` tells that module to act (unset, empty or ``0``:
  it does nothing; ``CASYNCIO_NO_COMPAT=1`` leaves the compat layer out).

The hook takes its folder off ``sys.path`` again, runs the
``sitecustomize`` it shadows, if any, and waits for the program's first
``import asyncio``: right after asyncio is loaded, activate() installs
casyncio's policy, ``asyncio.gather`` and the compat layer.  A program that
never imports asyncio pays nothing more than the hook's own import.

``CASYNCIO_DISABLE=1`` switches casyncio off everywhere, to compare with
stock asyncio without editing the program: the launcher runs the program
as plain ``python`` would, ``casyncio.install()`` leaves asyncio's policy
alone, ``casyncio.new_event_loop()`` and ``casyncio.run()`` make stock
asyncio loops, and ``import casyncio`` leaves ``asyncio.gather`` and ``asyncio.sleep`` alone.
"""
import os

__all__ = ("HOOK_DIR", "ENV_INSTALL", "ENV_DISABLE", "activate",
           "child_environ", "disabled", "wanted")

HOOK_DIR = os.path.dirname(os.path.abspath(__file__))
ENV_INSTALL = "CASYNCIO_INSTALL"
ENV_DISABLE = "CASYNCIO_DISABLE"


def _flag(environ: "os._Environ[str] | dict[str, str]", name: str) -> bool:
    """Whether variable name is set, and not empty or 0."""
    return environ.get(name, "") not in ("", "0")


def disabled(environ: "os._Environ[str] | dict[str, str]" = os.environ) -> bool:
    """True when the environment asks for stock asyncio instead
    (CASYNCIO_DISABLE set, and not empty or 0)."""
    return _flag(environ, ENV_DISABLE)


def wanted(environ=os.environ):
    """True when the environment asks for casyncio at start-up."""
    return _flag(environ, ENV_INSTALL) and not disabled(environ)


def compat_wanted(environ=os.environ):
    return not _flag(environ, "CASYNCIO_NO_COMPAT")


def child_environ(compat=True, environ=os.environ):
    """*environ* plus what switches casyncio on in a new interpreter."""
    env = dict(environ)
    env[ENV_INSTALL] = "1"
    if not compat:
        env["CASYNCIO_NO_COMPAT"] = "1"
    path = env.get("PYTHONPATH", "")
    parts = path.split(os.pathsep) if path else []
    if HOOK_DIR not in parts:
        env["PYTHONPATH"] = os.pathsep.join([HOOK_DIR] + parts)
    return env


def activate(compat=None):
    """Install casyncio into asyncio: the event loop policy (asyncio.run(),
    new_event_loop() make casyncio loops), casyncio's gather() as
    ``asyncio.gather``, its sleep() as ``asyncio.sleep``, and, if *compat* (default: unless
    CASYNCIO_NO_COMPAT=1), the legacy-asyncio compat layer."""
    from casyncio import _compat, _policy, _tasks
    if disabled():
        return
    if compat is None:
        compat = compat_wanted()
    _policy.install()
    # Importing casyncio did it already: kept for a caller that undid it.
    _tasks.install_gather()
    _tasks.install_sleep()
    if compat:
        _compat.install()
