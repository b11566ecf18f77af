"""python -m casyncio: run programs exactly as plain python does.

Most tests run the same command line under plain ``python`` and under
``python -m casyncio`` and compare exit code, stdout and stderr.
"""
import asyncio
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import PACKAGE_PARENT

import casyncio
from casyncio import _policy

PKG_DIR = PACKAGE_PARENT
LAUNCHER = [sys.executable, "-m", "casyncio"]
PLAIN = [sys.executable]


def env(**extra):
    e = dict(os.environ, PYTHONPATH=PKG_DIR, **extra)
    for name in ("PYTHONWARNINGS", "CASYNCIO_NO_COMPAT", "PYTHONSAFEPATH"):
        if name not in extra:
            e.pop(name, None)
    return e


def run(cmd, cwd, **extra):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                       env=env(**extra), timeout=60)
    norm = lambda s: re.sub(r"0x[0-9a-f]+", "0xADDR", s)  # noqa: E731
    return r.returncode, norm(r.stdout), norm(r.stderr)


def both(args, cwd, launcher_opts=(), **extra):
    """(plain python result, launcher result) for the same arguments."""
    return (run(PLAIN + list(args), cwd, **extra),
            run(LAUNCHER + list(launcher_opts) + list(args), cwd, **extra))


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def assert_same(args, cwd, **kw):
    plain, ours = both(args, cwd, **kw)
    assert ours == plain
    return plain


SHOW_MAIN = """
    import sys, __main__
    print(sys.argv)
    print(sys.path[0])
    print(__name__, __file__, globals().get('__cached__', '(unset)'),
          __spec__, __package__)
    print(type(__loader__).__name__, __loader__.name)
    print(list(globals()))
    print(sys.modules['__main__'] is __main__, __main__.__dict__ is globals())
"""


# --- the program sees what plain python gives it -----------------------------

def test_script_namespace_argv_path(tmp_path):
    write(tmp_path / "sub" / "show.py", SHOW_MAIN)
    assert_same(["sub/show.py", "a", "-m", "--no-compat"], tmp_path)
    assert_same([str(tmp_path / "sub" / "show.py")], "/")


def test_script_through_symlink(tmp_path):
    write(tmp_path / "real" / "show.py", SHOW_MAIN)
    (tmp_path / "link.py").symlink_to(tmp_path / "real" / "show.py")
    rc, out, err = assert_same(["link.py"], tmp_path)
    assert str(tmp_path / "real") in out.splitlines()[1]


def test_script_dir_first_on_path(tmp_path):
    write(tmp_path / "prog" / "helper.py", "VALUE = 'from prog dir'\n")
    write(tmp_path / "prog" / "main.py", "import helper; print(helper.VALUE)")
    write(tmp_path / "helper.py", "VALUE = 'from cwd'\n")
    rc, out, err = assert_same(["prog/main.py"], tmp_path)
    assert out == "from prog dir\n"


def test_safe_path_flag(tmp_path):
    write(tmp_path / "show.py", "import sys; print(sys.path[0] == '')\n"
                                "print(sys.flags.safe_path)")
    plain = run(PLAIN + ["-P", "show.py"], tmp_path)
    ours = run([sys.executable, "-P", "-m", "casyncio", "show.py"], tmp_path)
    assert ours == plain


def test_main_module_is_importable_and_picklable(tmp_path):
    write(tmp_path / "p.py", """
        import pickle
        class Point:
            def __init__(self, x): self.x = x
        print(pickle.loads(pickle.dumps(Point(3))).x)
        import __main__; print(__main__.Point is Point)
    """)
    rc, out, err = assert_same(["p.py"], tmp_path)
    assert out == "3\nTrue\n"


def test_source_encoding_and_docstring(tmp_path):
    (tmp_path / "enc.py").write_bytes(
        b'# -*- coding: latin-1 -*-\n"""doc \xe9"""\nprint(__doc__)\n')
    rc, out, err = assert_same(["enc.py"], tmp_path)
    assert out == "doc \u00e9\n"


