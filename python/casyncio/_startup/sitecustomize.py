"""casyncio's start-up hook (see casyncio/_startup/__init__.py).

Found first on sys.path through PYTHONPATH, so ``site`` imports it at
start-up instead of the sitecustomize it shadows; it leaves sys.path,
sys.modules and the shadowed module as plain python would have them.
"""
import os
import sys


def _drop_hook_dir(here):
    """Take this folder off sys.path: the program sees plain python's."""
    real = os.path.realpath(here)
    keep = [p for p in sys.path
            if not (p and os.path.realpath(p) == real)]
    sys.path[:] = keep
    for key in [k for k in sys.path_importer_cache
                if k and os.path.realpath(k) == real]:
        del sys.path_importer_cache[key]


class _AfterAsyncio:
    """A meta path finder for asyncio only: it lets the other finders find
    it and has the loader call activate() once asyncio's module is executed
    (runpy may find a spec and import anew: every spec found gets it), then
    leaves sys.meta_path; nothing of it stays on the loaders."""

    def __init__(self, package_parent):
        self.package_parent = package_parent
        self.done = False

    def find_spec(self, name, path=None, target=None):
        if name != "asyncio" or self.done:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        try:
            exec_module = loader.exec_module
            hook = self

            def exec_module_then_activate(module):
                try:
                    exec_module(module)
                finally:
                    del loader.exec_module
                hook.activate()

            loader.exec_module = exec_module_then_activate
        except AttributeError:
            pass    # a loader without a __dict__: run as plain python
        return spec

    def activate(self):
        if self.done:
            return
        self.done = True
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        from importlib.machinery import PathFinder
        package = os.path.join(self.package_parent, "casyncio")
        if PathFinder.find_spec("_core", [package]) is None:
            # An interpreter casyncio is not built for (a child process
            # running another Python): it stays on stock asyncio.
            return
        # casyncio as the launcher found it, even if the program's sys.path
        # does not hold its folder.
        sys.path.insert(0, self.package_parent)
        try:
            from casyncio._startup import activate
        except ImportError:
            if _in_main_interpreter():
                raise
            # A subinterpreter with its own GIL (concurrent.interpreters'
            # default), which refuses to load casyncio._core: the program's
            # code there runs on stock asyncio, as under plain python.
            return
        finally:
            sys.path.remove(self.package_parent)
        activate()


def _in_main_interpreter():
    try:
        import _interpreters as interpreters   # 3.13+
    except ImportError:
        try:
            import _xxsubinterpreters as interpreters
        except ImportError:
            return True
    return interpreters.get_current() == interpreters.get_main()


def _chain_shadowed():
    """Run the sitecustomize this module shadows, as site would have;
    without one, leave as plain python does: no sitecustomize module."""
    from importlib.machinery import PathFinder
    spec = PathFinder.find_spec("sitecustomize", sys.path)
    if spec is None or spec.loader is None:
        # site ignores an ImportError about sitecustomize itself, and the
        # import system drops this module from sys.modules.
        raise ImportError("no sitecustomize", name="sitecustomize")
    from importlib.util import module_from_spec
    module = module_from_spec(spec)
    sys.modules["sitecustomize"] = module   # what `import` gives site
    spec.loader.exec_module(module)


def _main():
    here = os.path.dirname(os.path.abspath(__file__))
    _drop_hook_dir(here)
    if os.environ.get("CASYNCIO_INSTALL", "") not in ("", "0"):
        hook = _AfterAsyncio(os.path.dirname(os.path.dirname(here)))
        if "asyncio" in sys.modules:
            hook.activate()
        else:
            sys.meta_path.insert(0, hook)
    _chain_shadowed()


_main()
