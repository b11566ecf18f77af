"""casyncio.pytest_plugin: a user's own suite (pytest-asyncio tests and
async fixtures, anyio's pytest plugin, unittest's IsolatedAsyncioTestCase,
asyncio.run() in a plain test) runs on casyncio's loop with the plugin on,
and the same suite passes on stock asyncio with it off.  Each run is a real
pytest in a subprocess (pytester), as a user would start it."""
import os
import sys

import pytest

from conftest import PACKAGE_PARENT

pytest_plugins = ["pytester"]

# Which loop the user's tests find running: the suite asserts the one named
# in $EXPECT_LOOP, so the same files pass on both loops only when the
# switch works both ways.
USER_CONFTEST = """
import asyncio
import os

import casyncio


def loop_kind(loop=None):
    loop = loop or asyncio.get_running_loop()
    if isinstance(loop, casyncio.Loop):
        return "casyncio"
    assert type(loop).__module__.startswith("asyncio."), type(loop)
    return "asyncio"


def check_loop(loop=None):
    assert loop_kind(loop) == os.environ["EXPECT_LOOP"], loop
"""

USER_TESTS = {
    "test_plain.py": """
import asyncio
import unittest

from conftest import check_loop


def test_asyncio_run():
    async def main():
        check_loop()
        await asyncio.sleep(0)
        return 42
    assert asyncio.run(main()) == 42


def test_new_event_loop():
    loop = asyncio.new_event_loop()
    try:
        check_loop(loop)
    finally:
        loop.close()


class TestIsolated(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.setup_loop = asyncio.get_running_loop()

    async def test_loop(self):
        check_loop()
        self.assertIs(asyncio.get_running_loop(), self.setup_loop)
        await asyncio.sleep(0.001)
""",
    "test_pa.py": """
import asyncio

import pytest
import pytest_asyncio

from conftest import check_loop


@pytest_asyncio.fixture
async def fixture_loop():
    check_loop()
    yield asyncio.get_running_loop()
    check_loop()


@pytest.mark.asyncio
async def test_pytest_asyncio(fixture_loop):
    check_loop()
    assert asyncio.get_running_loop() is fixture_loop
    await asyncio.wait_for(asyncio.sleep(0.001), 1)


@pytest.mark.asyncio(loop_scope="module")
async def test_module_scope_1():
    check_loop()
    globals()["module_loop"] = asyncio.get_running_loop()


@pytest.mark.asyncio(loop_scope="module")
async def test_module_scope_2():
    assert asyncio.get_running_loop() is module_loop
""",
    "test_any.py": """
import anyio
import pytest

from conftest import check_loop

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
async def resource():
    check_loop()
    yield "r"


async def test_anyio(resource):
    check_loop()
    assert resource == "r"
    async with anyio.create_task_group() as tg:
        tg.start_soon(anyio.sleep, 0.001)
    with anyio.move_on_after(0.01) as scope:
        await anyio.sleep(10)
    assert scope.cancelled_caught
""",
}
# tests per file when all pass
COUNTS = {"test_plain.py": 3, "test_pa.py": 3, "test_any.py": 1}

pytest.importorskip("pytest_asyncio", reason="pytest-asyncio is in the "
                    "test extra; without it the user suite cannot run")
pytest.importorskip("anyio", reason="anyio is in the test extra")


@pytest.fixture
def user_suite(pytester, monkeypatch):
    """The user's project: its conftest.py and test files, casyncio
    importable in the subprocess as it is here."""
    pytester.makeconftest(USER_CONFTEST)
    pytester.makepyfile(**{name[:-3]: src for name, src in USER_TESTS.items()})
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", PACKAGE_PARENT + (os.pathsep + path if path else ""))
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.delenv("CASYNCIO_INSTALL", raising=False)
    return pytester


def run_suite(pytester, monkeypatch, expect, *args):
    monkeypatch.setenv("EXPECT_LOOP", expect)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
    result.assert_outcomes(passed=sum(COUNTS.values()))
    return result


def test_plugin_on(user_suite, monkeypatch):
    result = run_suite(user_suite, monkeypatch, "casyncio",
                       "-p", "casyncio.pytest_plugin")
    result.stdout.fnmatch_lines(["casyncio: *tests run on casyncio's event loop"])


def test_launcher(user_suite, monkeypatch):
    """python -m casyncio -m pytest: the launcher's policy, no plugin."""
    monkeypatch.setenv("EXPECT_LOOP", "casyncio")
    result = user_suite.run(sys.executable, "-m", "casyncio", "-m", "pytest",
                            "-p", "no:cacheprovider")
    result.assert_outcomes(passed=sum(COUNTS.values()))


