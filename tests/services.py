"""The real servers tests/test_asyncpg.py and tests/test_redis.py talk to:
their addresses come from the environment that `.ci/services start`
writes (CASYNCIO_TEST_PG_DSN, CASYNCIO_TEST_REDIS_URL).  Without them the
tests skip, saying so, except when CASYNCIO_REQUIRE_SERVICES is set (CI
sets it): then a missing server or client library is a failure."""
import importlib
import os

import pytest

REQUIRED = bool(os.environ.get('CASYNCIO_REQUIRE_SERVICES'))
HOWTO = 'run `. "$(.ci/services start)"` first (needs postgresql, redis-server)'


def _missing(message):
    if REQUIRED:
        pytest.fail(f'{message}, and CASYNCIO_REQUIRE_SERVICES is set',
                    pytrace=False)
    pytest.skip(message)


def client_module(name):
    """Import a client library (asyncpg, redis.asyncio), or skip/fail."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        _missing(f'{name} is not installed ({exc}): pip install ".[test]"')


def address(var):
    """The server address in environment variable var, or skip/fail."""
    value = os.environ.get(var)
    if not value:
        _missing(f'{var} is not set: no server to test against; {HOWTO}')
    return value


async def retry(make, errors, timeout=30.0, pause=0.05):
    """await make() until it stops raising one of errors (a server coming
    back after a restart); give up after timeout seconds.  Returns the
    result and how many attempts failed."""
    import asyncio
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    failed = 0
    while True:
        try:
            return await make(), failed
        except errors:
            failed += 1
            if loop.time() > deadline:
                raise
            await asyncio.sleep(pause)