def test_atexit_and_threads_finish(tmp_path):
    write(tmp_path / "t.py", """
        import atexit, threading, time
        atexit.register(print, "atexit")
        def work():
            time.sleep(0.1); print("thread done")
        threading.Thread(target=work).start()
        print("main done")
    """)
    rc, out, err = assert_same(["t.py"], tmp_path)
    assert out == "main done\nthread done\natexit\n"


def test_dash_c(tmp_path):
    code = "import sys; print(sys.argv, repr(sys.path[0]), list(globals()))"
    rc, out, err = assert_same(["-c", code, "x", "-y"], tmp_path)
    assert out.startswith("['-c', 'x', '-y'] ''")


def test_dash_m_module_and_package(tmp_path):
    write(tmp_path / "mod.py", SHOW_MAIN)
    write(tmp_path / "pkg" / "__init__.py", "")
    write(tmp_path / "pkg" / "__main__.py", SHOW_MAIN)
    write(tmp_path / "pkg" / "sub.py", SHOW_MAIN)
    for mod in ("mod", "pkg", "pkg.sub"):
        rc, out, err = assert_same(["-m", mod, "arg"], tmp_path)
        assert rc == 0 and err == ""


def test_directory_and_zip_with_main(tmp_path):
    write(tmp_path / "app" / "__main__.py", SHOW_MAIN)
    assert_same(["app", "1"], tmp_path)
    import zipfile
    with zipfile.ZipFile(tmp_path / "app.zip", "w") as z:
        z.writestr("__main__.py", "import sys; print(sys.argv, sys.path[0])")
    assert_same(["app.zip", "2"], tmp_path)


# --- failures look and exit as under plain python ------------------------------

def test_traceback_and_exit_code(tmp_path):
    write(tmp_path / "lib.py", """
        def explode(x):
            return {}[x]
    """)
    write(tmp_path / "bad.py", """
        import lib
        def f():
            try:
                lib.explode('key')
            except KeyError as e:
                raise RuntimeError('wrapped') from e
        f()
    """)
    rc, out, err = assert_same(["bad.py"], tmp_path)
    assert rc == 1
    assert err.startswith("Traceback (most recent call last):\n")
    assert "casyncio" not in err and "runpy" not in err
    assert 'bad.py", line 8, in <module>' in err


def test_traceback_chained_during_handling(tmp_path):
    write(tmp_path / "bad.py", """
        try:
            1 / 0
        except ZeroDivisionError:
            undefined_name
    """)
    rc, out, err = assert_same(["bad.py"], tmp_path)
    assert "During handling of the above exception" in err


def test_syntax_error(tmp_path):
    write(tmp_path / "syn.py", "x = 1\ndef f(:\n    pass\n")
    rc, out, err = assert_same(["syn.py"], tmp_path)
    assert rc == 1 and "SyntaxError" in err and "Traceback" not in err


def test_dash_m_and_dash_c_failures(tmp_path):
    write(tmp_path / "badmod.py", "raise ValueError('in module')\n")
    rc, out, err = assert_same(["-m", "badmod"], tmp_path)
    assert rc == 1 and "<frozen runpy>" in err   # as plain python shows it
    rc, out, err = assert_same(["-c", "def f():\n  1/0\nf()"], tmp_path)
    assert rc == 1 and 'File "<string>", line 3' in err


def test_script_excepthook_sees_clean_traceback(tmp_path):
    write(tmp_path / "hook.py", """
        import sys, traceback
        def hook(t, v, tb):
            print('hook:', [f.name for f in traceback.extract_tb(tb)])
            print('last:', [f.name for f in traceback.extract_tb(
                sys.last_traceback)])
        sys.excepthook = hook
        def boom():
            raise OSError('x')
        boom()
    """)
    rc, out, err = assert_same(["hook.py"], tmp_path)
    assert out.startswith("hook: ['<module>', 'boom']\n")


@pytest.mark.parametrize("body, code", [
    ("import sys; sys.exit(3)", 3),
    ("import sys; sys.exit('bye')", 1),
    ("import sys; sys.exit()", 0),
    ("raise SystemExit(None)", 0),
    ("exit(7)", 7),
    ("import os; os._exit(5)", 5),
])
def test_system_exit(tmp_path, body, code):
    write(tmp_path / "e.py", f"print('x')\n{body}\n")
    rc, out, err = assert_same(["e.py"], tmp_path)
    assert rc == code


