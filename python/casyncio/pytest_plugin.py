"""Run a test suite on casyncio's event loop: ``pytest -p casyncio.pytest_plugin``.

Switched on by name only (``-p casyncio.pytest_plugin`` on the command line,
in ``addopts`` or in PYTEST_ADDOPTS, or ``pytest_plugins`` in the root
conftest.py); casyncio registers no pytest11 entry point, so installing it
changes no one's test run.  ``-p no:casyncio.pytest_plugin`` after it turns
it off again, to compare with stock asyncio.

While the session runs, casyncio's event loop policy is the current one
(casyncio.install()), so every loop made without an explicit factory is a
casyncio loop: asyncio.run() and asyncio.Runner in the tests,
unittest.IsolatedAsyncioTestCase (all versions; from 3.13 on only where the
class leaves ``loop_factory`` at None), anyio's pytest plugin and anyio.run()
on the asyncio backend (unless the test asks for uvloop or its own
``loop_factory``), and pytest-asyncio 1.x.  With pytest-asyncio >= 1.4 the
plugin also answers its ``pytest_asyncio_loop_factories`` hook, the way it
documents for choosing the loop (a ``pytest_asyncio_loop_factories`` in the
user's conftest.py is asked first and wins).  The previous policy comes back
when the session ends.
"""
import asyncio
from collections.abc import Callable
from typing import Any

import pytest

import casyncio

_saved_policy: list[Any] = []


def _policy_functions() -> tuple[Callable[[], Any], Callable[[Any], None]]:
    """asyncio's get/set policy functions without 3.14's deprecation
    warnings (the private ones asyncio itself uses from 3.14 on)."""
    from asyncio import events
    return (getattr(events, '_get_event_loop_policy',
                    events.get_event_loop_policy),
            getattr(events, '_set_event_loop_policy',
                    events.set_event_loop_policy))


def pytest_configure(config: pytest.Config) -> None:
    get_policy, _ = _policy_functions()
    _saved_policy.append(get_policy())
    casyncio.install()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _saved_policy:
        _, set_policy = _policy_functions()
        set_policy(_saved_policy.pop())


def pytest_report_header(config: pytest.Config) -> str:
    return f"casyncio: {casyncio.__version__}, tests run on casyncio's event loop"


@pytest.hookimpl(optionalhook=True)
def pytest_asyncio_loop_factories(
        config: pytest.Config, item: pytest.Item,
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """pytest-asyncio >= 1.4: the loop factory of every asyncio test (a
    single factory: test ids stay as they are)."""
    return {"casyncio": casyncio.new_event_loop}
