"""What pip is told: an interpreter casyncio does not support stops the
build with one sentence, before any C is compiled."""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETUP = os.path.join(ROOT, 'setup.py')

pytestmark = pytest.mark.skipif(
    not os.path.exists(SETUP), reason='needs the source tree (setup.py)')


def run_setup_as(patch):
    """setup.py --version in a child whose interpreter looks as *patch*
    makes it look."""
    code = ('import platform, runpy, sys\n' + patch +
            '\nsys.argv = ["setup.py", "--version"]\n'
            f'runpy.run_path({SETUP!r}, run_name="__main__")\n')
    return subprocess.run([sys.executable, '-c', code], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize('patch, seen', [
    ('sys.version_info = (3, 10, 13)', 'CPython 3.10 on Linux x86_64'),
    ('sys.version_info = (3, 16, 0)', 'CPython 3.16 on Linux x86_64'),
    ('platform.python_implementation = lambda: "PyPy"',
     f'PyPy {sys.version_info[0]}.{sys.version_info[1]} on Linux x86_64'),
    ('platform.system = lambda: "Darwin"',
     f'CPython {sys.version_info[0]}.{sys.version_info[1]} on Darwin x86_64'),
])
def test_unsupported_interpreter_one_sentence(patch, seen):
    p = run_setup_as(patch)
    assert (p.returncode, p.stderr) == (
        1, 'casyncio supports CPython 3.11 to 3.15 on Linux x86_64; '
           f'this is {seen}.\n')


def test_supported_interpreter_goes_on():
    p = run_setup_as('')
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1] == '0.1.0'


# PEP 561 (tests/test_typing.py checks what the files say).
TYPING_FILES = {'py.typed', '__init__.pyi', '_core.pyi', '_loop.pyi',
                '_tasks.pyi', 'eager.pyi'}


def test_wheel_ships_marker_and_stubs(tmp_path):
    """setup.py build_py lays out what a wheel holds besides the compiled
    extension; run in a copy of the tree (it writes egg-info beside the
    sources)."""
    src = tmp_path / 'src'
    shutil.copytree(os.path.join(ROOT, 'python'), src / 'python',
                    ignore=shutil.ignore_patterns('*.so', '__pycache__',
                                                  '*.egg-info'))
    for name in ('setup.py', 'pyproject.toml', 'README.md'):
        shutil.copy(os.path.join(ROOT, name), src / name)
    out = tmp_path / 'lib'
    p = subprocess.run([sys.executable, 'setup.py', '-q', 'build_py',
                        '--build-lib', str(out)], cwd=src,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    in_source = {n for n in os.listdir(os.path.join(ROOT, 'python',
                                                    'casyncio'))
                 if n == 'py.typed' or n.endswith('.pyi')}
    assert in_source == TYPING_FILES
    shipped = {n for n in os.listdir(out / 'casyncio')
               if n == 'py.typed' or n.endswith('.pyi')}
    assert shipped == TYPING_FILES
