import asyncio
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import casyncio  # noqa: E402

# Where the casyncio under test was imported from (the installed package, or
# python/ with an in-place build): subprocesses get it on PYTHONPATH.
PACKAGE_PARENT = os.path.dirname(os.path.dirname(casyncio.__file__))



def new_uring_loop():
    """A casyncio loop on its io_uring receive path (CASYNCIO_IO_URING=1
    while it is made); the test is skipped where the kernel refuses
    io_uring (the loop would be on epoll, as the 'casyncio' one)."""
    old = os.environ.get('CASYNCIO_IO_URING')
    os.environ['CASYNCIO_IO_URING'] = '1'
    try:
        lp = casyncio.new_event_loop()
    finally:
        if old is None:
            del os.environ['CASYNCIO_IO_URING']
        else:
            os.environ['CASYNCIO_IO_URING'] = old
    if not lp._io_uring:
        lp.close()
        pytest.skip('io_uring refused by this kernel (io_uring_setup '
                    'failed, or io_uring_disabled): casyncio stays on epoll')
    return lp


LOOPS = {
    'asyncio': asyncio.new_event_loop,
    'casyncio': casyncio.new_event_loop,
    'casyncio_uring': new_uring_loop,
}

# The test files whose `loop` tests (this file's fixture) run on casyncio's
# io_uring path too, a third loop 'casyncio_uring': the stream transports'
# tests (test_tls.py has its own fixture, with the same third loop).
URING_MODULES = {'test_tcp', 'test_tcp_faults', 'test_stream_reader',
                 'test_transport_misuse', 'test_protocol_context',
                 'test_recv_copy', 'test_uring'}


def pytest_generate_tests(metafunc):
    """This file's `loop`: asyncio and casyncio, and casyncio_uring in
    URING_MODULES (a module's own `loop` fixture is left alone)."""
    defs = metafunc._arg2fixturedefs.get('loop')
    if 'loop' in metafunc.fixturenames and defs \
            and defs[-1].func.__module__ == __name__:
        names = ['asyncio', 'casyncio']
        if metafunc.module.__name__.rsplit('.', 1)[-1] in URING_MODULES:
            names.append('casyncio_uring')
        metafunc.parametrize('loop', names, indirect=True)


@pytest.fixture
def loop(request):
    """A fresh loop of each implementation: the same test body runs on
    stock asyncio and on casyncio (and, in URING_MODULES, on casyncio's
    io_uring path), so a difference is a failing test."""
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
