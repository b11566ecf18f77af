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


# --- what the sdist and the wheel hold ---------------------------------------

SUPPORTED = ('3.11', '3.12', '3.13', '3.14', '3.15')


@pytest.fixture(scope='module')
def dists(tmp_path_factory):
    """(sdist path, wheel path): the sdist made from a copy of the tree,
    the wheel built from that sdist (so it proves the sdist builds), both
    with this interpreter's setuptools, no network."""
    import shutil
    import tarfile
    pytest.importorskip('setuptools', reason='building the sdist and the '
                        'wheel without network needs setuptools installed')
    tmp = tmp_path_factory.mktemp('dist')
    # Packaging runs the compiler: not under the sanitizer CI preloads.
    env = {k: v for k, v in os.environ.items()
           if k not in ('LD_PRELOAD', 'PYTHONMALLOC')}
    env['PIP_DISABLE_PIP_VERSION_CHECK'] = '1'
    tree = tmp / 'tree'
    ignore = shutil.ignore_patterns('*.so', '__pycache__', '*.egg-info')
    for name in ('src', 'python'):
        shutil.copytree(os.path.join(ROOT, name), tree / name, ignore=ignore)
    for name in ('setup.py', 'pyproject.toml', 'README.md', 'LICENSE',
                 'CHANGELOG.md', 'MANIFEST.in'):
        shutil.copy(os.path.join(ROOT, name), tree / name)
    p = subprocess.run([sys.executable, 'setup.py', '-q', 'sdist', '-d',
                        str(tmp)], cwd=tree, capture_output=True, text=True,
                       timeout=300, env=env)
    assert p.returncode == 0, p.stderr
    (sdist,) = tmp.glob('casyncio-*.tar.gz')
    with tarfile.open(sdist) as tf:
        tf.extractall(tmp / 'unpacked', **(
            {'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}))
    (unpacked,) = (tmp / 'unpacked').iterdir()
    p = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q',
                        '--no-deps', '--no-build-isolation', '-w', str(tmp),
                        str(unpacked)], capture_output=True, text=True,
                       timeout=600, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    (wheel,) = tmp.glob('casyncio-*.whl')
    return sdist, wheel


def test_sdist_builds_from_its_own_files(dists):
    import tarfile
    sdist, _ = dists
    with tarfile.open(sdist) as tf:
        names = {n.split('/', 1)[1] for n in tf.getnames() if '/' in n}
    for name in ('LICENSE', 'CHANGELOG.md', 'README.md', 'setup.py',
                 'pyproject.toml'):
        assert name in names
    for path in os.listdir(os.path.join(ROOT, 'src')):
        if path.endswith(('.c', '.h')):
            assert f'src/{path}' in names


def wheel_files(wheel):
    import zipfile
    with zipfile.ZipFile(wheel) as zf:
        return {n: zf.read(n) for n in zf.namelist()
                if not n.endswith('.so')}, zf.namelist()


def test_wheel_holds_license_and_package(dists):
    _, wheel = dists
    files, names = wheel_files(wheel)
    licences = [n for n in names if '.dist-info/' in n
                and n.rsplit('/', 1)[1] == 'LICENSE']
    assert len(licences) == 1, names
    with open(os.path.join(ROOT, 'LICENSE'), 'rb') as f:
        assert files[licences[0]] == f.read()
    assert b'MIT License' in files[licences[0]]
    assert any(n.startswith('casyncio/_core.') and n.endswith('.so')
               for n in names)
    for sub in ('casyncio/_startup/sitecustomize.py', 'casyncio/__main__.py'):
        assert sub in names
    if os.path.exists(os.path.join(ROOT, 'python', 'casyncio', 'py.typed')):
        assert 'casyncio/py.typed' in names


def test_wheel_metadata(dists):
    import email
    import casyncio
    _, wheel = dists
    files, _ = wheel_files(wheel)
    (meta,) = [v for n, v in files.items()
               if n.endswith('.dist-info/METADATA')]
    msg = email.message_from_bytes(meta)
    assert msg['Name'] == 'casyncio'
    assert msg['Version'] == casyncio.__version__
    assert 'asyncio' in msg['Summary']
    assert msg['Requires-Python'] == '<3.16,>=3.11'
    assert 'MIT' in (msg['License-Expression'] or msg['License'] or '')
    assert msg['Author'] == 'casyncio contributors'
    assert 'asyncio' in msg['Keywords']
    classifiers = msg.get_all('Classifier')
    for v in SUPPORTED:
        assert f'Programming Language :: Python :: {v}' in classifiers
    for c in ('Framework :: AsyncIO', 'Operating System :: POSIX :: Linux',
              'Programming Language :: Python :: Implementation :: CPython'):
        assert c in classifiers
    assert sorted(msg.get_all('Provides-Extra')) == ['bench', 'test']
    assert msg['Description-Content-Type'] == 'text/markdown'
    assert msg.get_payload().startswith('# casyncio')


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
