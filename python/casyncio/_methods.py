"""Our C methods bind as Python methods where asyncio's are functions.

asyncio's loop, transports and handles are Python classes: loop.call_later
is a types.MethodType, which unittest.mock's autospec checks calls against,
inspect.ismethod() recognises and repr() shows as a bound method.  Ours are
C methods; bind_as_python_methods() puts each one that overrides such a
function in a _core._PyMethod, which reads as a types.MethodType and, when
the interpreter calls it, hands the arguments straight to the C method (no
frame; see src/method.h).
"""
import types

from . import _core


def bind_as_python_methods(cls: type, stock: type) -> None:
    """Wrap each public C method that cls gets from a C base class and
    stock (the asyncio class cls stands for) defines as a Python function.
    Private ones stay builtins: the C side takes some of them as bound
    callbacks (a transport's _read_ready), where a bound builtin is the
    cheaper call."""
    for name in dir(cls):
        attr = getattr(cls, name)
        if (isinstance(attr, types.MethodDescriptorType)
                and not name.startswith('_')
                and isinstance(getattr(stock, name, None),
                               types.FunctionType)):
            setattr(cls, name, _core._PyMethod(attr))
