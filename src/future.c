/* Future: asyncio.Future in C (futures.py is the specification; CPython's
 * Modules/_asynciomodule.c the model for the structure), and the iterator
 * that `await fut` / `yield from fut` drive. */
#include "internal.h"
#include "structmember.h"

#if PY_VERSION_HEX >= 0x030D0000
#define interpreter_finalizing() Py_IsFinalizing()
#else
#define interpreter_finalizing() _Py_IsFinalizing()
#endif

#define FUT_NOT_INITIALIZED "Future object is not initialized."

/* Raise RuntimeError and return `ret` if fut.__init__ never ran. */
#define ENSURE_ALIVE(fut, ret)                                          \
    do {                                                                \
        if ((fut)->fut_loop == NULL) {                                  \
            PyErr_SetString(PyExc_RuntimeError, FUT_NOT_INITIALIZED);   \
            return ret;                                                 \
        }                                                               \
    } while (0)

/* ---------------------------------------------------------------------- */
/* Scheduling callbacks */

int
cx_future_call_soon(cx_state *st, PyObject *loop, PyObject *cb,
                    PyObject *arg, PyObject *ctx)
{
    if (cx_loop_is_fast(st, loop)) {
        return cx_loop_push_call1((LoopObject *)loop, cb, arg, ctx);
    }
    PyObject *res;
    if (ctx == NULL) {
        res = PyObject_CallMethodObjArgs(loop, st->str_call_soon, cb, arg,
                                         NULL);
    }
    else {
        PyObject *stack[4] = {loop, cb, arg, ctx};
        res = PyObject_VectorcallMethod(
            st->str_call_soon, stack,
            3 | PY_VECTORCALL_ARGUMENTS_OFFSET, st->context_kwnames);
    }
    if (res == NULL) {
        return -1;
    }
    Py_DECREF(res);
    return 0;
}

/* cb(fut) soon, in ctx; on our loop the stdlib Task's wake-up may take
 * stdtask.c's path. */
static int
future_call_soon_cb(FutureObject *fut, PyObject *loop, PyObject *cb,
                    PyObject *ctx)
{
    cx_state *st = fut->fut_st;
    if (cx_loop_is_fast(st, loop)) {
        if (PyCFunction_CheckExact(cb)) {
            int r = cx_stdtask_schedule(st, (LoopObject *)loop, cb, fut,
                                        ctx);
            if (r != 0) {
                return r < 0 ? -1 : 0;
            }
        }
        return cx_loop_push_call1((LoopObject *)loop, cb, (PyObject *)fut,
                                  ctx);
    }
    return cx_future_call_soon(st, loop, cb, (PyObject *)fut, ctx);
}

/* Schedule one registered callback of `fut`: cb(fut) in ctx, or, for a
 * wake-up entry (cb is then the Task), the task's wake-up. */
static int
future_schedule_one(FutureObject *fut, PyObject *loop, PyObject *cb,
                    PyObject *ctx, int wakeup)
{
    cx_state *st = fut->fut_st;
    if (!wakeup) {
        return future_call_soon_cb(fut, loop, cb, ctx);
    }
    if (cx_loop_is_fast(st, loop)) {
        return cx_loop_push_cfunc((LoopObject *)loop, cx_task_wakeup_fn,
                                  cb, (PyObject *)fut);
    }
    PyObject *meth = cx_task_wakeup_callable(cb);
    if (meth == NULL) {
        return -1;
    }
    int ret = cx_future_call_soon(st, loop, meth, (PyObject *)fut, ctx);
    Py_DECREF(meth);
    return ret;
}

/* The future just became done: schedule every callback and forget them.
 * Everything is taken out of `fut` before the first call_soon, so an evil
 * call_soon (or callback registration) cannot disturb the iteration. */
static int
future_schedule_callbacks(FutureObject *fut)
{
    PyObject *cb0 = fut->fut_callback0;
    PyObject *ctx0 = fut->fut_context0;
    PyObject *callbacks = fut->fut_callbacks;
    int wakeup0 = fut->fut_wakeup0;
    fut->fut_callback0 = NULL;
    fut->fut_context0 = NULL;
    fut->fut_callbacks = NULL;
    fut->fut_wakeup0 = 0;
    if (cb0 == NULL && callbacks == NULL) {
        return 0;
    }

    int ret = 0;
    PyObject *loop = Py_NewRef(fut->fut_loop);
    Py_INCREF(fut);
    if (cb0 != NULL) {
        ret = future_schedule_one(fut, loop, cb0, ctx0, wakeup0);
    }
    if (ret == 0 && callbacks != NULL) {
        /* We own the only reference to the list now: nobody resizes it. */
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(callbacks); i++) {
            PyObject *tup = PyList_GET_ITEM(callbacks, i);
            if (future_schedule_one(fut, loop, PyTuple_GET_ITEM(tup, 0),
                                    PyTuple_GET_ITEM(tup, 1), 0) < 0) {
                ret = -1;
                break;
            }
        }
    }
    Py_XDECREF(cb0);
    Py_XDECREF(ctx0);
    Py_XDECREF(callbacks);
    Py_DECREF(loop);
    Py_DECREF(fut);
    return ret;
}

/* Register cb (or, with `wakeup`, the Task cb) in ctx; see the invariant in
 * future.h.  The future is pending and initialized.  0 or -1. */
static int
future_register(FutureObject *fut, PyObject *cb, PyObject *ctx, int wakeup)
{
    if (fut->fut_callback0 == NULL && fut->fut_callbacks == NULL) {
        fut->fut_callback0 = Py_NewRef(cb);
        fut->fut_context0 = Py_NewRef(ctx);
        fut->fut_wakeup0 = (char)wakeup;
        return 0;
    }
    PyObject *tup;
    if (wakeup) {
        PyObject *meth = cx_task_wakeup_callable(cb);
        if (meth == NULL) {
            return -1;
        }
        tup = PyTuple_Pack(2, meth, ctx);
        Py_DECREF(meth);
    }
    else {
        tup = PyTuple_Pack(2, cb, ctx);
    }
    if (tup == NULL) {
        return -1;
    }
    int ret;
    if (fut->fut_callbacks == NULL) {
        fut->fut_callbacks = PyList_New(1);
        if (fut->fut_callbacks == NULL) {
            Py_DECREF(tup);
            return -1;
        }
        PyList_SET_ITEM(fut->fut_callbacks, 0, tup);  /* steals */
        return 0;
    }
    ret = PyList_Append(fut->fut_callbacks, tup);
    Py_DECREF(tup);
    return ret;
}

