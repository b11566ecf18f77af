"""python [interpreter options] -m casyncio [--no-compat] [script.py | -m module | -c cmd | -] [arg] ...

Runs a program the way plain ``python`` would, with casyncio's event loop
policy installed and ``asyncio.gather`` pointing to casyncio's and, unless
--no-compat is given or CASYNCIO_NO_COMPAT=1, the legacy-asyncio compat
layer (with CASYNCIO_DISABLE=1: as plain python, on stock asyncio).  With no program: the asyncio REPL (``python -m asyncio``) on
casyncio's loop.

How: the launcher replaces itself (exec) with ``python [interpreter options]
PROGRAM ARGS`` whose environment switches casyncio on at start-up
(casyncio/_startup: a sitecustomize hook on PYTHONPATH plus
CASYNCIO_INSTALL=1, both inherited by child processes, so multiprocessing
workers and subprocesses run on casyncio too).  The program is then plain
python's in every way: __main__, sys.argv, sys.orig_argv, sys.path, its
tracebacks (no launcher or runpy frame, also in debug-mode "created at"
tracebacks and pdb), exit codes and signals.

Where the environment is not read (-E, -I) or site is off (-S), the program
runs inside the launcher's process instead, as __main__ with plain python's
globals, launcher frames cut from its uncaught exception's traceback (but
not from stack walks made while it runs).
"""
import os
import sys

USAGE = ("usage: python [interpreter options] -m casyncio [--no-compat] "
         "[-c cmd | -m mod | file | -] [arg] ...")
HELP = USAGE + """
Run a Python program on casyncio's event loop, as plain python runs it.

Interpreter options (-X dev, -W, -u, -O, -i, ...) go before -m casyncio:
they are the program's interpreter's.  After -m casyncio come casyncio's
options, then the program and its arguments, as for python itself.

--no-compat : do not restore legacy asyncio APIs (@asyncio.coroutine,
              Task.all_tasks(), ...); also CASYNCIO_NO_COMPAT=1
--version   : print casyncio's version and exit
-h, --help  : print this help message and exit
-c cmd      : program passed in as string (terminates option list)
-m mod      : run library module as a script (terminates option list)
file        : program read from script file, directory or zip file
-           : program read from stdin
arg ...     : arguments passed to program in sys.argv[1:]
(none)      : the asyncio REPL (python -m asyncio) on casyncio's loop

Child processes (subprocesses, multiprocessing workers) inherit
CASYNCIO_INSTALL=1 and casyncio's start-up hook on PYTHONPATH, and run on
casyncio too; CASYNCIO_INSTALL=0 in a child's environment turns it off.
CASYNCIO_DISABLE=1 runs the program on stock asyncio, to compare.
"""


def _usage_error(message):
    sys.stderr.write(f"{message}\n{USAGE}\n"
                     "Try `python -m casyncio -h' for more information.\n")
    sys.exit(2)


def _parse(argv):
    """Return (compat, kind, target, args); kind is 'file', 'module', 'cmd',
    'stdin' or 'repl'."""
    from casyncio import _startup
    compat = _startup.compat_wanted()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--no-compat":
            compat = False
        elif arg in ("-h", "--help"):
            sys.stdout.write(HELP)
            sys.exit(0)
        elif arg in ("-V", "--version"):
            from casyncio import __version__
            sys.stdout.write(f"casyncio {__version__}\n")
            sys.exit(0)
        elif arg in ("-m", "-c"):
            if i + 1 == len(argv):
                _usage_error(f"Argument expected for the {arg} option")
            kind = "module" if arg == "-m" else "cmd"
            return compat, kind, argv[i + 1], argv[i + 2:]
        elif arg == "--":
            i += 1
            break
        elif arg.startswith("-") and arg != "-":
            _usage_error(f"Unknown option: {arg}")
        else:
            break
        i += 1
    if i == len(argv):
        return compat, "repl", None, []
    if argv[i] == "-":
        return compat, "stdin", "-", argv[i + 1:]
    return compat, "file", argv[i], argv[i + 1:]


# --- the program in a plain interpreter (exec) ---------------------------------

def _interpreter_options(module_names=("casyncio", "casyncio.__main__")):
    """The interpreter options this process was started with, from
    sys.orig_argv (everything before ``-m casyncio``), or None when they
    cannot be told apart."""
    orig = getattr(sys, "orig_argv", None)
    if not orig:
        return None
    ntail = len(sys.argv) - 1
    head, tail = orig[1:len(orig) - ntail], orig[len(orig) - ntail:]
    if tail != sys.argv[1:] or not head:
        return None
    last = head[-1]
    if (last in module_names and len(head) >= 2
            and head[-2].startswith("-") and not head[-2].startswith("--")
            and head[-2].endswith("m")):
        flags = head[-2][:-1]           # "-m" or combined, as "-Em"
        return head[:-2] + ([flags] if flags != "-" else [])
    for name in module_names:
        if last.startswith("-") and not last.startswith("--") \
                and last.endswith("m" + name):
            flags = last[:-len("m" + name)]   # "-mcasyncio", "-Imcasyncio"
            return head[:-1] + ([flags] if flags != "-" else [])
    return None


