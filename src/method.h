/* _PyMethod (method.c): a C method that binds as a Python method.
 *
 * asyncio's loop methods are Python functions: loop.call_later is a
 * types.MethodType, and unittest.mock's autospec, inspect.ismethod() and
 * the repr go by that.  A class attribute of this type holds one of our
 * method descriptors; read through an instance it gives
 * types.MethodType(descriptor, instance), and called (as the interpreter
 * calls a method descriptor, self first, no bound object made) it hands
 * the arguments straight to the wrapped method's vectorcall.  Its name,
 * qualname, docstring and text signature are the wrapped method's, so
 * inspect.signature() of the bound method drops self as for a function. */
#ifndef CX_METHOD_H
#define CX_METHOD_H

#include "Python.h"
#include "state.h"

/* The method descriptor under attr when attr is a _PyMethod, else attr
 * (borrowed either way). */
PyObject *cx_method_unwrap(cx_state *st, PyObject *attr);

/* Whether what instances of tp find as attribute name is original (one of
 * our method descriptors), itself or in a _PyMethod: not overridden. */
int cx_method_inherited(cx_state *st, PyTypeObject *tp, PyObject *name,
                        PyObject *original);

/* Whether bound (a bound method, as getattr gives) calls C function fn
 * with self: a builtin method of self, or a types.MethodType of self over
 * a _PyMethod of fn. */
int cx_method_is(cx_state *st, PyObject *bound, PyObject *self,
                 PyCFunction fn);

int cx_method_setup(PyObject *module);

#endif /* CX_METHOD_H */