def test_keyboard_interrupt_raised(tmp_path):
    write(tmp_path / "k.py", "def f():\n    raise KeyboardInterrupt\nf()\n")
    rc, out, err = assert_same(["k.py"], tmp_path)
    assert rc == -signal.SIGINT
    assert err.endswith("KeyboardInterrupt\n")


@pytest.mark.parametrize("body", [
    "import time\nprint('ready', flush=True)\ntime.sleep(30)\n",
    "import asyncio\nasync def main():\n    print('ready', flush=True)\n"
    "    await asyncio.sleep(30)\nasyncio.run(main())\n",
])
def test_ctrl_c(tmp_path, body):
    write(tmp_path / "s.py", body)
    results = []
    for cmd in (PLAIN, LAUNCHER):
        p = subprocess.Popen(cmd + ["s.py"], cwd=tmp_path, env=env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        assert p.stdout.readline() == "ready\n"
        time.sleep(0.1)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        err = re.sub(r"0x[0-9a-f]+", "0xADDR", err)
        results.append((p.returncode, out, script_frames(err)))
    assert results[1] == results[0]
    assert results[0][0] == -signal.SIGINT


def script_frames(err):
    """A traceback reduced to the script's own frames and the exception
    lines: frames inside asyncio's loop and ours are in different files
    and lines by nature, the script's must be the same."""
    keep, lines = [], err.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Traceback") or not line.startswith(" "):
            keep.append(line)
        elif line.startswith('  File "') and '/s.py"' in line:
            keep.append(line)
            keep.append(lines[i + 1])
    return keep


# --- usage errors ---------------------------------------------------------------

def test_cannot_open_file(tmp_path):
    rc, out, err = assert_same(["missing.py"], tmp_path)
    assert rc == 2 and "can't open file" in err


def test_no_module(tmp_path):
    rc, out, err = assert_same(["-m", "no_such_module_xyz"], tmp_path)
    assert rc == 1 and "No module named no_such_module_xyz" in err


@pytest.mark.parametrize("args, message", [
    ([], "A script, -m module or -c command is required"),
    (["-m"], "Argument expected for the -m option"),
    (["-c"], "Argument expected for the -c option"),
    (["-Z"], "Unknown option: -Z"),
    (["--no-compat"], "A script, -m module or -c command is required"),
])
def test_usage_errors(tmp_path, args, message):
    rc, out, err = run(LAUNCHER + args, tmp_path)
    assert (rc, out) == (2, "")
    lines = err.splitlines()
    assert lines[0] == message
    assert lines[1].startswith("usage: python -m casyncio")
    assert lines[2].startswith("Try `python -m casyncio -h'")


def test_help(tmp_path):
    rc, out, err = run(LAUNCHER + ["-h"], tmp_path)
    assert rc == 0 and err == "" and "--no-compat" in out


def test_options_after_script_go_to_the_script(tmp_path):
    write(tmp_path / "a.py", "import sys; print(sys.argv[1:])")
    rc, out, err = run(LAUNCHER + ["a.py", "-h", "--no-compat"], tmp_path)
    assert (rc, out, err) == (0, "['-h', '--no-compat']\n", "")
    rc, out, err = run(LAUNCHER + ["--", "a.py", "-Z"], tmp_path)
    assert (rc, out, err) == (0, "['-Z']\n", "")


# --- compat layer on and off ------------------------------------------------------

LEGACY = """
    import asyncio
    @asyncio.coroutine
    def hello():
        yield from asyncio.sleep(0.01)
        return 'hi'
    loop = asyncio.new_event_loop()
    print(loop.run_until_complete(hello()))
    t = loop.create_task(hello())
    loop.run_until_complete(t)
    print(t in asyncio.Task.all_tasks(loop))
    loop.close()
"""


LEGACY_OUT = "hi\nTrue\n"


def test_compat_on_by_default(tmp_path):
    write(tmp_path / "legacy.py", LEGACY)
    rc, out, err = run(LAUNCHER + ["legacy.py"], tmp_path)
    assert (rc, out, err) == (0, LEGACY_OUT, "")


@pytest.mark.parametrize("opts, extra", [
    (["--no-compat"], {}),
    ([], {"CASYNCIO_NO_COMPAT": "1"}),
])
def test_compat_off_gives_stock_errors(tmp_path, opts, extra):
    write(tmp_path / "legacy.py", LEGACY)
    plain, ours = both(["legacy.py"], tmp_path, launcher_opts=opts, **extra)
    assert ours == plain
    assert "has no attribute 'coroutine'" in plain[2]


def test_compat_env_zero_keeps_compat(tmp_path):
    write(tmp_path / "legacy.py", LEGACY)
    rc, out, err = run(LAUNCHER + ["legacy.py"], tmp_path,
                       CASYNCIO_NO_COMPAT="0")
    assert (rc, out) == (0, LEGACY_OUT)


# --- the event loop ----------------------------------------------------------------

LOOP_TYPE = """
    import asyncio, casyncio._tasks
    # the compat layer wraps it to accept loop=
    print(getattr(asyncio.gather, "__wrapped__", asyncio.gather)
          is casyncio._tasks._asyncio_gather)
    async def main():
        return type(asyncio.get_running_loop()).__module__
    print(asyncio.run(main()))
    print(type(asyncio.new_event_loop()).__module__)
"""


def test_launcher_installs_casyncio_loop(tmp_path):
    write(tmp_path / "lt.py", LOOP_TYPE)
    rc, out, err = run(LAUNCHER + ["lt.py"], tmp_path)
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "True"
    assert all(line.startswith("casyncio") for line in lines[1:])


# --- the policy ---

# 3.14 deprecated the policy functions; asyncio itself uses these names.
_get_policy = getattr(asyncio.events, '_get_event_loop_policy',
                      asyncio.get_event_loop_policy)
_set_policy = getattr(asyncio.events, '_set_event_loop_policy',
                      asyncio.set_event_loop_policy)


def test_policy_makes_our_loops():
    old = _get_policy()
    _policy.install()
    try:
        assert isinstance(_get_policy(), _policy.EventLoopPolicy)
        loop = asyncio.new_event_loop()
        assert type(loop) is casyncio.Loop
        loop.close()

        async def main():
            return type(asyncio.get_running_loop())

        assert asyncio.run(main()) is casyncio.Loop
    finally:
        _set_policy(old)


NO_WARNING_PROGRAM = """
    import asyncio
    async def main():
        return type(asyncio.get_running_loop()).__name__
    print(asyncio.run(main()))
"""


def test_launcher_and_install_give_no_deprecation_warning(tmp_path):
    # 3.14 deprecated the policy system: casyncio uses it as asyncio does,
    # without a warning the same program does not give on stock asyncio.
    write(tmp_path / "prog.py", NO_WARNING_PROGRAM)
    strict = [sys.executable, "-W", "error"]
    assert run(strict + ["-m", "casyncio", "prog.py"], tmp_path) == (
        0, "Loop\n", "")
    code = ("import casyncio, runpy; casyncio.install(); "
            "runpy.run_path('prog.py')")
    assert run(strict + ["-c", code], tmp_path) == (0, "Loop\n", "")
    assert run(strict + ["prog.py"], tmp_path)[:2] == (
        0, "_UnixSelectorEventLoop\n")


def test_run_uses_our_loop_and_closes_it():
    loops = []

    async def main(x):
        loops.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        return x

    assert _policy.run(main(5), debug=True) == 5
    assert type(loops[0]) is casyncio.Loop
    assert loops[0].is_closed()


def test_run_cancels_leftover_tasks_like_asyncio_run():
    cancelled = []

    async def forever():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def main():
        asyncio.ensure_future(forever())
        await asyncio.sleep(0)

    _policy.run(main())
    assert cancelled == [True]


def test_run_refuses_a_running_loop():
    async def main():
        coro = asyncio.sleep(0)
        try:
            with pytest.raises(RuntimeError, match="cannot be called from a "
                                                   "running event loop"):
                _policy.run(coro)
        finally:
            coro.close()

    asyncio.run(main())