int
cx_future_add_done_callback(FutureObject *fut, PyObject *cb, PyObject *ctx)
{
    if (fut->fut_loop == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "uninitialized Future object");
        return -1;
    }
    if (fut->fut_state != CX_FUT_PENDING) {
        return future_call_soon_cb(fut, fut->fut_loop, cb, ctx);
    }
    return future_register(fut, cb, ctx, 0);
}

int
cx_future_add_wakeup(FutureObject *fut, PyObject *task, PyObject *ctx)
{
    if (fut->fut_loop == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "uninitialized Future object");
        return -1;
    }
    if (fut->fut_state != CX_FUT_PENDING) {
        PyObject *loop = Py_NewRef(fut->fut_loop);
        int ret = future_schedule_one(fut, loop, task, ctx, 1);
        Py_DECREF(loop);
        return ret;
    }
    return future_register(fut, task, ctx, 1);
}

/* callback0 as the user sees it: the callable, or for a wake-up entry a
 * bound task.__wakeup.  New reference. */
static PyObject *
future_callback0_callable(FutureObject *fut)
{
    if (fut->fut_wakeup0) {
        return cx_task_wakeup_callable(fut->fut_callback0);
    }
    return Py_NewRef(fut->fut_callback0);
}

/* ---------------------------------------------------------------------- */
/* Core operations */

/* Drop the loop, the callbacks and the outcome (everything but __dict__). */
static void
future_clear_state(FutureObject *fut)
{
    Py_CLEAR(fut->fut_loop);
    Py_CLEAR(fut->fut_callback0);
    Py_CLEAR(fut->fut_context0);
    Py_CLEAR(fut->fut_callbacks);
    Py_CLEAR(fut->fut_result);
    Py_CLEAR(fut->fut_exception);
    Py_CLEAR(fut->fut_exception_tb);
    Py_CLEAR(fut->fut_source_tb);
    Py_CLEAR(fut->fut_cancel_msg);
    Py_CLEAR(fut->fut_cancelled_exc);
    Py_CLEAR(fut->fut_awaited_by);
    fut->fut_awaited_by_used = 0;
}

/* The flags of a future starting out pending (its other fields cleared:
 * future_clear_state, or fresh). */
static inline void
future_set_pending(FutureObject *fut)
{
    fut->fut_state = CX_FUT_PENDING;
    fut->fut_log_tb = 0;
    fut->fut_blocking = 0;
    fut->fut_wakeup0 = 0;
}

int
cx_future_init(FutureObject *fut, PyObject *loop)
{
    cx_state *st = fut->fut_st;

#if PY_VERSION_HEX >= 0x030F0000
    /* 3.15: __init__ runs once. */
    if (fut->fut_loop != NULL) {
        PyErr_Format(PyExc_RuntimeError, "%s object is already initialized",
                     Py_TYPE(fut)->tp_name);
        return -1;
    }
#endif
    /* __init__ may run twice (before 3.15): start over, but keep
     * __dict__. */
    future_clear_state(fut);
    future_set_pending(fut);

    if (loop == NULL || loop == Py_None) {
        loop = PyObject_CallNoArgs(st->asyncio_get_event_loop);
        if (loop == NULL) {
            return -1;
        }
    }
    else {
        Py_INCREF(loop);
    }
    fut->fut_loop = loop;

    int debug;
    if (cx_loop_is_fast(st, loop)) {
        debug = ((LoopObject *)loop)->loop_debug;
    }
    else {
        PyObject *res = PyObject_CallMethodNoArgs(loop, st->str_get_debug);
        if (res == NULL) {
            return -1;
        }
        debug = PyObject_IsTrue(res);
        Py_DECREF(res);
        if (debug < 0) {
            return -1;
        }
    }
    /* Not while finalizing: a Future made in a __del__ at shutdown would
     * call into a half torn-down traceback module. */
    if (debug && !interpreter_finalizing()) {
        fut->fut_source_tb = PyObject_CallNoArgs(st->asyncio_extract_stack);
        if (fut->fut_source_tb == NULL) {
            return -1;
        }
    }
    return 0;
}

PyObject *
cx_future_make_cancelled_error(FutureObject *fut)
{
    cx_state *st = fut->fut_st;
    if (fut->fut_cancelled_exc != NULL) {
        PyObject *exc = fut->fut_cancelled_exc;   /* transfer ownership */
        fut->fut_cancelled_exc = NULL;
        return exc;
    }
    PyObject *msg = fut->fut_cancel_msg;
    if (msg == NULL || msg == Py_None) {
        return PyObject_CallNoArgs(st->asyncio_CancelledError);
    }
    return PyObject_CallOneArg(st->asyncio_CancelledError, msg);
}

static void
future_raise_cancelled_error(FutureObject *fut)
{
    PyObject *exc = cx_future_make_cancelled_error(fut);
    if (exc == NULL) {
        return;
    }
    PyErr_SetObject(fut->fut_st->asyncio_CancelledError, exc);
    Py_DECREF(exc);
}

int
cx_future_get_result(FutureObject *fut, PyObject **result)
{
    *result = NULL;
    if (fut->fut_state == CX_FUT_CANCELLED) {
        future_raise_cancelled_error(fut);
        return -1;
    }
    if (fut->fut_state != CX_FUT_FINISHED) {
        PyErr_SetString(fut->fut_st->asyncio_InvalidStateError,
                        "Result is not set.");
        return -1;
    }
    fut->fut_log_tb = 0;
    if (fut->fut_exception != NULL) {
        /* Re-raise with the traceback it had when set (futures.py's
         * with_traceback(self._exception_tb)); then forget it so the
         * future does not keep the frames alive. */
        PyObject *tb = fut->fut_exception_tb ? fut->fut_exception_tb
                                             : Py_None;
        if (PyException_SetTraceback(fut->fut_exception, tb) < 0) {
            return -1;
        }
        Py_CLEAR(fut->fut_exception_tb);
        *result = Py_NewRef(fut->fut_exception);
        return 1;
    }
    *result = Py_NewRef(fut->fut_result);
    return 0;
}

