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
    e = dict(os.environ, **dict(dict(PYTHONPATH=PKG_DIR), **extra))
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
    (["-m"], "Argument expected for the -m option"),
    (["-c"], "Argument expected for the -c option"),
    (["-Z"], "Unknown option: -Z"),
])
def test_usage_errors(tmp_path, args, message):
    rc, out, err = run(LAUNCHER + args, tmp_path)
    assert (rc, out) == (2, "")
    lines = err.splitlines()
    assert lines[0] == message
    assert lines[1].startswith("usage: python [interpreter options] -m casyncio")
    assert lines[2].startswith("Try `python -m casyncio -h'")


def test_help(tmp_path):
    rc, out, err = run(LAUNCHER + ["-h"], tmp_path)
    assert rc == 0 and err == "" and "--no-compat" in out
    assert out.startswith("usage: python [interpreter options] -m casyncio")
    assert "Interpreter options (-X dev, -W, -u, -O, -i, ...) go before" in out


def test_version(tmp_path):
    import tomllib
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "pyproject.toml"), "rb") as f:
        version = tomllib.load(f)["project"]["version"]
    assert casyncio.__version__ == version
    for opt in ("--version", "-V"):
        assert run(LAUNCHER + [opt], tmp_path) == \
            (0, f"casyncio {version}\n", "")


REPL_INPUT = """\
import sys
type(asyncio.get_running_loop()).__module__
await asyncio.sleep(0, 'slept')
"""


def test_no_program_opens_the_asyncio_repl(tmp_path):
    # As python -m asyncio, on casyncio's loop.
    results = []
    for cmd in (PLAIN + ["-m", "asyncio"], LAUNCHER):
        r = subprocess.run(cmd, cwd=tmp_path, env=env(), input=REPL_INPUT,
                           capture_output=True, text=True, timeout=60)
        results.append((r.returncode, r.stdout, r.stderr))
    (rc1, out1, err1), (rc2, out2, err2) = results
    assert (rc2, err2) == (rc1, err1)
    assert "asyncio REPL" in err2 and "'slept'" in out2
    assert "'casyncio._loop'" in out2
    assert out2.replace("casyncio._loop", "asyncio.unix_events") == out1


def test_program_from_stdin(tmp_path):
    prog = "import sys; print(__name__, sys.argv, __file__ if '__file__' " \
           "in globals() else '-')\n1/0\n"
    results = []
    for cmd in (PLAIN, LAUNCHER):
        r = subprocess.run(cmd + ["-", "x"], cwd=tmp_path, env=env(),
                           input=prog, capture_output=True, text=True,
                           timeout=60)
        results.append((r.returncode, r.stdout, r.stderr))
    assert results[1] == results[0]
    assert results[0][1] == "__main__ ['-', 'x'] <stdin>\n"


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


# --- the program runs in a plain interpreter: no launcher frames ----------------

SHOW_PROCESS = """
    import os, sys
    print(sys.orig_argv[1:])
    print(sys.flags.dev_mode, sys.flags.bytes_warning, sys.warnoptions,
          sys._xoptions)
    print(sys.path)
    print('sitecustomize' in sys.modules, 'asyncio' in sys.modules)
    names = [getattr(f, '__name__', type(f).__name__) for f in sys.meta_path]
    print([n for n in names if n != '_AfterAsyncio'])
    print(names.count('_AfterAsyncio'))
"""


def test_interpreter_options_and_process_as_plain_python(tmp_path):
    write(tmp_path / "p.py", SHOW_PROCESS)
    plain = run(PLAIN + ["-X", "dev", "-bWignore", "p.py", "a"], tmp_path)
    ours = run(LAUNCHER[:1] + ["-X", "dev", "-bWignore", "-m", "casyncio",
                               "p.py", "a"], tmp_path)
    lines = ours[1].splitlines()
    # the start-up hook waits on sys.meta_path for the first import asyncio
    assert lines[-1] == "1"
    assert (ours[0], "\n".join(lines[:-1] + ["0"]) + "\n") == plain[:2]
    assert plain[1].splitlines()[0] == "['-X', 'dev', '-bWignore', 'p.py', 'a']"
    # combined flags before -m: python -bm casyncio
    ours = run(LAUNCHER[:1] + ["-bm", "casyncio", "p.py"], tmp_path)
    plain = run(PLAIN + ["-b", "p.py"], tmp_path)
    assert ours[1].splitlines()[:3] == plain[1].splitlines()[:3]


