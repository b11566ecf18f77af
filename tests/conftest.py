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


def pytest_terminal_summary(terminalreporter):
    """The conformance table: each group of CPython's test_asyncio on
    casyncio next to stock asyncio's count for the same tests."""
    try:
        from test_conformance import SUMMARY
    except ImportError:
        return
    if not SUMMARY:
        return
    w = terminalreporter.write_line
    w('')
    w('CPython test_asyncio on casyncio (tests/conformance):')
    w(f'{"group":<13} {"passed":>7} {"xfail":>6} {"excluded":>9} '
      f'{"skipped":>8}   {"stock asyncio passed/run":>24}')
    total = dict(passed=0, xfail=0, excluded=0, skipped=0)
    stock_total = [0, 0]
    for name, counts, stock_passed, stock_run, note in SUMMARY:
        for k in total:
            total[k] += counts[k]
        stock_total[0] += stock_passed
        stock_total[1] += stock_run
        w(f'{name:<13} {counts["passed"]:>7} {counts["xfail"]:>6} '
          f'{counts["excluded"]:>9} {counts["skipped"]:>8}   '
          f'{stock_passed:>15}/{stock_run:<8}' + (f' {note}' if note else ''))
    w(f'{"total":<13} {total["passed"]:>7} {total["xfail"]:>6} '
      f'{total["excluded"]:>9} {total["skipped"]:>8}   '
      f'{stock_total[0]:>15}/{stock_total[1]:<8}')