PyObject *
cx_future_set_result(FutureObject *fut, PyObject *result)
{
    ENSURE_ALIVE(fut, NULL);
    if (fut->fut_state != CX_FUT_PENDING) {
        PyErr_SetString(fut->fut_st->asyncio_InvalidStateError,
                        "invalid state");
        return NULL;
    }
    Py_XSETREF(fut->fut_result, Py_NewRef(result));
    fut->fut_state = CX_FUT_FINISHED;
    if (future_schedule_callbacks(fut) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

PyObject *
cx_future_set_exception(FutureObject *fut, PyObject *exc)
{
    cx_state *st = fut->fut_st;
    ENSURE_ALIVE(fut, NULL);
    if (fut->fut_state != CX_FUT_PENDING) {
        PyErr_SetString(st->asyncio_InvalidStateError, "invalid state");
        return NULL;
    }
    PyObject *val;
    if (PyExceptionClass_Check(exc)) {
        val = PyObject_CallNoArgs(exc);
        if (val == NULL) {
            return NULL;
        }
        /* The constructor may have run code that completed us. */
        if (fut->fut_state != CX_FUT_PENDING) {
            Py_DECREF(val);
            PyErr_SetString(st->asyncio_InvalidStateError, "invalid state");
            return NULL;
        }
    }
    else {
        val = Py_NewRef(exc);
    }
    if (!PyExceptionInstance_Check(val)) {
        Py_DECREF(val);
        PyErr_SetString(PyExc_TypeError, "invalid exception object");
        return NULL;
    }
#if PY_VERSION_HEX >= 0x030D0000
    /* 3.13: any StopIteration is wrapped in a RuntimeError. */
    if (PyErr_GivenExceptionMatches(val, PyExc_StopIteration)) {
        PyObject *msg = PyUnicode_FromString(
            "StopIteration interacts badly with generators and cannot be "
            "raised into a Future");
        PyObject *wrapped = msg ? PyObject_CallOneArg(PyExc_RuntimeError,
                                                      msg) : NULL;
        Py_XDECREF(msg);
        if (wrapped == NULL) {
            Py_DECREF(val);
            return NULL;
        }
        PyException_SetCause(wrapped, Py_NewRef(val));
        PyException_SetContext(wrapped, val);       /* steals val */
        val = wrapped;
    }
#else
    /* 3.11, 3.12: exactly StopIteration is refused. */
    if (Py_IS_TYPE(val, (PyTypeObject *)PyExc_StopIteration)) {
        Py_DECREF(val);
        PyErr_SetString(PyExc_TypeError,
                        "StopIteration interacts badly with generators "
                        "and cannot be raised into a Future");
        return NULL;
    }
#endif
    Py_XSETREF(fut->fut_exception, val);
    Py_XSETREF(fut->fut_exception_tb, PyException_GetTraceback(val));
    fut->fut_state = CX_FUT_FINISHED;
    if (future_schedule_callbacks(fut) < 0) {
        return NULL;
    }
    fut->fut_log_tb = 1;
    Py_RETURN_NONE;
}

PyObject *
cx_future_cancel(FutureObject *fut, PyObject *msg)
{
    fut->fut_log_tb = 0;
    if (fut->fut_state != CX_FUT_PENDING) {
        Py_RETURN_FALSE;
    }
    fut->fut_state = CX_FUT_CANCELLED;
    Py_XSETREF(fut->fut_cancel_msg, Py_XNewRef(msg));
    if (future_schedule_callbacks(fut) < 0) {
        return NULL;
    }
    Py_RETURN_TRUE;
}

#define FUT_POOL_MAX \
    ((int)(sizeof(((cx_state *)0)->fut_pool) / sizeof(PyObject *)))

PyObject *
cx_future_new(cx_state *st, PyObject *loop)
{
    FutureObject *fut;
    if (st->fut_pool_len > 0) {
        /* a dead one (Future_dealloc): its fields NULL, fut_st set */
        fut = (FutureObject *)st->fut_pool[--st->fut_pool_len];
        cx_pooled_revive((PyObject *)fut);
        PyObject_GC_Track(fut);
    }
    else {
        PyTypeObject *tp = st->FutureType;
        fut = (FutureObject *)tp->tp_alloc(tp, 0);
        if (fut == NULL) {
            return NULL;
        }
        fut->fut_st = st;
    }
    if (cx_loop_is_fast(st, loop) && !((LoopObject *)loop)->loop_debug) {
        /* __init__ on a fresh object (every field NULL, as tp_alloc and
         * Future_dealloc leave them) for our loop out of debug mode: no
         * state to clear, no source traceback */
        fut->fut_loop = Py_NewRef(loop);
        future_set_pending(fut);
        return (PyObject *)fut;
    }
    if (cx_future_init(fut, loop) < 0) {
        Py_DECREF(fut);
        return NULL;
    }
    return (PyObject *)fut;
}

/* ---------------------------------------------------------------------- */
/* Call-graph bookkeeping (3.14) */

/* fut_awaited_by holds the waiters of futures.py's __awaited_by set: NULL
 * (none), the waiter itself while there is one (most futures have one:
 * no set is allocated), else a set.  fut_awaited_by_used remembers that
 * the set existed: _asyncio_awaited_by is None only before the first
 * waiter, frozenset() once they are all gone. */
int
cx_future_awaited_by_add(FutureObject *fut, PyObject *waiter)
{
    cx_state *st = fut->fut_st;
    if (!PyObject_TypeCheck(waiter, st->FutureType)) {
        int ok = PyObject_IsInstance(waiter, st->asyncio_Future);
        if (ok <= 0) {
            return ok;      /* not a future: nothing recorded */
        }
    }
    PyObject *cur = fut->fut_awaited_by;
    if (cur == NULL) {
        fut->fut_awaited_by = Py_NewRef(waiter);
        fut->fut_awaited_by_used = 1;
        return 0;
    }
    if (cur == waiter) {
        return 0;
    }
    if (!PySet_CheckExact(cur)) {
        /* A second waiter: from now on a set (waiters are futures, never
         * sets). */
        PyObject *set = PySet_New(NULL);
        if (set == NULL || PySet_Add(set, cur) < 0) {
            Py_XDECREF(set);
            return -1;
        }
        fut->fut_awaited_by = set;
        Py_DECREF(cur);
        cur = set;
    }
    return PySet_Add(cur, waiter);
}

int
cx_future_awaited_by_discard(FutureObject *fut, PyObject *waiter)
{
    PyObject *cur = fut->fut_awaited_by;
    if (cur == NULL) {
        return 0;
    }
    Py_INCREF(cur);
    int rc;
    if (PySet_CheckExact(cur)) {
        rc = PySet_Discard(cur, waiter) < 0 ? -1 : 0;
    }
    else {
        rc = PyObject_RichCompareBool(cur, waiter, Py_EQ);
        if (rc > 0 && fut->fut_awaited_by == cur) {
            Py_CLEAR(fut->fut_awaited_by);
        }
        rc = rc < 0 ? -1 : 0;
    }
    Py_DECREF(cur);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Python methods */

static PyObject *
Future_result(FutureObject *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *result;
    int res = cx_future_get_result(self, &result);
    if (res < 0) {
        return NULL;
    }
    if (res == 0) {
        return result;
    }
    PyErr_SetObject(PyExceptionInstance_Class(result), result);
    Py_DECREF(result);
    return NULL;
}

static PyObject *
Future_exception(FutureObject *self, PyObject *Py_UNUSED(ignored))
{
    if (self->fut_state == CX_FUT_CANCELLED) {
        future_raise_cancelled_error(self);
        return NULL;
    }
    if (self->fut_state != CX_FUT_FINISHED) {
        PyErr_SetString(self->fut_st->asyncio_InvalidStateError,
                        "Exception is not set.");
        return NULL;
    }
    if (self->fut_exception != NULL) {
        self->fut_log_tb = 0;
        return Py_NewRef(self->fut_exception);
    }
    Py_RETURN_NONE;
}

static PyObject *
Future_set_result(FutureObject *self, PyObject *result)
{
    return cx_future_set_result(self, result);
}

static PyObject *
Future_set_exception(FutureObject *self, PyObject *exc)
{
    return cx_future_set_exception(self, exc);
}

static PyObject *
Future_add_done_callback(FutureObject *self, PyObject *const *args,
                         Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *context = Py_None;
    if (nargs != 1) {
        PyErr_Format(PyExc_TypeError,
                     "add_done_callback() takes exactly one positional "
                     "argument (%zd given)", nargs);
        return NULL;
    }
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, i);
        int eq = key == self->fut_st->str_context   /* interned: the usual */
                 || PyUnicode_Compare(key, self->fut_st->str_context) == 0;
        if (!eq) {
            PyErr_Format(PyExc_TypeError,
                         "add_done_callback() got an unexpected keyword "
                         "argument '%S'", key);
            return NULL;
        }
        context = args[nargs + i];
    }

    int ret;
    if (context == Py_None) {
        context = PyContext_CopyCurrent();
        if (context == NULL) {
            return NULL;
        }
        ret = cx_future_add_done_callback(self, args[0], context);
        Py_DECREF(context);
    }
    else {
        ret = cx_future_add_done_callback(self, args[0], context);
    }
    if (ret < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* Remove every registration equal to fn; the count removed.  The
 * comparisons run Python code that may add or remove callbacks, so nothing
 * is held across them but our own references. */
static PyObject *
Future_remove_done_callback(FutureObject *self, PyObject *fn)
{
    ENSURE_ALIVE(self, NULL);
    Py_ssize_t removed = 0;

    if (self->fut_callback0 != NULL) {
        PyObject *cb0 = future_callback0_callable(self);
        if (cb0 == NULL) {
            return NULL;
        }
        int cmp = PyObject_RichCompareBool(cb0, fn, Py_EQ);
        Py_DECREF(cb0);
        if (cmp < 0) {
            return NULL;
        }
        if (cmp == 1 && self->fut_callback0 != NULL) {
            Py_CLEAR(self->fut_callback0);
            Py_CLEAR(self->fut_context0);
            self->fut_wakeup0 = 0;
            removed++;
        }
    }
    if (self->fut_callbacks == NULL) {
        return PyLong_FromSsize_t(removed);
    }

    PyObject *kept = PyList_New(0);
    if (kept == NULL) {
        return NULL;
    }
    Py_ssize_t seen = 0;
    /* The list may shrink, grow or vanish under the comparisons. */
    for (Py_ssize_t i = 0; self->fut_callbacks != NULL
                           && i < PyList_GET_SIZE(self->fut_callbacks); i++) {
        PyObject *tup = Py_NewRef(PyList_GET_ITEM(self->fut_callbacks, i));
        int cmp = PyObject_RichCompareBool(PyTuple_GET_ITEM(tup, 0), fn,
                                           Py_EQ);
        if (cmp == 0) {
            cmp = PyList_Append(kept, tup);
        }
        Py_DECREF(tup);
        if (cmp < 0) {
            Py_DECREF(kept);
            return NULL;
        }
        seen++;
    }
    Py_ssize_t nkept = PyList_GET_SIZE(kept);
    if (self->fut_callbacks == NULL) {
        /* Cleared by a comparison: nothing left to filter. */
        Py_DECREF(kept);
        return PyLong_FromSsize_t(removed + seen - nkept);
    }
    if (nkept == 0) {
        Py_CLEAR(self->fut_callbacks);
    }
    else if (nkept != PyList_GET_SIZE(self->fut_callbacks)) {
        if (PyList_SetSlice(self->fut_callbacks, 0,
                            PyList_GET_SIZE(self->fut_callbacks), kept) < 0) {
            Py_DECREF(kept);
            return NULL;
        }
    }
    Py_DECREF(kept);
    return PyLong_FromSsize_t(removed + seen - nkept);
}

static PyObject *
Future_cancel(FutureObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"msg", NULL};
    PyObject *msg = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:cancel", kwlist, &msg)) {
        return NULL;
    }
    ENSURE_ALIVE(self, NULL);
    return cx_future_cancel(self, msg);
}

static PyObject *
Future_cancelled(FutureObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(self->fut_loop != NULL
                           && self->fut_state == CX_FUT_CANCELLED);
}

static PyObject *
Future_done(FutureObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(self->fut_loop != NULL
                           && self->fut_state != CX_FUT_PENDING);
}

static PyObject *
Future_get_loop(FutureObject *self, PyObject *Py_UNUSED(ignored))
{
    ENSURE_ALIVE(self, NULL);
    return Py_NewRef(self->fut_loop);
}

static PyObject *
Future_make_cancelled_error(FutureObject *self, PyObject *Py_UNUSED(ignored))
{
    return cx_future_make_cancelled_error(self);
}

static PyObject *future_iter_new(FutureObject *fut);

static PyObject *
Future_repr(FutureObject *self)
{
    ENSURE_ALIVE(self, NULL);
    return PyObject_CallOneArg(self->fut_st->asyncio_future_repr,
                               (PyObject *)self);
}

static int
Future_init(FutureObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"loop", NULL};
    PyObject *loop = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$O:Future", kwlist,
                                     &loop)) {
        return -1;
    }
    return cx_future_init(self, loop);
}

