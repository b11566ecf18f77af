/* Task (task.c): asyncio.Task in C, a subclass of our Future. */
#ifndef CX_TASK_H
#define CX_TASK_H

#include "Python.h"
#include "state.h"
#include "future.h"
#include "loop.h"

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

/* 3.11-3.13: the loop's deferred leave (task.c): after running `e`, may
 * loop_leave_pending stay in tasks._current_tasks until the step of the
 * queue's next entry, `next` (NULL: none in this iteration)?  Else
 * cx_task_leave_flush removes it (the _leave_task the step put off):
 * 0, or -1 with an exception set. */
int cx_task_leave_flush(LoopObject *lp);

/* May the step the ready-queue entry e runs put off its _leave_task?  A
 * wake-up only by one of our futures with a result: its result() calls no
 * Python and makes no exception before the step enters. */
static inline int
cx_task_entry_may_defer(LoopObject *lp, const cx_entry *e)
{
#if PY_VERSION_HEX < 0x030E0000
    return e->kind == CX_ENTRY_CFUNC && e->ctx == NULL
           && (e->fn == cx_task_step_fn
               || (e->fn == cx_task_wakeup_fn
                   && cx_future_check_exact(lp->st, e->arg)
                   && ((FutureObject *)e->arg)->fut_state == CX_FUT_FINISHED
                   && ((FutureObject *)e->arg)->fut_exception == NULL))
           && ((TaskObject *)e->obj)->task_loop == (PyObject *)lp
           && !lp->loop_debug;
#else
    return 0;
#endif
}

static inline int
cx_task_leave_may_wait(LoopObject *lp, const cx_entry *e, int rc,
                       const cx_entry *next)
{
#if PY_VERSION_HEX < 0x030E0000
    PyObject *task = lp->loop_leave_pending;
    /* the task keeps a reference beyond the dict's and the entry's, so
     * neither dropping the entry nor replacing the dict's value frees it;
     * the entry's other references are not the last ones either */
    return rc == 0 && next != NULL && e->obj == task
           && Py_REFCNT(task) >= 3
           && (e->arg == NULL || Py_REFCNT(e->arg) >= 2)
           && cx_task_entry_may_defer(lp, next);
#else
    return 0;
#endif
}

/* task.__wakeup as a Python callable (a builtin method bound to the task),
 * for the paths that need a real callback.  New reference. */
PyObject *cx_task_wakeup_callable(PyObject *task);

#endif /* CX_TASK_H */