def test_plugin_off(user_suite, monkeypatch):
    """The same suite on stock asyncio: nothing of casyncio is switched on
    by installing or importing it."""
    result = run_suite(user_suite, monkeypatch, "asyncio")
    assert "casyncio's event loop" not in result.stdout.str()


def test_plugin_in_ini(user_suite, monkeypatch):
    user_suite.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n"
                       "addopts = -p casyncio.pytest_plugin\n")
    run_suite(user_suite, monkeypatch, "casyncio")


def test_plugin_in_conftest(user_suite, monkeypatch):
    user_suite.makeconftest(USER_CONFTEST
                            + "\npytest_plugins = ['casyncio.pytest_plugin']\n")
    run_suite(user_suite, monkeypatch, "casyncio")


def test_plugin_blocked_again(user_suite, monkeypatch):
    """-p no:casyncio.pytest_plugin after an addopts that turns it on: back
    to stock asyncio, to compare."""
    user_suite.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n"
                       "addopts = -p casyncio.pytest_plugin\n")
    run_suite(user_suite, monkeypatch, "asyncio", "-p", "no:casyncio.pytest_plugin")


def test_users_loop_factories_hook_wins(user_suite, monkeypatch):
    """A pytest_asyncio_loop_factories hook in the user's conftest.py is
    pytest-asyncio's explicit choice: it is asked before the plugin's."""
    import pytest_asyncio.plugin
    if not hasattr(pytest_asyncio.plugin, "_collect_hook_loop_factories"):
        pytest.skip("pytest-asyncio < 1.4 has no pytest_asyncio_loop_factories hook")
    user_suite.makeconftest(USER_CONFTEST + """
def pytest_asyncio_loop_factories(config, item):
    return {"stock": asyncio.SelectorEventLoop}
""")
    monkeypatch.setenv("EXPECT_LOOP", "asyncio")
    result = user_suite.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "casyncio.pytest_plugin", "test_pa.py")
    result.assert_outcomes(passed=COUNTS["test_pa.py"])


def test_policy_restored_after_session(pytester):
    """In-process (pytest's main in this interpreter): the policy the
    session found is current again when it ends."""
    import asyncio
    from asyncio import events
    get_policy = getattr(events, "_get_event_loop_policy",
                         events.get_event_loop_policy)
    before = get_policy()
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_inproc="""
import asyncio
import casyncio

def test_on_casyncio():
    async def main():
        return asyncio.get_running_loop()
    assert isinstance(asyncio.run(main()), casyncio.Loop)
""")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider",
                                          "-p", "casyncio.pytest_plugin")
    result.assert_outcomes(passed=1)
    assert get_policy() is before
    loop = asyncio.new_event_loop()
    try:
        assert not type(loop).__module__.startswith("casyncio")
    finally:
        loop.close()


# unittest without pytest: the class attribute (3.13+) and the launcher.
UNITTEST_MODULE = """
import asyncio
import os
import unittest

import casyncio


class TestOnCasyncio(unittest.IsolatedAsyncioTestCase):
    # A class, as asyncio.EventLoop in unittest's documentation: a plain
    # function here (casyncio.new_event_loop, asyncio.new_event_loop) would
    # become a method and be called with self.
    if os.environ.get("SET_LOOP_FACTORY"):
        loop_factory = casyncio.Loop

    async def test_loop(self):
        self.assertIsInstance(asyncio.get_running_loop(), casyncio.Loop)
"""


@pytest.mark.skipif(sys.version_info < (3, 13),
                    reason="IsolatedAsyncioTestCase.loop_factory is new in 3.13")
def test_unittest_loop_factory(pytester, monkeypatch):
    pytester.makepyfile(test_ut=UNITTEST_MODULE)
    monkeypatch.setenv("PYTHONPATH", PACKAGE_PARENT)
    monkeypatch.setenv("SET_LOOP_FACTORY", "1")
    result = pytester.run(sys.executable, "-m", "unittest", "-v", "test_ut")
    assert result.ret == 0, result.stderr.str()
    result.stderr.fnmatch_lines(["test_loop * ok", "OK"])
    monkeypatch.delenv("SET_LOOP_FACTORY")
    result = pytester.run(sys.executable, "-m", "unittest", "test_ut")
    assert result.ret == 1, "stock asyncio's loop without loop_factory"


def test_unittest_launcher(pytester, monkeypatch):
    pytester.makepyfile(test_ut=UNITTEST_MODULE)
    monkeypatch.setenv("PYTHONPATH", PACKAGE_PARENT)
    monkeypatch.delenv("SET_LOOP_FACTORY", raising=False)
    result = pytester.run(sys.executable, "-m", "casyncio", "-m", "unittest",
                          "-v", "test_ut")
    assert result.ret == 0, result.stderr.str()
    result.stderr.fnmatch_lines(["test_loop * ok", "OK"])
