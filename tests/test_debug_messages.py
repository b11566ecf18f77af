"""Debug mode's messages name what ran, on casyncio as on stock asyncio.

asyncio's debug mode (``asyncio.run(debug=True)``, ``PYTHONASYNCIODEBUG=1``,
``python -X dev``) logs "Executing <...> took N seconds" for a callback or
task step slower than ``loop.slow_callback_duration``; the text names the
task and its coroutine, or the callback and where it was scheduled.
"""
import asyncio
import logging
import os
import re
import subprocess
import sys
import time

import pytest

from conftest import PACKAGE_PARENT

SLOW = 0.05          # each slow step sleeps this long ...
THRESHOLD = 0.02     # ... and the loop calls slower than this slow
HERE = re.escape(__file__)


def line_of(func, text):
    """Line number of the first line of *func*'s source holding *text*."""
    import inspect
    lines, start = inspect.getsourcelines(func)
    for i, line in enumerate(lines):
        if text in line:
            return start + i
    raise AssertionError(text)


def slow_messages(loop, caplog, coro):
    loop.set_debug(True)
    loop.slow_callback_duration = THRESHOLD
    with caplog.at_level(logging.WARNING, logger='asyncio'):
        loop.run_until_complete(coro)
    return [r.getMessage() for r in caplog.records
            if r.getMessage().startswith('Executing ')]


async def slow_worker():
    time.sleep(SLOW)
    await asyncio.sleep(0)          # the first step ends here
    time.sleep(SLOW)


def test_slow_task_step_names_task_and_coroutine(loop, caplog):
    async def main():
        await asyncio.get_running_loop().create_task(
            slow_worker(), name='worker')

    msgs = slow_messages(loop, caplog, main())
    suspended = line_of(slow_worker, 'await asyncio.sleep(0)')
    first = (rf"Executing <Task pending name='worker' "
             rf"coro=<slow_worker\(\) running at {HERE}:{suspended}> "
             rf".*took \d+\.\d\d\d seconds$")
    last = (rf"Executing <Task finished name='worker' "
            rf"coro=<slow_worker\(\) done, defined at {HERE}:\d+> "
            rf"result=None .*took \d+\.\d\d\d seconds$")
    assert [m for m in msgs if re.match(first, m)], msgs
    assert [m for m in msgs if re.match(last, m)], msgs


def test_slow_callback_names_callback_and_where_scheduled(loop, caplog):
    def slow_cb():
        time.sleep(SLOW)

    async def main():
        asyncio.get_running_loop().call_soon(slow_cb)   # scheduled here
        await asyncio.sleep(SLOW * 2)

    msgs = slow_messages(loop, caplog, main())
    defined = line_of(slow_cb, 'def slow_cb')
    scheduled = line_of(main, 'call_soon(slow_cb)')
    want = (rf"Executing <Handle .*slow_cb\(\) at {HERE}:{defined} "
            rf"created at {HERE}:{scheduled}> took \d+\.\d\d\d seconds$")
    assert [m for m in msgs if re.match(want, m)], msgs


def test_slow_done_callback_created_where_the_future_was_resolved(
        loop, caplog):
    """A future's done callback runs through call_soon: its Handle was
    made where the future got its result, and the message says so."""
    def slow_done(fut):
        time.sleep(SLOW)

    async def main():
        fut = asyncio.get_running_loop().create_future()
        fut.add_done_callback(slow_done)
        fut.set_result(1)                               # resolved here
        await asyncio.sleep(SLOW * 2)

    msgs = slow_messages(loop, caplog, main())
    defined = line_of(slow_done, 'def slow_done')
    resolved = line_of(main, 'fut.set_result(1)')
    want = (rf"Executing <Handle .*slow_done\(<Future finis.*\) "
            rf"at {HERE}:{defined} created at {HERE}:{resolved}> "
            rf"took \d+\.\d\d\d seconds$")
    assert [m for m in msgs if re.match(want, m)], msgs


def test_done_callback_error_report_has_source_traceback(loop):
    """In debug mode the report of a done callback's error carries the
    handle and where it was scheduled (the line that resolved the
    future)."""
    seen = []
    loop.set_exception_handler(lambda lp, ctx: seen.append(ctx))
    loop.set_debug(True)

    def failing(fut):
        raise ZeroDivisionError

    async def main():
        fut = asyncio.get_running_loop().create_future()
        fut.add_done_callback(failing)
        fut.set_result(1)                               # resolved here
        await asyncio.sleep(0)

    loop.run_until_complete(main())
    (ctx,) = seen
    assert isinstance(ctx['exception'], ZeroDivisionError)
    assert ctx['message'].startswith('Exception in callback ')
    assert 'failing' in ctx['message']
    assert repr(ctx['handle']).startswith('<Handle ')
    frame = ctx['source_traceback'][-1]
    assert (frame.filename, frame.lineno) == (
        __file__, line_of(main, 'fut.set_result(1)'))


PROGRAM = '''
import asyncio, sys, time
{setup}
async def busy():
    time.sleep(0.15)
async def main():
    loop = asyncio.get_running_loop()
    print(loop.get_debug(), type(loop).__module__.split('.')[0])
    await asyncio.create_task(busy(), name='busy')
{run}
'''


@pytest.mark.parametrize('how', ['PYTHONASYNCIODEBUG=1', '-X dev',
                                 'run(debug=True)'])
@pytest.mark.parametrize('impl', ['asyncio', 'casyncio'])
def test_debug_mode_switches(impl, how, tmp_path):
    """The three ways to switch debug mode on reach casyncio's loop, and
    the slow task is named in the log."""
    setup = 'import casyncio' if impl == 'casyncio' else ''
    runner = 'casyncio.run' if impl == 'casyncio' else 'asyncio.run'
    debug = 'debug=True' if how == 'run(debug=True)' else ''
    prog = tmp_path / 'prog.py'
    args = 'main(), debug=True' if debug else 'main()'
    prog.write_text(PROGRAM.format(setup=setup, run=f'{runner}({args})'))
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    for name in ('PYTHONASYNCIODEBUG', 'PYTHONDEVMODE', 'CASYNCIO_DISABLE'):
        env.pop(name, None)
    opts = []
    if how == 'PYTHONASYNCIODEBUG=1':
        env['PYTHONASYNCIODEBUG'] = '1'
    elif how == '-X dev':
        opts = ['-X', 'dev']
    p = subprocess.run([sys.executable, *opts, str(prog)], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout == f'True {impl}\n'
    assert re.search(r"Executing <Task .*name='busy' coro=<busy\(\) .*"
                     r"took \d+\.\d\d\d seconds", p.stderr), p.stderr