DEBUG_REPORTS = """
    import asyncio, gc, sys, traceback
    async def never_awaited():
        pass
    async def fails():
        raise ValueError('lost')
    async def main():
        print([f.name for f in traceback.extract_stack()][:1])
        never_awaited()
        gc.collect()
        t = asyncio.ensure_future(fails())
        await asyncio.sleep(0)
        del t
        gc.collect()
    asyncio.run(main(), debug=True)
"""


def test_debug_reports_show_program_frames_only(tmp_path):
    # "Coroutine created at", "Object created at" (source_traceback) and
    # traceback.extract_stack() start at the program's <module>.
    write(tmp_path / "s.py", DEBUG_REPORTS)
    plain, ours = both(["s.py"], tmp_path)
    assert ours[0] == plain[0] == 0
    assert ours[1] == plain[1] == "['<module>']\n"
    for rc, out, err in (plain, ours):
        assert "runpy" not in err and "casyncio/__main__" not in err
        assert "was never awaited\nCoroutine created at" in err
        assert "Object created at (most recent call last):" in err
    assert script_frames(ours[2]) == script_frames(plain[2])


def test_pdb_where_shows_program_frames_only(tmp_path):
    write(tmp_path / "s.py", """
        def f():
            breakpoint()
        f()
    """)
    results = []
    for cmd in (PLAIN, LAUNCHER):
        r = subprocess.run(cmd + ["s.py"], cwd=tmp_path, env=env(),
                           input="where\ncontinue\n", capture_output=True,
                           text=True, timeout=60)
        results.append((r.returncode, r.stdout, r.stderr))
    assert results[1] == results[0]
    assert "runpy" not in results[0][1] and "casyncio" not in results[0][1]


CHILDREN = """
    import asyncio, multiprocessing, os, subprocess, sys
    def loop_module(_=None):
        import asyncio
        return type(asyncio.new_event_loop()).__module__
    if __name__ == '__main__':
        print('main', loop_module())
        for method in ('spawn', 'forkserver', 'fork'):
            with multiprocessing.get_context(method).Pool(1) as pool:
                print(method, pool.map(loop_module, [0]))
        code = 'import asyncio; print(type(asyncio.new_event_loop()).__module__)'
        print('subprocess', subprocess.run([sys.executable, '-c', code],
              capture_output=True, text=True).stdout.strip())
        env = dict(os.environ, CASYNCIO_INSTALL='0')
        print('switched off', subprocess.run([sys.executable, '-c', code],
              capture_output=True, text=True, env=env).stdout.strip())
"""


def test_child_processes_run_on_casyncio(tmp_path):
    write(tmp_path / "c.py", CHILDREN)
    rc, out, err = run(LAUNCHER + ["c.py"], tmp_path)
    assert (rc, err) == (0, "")
    assert out.splitlines() == [
        "main casyncio._loop",
        "spawn ['casyncio._loop']",
        "forkserver ['casyncio._loop']",
        "fork ['casyncio._loop']",
        "subprocess casyncio._loop",
        "switched off asyncio.unix_events",
    ]


def test_program_never_importing_asyncio_does_not_load_it(tmp_path):
    write(tmp_path / "n.py", "import sys; print(sorted(m for m in sys.modules"
                             " if m.split('.')[0] in ('asyncio', 'casyncio')))")
    assert_same(["n.py"], tmp_path)


def test_without_site_the_program_runs_in_process(tmp_path):
    # -S (no site, so no start-up hook) and -E/-I: the launcher runs the
    # program itself, as before.
    write(tmp_path / "lt.py", LOOP_TYPE)
    rc, out, err = run(LAUNCHER[:1] + ["-S", "-m", "casyncio", "lt.py"],
                       tmp_path)
    assert (rc, err) == (0, "")
    assert out.splitlines()[1:] == ["casyncio._loop", "casyncio._loop"]
    write(tmp_path / "bad.py", "def f():\n    1/0\nf()\n")
    plain = run(PLAIN + ["-S", "bad.py"], tmp_path)
    ours = run(LAUNCHER[:1] + ["-S", "-m", "casyncio", "bad.py"], tmp_path)
    assert ours == plain


