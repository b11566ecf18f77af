"""Reference counting as a debug build of CPython checks it.

On a debug CPython (sys.gettotalrefcount, e.g. Debian's python3.15-dbg)
these count references; tests/conformance/refleaks.py hunts leaks in a
whole conformance group the same way.  The dealloc test also runs on a
release build (where it cannot fail: the check is a debug-build assert).
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def _run(code):
    env = dict(os.environ, PYTHONPATH=os.path.join(HERE, '..', 'python'))
    return subprocess.run([sys.executable, '-c', code], env=env,
                          capture_output=True, text=True)


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
