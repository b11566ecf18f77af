"""Typed: casyncio ships py.typed and stubs (casyncio/*.pyi, inline
annotations in casyncio/_policy.py).  On the running interpreter:

* ``mypy --strict -p casyncio`` passes (the stubs themselves, and the
  annotated modules);
* ``mypy --strict`` passes on tests/typing_sample.py, a program using the
  public API (whose assert_type() calls fail where a stub gives Any or a
  wrong type), and rejects a program that misuses it;
* ``python -m mypy.stubtest casyncio`` finds the stubs consistent with the
  imported casyncio (the same one these tests import: the in-place build
  or the installed package), every module, every version.

mypy's cache goes to a temporary folder, never into the repository.
"""
import ast
import os
import subprocess
import sys
import textwrap

import pytest
from conftest import PACKAGE_PARENT

import casyncio

pytest.importorskip('mypy', reason="mypy not installed (pip install "
                    "'.[test]' installs it)")

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, 'typing_sample.py')

# casyncio's implementation modules behind the typed API (Loop's mixins, the
# TLS and compat layers, the launcher and its start-up hook) have no
# annotations; stubtest still imports each and compares it with its source,
# but mypy's strict checks of their bodies are not what is being tested.
# Nothing a user's program imports through casyncio's stubs reaches them.
MYPY_INI = """\
[mypy]
cache_dir = {cache}

[mypy-casyncio._sock,casyncio._net,casyncio._udp,casyncio._unix,\
casyncio._tls,casyncio._compat,casyncio.demo,casyncio.__main__,\
casyncio._startup.*]
ignore_errors = True

# Its worker classes derive from uvicorn's, which ship no annotations.
[mypy-casyncio.gunicorn]
ignore_errors = True

[mypy-uvicorn_worker.*,uvicorn.workers.*]
ignore_missing_imports = True
"""


@pytest.fixture
def checker(tmp_path):
    """Run ``python -m MODULE ARGS`` (mypy or stubtest) on casyncio as
    imported here (PACKAGE_PARENT first on the path); return (exit status,
    output)."""
    ini = tmp_path / 'mypy.ini'
    ini.write_text(MYPY_INI.format(cache=tmp_path / 'cache'))
    # casyncio._startup.sitecustomize, the launcher's start-up hook, runs
    # the sitecustomize it shadows when imported (as stubtest does) and
    # raises ImportError when there is none, as site expects of it (Debian's
    # Pythons ship one, pyenv's do not): give it an empty one.
    site = tmp_path / 'site'
    site.mkdir()
    (site / 'sitecustomize.py').write_text('')
    env = dict(os.environ)
    env.pop('CASYNCIO_INSTALL', None)   # the hook must not switch anything on
    env.pop('MYPYPATH', None)
    env['PYTHONPATH'] = os.pathsep.join(
        [PACKAGE_PARENT, str(site)]
        + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])

    def run(module, *args):
        p = subprocess.run(
            [sys.executable, '-m', module, '--config-file'
             if module == 'mypy' else '--mypy-config-file', str(ini), *args],
            env=env, cwd=tmp_path, capture_output=True, text=True,
            timeout=600)
        return p.returncode, p.stdout + p.stderr

    return run


def test_package_passes_mypy_strict(checker):
    status, out = checker('mypy', '--strict', '-p', 'casyncio')
    assert status == 0, out
    assert out.startswith('Success'), out


def test_sample_passes_mypy_strict(checker):
    status, out = checker('mypy', '--strict', SAMPLE)
    assert status == 0, out
    assert out.startswith('Success'), out


def test_mypy_rejects_misuse(checker, tmp_path):
    """The stubs are not Any: wrong uses of the API are type errors."""
    bad = tmp_path / 'bad.py'
    bad.write_text(textwrap.dedent("""\
        import casyncio

        async def f() -> int:
            return 1

        casyncio.run(f)                                    # line 6
        x: str = casyncio.run(f())                         # line 7
        loop = casyncio.new_event_loop()
        loop.call_later("soon", print)                     # line 9
        loop.create_task(f()).result().upper()             # line 10
        casyncio.install(True)                             # line 11
        """))
    status, out = checker('mypy', '--strict', str(bad))
    assert status == 1, out
    lines = sorted({line.split(':')[1] for line in out.splitlines()
                    if ': error:' in line}, key=int)
    assert lines == ['6', '7', '9', '10', '11'], out


def test_sample_runs():
    """The sample is a real program: it runs (on casyncio) as checked."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [PACKAGE_PARENT] + [p for p in env.get('PYTHONPATH', '').split(
            os.pathsep) if p])
    p = subprocess.run([sys.executable, SAMPLE], env=env,
                       capture_output=True, text=True, timeout=120)
    assert (p.returncode, p.stdout, p.stderr) == (0, 'ok\n', '')


def test_stubtest(checker):
    status, out = checker('mypy.stubtest', 'casyncio')
    assert status == 0, out
    assert out.startswith('Success: no issues found'), out


def stub_class_names(stub, cls):
    """Names defined in class *cls* of stub file *stub* (every
    sys.version_info branch)."""
    path = os.path.join(PACKAGE_PARENT, 'casyncio', stub)
    with open(path) as f:
        tree = ast.parse(f.read())
    node = next(n for n in tree.body
                if isinstance(n, ast.ClassDef) and n.name == cls)
    names = set()
    for n in ast.walk(node):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(n.name)
        elif isinstance(n, ast.AnnAssign):
            names.add(n.target.id)
    return names


def test_loop_stub_declares_every_public_method():
    """stubtest compares the attributes a runtime class defines itself and
    those its stub declares; casyncio.Loop gets most of its methods from
    mixins (_sock, _net, _udp, _unix), so its stub names every one of them
    in the class body (or the C Loop's stub does, which stubtest compares
    with the C type), and stubtest checks them all."""
    public = {n for n in dir(casyncio.Loop) if not n.startswith('_')}
    declared = (stub_class_names('_loop.pyi', 'Loop')
                | stub_class_names('_core.pyi', 'Loop'))
    assert public - declared == set()