TORNADO = """
    import asyncio
    from tornado.concurrent import is_future
    from tornado.ioloop import IOLoop
    async def value(x):
        await asyncio.sleep(0)
        return x
    async def main():
        g = asyncio.gather(value(1), value(2))
        print(is_future(g), isinstance(g, asyncio.Future), repr(g))
        done = asyncio.get_running_loop().create_future()
        IOLoop.current().add_future(g, lambda f: done.set_result(f.result()))
        print(await done)
    asyncio.run(main())
"""


def test_tornado_with_gather_under_launcher(tmp_path):
    pytest.importorskip("tornado")
    write(tmp_path / "t.py", TORNADO)
    rc, out, err = assert_same(["t.py"], tmp_path)
    assert (rc, out) == (0, "True True <_GatheringFuture pending>\n[1, 2]\n")


def test_programs_own_sitecustomize_still_runs(tmp_path):
    write(tmp_path / "custom" / "sitecustomize.py", """
        import sys
        print('site customized', __name__, file=sys.stderr)
    """)
    write(tmp_path / "s.py", """
        import sys, sitecustomize, asyncio
        print(sitecustomize.__file__)
        print(type(asyncio.new_event_loop()).__module__)
    """)
    path = os.pathsep.join([str(tmp_path / "custom"), PKG_DIR])
    plain = run(PLAIN + ["s.py"], tmp_path, PYTHONPATH=path)
    ours = run(LAUNCHER + ["s.py"], tmp_path, PYTHONPATH=path)
    assert plain[2] == "site customized sitecustomize\n"
    # once in the program's interpreter, once in the launcher's before it
    assert ours[2] == plain[2] * 2
    assert ours[1] == plain[1].replace("asyncio.unix_events",
                                       "casyncio._loop")
    assert plain[1].endswith("asyncio.unix_events\n")


@pytest.mark.parametrize("first", ["import casyncio",
                                   "import casyncio.demo",
                                   "from casyncio import _core"])
def test_program_importing_casyncio_before_asyncio(tmp_path, first):
    """A program whose first import is casyncio: asyncio, imported from
    inside casyncio's own import, runs the start-up hook, which needs
    casyncio._core whole (it was still empty: AttributeError)."""
    prog = write(tmp_path / "prog.py", f"""
        {first}
        import asyncio
        async def main():
            loop = asyncio.get_running_loop()
            return (type(loop).__module__,
                    hasattr(asyncio.gather, "__wrapped__"))
        print(*asyncio.run(main()))
        """)
    code, out, err = run(LAUNCHER + [str(prog)], tmp_path)
    assert (code, out) == (0, "casyncio._loop True\n"), err


SUBINTERPRETER = """
    import asyncio, sys, _interpreters
    async def main():
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop()).__module__
    print('main', asyncio.run(main()), flush=True)
    code = (
        "import asyncio\\n"
        "async def main():\\n"
        "    await asyncio.sleep(0)\\n"
        "    return type(asyncio.get_running_loop()).__module__\\n"
        "print('sub', asyncio.run(main()), flush=True)\\n")
    interp = _interpreters.create()     # its own GIL, as in concurrent.interpreters
    try:
        print('failed' if _interpreters.exec(interp, code) else 'ok', flush=True)
    finally:
        _interpreters.destroy(interp)
"""


@pytest.mark.skipif(sys.version_info < (3, 13),
                    reason="_interpreters is 3.13+ (3.12's isolated "
                           "subinterpreters crash at destroy, stock too)")
def test_subinterpreter_with_own_gil_runs_stock_asyncio(tmp_path):
    """casyncio._core does not load in a subinterpreter with its own GIL:
    under the launcher, asyncio's import there raised ImportError from the
    start-up hook (asyncpg's test_subinterpreters); now it runs stock
    asyncio there, as under plain python."""
    write(tmp_path / "si.py", SUBINTERPRETER)
    plain, ours = both(["si.py"], tmp_path)
    assert plain == (0, "main asyncio.unix_events\n"
                        "sub asyncio.unix_events\nok\n", "")
    assert ours == (0, "main casyncio._loop\n"
                       "sub asyncio.unix_events\nok\n", "")
