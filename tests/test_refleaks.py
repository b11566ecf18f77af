"""Reference counting as a debug build of CPython checks it.

On a debug CPython (sys.gettotalrefcount, e.g. Debian's python3.15-dbg)
these count references; tests/conformance/refleaks.py hunts leaks in a
whole conformance group the same way.  All of them need a debug build
(CI: .ci/run's python3.15d step): a release build checks neither the
counts nor the asserts they trip.
"""
import gc
import os
import subprocess
import sys

import pytest

import casyncio
from casyncio import _core

HERE = os.path.dirname(os.path.abspath(__file__))
debug_python = pytest.mark.skipif(
    not hasattr(sys, 'gettotalrefcount'),
    reason='needs a debug build of CPython: its reference counts and '
           'asserts')


def _run(code):
    env = dict(os.environ, PYTHONPATH=os.path.join(HERE, '..', 'python'))
    return subprocess.run([sys.executable, '-c', code], env=env,
                          capture_output=True, text=True)


@debug_python
def test_loop_and_transport_dealloc_with_python_finalizer():
    # The Loop (casyncio's Python subclass has __del__) and a transport
    # dropped unclosed: tp_dealloc must call the finalizer while the object
    # is still GC-tracked (a debug CPython asserts it and aborts).
    r = _run(
        'import asyncio, gc, socket, warnings, casyncio\n'
        'warnings.simplefilter("ignore")\n'
        'loop = casyncio.new_event_loop()\n'
        'a, b = socket.socketpair()\n'
        'async def main():\n'
        '    await loop.connect_accepted_socket(asyncio.Protocol, a)\n'
        'loop.run_until_complete(main())\n'
        'del loop; gc.collect(); b.close(); print("ok")\n')
    assert r.returncode == 0, r.stderr
    assert r.stdout == 'ok\n'


def _refs_per(n, func):
    for _ in range(50):
        func()
    gc.collect()
    _core._clear_pools()
    before = sys.gettotalrefcount()
    for _ in range(n):
        func()
    gc.collect()
    _core._clear_pools()
    return sys.gettotalrefcount() - before


@debug_python
def test_pooled_objects_count_as_new_references():
    # Futures, their await iterators, Handles and sleep(0)'s iterators come
    # back from our pools: each reuse must count +1 in the debug total as
    # a new object does, or 1000 reuses read as -1000 and hide leaks.
    loop = casyncio.new_event_loop()

    async def body():
        fut = loop.create_future()
        loop.call_soon(fut.set_result, 1)
        await fut
        await casyncio.sleep(0)

    try:
        assert abs(_refs_per(1000, lambda: loop.run_until_complete(
            body()))) < 100
    finally:
        loop.close()


@debug_python
def test_conformance_futures_do_not_leak():
    r = subprocess.run(
        [sys.executable, os.path.join(HERE, 'conformance', 'refleaks.py'),
         'types', 'casyncio', '-k', 'CXFutureTests'],
        env=dict(os.environ, PYTHONPATH=os.path.join(HERE, '..', 'python')),
        capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
