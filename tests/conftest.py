import asyncio
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import casyncio  # noqa: E402

# Where the casyncio under test was imported from (the installed package, or
# python/ with an in-place build): subprocesses get it on PYTHONPATH.
PACKAGE_PARENT = os.path.dirname(os.path.dirname(casyncio.__file__))

LOOPS = {
    'asyncio': asyncio.new_event_loop,
    'casyncio': casyncio.new_event_loop,
}


@pytest.fixture(params=sorted(LOOPS))
def loop(request):
    """A fresh loop of each implementation: the same test body runs on
    stock asyncio and on casyncio, so a difference is a failing test."""
    lp = LOOPS[request.param]()
    yield lp
    if not lp.is_closed():
        lp.close()


@pytest.fixture
def cloop():
    """A casyncio loop only, for what stock asyncio does not have."""
    lp = casyncio.new_event_loop()
    yield lp
    if not lp.is_closed():
        lp.close()