static PyObject *
Future_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    cx_state *st = cx_state_from_type(tp);
    if (st == NULL) {
        return NULL;
    }
    FutureObject *fut = (FutureObject *)tp->tp_alloc(tp, 0);
    if (fut != NULL) {
        fut->fut_st = st;
    }
    return (PyObject *)fut;
}

/* ---------------------------------------------------------------------- */
/* Attributes */

static PyObject *
Future_get_blocking(FutureObject *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(self->fut_loop != NULL && self->fut_blocking);
}

static int
Future_set_blocking(FutureObject *self, PyObject *val,
                    void *Py_UNUSED(closure))
{
    ENSURE_ALIVE(self, -1);
    int is_true = cx_attr_bool(val);
    if (is_true < 0) {
        return -1;
    }
    self->fut_blocking = (char)is_true;
    return 0;
}

static PyObject *
Future_get_log_traceback(FutureObject *self, void *Py_UNUSED(closure))
{
    ENSURE_ALIVE(self, NULL);
    return PyBool_FromLong(self->fut_log_tb);
}

static int
Future_set_log_traceback(FutureObject *self, PyObject *val,
                         void *Py_UNUSED(closure))
{
    int is_true = cx_attr_bool(val);
    if (is_true < 0) {
        return -1;
    }
    if (is_true) {
        PyErr_SetString(PyExc_ValueError,
                        "_log_traceback can only be set to False");
        return -1;
    }
    self->fut_log_tb = 0;
    return 0;
}

