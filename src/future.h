/* Future (future.c): asyncio.Future in C, and its await iterator. */
#ifndef CX_FUTURE_H
#define CX_FUTURE_H

#include "Python.h"
#include "state.h"
#include "queue.h"

typedef enum {
    CX_FUT_PENDING = 0,
    CX_FUT_CANCELLED,
    CX_FUT_FINISHED
} cx_fut_state;

/* The fields a Future starts with; Task (task.c) repeats them with its own
 * prefix so a TaskObject can be used as a FutureObject (CPython's
 * FutureObj_HEAD).
 *
 * Callbacks: most futures get exactly one, so the first one lives inline in
 * callback0/context0 and a list of (callback, context) tuples is allocated
 * only for the second.  Invariant: callback0, when set, was registered
 * before every entry of the list (it is only filled while the list is
 * NULL), so "callback0, then the list" is registration order.
 *
 * When wakeup0 is set, callback0 is not a callable but a Task waiting on
 * this future (task.c's fast wake-up): no bound method is allocated; the
 * Task is woken through cx_task_wakeup_fn, or through a bound method made
 * on demand when the loop is not one of ours. */
#define CX_FUTURE_HEAD(prefix)                                              \
    PyObject_HEAD                                                           \
    cx_state *prefix##_st;          /* borrowed; set in tp_new */           \
    PyObject *prefix##_loop;        /* NULL until __init__ */               \
    PyObject *prefix##_callback0;   /* or a Task when wakeup0 */            \
    PyObject *prefix##_context0;                                            \
    PyObject *prefix##_callbacks;   /* list of (cb, ctx), or NULL */        \
    PyObject *prefix##_result;                                              \
    PyObject *prefix##_exception;                                           \
    PyObject *prefix##_exception_tb;                                        \
    PyObject *prefix##_source_tb;                                           \
    PyObject *prefix##_cancel_msg;                                          \
    PyObject *prefix##_cancelled_exc;                                       \
    PyObject *prefix##_dict;                                                \
    PyObject *prefix##_weakreflist;                                         \
    PyObject *prefix##_awaited_by;  /* 3.14+: NULL, the one waiter, or a   \
                                       set of them (see future.c) */       \
    cx_fut_state prefix##_state;                                            \
    char prefix##_log_tb;                                                   \
    char prefix##_blocking;                                                 \
    char prefix##_wakeup0;                                                  \
    char prefix##_awaited_by_used;  /* a waiter was ever recorded */

typedef struct {
    CX_FUTURE_HEAD(fut)
} FutureObject;

int cx_future_setup(PyObject *module);
/* Free the Futures and FutureIters kept for reuse (module clear). */
void cx_future_pools_clear(cx_state *st);

/* A new pending Future bound to `loop`.  New reference. */
PyObject *cx_future_new(cx_state *st, PyObject *loop);

/* Non-zero if `op` is exactly our Future or exactly our Task (not a
 * subclass: a subclass may override add_done_callback and friends). */
static inline int
cx_future_check_exact(cx_state *st, PyObject *op)
{
    return Py_IS_TYPE(op, st->FutureType) || Py_IS_TYPE(op, st->TaskType);
}

/* --- used by task.c (a Task is a Future) --- */

/* Future.__init__(loop=loop): reset every field, bind to loop (None: the
 * running or current event loop), capture the source traceback in debug
 * mode.  0 or -1. */
int cx_future_init(FutureObject *fut, PyObject *loop);

/* Future.set_result / set_exception / cancel without the method lookup
 * (Task's own overrides of set_result/set_exception are not used).
 * New reference (None / bool) or NULL. */
PyObject *cx_future_set_result(FutureObject *fut, PyObject *result);
PyObject *cx_future_set_exception(FutureObject *fut, PyObject *exc);
PyObject *cx_future_cancel(FutureObject *fut, PyObject *msg);

/* Future._make_cancelled_error().  New reference or NULL. */
PyObject *cx_future_make_cancelled_error(FutureObject *fut);

/* The outcome of a done future: 0 and *result = the result, 1 and
 * *result = the exception (both new references), or -1 with an exception
 * set (cancelled: CancelledError; not done: InvalidStateError). */
int cx_future_get_result(FutureObject *fut, PyObject **result);

/* fut.add_done_callback(cb, context=ctx) for one of our futures, without
 * the method call (Future.add_done_callback's body); ctx is not NULL.
 * 0 or -1. */
int cx_future_add_done_callback(FutureObject *fut, PyObject *cb,
                                PyObject *ctx);

/* fut.add_done_callback(task.__wakeup, context=ctx) for one of our exact
 * futures, without allocating when callback0 is free (see CX_FUTURE_HEAD).
 * 0 or -1. */
int cx_future_add_wakeup(FutureObject *fut, PyObject *task, PyObject *ctx);

/* loop.call_soon(cb, arg, context=ctx) -- through the loop's queue when the
 * loop is one of ours.  ctx may be NULL (no context argument).  0 or -1. */
int cx_future_call_soon(cx_state *st, PyObject *loop, PyObject *cb,
                        PyObject *arg, PyObject *ctx);

/* 3.14's call-graph bookkeeping (futures.future_add_to_awaited_by /
 * future_discard_from_awaited_by) on one of our futures (or a subclass):
 * `waiter` is recorded when it is a future of ours or of asyncio's, as
 * asyncio records only futures.  0 or -1. */
int cx_future_awaited_by_add(FutureObject *fut, PyObject *waiter);
int cx_future_awaited_by_discard(FutureObject *fut, PyObject *waiter);

/* tp_traverse / tp_clear / tp_finalize bodies, for Task's own slots. */
int cx_future_traverse_fields(FutureObject *fut, visitproc visit, void *arg);
void cx_future_clear_fields(FutureObject *fut);
void cx_future_finalize(PyObject *self);

#endif /* CX_FUTURE_H */
