/* Task (task.c): asyncio.Task in C, a subclass of our Future. */
#ifndef CX_TASK_H
#define CX_TASK_H

#include "Python.h"
#include "state.h"
#include "future.h"

typedef struct {
    CX_FUTURE_HEAD(task)            /* a TaskObject * is a FutureObject * */
    PyObject *task_fut_waiter;      /* the future the coroutine waits on */
    PyObject *task_coro;
    PyObject *task_name;            /* NULL until asked for when ... */
    unsigned long long task_name_number; /* ... it is "Task-<this>" */
    PyObject *task_context;
    int task_must_cancel;
    int task_log_destroy_pending;
    int task_num_cancels_requested;
    PyObject *task_registry_ref;    /* weakref in asyncio's registry */
} TaskObject;

int cx_task_setup(PyObject *module);
/* Find asyncio's task registry and current-task dict (after setup). */
int cx_task_registry_setup(PyObject *module);

/* Task(coro, loop=loop, name=name, context=context); name and context may be
 * NULL.  New reference. */
PyObject *cx_task_new(cx_state *st, PyObject *coro, PyObject *loop,
                      PyObject *name, PyObject *context);

/* Ready-queue functions (cx_cfunc) the loop runs for a task.  Each enters
 * the task's context itself, so the queue entry needs none.
 *   cx_task_step_fn(task, exc)     one step: coro.send(None), or
 *                                  coro.throw(exc) when exc is not NULL
 *   cx_task_wakeup_fn(task, fut)   fut is done: step with its outcome
 * 0, or -1 with an exception set (KeyboardInterrupt and SystemExit raised
 * by the coroutine are left set after the task is marked done, for the loop
 * to propagate). */
int cx_task_step_fn(PyObject *task, PyObject *exc);
int cx_task_wakeup_fn(PyObject *task, PyObject *fut);

/* task.__wakeup as a Python callable (a builtin method bound to the task),
 * for the paths that need a real callback.  New reference. */
PyObject *cx_task_wakeup_callable(PyObject *task);

#endif /* CX_TASK_H */
