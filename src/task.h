/* Task (task.c): asyncio.Task in C, a subclass of our Future. */
#ifndef CX_TASK_H
#define CX_TASK_H

#include "Python.h"
#include "state.h"

int cx_task_setup(PyObject *module);

/* Task(coro, loop=loop, name=name, context=context); name and context may be
 * NULL.  New reference. */
PyObject *cx_task_new(cx_state *st, PyObject *coro, PyObject *loop,
                      PyObject *name, PyObject *context);

#endif /* CX_TASK_H */
