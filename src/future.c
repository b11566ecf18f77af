/* Future: placeholder until future.c lands. */
#include "internal.h"
int cx_future_setup(PyObject *module) { return 0; }
PyObject *cx_future_new(cx_state *st, PyObject *loop)
{ PyErr_SetString(PyExc_NotImplementedError, "Future"); return NULL; }