static PyObject *
Future_get_loop_attr(FutureObject *self, void *Py_UNUSED(closure))
{
    return Py_NewRef(self->fut_loop ? self->fut_loop : Py_None);
}

/* A fresh list of (callback, context); None when there are none (as the C
 * Future of CPython 3.11 does). */
static PyObject *
Future_get_callbacks(FutureObject *self, void *Py_UNUSED(closure))
{
    ENSURE_ALIVE(self, NULL);
    if (self->fut_callback0 == NULL && self->fut_callbacks == NULL) {
        Py_RETURN_NONE;
    }
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    if (self->fut_callback0 != NULL) {
        PyObject *cb0 = future_callback0_callable(self);
        if (cb0 == NULL) {
            goto error;
        }
        PyObject *tup = PyTuple_Pack(2, cb0, self->fut_context0);
        Py_DECREF(cb0);
        if (tup == NULL) {
            goto error;
        }
        int ret = PyList_Append(list, tup);
        Py_DECREF(tup);
        if (ret < 0) {
            goto error;
        }
    }
    if (self->fut_callbacks != NULL) {
        Py_ssize_t n = PyList_GET_SIZE(list);
        if (PyList_SetSlice(list, n, n, self->fut_callbacks) < 0) {
            goto error;
        }
    }
    return list;

error:
    Py_DECREF(list);
    return NULL;
}

/* __class__ is asyncio.Future for an exact Future and asyncio.Task for an
 * exact Task, so that isinstance(fut, asyncio.Future) is true for ours as
 * for stock ones: isinstance() falls back to obj.__class__ when the real
 * type is not a subclass (our types cannot derive from asyncio's C types).
 * tornado's is_future() and anyio's cancel-scope checks rely on it.  type()
 * is unchanged, and a subclass of ours reports itself.  Assignment goes to
 * object's own __class__ setter, with its checks. */
static PyObject *
Future_get_class(FutureObject *self, void *Py_UNUSED(closure))
{
    cx_state *st = self->fut_st;
    PyTypeObject *tp = Py_TYPE(self);
    if (tp == st->FutureType) {
        return Py_NewRef(st->asyncio_Future);
    }
    if (tp == st->TaskType) {
        return Py_NewRef(st->asyncio_Task);
    }
    return Py_NewRef(tp);
}

static int
Future_set_class(FutureObject *self, PyObject *value,
                 void *Py_UNUSED(closure))
{
    /* object's own getset descriptor (a static builtin type's tp_dict is
     * NULL from 3.12 on: PyType_GetDict is the way in) */
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *dict = PyType_GetDict(&PyBaseObject_Type);
#else
    PyObject *dict = Py_XNewRef(PyBaseObject_Type.tp_dict);
#endif
    PyObject *descr = dict ? PyDict_GetItemString(dict, "__class__") : NULL;
    Py_XINCREF(descr);
    Py_XDECREF(dict);
    if (descr == NULL || Py_TYPE(descr)->tp_descr_set == NULL) {
        Py_XDECREF(descr);
        PyErr_SetString(PyExc_AttributeError, "__class__");
        return -1;
    }
    int rc = Py_TYPE(descr)->tp_descr_set(descr, (PyObject *)self, value);
    Py_DECREF(descr);
    return rc;
}

static PyObject *
Future_get_state(FutureObject *self, void *Py_UNUSED(closure))
{
    ENSURE_ALIVE(self, NULL);
    switch (self->fut_state) {
    case CX_FUT_PENDING:
        return PyUnicode_InternFromString("PENDING");
    case CX_FUT_CANCELLED:
        return PyUnicode_InternFromString("CANCELLED");
    default:
        return PyUnicode_InternFromString("FINISHED");
    }
}

#define OPTIONAL_FIELD_GETTER(name, field)                               \
    static PyObject *                                                    \
    name(FutureObject *self, void *Py_UNUSED(closure))                   \
    {                                                                    \
        return Py_NewRef(self->field ? self->field : Py_None);           \
    }

OPTIONAL_FIELD_GETTER(Future_get_result_attr, fut_result)
OPTIONAL_FIELD_GETTER(Future_get_exception_attr, fut_exception)
OPTIONAL_FIELD_GETTER(Future_get_source_traceback, fut_source_tb)
OPTIONAL_FIELD_GETTER(Future_get_cancel_message, fut_cancel_msg)
#undef OPTIONAL_FIELD_GETTER

#if PY_VERSION_HEX >= 0x030E0000
/* futures.py's _asyncio_awaited_by: None, or a frozenset of the waiters. */
static PyObject *
Future_get_awaited_by(FutureObject *self, void *Py_UNUSED(closure))
{
    PyObject *cur = self->fut_awaited_by;
    if (cur == NULL) {
        if (!self->fut_awaited_by_used) {
            Py_RETURN_NONE;
        }
        return PyFrozenSet_New(NULL);
    }
    if (PySet_CheckExact(cur)) {
        return PyFrozenSet_New(cur);
    }
    PyObject *one = PyTuple_Pack(1, cur);
    if (one == NULL) {
        return NULL;
    }
    PyObject *res = PyFrozenSet_New(one);
    Py_DECREF(one);
    return res;
}
#endif

