"""Every ```python block of README.md runs as pasted.

Each block is a whole program: it runs in a fresh interpreter with casyncio
importable (as the other tests import it) and must exit with status 0,
without a traceback or a warning.  Where a ``print(...)`` line ends in a
comment, the comment is what it prints: the block's output is checked.  A block whose first line is a comment
``# Python 3.N+: ...`` runs on 3.N and later only.
"""
import os
import re
import subprocess
import sys

import pytest

from conftest import PACKAGE_PARENT

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, 'README.md')

pytestmark = pytest.mark.skipif(
    not os.path.exists(README), reason='needs the source tree (README.md)')


def python_blocks():
    """(line number, code) of each ```python block."""
    if not os.path.exists(README):
        return []
    with open(README, encoding='utf-8') as f:
        text = f.read()
    blocks = []
    for m in re.finditer(r'^```python\n(.*?)^```$', text, re.M | re.S):
        line = text.count('\n', 0, m.start()) + 1
        blocks.append((line, m.group(1)))
    return blocks


BLOCKS = python_blocks()


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 3


def test_no_fenced_block_is_left_unclosed():
    """A ``` fence always pairs up (an odd count would hide a block)."""
    with open(README, encoding='utf-8') as f:
        fences = [ln for ln in f if ln.startswith('```')]
    assert len(fences) % 2 == 0


@pytest.mark.parametrize('line, code', BLOCKS,
                         ids=[f'README.md:{line}' for line, _ in BLOCKS])
def test_block_runs(line, code, tmp_path):
    need = re.match(r'# Python 3\.(\d+)\+', code)
    if need and sys.version_info < (3, int(need.group(1))):
        pytest.skip(f'README.md:{line} is for Python 3.{need.group(1)}+ '
                    f'(it says so in its first line)')
    prog = tmp_path / 'app.py'
    prog.write_text(code)
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    for name in ('PYTHONASYNCIODEBUG', 'PYTHONDEVMODE', 'CASYNCIO_DISABLE',
                 'CASYNCIO_INSTALL', 'PYTHONWARNINGS'):
        env.pop(name, None)
    p = subprocess.run([sys.executable, '-W', 'default', str(prog)],
                       cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, f'README.md:{line}\n{p.stderr}'
    assert 'Traceback' not in p.stderr, f'README.md:{line}\n{p.stderr}'
    assert 'Warning' not in p.stderr, f'README.md:{line}\n{p.stderr}'
    said = re.findall(r'^\s*print\(.*\)\s+#\s*(.+?)\s*$', code, re.M)
    if said:
        assert p.stdout.splitlines() == said, f'README.md:{line}'


def test_first_command_runs_the_demo_on_casyncio():
    """The README's first command, after its `pip install .`."""
    with open(README, encoding='utf-8') as f:
        assert 'python -m casyncio -m casyncio.demo' in f.read()
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    for name in ('CASYNCIO_DISABLE', 'CASYNCIO_INSTALL', 'PYTHONWARNINGS'):
        env.pop(name, None)
    p = subprocess.run([sys.executable, '-m', 'casyncio', '-m',
                        'casyncio.demo'], env=env, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith('event loop: casyncio._loop.Loop\n')
