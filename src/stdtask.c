/* The stdlib's C Task (_asyncio.Task: asyncio.Task, and what
 * asyncio.create_task makes on a loop without a task factory of its own)
 * waiting on our Futures.
 *
 * aiohttp makes its tasks with asyncio.Task(coro, loop=loop,
 * eager_start=True) on 3.12+, so on our loop they are the stdlib's.  Such a
 * task waits on a Future that is not _asyncio's through the generic
 * protocol: it adds its bound task_wakeup (a builtin method, METH_O) as a
 * done callback, and task_wakeup(fut) calls fut.result() by name (a new
 * str, a method-cache miss and a bound method each time) and, when that
 * returns, steps the task sending None.  Given a finished _asyncio.Future
 * instead, task_wakeup reads its result in C and steps the task the same
 * way, sending None.  So for one of our Futures that finished with a
 * result, the wake-up is called with one such future (made at import,
 * result None) in place of ours: the task takes the same step, and its
 * coroutine reads our Future's result itself when it resumes (FutureIter).
 * result() of ours has no effect to skip when there is no exception.
 * An exception or a cancellation keeps the generic call (the task then
 * throws what result() raised), as do subclasses of our types (their
 * result() may be overridden) and a loop in debug mode (its Handle shows
 * the argument).
 *
 * The only other place the argument could show is the report of a wake-up
 * that raised: the loop reports it with our Future, as it would have
 * reported cb(fut) (the entry is cb(fut)'s, run by stdtask_call). */
#include "internal.h"

/* _asyncio's task_wakeup, learnt from the first wake-up seen: a builtin
 * method named task_wakeup, METH_O, bound to an _asyncio.Task. */
static int
stdtask_learn(cx_state *st, PyObject *cb)
{
    PyCFunctionObject *f = (PyCFunctionObject *)cb;
    PyObject *self = f->m_self;
    if (f->m_ml->ml_flags != METH_O
        || strcmp(f->m_ml->ml_name, "task_wakeup") != 0
        || self == NULL
        || !PyObject_TypeCheck(self, (PyTypeObject *)st->asyncio_Task)) {
        return 0;
    }
    st->stdtask_wakeup_fn = f->m_ml->ml_meth;
    return 1;
}

/* cb is a builtin method (PyCFunction_CheckExact). */
static inline int
stdtask_is_wakeup(cx_state *st, PyObject *cb)
{
    if (st->stdtask_wakeup_fn != NULL) {
        return PyCFunction_GET_FUNCTION(cb) == st->stdtask_wakeup_fn;
    }
    return stdtask_learn(st, cb);
}

/* The ready-queue entry's run (cx_loop_push_call1_run, in the callback's
 * context): cb(stdtask_done) for our Future fut.  A failure is reported by
 * the loop with fut, as it would report a failed cb(fut). */
static int
stdtask_call(PyObject *cb, PyObject *fut)
{
    PyObject *res = PyObject_CallOneArg(
        cb, ((FutureObject *)fut)->fut_st->stdtask_done);
    if (res == NULL) {
        return -1;
    }
    Py_DECREF(res);
    return 0;
}

int
cx_stdtask_schedule(cx_state *st, LoopObject *lp, PyObject *cb,
                    FutureObject *fut, PyObject *ctx)
{
    if (!PyCFunction_CheckExact(cb) || st->stdtask_done == NULL
        || (Py_TYPE(fut) != st->FutureType && Py_TYPE(fut) != st->TaskType)
        || fut->fut_state != CX_FUT_FINISHED || fut->fut_exception != NULL
        || lp->loop_debug || !stdtask_is_wakeup(st, cb)) {
        return 0;
    }
    if (cx_loop_push_call1_run(lp, stdtask_call, cb, (PyObject *)fut,
                               ctx) < 0) {
        return -1;
    }
    st->stdtask_wakeups++;
    return 1;
}

/* The finished _asyncio.Future given to the wake-ups: made on a stand-in
 * loop (its __init__ asks only get_debug()), so it keeps no real loop
 * alive.  None when asyncio's Future and Task are not _asyncio's. */
int
cx_stdtask_setup(PyObject *module)
{
    cx_state *st = PyModule_GetState(module);
    st->stdtask_done = NULL;
    st->stdtask_wakeup_fn = NULL;
    st->stdtask_wakeups = 0;
    if (!PyType_Check(st->asyncio_Future) || !PyType_Check(st->asyncio_Task)
        || strcmp(((PyTypeObject *)st->asyncio_Future)->tp_name,
                  "_asyncio.Future") != 0
        || strcmp(((PyTypeObject *)st->asyncio_Task)->tp_name,
                  "_asyncio.Task") != 0) {
        return 0;
    }
    PyObject *types = PyImport_ImportModule("types");
    if (types == NULL) {
        return -1;
    }
    PyObject *ns = PyObject_GetAttrString(types, "SimpleNamespace");
    Py_DECREF(types);
    PyObject *empty = PyTuple_New(0);
    /* get_debug=bool: bool() is False */
    PyObject *kw = Py_BuildValue("{sO}", "get_debug",
                                 (PyObject *)&PyBool_Type);
    PyObject *loop = ns && empty && kw ? PyObject_Call(ns, empty, kw) : NULL;
    Py_XDECREF(kw);
    Py_XDECREF(ns);
    kw = loop ? Py_BuildValue("{sO}", "loop", loop) : NULL;
    Py_XDECREF(loop);
    PyObject *fut = kw ? PyObject_Call(st->asyncio_Future, empty, kw) : NULL;
    Py_XDECREF(kw);
    Py_XDECREF(empty);
    if (fut == NULL) {
        return -1;
    }
    PyObject *r = PyObject_CallMethod(fut, "set_result", "O", Py_None);
    if (r == NULL) {
        Py_DECREF(fut);
        return -1;
    }
    Py_DECREF(r);
    st->stdtask_done = fut;
    return 0;
}
