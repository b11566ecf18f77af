/* Keyword arguments for C methods whose asyncio counterpart is a Python
 * function (args.c).  Such a method takes METH_FASTCALL | METH_KEYWORDS:
 * the usual positional call costs one compare, a call that names its
 * arguments goes through cx_args_kw (cold), so `transport.write(data=b)`
 * works as on asyncio and the method's text signature is the truth. */
#ifndef CX_ARGS_H
#define CX_ARGS_H

/* Parse a vectorcall's arguments as PyArg_ParseTupleAndKeywords parses a
 * tuple and a dict (same format, kwlist, messages).  Objects ("O") are
 * borrowed from args: they live as long as the call.  0, or -1 with an
 * exception set. */
int cx_args_kw(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
               const char *format, char **kwlist, ...);

/* FUNC_kw: a METH_FASTCALL | METH_KEYWORDS method calling the METH_O
 * function FUNC(SELF_TYPE *, PyObject *) with its one argument, given by
 * position or by the keyword ARG (a string literal); NAME (a string
 * literal) is the method's name in messages. */
#define CX_METH_O_KW(FUNC, SELF_TYPE, NAME, ARG)                            \
    static PyObject *                                                       \
    FUNC##_kw(SELF_TYPE *self, PyObject *const *args, Py_ssize_t nargs,     \
              PyObject *kwnames)                                            \
    {                                                                       \
        static char *kwlist[] = {ARG, NULL};                                \
        PyObject *arg;                                                      \
        if (kwnames == NULL && nargs == 1) {                                \
            return FUNC(self, args[0]);                                     \
        }                                                                   \
        if (cx_args_kw(args, nargs, kwnames, "O:" NAME, kwlist, &arg)       \
                < 0) {                                                      \
            return NULL;                                                    \
        }                                                                   \
        return FUNC(self, arg);                                             \
    }

/* The PyMethodDef function field and flags of such a method. */
#define CX_FASTKW(f) (PyCFunction)(void (*)(void))(f), \
    METH_FASTCALL | METH_KEYWORDS

#endif /* CX_ARGS_H */
