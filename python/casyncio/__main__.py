"""python -m casyncio [--no-compat] (script.py | -m module | -c cmd) [arg] ...

Runs a program the way plain ``python`` would, with casyncio's event loop
policy installed and ``asyncio.gather`` pointing to casyncio's (when this
build has the C loop) and, unless --no-compat is
given or CASYNCIO_NO_COMPAT=1, the legacy-asyncio compat layer.  The program
runs as ``__main__`` with the sys.argv, sys.path[0], __file__ and globals
plain python gives it; its tracebacks, exit codes and Ctrl+C behave as under
plain python (launcher frames are cut from the traceback).
"""
import os
import sys

USAGE = ("usage: python -m casyncio [--no-compat] "
         "[-c cmd | -m mod | file] [arg] ...")
HELP = USAGE + """
Run a Python program on casyncio's event loop.

--no-compat : do not restore legacy asyncio APIs (@asyncio.coroutine,
              Task.all_tasks(), ...); also CASYNCIO_NO_COMPAT=1
-c cmd      : program passed in as string (terminates option list)
-m mod      : run library module as a script (terminates option list)
-h, --help  : print this help message and exit
file        : program read from script file, directory or zip file
arg ...     : arguments passed to program in sys.argv[1:]
"""


def _usage_error(message):
    sys.stderr.write(f"{message}\n{USAGE}\n"
                     "Try `python -m casyncio -h' for more information.\n")
    sys.exit(2)


def _parse(argv):
    """Return (compat, kind, target, args); kind is 'file', 'module', 'cmd'."""
    compat = os.environ.get("CASYNCIO_NO_COMPAT", "") in ("", "0")
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--no-compat":
            compat = False
        elif arg in ("-h", "--help"):
            sys.stdout.write(HELP)
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
        _usage_error("A script, -m module or -c command is required")
    if argv[i] == "-":
        _usage_error("Reading the program from stdin is not supported")
    return compat, "file", argv[i], argv[i + 1:]


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


def _run(kind, target, args):
    """Run the program as __main__, as plain python would."""
    import runpy
    main = _fresh_main_module()
    source = module = None
    sys.argv[:] = ["-c" if kind == "cmd" else target] + args
    if kind == "cmd":
        source, filename = target, "<string>"
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
            if kind == "cmd":
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


def main(argv=None):
    compat, kind, target, args = _parse(
        sys.argv[1:] if argv is None else argv)
    from casyncio import _compat, _policy
    _policy.install()
    if compat:
        _compat.install()
    _run(kind, target, args)


if __name__ == "__main__":
    main()
