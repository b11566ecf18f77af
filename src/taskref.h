/* _TaskRef (taskref.c): what casyncio puts in asyncio's task registry, the
 * data set of a WeakSet (tasks._all_tasks / _scheduled_tasks), in place
 * of a weakref to the task.  It answers as a weakref does there: called,
 * it returns the task (None once gone); it hashes as the task and equals a
 * weakref to the same task, so WeakSet.__iter__/__contains__/discard work
 * unchanged.  Unlike a weakref it is not tracked by the garbage collector
 * and touches no weakref list: one small allocation per task. */
#ifndef CX_TASKREF_H
#define CX_TASKREF_H

#include "Python.h"
#include "state.h"

/* A new _TaskRef to task (borrowed: the task owns the _TaskRef and calls
 * cx_taskref_forget before it goes).  New reference, or NULL. */
PyObject *cx_taskref_new(cx_state *st, PyObject *task);
void cx_taskref_forget(PyObject *ref);

int cx_taskref_setup(PyObject *module);

#endif /* CX_TASKREF_H */