static int
Future_set_cancel_message(FutureObject *self, PyObject *msg,
                          void *Py_UNUSED(closure))
{
    if (msg == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete attribute");
        return -1;
    }
    Py_XSETREF(self->fut_cancel_msg, Py_NewRef(msg));
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Life cycle */

int
cx_future_traverse_fields(FutureObject *fut, visitproc visit, void *arg)
{
    Py_VISIT(fut->fut_loop);
    Py_VISIT(fut->fut_callback0);
    Py_VISIT(fut->fut_context0);
    Py_VISIT(fut->fut_callbacks);
    Py_VISIT(fut->fut_result);
    Py_VISIT(fut->fut_exception);
    Py_VISIT(fut->fut_exception_tb);
    Py_VISIT(fut->fut_source_tb);
    Py_VISIT(fut->fut_cancel_msg);
    Py_VISIT(fut->fut_cancelled_exc);
    Py_VISIT(fut->fut_awaited_by);
    Py_VISIT(fut->fut_dict);
    return 0;
}

void
cx_future_clear_fields(FutureObject *fut)
{
    future_clear_state(fut);
    Py_CLEAR(fut->fut_dict);
    fut->fut_wakeup0 = 0;
}

static int
Future_traverse(FutureObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    return cx_future_traverse_fields(self, visit, arg);
}

static int
Future_clear(FutureObject *self)
{
    cx_future_clear_fields(self);
    return 0;
}

/* "exception was never retrieved", reported as futures.py's __del__ does:
 * through loop.call_exception_handler. */
void
cx_future_finalize(PyObject *self)
{
    FutureObject *fut = (FutureObject *)self;
    if (!fut->fut_log_tb || fut->fut_loop == NULL) {
        return;
    }
    fut->fut_log_tb = 0;

    cx_state *st = fut->fut_st;
    PyObject *err_type, *err_value, *err_tb;
    PyErr_Fetch(&err_type, &err_value, &err_tb);

    PyObject *name = NULL, *message = NULL, *context = NULL, *res;
    name = PyType_GetName(Py_TYPE(self));
    if (name == NULL) {
        goto done;
    }
    message = PyUnicode_FromFormat("%U exception was never retrieved", name);
    context = PyDict_New();
    if (message == NULL || context == NULL) {
        goto done;
    }
    if (PyDict_SetItem(context, st->str_message, message) < 0
        || PyDict_SetItem(context, st->str_exception, fut->fut_exception) < 0
        || PyDict_SetItem(context, st->str_future, self) < 0) {
        goto done;
    }
    if (fut->fut_source_tb != NULL
        && PyDict_SetItem(context, st->str_source_traceback,
                          fut->fut_source_tb) < 0) {
        goto done;
    }
    res = PyObject_CallMethodOneArg(fut->fut_loop,
                                    st->str_call_exception_handler, context);
    if (res == NULL) {
        PyErr_WriteUnraisable(self);
    }
    Py_XDECREF(res);

done:
    if (PyErr_Occurred()) {
        PyErr_WriteUnraisable(self);
    }
    Py_XDECREF(name);
    Py_XDECREF(message);
    Py_XDECREF(context);
    PyErr_Restore(err_type, err_value, err_tb);
}

static void
Future_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    FutureObject *fut = (FutureObject *)self;
    cx_state *st = fut->fut_st;
    /* Exactly our Future with nothing for the finalizer to report (it
     * would return at once: see cx_future_finalize), never finalized
     * by the GC (then it may not be made again: CPython would not call
     * tp_finalize a second time), no weak references: kept for reuse. */
    if (st != NULL && tp == st->FutureType && !fut->fut_log_tb
        && fut->fut_weakreflist == NULL
        && st->fut_pool_len < FUT_POOL_MAX
        && !PyObject_GC_IsFinalized(self)) {
        PyObject_GC_UnTrack(self);
        cx_future_clear_fields(fut);
        if (st->fut_pool_len < FUT_POOL_MAX) {
            st->fut_pool[st->fut_pool_len++] = self;
            return;
        }
        tp->tp_free(self);  /* filled while the fields were cleared */
        Py_DECREF(tp);
        return;
    }
    /* A Python subclass runs the finalizer from subtype_dealloc. */
    if (tp->tp_dealloc == Future_dealloc
        && PyObject_CallFinalizerFromDealloc(self) < 0) {
        return;     /* resurrected */
    }
    PyObject_GC_UnTrack(self);
    if (((FutureObject *)self)->fut_weakreflist != NULL) {
        PyObject_ClearWeakRefs(self);
    }
    cx_future_clear_fields((FutureObject *)self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
Future_await(FutureObject *self)
{
    return future_iter_new(self);
}

/* ---------------------------------------------------------------------- */
/* The type */

static PyMethodDef future_methods[] = {
    /* Signatures: asyncio's C Future (_asyncio.Future) */
    {"result", (PyCFunction)Future_result, METH_NOARGS,
     CX_DOC_SIG("result($self, /)",
                "Return the result this future represents.")},
    {"exception", (PyCFunction)Future_exception, METH_NOARGS,
     CX_DOC_SIG("exception($self, /)",
                "Return the exception that was set on this future.")},
    {"set_result", (PyCFunction)Future_set_result, METH_O,
     CX_DOC_SIG("set_result($self, result, /)",
                "Mark the future done and set its result.")},
    {"set_exception", (PyCFunction)Future_set_exception, METH_O,
     CX_DOC_SIG("set_exception($self, exception, /)",
                "Mark the future done and set an exception.")},
    {"add_done_callback", (PyCFunction)(void (*)(void))Future_add_done_callback,
     METH_FASTCALL | METH_KEYWORDS,
     CX_DOC_SIG("add_done_callback($self, fn, /, *, context=None)",
                "Add a callback to be run when the future becomes done.")},
    {"remove_done_callback", (PyCFunction)Future_remove_done_callback, METH_O,
     CX_DOC_SIG("remove_done_callback($self, fn, /)",
                "Remove all instances of a callback from the "
                "\"call when done\" list.")},
    {"cancel", (PyCFunction)(void (*)(void))Future_cancel,
     METH_VARARGS | METH_KEYWORDS,
     CX_DOC_SIG("cancel($self, /, msg=None)",
                "Cancel the future and schedule callbacks.")},
    {"cancelled", (PyCFunction)Future_cancelled, METH_NOARGS,
     CX_DOC_SIG("cancelled($self, /)",
                "Return True if the future was cancelled.")},
    {"done", (PyCFunction)Future_done, METH_NOARGS,
     CX_DOC_SIG("done($self, /)", "Return True if the future is done.")},
    {"get_loop", (PyCFunction)Future_get_loop, METH_NOARGS,
     CX_DOC_SIG("get_loop($self, /)",
                "Return the event loop the Future is bound to.")},
    {"_make_cancelled_error", (PyCFunction)Future_make_cancelled_error,
     METH_NOARGS, CX_DOC_SIG("_make_cancelled_error($self, /)",
                             "Create the CancelledError to raise if "
                             "cancelled.")},
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS,
     "See PEP 585"},
    {NULL, NULL},
};

static PyGetSetDef future_getsets[] = {
    {"_asyncio_future_blocking", (getter)Future_get_blocking,
     (setter)Future_set_blocking, NULL, NULL},
    {"_log_traceback", (getter)Future_get_log_traceback,
     (setter)Future_set_log_traceback, NULL, NULL},
    {"_loop", (getter)Future_get_loop_attr, NULL, NULL, NULL},
    {"_callbacks", (getter)Future_get_callbacks, NULL, NULL, NULL},
    {"_result", (getter)Future_get_result_attr, NULL, NULL, NULL},
    {"_exception", (getter)Future_get_exception_attr, NULL, NULL, NULL},
    {"_source_traceback", (getter)Future_get_source_traceback, NULL, NULL,
     NULL},
    {"_cancel_message", (getter)Future_get_cancel_message,
     (setter)Future_set_cancel_message, NULL, NULL},
    {"_state", (getter)Future_get_state, NULL, NULL, NULL},
#if PY_VERSION_HEX >= 0x030E0000
    {"_asyncio_awaited_by", (getter)Future_get_awaited_by, NULL, NULL, NULL},
#endif
    {"__class__", (getter)Future_get_class, (setter)Future_set_class, NULL,
     NULL},
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL,
     NULL},
    {NULL},
};