def _exec_plain_python(compat, kind, target, args):
    """Replace this process with plain python running the program, casyncio
    switched on at its start-up.  Returns only if that cannot be done."""
    if (sys.flags.ignore_environment or sys.flags.no_site
            or not sys.executable):
        return
    options = _interpreter_options()
    if options is None:
        return
    from casyncio import _startup
    if kind == "repl":
        program = ["-m", "asyncio"]
    elif kind == "module":
        program = ["-m", target]
    elif kind == "cmd":
        program = ["-c", target]
    else:
        program = [target]
    argv0 = sys.orig_argv[0]
    if os.sep not in argv0:
        argv0 = sys.executable
    # CASYNCIO_DISABLE=1: the program as plain python runs it, on stock
    # asyncio (the variable stays, so children run on stock asyncio too).
    env = (dict(os.environ) if _startup.disabled()
           else _startup.child_environ(compat))
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    os.execve(sys.executable, [argv0, *options, *program, *args], env)


# --- the program in this process (fallback) -------------------------------------

def _fresh_main_module():
    """A new, empty __main__ module like the one the interpreter starts with."""
    import builtins
    import importlib.machinery
    import types
    main = types.ModuleType("__main__")
    main.__loader__ = importlib.machinery.BuiltinImporter
    if sys.version_info < (3, 14):
        main.__annotations__ = {}   # 3.14's lazy annotations: none up front
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    return main


def _strip_launcher_frames(exc, frame):
    """Have the traceback of *exc* start below the launcher when reported.

    The exception keeps propagating to the interpreter, which then prints it
    with sys.excepthook and exits as plain python would (exit code 1, or the
    SIGINT death for KeyboardInterrupt); only what the hook sees changes:
    every entry down to *frame*, and launcher-file entries right below it.
    """
    hook = sys.excepthook

    def excepthook(typ, value, tb):
        sys.excepthook = hook
        if value is exc:
            t = tb
            while t is not None and t.tb_frame is not frame:
                t = t.tb_next
            if t is not None:
                t = t.tb_next
                while t is not None and \
                        t.tb_frame.f_code.co_filename == __file__:
                    t = t.tb_next
                tb = t
                value.__traceback__ = tb
                sys.last_traceback = tb
        hook(typ, value, tb)

    sys.excepthook = excepthook


def _can_t_open(path, err):
    program = sys.orig_argv[0] if sys.orig_argv else "python"
    sys.stderr.write(f"{program}: can't open file {path!r}: "
                     f"[Errno {err.errno}] {err.strerror}\n")
    sys.exit(2)


def _run(kind, target, args, filename="<string>", argv0="-c"):
    """Run the program as __main__, as plain python would (kind "cmd":
    *target* is the source, named *filename*, sys.argv[0] *argv0*)."""
    import runpy
    main = _fresh_main_module()
    source = module = None
    sys.argv[:] = [argv0 if kind == "cmd" else target] + args
    if kind == "cmd":
        source = target
        if not sys.flags.safe_path:
            sys.path[0] = ""
    elif kind == "module":
        # sys.path[0] already is the current directory, as for python -m.
        module, alter_argv = target, True
    elif os.path.isdir(target) or _is_zipfile(target):
        module, alter_argv = "__main__", False
        if not sys.flags.safe_path:
            sys.path[0] = os.path.abspath(target)
    else:
        filename = os.path.abspath(target)
        try:
            with open(filename, "rb") as f:
                source = f.read()
        except OSError as e:
            _can_t_open(filename, e)
        if not sys.flags.safe_path:
            sys.path[0] = os.path.dirname(os.path.realpath(filename))
        import importlib.machinery
        main.__file__ = filename
        if sys.version_info < (3, 15):
            main.__cached__ = None      # 3.15 no longer sets it
        main.__loader__ = importlib.machinery.SourceFileLoader(
            "__main__", filename)
    try:
        if module is not None:
            runpy._run_module_as_main(module, alter_argv)
        else:
            code = compile(source, filename, "exec", dont_inherit=True)
            if kind == "cmd" and filename == "<string>":
                _keep_command_source(code, source)
            exec(code, main.__dict__)
    except BaseException as exc:
        if not isinstance(exc, SystemExit):
            _strip_launcher_frames(exc, sys._getframe())
        raise


def _keep_command_source(code, source):
    """Keep a -c program's source for its tracebacks, as python -c does
    from 3.13 on: 3.13 under the file name "<string>", 3.14 by code object."""
    import linecache
    if sys.version_info >= (3, 14):
        linecache._register_code(code, source, "<string>")
    elif sys.version_info >= (3, 13):
        lines = [line + "\n" for line in source.splitlines()]
        linecache.cache["<string>"] = (len(source), None, lines, "<string>")


def _is_zipfile(path):
    import zipfile
    try:
        return os.path.isfile(path) and zipfile.is_zipfile(path)
    except OSError:
        return False


def _run_repl():
    """python -m asyncio, in this process (the fallback)."""
    import runpy
    sys.argv[:] = [sys.argv[0]]
    runpy.run_module("asyncio", run_name="__main__", alter_sys=True)


def main(argv=None):
    compat, kind, target, args = _parse(
        sys.argv[1:] if argv is None else argv)
    if argv is None:
        _exec_plain_python(compat, kind, target, args)
    import casyncio
    from casyncio import _startup
    casyncio._import_all()
    _startup.activate(compat)
    if kind == "repl":
        _run_repl()
    elif kind == "stdin":
        _run("cmd", sys.stdin.read(), args, filename="<stdin>", argv0="-")
    else:
        _run(kind, target, args)


if __name__ == "__main__":
    main()
