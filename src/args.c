/* Keyword arguments for C methods: see args.h.  Cold paths only. */
#include "internal.h"
#include <stdarg.h>

int
cx_args_kw(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
           const char *format, char **kwlist, ...)
{
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    PyObject *tuple = PyTuple_New(nargs);
    PyObject *dict = nkw ? PyDict_New() : NULL;
    int ok = tuple != NULL && (nkw == 0 || dict != NULL);
    for (Py_ssize_t i = 0; ok && i < nargs; i++) {
        PyTuple_SET_ITEM(tuple, i, Py_NewRef(args[i]));
    }
    for (Py_ssize_t i = 0; ok && i < nkw; i++) {
        ok = PyDict_SetItem(dict, PyTuple_GET_ITEM(kwnames, i),
                            args[nargs + i]) == 0;
    }
    if (ok) {
        va_list va;
        va_start(va, kwlist);
        /* The parsed objects stay alive in the caller's arguments. */
        ok = PyArg_VaParseTupleAndKeywords(tuple, dict, format, kwlist, va);
        va_end(va);
    }
    Py_XDECREF(tuple);
    Py_XDECREF(dict);
    return ok ? 0 : -1;
}
