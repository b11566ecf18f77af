/* Task: placeholder until task.c lands. */
#include "internal.h"
int cx_task_setup(PyObject *module) { return 0; }
PyObject *cx_task_new(cx_state *st, PyObject *coro, PyObject *loop,
                      PyObject *name, PyObject *context)
{ PyErr_SetString(PyExc_NotImplementedError, "Task"); return NULL; }