static PyMemberDef future_members[] = {
    {"__dictoffset__", T_PYSSIZET, offsetof(FutureObject, fut_dict),
     READONLY},
    {"__weaklistoffset__", T_PYSSIZET,
     offsetof(FutureObject, fut_weakreflist), READONLY},
    {NULL},
};

static PyType_Slot future_slots[] = {
    {Py_tp_doc, CX_DOC_SIG("Future(*, loop=None)",
                           "This class is *almost* compatible with "
                           "concurrent.futures.Future.")},
    {Py_tp_new, Future_new},
    {Py_tp_init, Future_init},
    {Py_tp_dealloc, Future_dealloc},
    {Py_tp_finalize, cx_future_finalize},
    {Py_tp_traverse, Future_traverse},
    {Py_tp_clear, Future_clear},
    {Py_tp_repr, Future_repr},
    {Py_tp_iter, Future_await},
    {Py_am_await, Future_await},
    {Py_tp_methods, future_methods},
    {Py_tp_getset, future_getsets},
    {Py_tp_members, future_members},
    {0, NULL},
};

static PyType_Spec future_spec = {
    .name = "casyncio._core.Future",
    .basicsize = sizeof(FutureObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC
             | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = future_slots,
};

/* ---------------------------------------------------------------------- */
/* The await iterator: what `await fut` and `yield from fut` drive.
 *
 * First send: if the future is pending, mark it blocking and yield it (the
 * Task sees _asyncio_future_blocking and waits on it).  Next send: the
 * future must be done; return its result (raise its exception). */

typedef struct {
    PyObject_HEAD
    FutureObject *future;       /* NULL once exhausted or closed */
} FutureIterObject;

static PyObject *
future_iter_new(FutureObject *fut)
{
    ENSURE_ALIVE(fut, NULL);
    cx_state *st = fut->fut_st;
    FutureIterObject *it;
    if (st->fut_iter_pool_len > 0) {
        /* a dead one: untracked, future NULL, its type reference kept */
        it = (FutureIterObject *)st->fut_iter_pool[--st->fut_iter_pool_len];
        cx_pooled_revive((PyObject *)it);
    }
    else {
        it = PyObject_GC_New(FutureIterObject, st->FutureIterType);
        if (it == NULL) {
            return NULL;
        }
    }
    it->future = (FutureObject *)Py_NewRef(fut);
    PyObject_GC_Track(it);
    return (PyObject *)it;
}

static PySendResult
FutureIter_am_send(FutureIterObject *it, PyObject *Py_UNUSED(arg),
                   PyObject **result)
{
    FutureObject *fut = it->future;
    *result = NULL;
    if (fut == NULL) {
        /* Exhausted, closed or thrown into: a send() raises StopIteration
         * (a bare error return would be a SystemError). */
        *result = Py_NewRef(Py_None);
        return PYGEN_RETURN;
    }
    if (fut->fut_state == CX_FUT_PENDING) {
        if (!fut->fut_blocking) {
            fut->fut_blocking = 1;
            *result = Py_NewRef(fut);
            return PYGEN_NEXT;
        }
        PyErr_SetString(PyExc_RuntimeError,
                        "await wasn't used with future");
        return PYGEN_ERROR;
    }
    it->future = NULL;
    PyObject *res = Future_result(fut, NULL);
    Py_DECREF(fut);
    if (res == NULL) {
        return PYGEN_ERROR;
    }
    *result = res;
    return PYGEN_RETURN;
}

/* Raise StopIteration(value) so that a tuple or exception value survives
 * (PyErr_SetObject would unpack or re-raise it). */
static void
raise_stop_iteration(PyObject *value)
{
    if (value == Py_None) {
        PyErr_SetNone(PyExc_StopIteration);
        return;
    }
    PyObject *exc = PyObject_CallOneArg(PyExc_StopIteration, value);
    if (exc != NULL) {
        PyErr_SetObject(PyExc_StopIteration, exc);
        Py_DECREF(exc);
    }
}

static PyObject *
FutureIter_iternext(FutureIterObject *it)
{
    PyObject *result;
    switch (FutureIter_am_send(it, Py_None, &result)) {
    case PYGEN_RETURN:
        raise_stop_iteration(result);
        Py_DECREF(result);
        return NULL;
    case PYGEN_NEXT:
        return result;
    default:
        return NULL;
    }
}

/* send(value): the value is ignored, as in futures.py's __await__. */
static PyObject *
FutureIter_send(FutureIterObject *it, PyObject *Py_UNUSED(value))
{
    return FutureIter_iternext(it);
}

static PyObject *
FutureIter_throw(FutureIterObject *it, PyObject *const *args,
                 Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 3) {
        PyErr_Format(PyExc_TypeError,
                     "throw expected at least 1 argument, got %zd", nargs);
        return NULL;
    }
    PyObject *type = args[0];
    PyObject *val = nargs >= 2 ? args[1] : NULL;
    PyObject *tb = nargs == 3 ? args[2] : NULL;
#if PY_VERSION_HEX >= 0x030C0000
    if (nargs > 1 && PyErr_WarnEx(PyExc_DeprecationWarning,
                                  "the (type, exc, tb) signature of throw() "
                                  "is deprecated, use the single-arg "
                                  "signature instead.", 1) < 0) {
        return NULL;
    }
#endif
    if (val == Py_None) {
        val = NULL;
    }
    if (tb == Py_None) {
        tb = NULL;
    }
    else if (tb != NULL && !PyTraceBack_Check(tb)) {
        PyErr_SetString(PyExc_TypeError,
                        "throw() third argument must be a traceback");
        return NULL;
    }

    Py_INCREF(type);
    Py_XINCREF(val);
    Py_XINCREF(tb);
    if (PyExceptionClass_Check(type)) {
        PyErr_NormalizeException(&type, &val, &tb);
    }
    else if (PyExceptionInstance_Check(type)) {
        if (val != NULL) {
            PyErr_SetString(PyExc_TypeError,
                            "instance exception may not have a separate "
                            "value");
            goto error;
        }
        val = type;
        type = Py_NewRef(PyExceptionInstance_Class(val));
        if (tb == NULL) {
            tb = PyException_GetTraceback(val);
        }
    }
    else {
        PyErr_SetString(PyExc_TypeError,
                        "exceptions must be classes deriving BaseException");
        goto error;
    }
    Py_CLEAR(it->future);
    PyErr_Restore(type, val, tb);
    return NULL;

error:
    Py_DECREF(type);
    Py_XDECREF(val);
    Py_XDECREF(tb);
    return NULL;
}

