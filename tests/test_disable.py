"""CASYNCIO_DISABLE=1: one flag switches a program back to stock asyncio,
whichever way it switched casyncio on (launcher, install(), run(),
loop_factory=casyncio.new_event_loop), to compare."""
import os
import subprocess
import sys

import pytest

from conftest import PACKAGE_PARENT

PROGRAMS = {
    'launcher': ('', 'asyncio.run(main())'),
    'install': ('casyncio.install()', 'asyncio.run(main())'),
    'run': ('', 'casyncio.run(main())'),
    'runner': ('', 'with asyncio.Runner(loop_factory=casyncio.new_event_loop)'
                   ' as r:\n    r.run(main())'),
    'policy': ('asyncio.set_event_loop_policy(casyncio.EventLoopPolicy())',
               'asyncio.run(main())'),
}

SOURCE = '''
import asyncio
import inspect
import casyncio
{setup}

async def main():
    loop = asyncio.get_running_loop()
    print(type(loop).__module__.split('.')[0],
          hasattr(asyncio.gather, '__wrapped__'),  # casyncio's gather
          # casyncio's sleep (under the compat layer's wrapper, if any)
          'casyncio' in inspect.unwrap(asyncio.sleep).__code__.co_filename,
          await asyncio.gather(asyncio.sleep(0, 'x')))

{run}
'''


def run(how, tmp_path, disable):
    setup, runner = PROGRAMS[how]
    prog = tmp_path / 'prog.py'
    prog.write_text(SOURCE.format(setup=setup, run=runner))
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    for name in ('CASYNCIO_DISABLE', 'CASYNCIO_INSTALL', 'PYTHONWARNINGS'):
        env.pop(name, None)
    if disable is not None:
        env['CASYNCIO_DISABLE'] = disable
    launcher = ['-m', 'casyncio'] if how == 'launcher' else []
    cmd = [sys.executable, *launcher, str(prog)]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


@pytest.mark.parametrize('how', sorted(PROGRAMS))
def test_on_by_default(how, tmp_path):
    assert run(how, tmp_path, None) == "casyncio True True ['x']\n"
    assert run(how, tmp_path, '0') == "casyncio True True ['x']\n"


@pytest.mark.parametrize('how', sorted(PROGRAMS))
def test_disable_gives_stock_asyncio(how, tmp_path):
    assert run(how, tmp_path, '1') == "asyncio False False ['x']\n"


def test_disabled_launcher_children_run_stock(tmp_path):
    """The launcher leaves the flag in the environment: a Python child
    process runs on stock asyncio too, and the hook is not on its path."""
    prog = tmp_path / 'parent.py'
    prog.write_text(
        'import os, subprocess, sys\n'
        'print(os.environ.get("CASYNCIO_INSTALL"),'
        ' any("_startup" in p for p in os.environ.get("PYTHONPATH", "")'
        '.split(os.pathsep)))\n')
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT, CASYNCIO_DISABLE='1')
    env.pop('CASYNCIO_INSTALL', None)
    p = subprocess.run([sys.executable, '-m', 'casyncio', str(prog)],
                       env=env, capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stdout) == (0, 'None False\n'), p.stderr