static PyObject *
FutureIter_close(FutureIterObject *it, PyObject *Py_UNUSED(ignored))
{
    Py_CLEAR(it->future);
    Py_RETURN_NONE;
}

static int
FutureIter_traverse(FutureIterObject *it, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(it));
    Py_VISIT(it->future);
    return 0;
}

static int
FutureIter_clear(FutureIterObject *it)
{
    Py_CLEAR(it->future);
    return 0;
}

#define FUT_ITER_POOL_MAX \
    ((int)(sizeof(((cx_state *)0)->fut_iter_pool) / sizeof(PyObject *)))

static void
FutureIter_dealloc(FutureIterObject *it)
{
    PyTypeObject *tp = Py_TYPE(it);
    PyObject_GC_UnTrack(it);
    Py_CLEAR(it->future);
    cx_state *st = cx_state_of_own_type(tp);
    if (st != NULL && tp == st->FutureIterType
        && st->fut_iter_pool_len < FUT_ITER_POOL_MAX) {
        /* Kept with its reference to the type, for the next await (as
         * CPython's _asyncio keeps its FutureIters). */
        st->fut_iter_pool[st->fut_iter_pool_len++] = (PyObject *)it;
        return;
    }
    PyObject_GC_Del(it);
    Py_DECREF(tp);
}

void
cx_future_pools_clear(cx_state *st)
{
    while (st->fut_pool_len > 0) {
        PyObject *fut = st->fut_pool[--st->fut_pool_len];
        PyTypeObject *tp = Py_TYPE(fut);
        tp->tp_free(fut);
        Py_DECREF(tp);
    }
    while (st->fut_iter_pool_len > 0) {
        PyObject *it = st->fut_iter_pool[--st->fut_iter_pool_len];
        PyTypeObject *tp = Py_TYPE(it);
        PyObject_GC_Del(it);
        Py_DECREF(tp);
    }
}

static PyMethodDef future_iter_methods[] = {
    {"send", (PyCFunction)FutureIter_send, METH_O,
     CX_DOC_SIG("send($self, value, /)", "")},
    {"throw", (PyCFunction)(void (*)(void))FutureIter_throw, METH_FASTCALL,
     CX_DOC_SIG("throw($self, typ, val=None, tb=None, /)", "")},
    {"close", (PyCFunction)FutureIter_close, METH_NOARGS,
     CX_DOC_SIG("close($self, /)", "")},
    {NULL, NULL},
};

static PyType_Slot future_iter_slots[] = {
    {Py_tp_dealloc, FutureIter_dealloc},
    {Py_tp_traverse, FutureIter_traverse},
    {Py_tp_clear, FutureIter_clear},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, FutureIter_iternext},
    {Py_am_send, FutureIter_am_send},
    {Py_tp_methods, future_iter_methods},
    {0, NULL},
};

static PyType_Spec future_iter_spec = {
    .name = "casyncio._core.FutureIter",
    .basicsize = sizeof(FutureIterObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC
             | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = future_iter_slots,
};

#if PY_VERSION_HEX >= 0x030E0000
/* futures.future_add_to_awaited_by(fut, waiter, /) and
 * future_discard_from_awaited_by(fut, waiter, /) that also know our
 * futures: for any other `fut`, asyncio's own.  _tasks.py installs them in
 * asyncio.futures (and asyncio), where asyncio looks them up at each use. */
static PyObject *
awaited_by_call(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                int add)
{
    cx_state *st = PyModule_GetState(module);
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "%s expected 2 arguments, got %zd",
                     add ? "future_add_to_awaited_by"
                         : "future_discard_from_awaited_by", nargs);
        return NULL;
    }
    if (PyObject_TypeCheck(args[0], st->FutureType)) {
        FutureObject *fut = (FutureObject *)args[0];
        int rc = add ? cx_future_awaited_by_add(fut, args[1])
                     : cx_future_awaited_by_discard(fut, args[1]);
        if (rc < 0) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    return PyObject_Vectorcall(add ? st->asyncio_fut_add_awaited_by
                                   : st->asyncio_fut_discard_awaited_by,
                               args, nargs, NULL);
}

static PyObject *
future_add_to_awaited_by(PyObject *module, PyObject *const *args,
                         Py_ssize_t nargs)
{
    return awaited_by_call(module, args, nargs, 1);
}

static PyObject *
future_discard_from_awaited_by(PyObject *module, PyObject *const *args,
                               Py_ssize_t nargs)
{
    return awaited_by_call(module, args, nargs, 0);
}

static PyMethodDef future_module_functions[] = {
    {"future_add_to_awaited_by",
     (PyCFunction)(void (*)(void))future_add_to_awaited_by, METH_FASTCALL,
     CX_DOC_SIG("future_add_to_awaited_by($module, fut, waiter, /)",
                "Record that `fut` is awaited on by `waiter`.")},
    {"future_discard_from_awaited_by",
     (PyCFunction)(void (*)(void))future_discard_from_awaited_by,
     METH_FASTCALL,
     CX_DOC_SIG("future_discard_from_awaited_by($module, fut, waiter, /)",
                "Record that `fut` is no longer awaited on by `waiter`.")},
    {NULL, NULL},
};
#endif

int
cx_future_setup(PyObject *module)
{
    cx_state *st = PyModule_GetState(module);
#if PY_VERSION_HEX >= 0x030E0000
    if (PyModule_AddFunctions(module, future_module_functions) < 0) {
        return -1;
    }
#endif
    st->context_kwnames = PyTuple_Pack(1, st->str_context);
    if (st->context_kwnames == NULL) {
        return -1;
    }
    st->FutureIterType = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &future_iter_spec, NULL);
    if (st->FutureIterType == NULL) {
        return -1;
    }
    st->FutureType = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &future_spec, NULL);
    if (st->FutureType == NULL) {
        return -1;
    }
    return PyModule_AddType(module, st->FutureType);
}
