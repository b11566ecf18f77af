/* Task: asyncio.Task in C, a subclass of our Future.  tasks.py is the
 * specification (Task.__step and Task.__wakeup are task_step and
 * task_wakeup below); CPython's Modules/_asynciomodule.c the model.
 *
 * A step is scheduled either as a ready-queue entry (cx_task_step_fn, no
 * allocation) when the loop is ours, or as loop.call_soon(task.__step,
 * context=task_context) with a builtin method bound to the task.  A task
 * waiting on one of our exact futures registers itself in the future's
 * inline callback slot (cx_future_add_wakeup); anything else gets
 * fut.add_done_callback(task.__wakeup, context=task_context). */
#include "internal.h"

#define TASK(op) ((TaskObject *)(op))
#define FUT(op) ((FutureObject *)(op))

static PyObject *task_step(TaskObject *task, PyObject *exc);
static PyObject *task_wakeup(TaskObject *task, PyObject *fut);
static void task_leave_flush_for(TaskObject *task);

/* ---------------------------------------------------------------------- */
/* The task's two callables, for loops that are not ours */

static PyObject *
task_step_meth(PyObject *task, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError,
                     "__step() takes at most 1 argument (%zd given)", nargs);
        return NULL;
    }
    PyObject *exc = nargs ? args[0] : NULL;
    if (exc == Py_None) {
        exc = NULL;
    }
    return task_step(TASK(task), exc);
}

static PyObject *
task_wakeup_meth(PyObject *task, PyObject *fut)
{
    return task_wakeup(TASK(task), fut);
}

/* Named as asyncio's own: "Task.__step()" as tasks.py's method (asyncio's
 * C Task queues a wrapper object instead), and "Task.task_wakeup()" as the
 * C Task's wake-up, so a waiting future's repr reads as on stock. */
static PyMethodDef task_step_def = {
    "__step", (PyCFunction)(void (*)(void))task_step_meth, METH_FASTCALL,
    NULL};
static PyMethodDef task_wakeup_def = {
    "task_wakeup", (PyCFunction)task_wakeup_meth, METH_O, NULL};

PyObject *
cx_task_wakeup_callable(PyObject *task)
{
    return PyCFunction_New(&task_wakeup_def, task);
}

/* ---------------------------------------------------------------------- */
/* Ready-queue entry points (the loop's fast path) */

/* Run fn(task, arg) inside the task's context, as a Handle created with
 * context=task_context would. */
static int
task_run_in_context(TaskObject *task, PyObject *arg,
                    PyObject *(*fn)(TaskObject *, PyObject *))
{
    if (task->task_context == NULL) {
        task_leave_flush_for(task);
        PyErr_SetString(PyExc_RuntimeError, "uninitialized Task object");
        return -1;
    }
    PyObject *ctx = Py_NewRef(task->task_context);
    Py_INCREF(task);
    int ret = -1;
    if (PyContext_Enter(ctx) < 0) {
        task_leave_flush_for(task);
        goto done;
    }
    PyObject *res = fn(task, arg);
    if (res == NULL) {
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        if (PyContext_Exit(ctx) < 0) {
            PyErr_WriteUnraisable((PyObject *)task);
        }
        PyErr_Restore(et, ev, tb);
        goto done;
    }
    Py_DECREF(res);
    ret = PyContext_Exit(ctx);

done:
    Py_DECREF(task);
    Py_DECREF(ctx);
    return ret;
}

int
cx_task_step_fn(PyObject *task, PyObject *exc)
{
    return task_run_in_context(TASK(task), exc, task_step);
}

int
cx_task_wakeup_fn(PyObject *task, PyObject *fut)
{
    return task_run_in_context(TASK(task), fut, task_wakeup);
}

/* Schedule the next step: step(arg) soon, in the task's context.  arg may
 * be NULL (send None).  0 or -1. */
static int
task_call_step_soon(TaskObject *task, PyObject *arg)
{
    cx_state *st = task->task_st;
    PyObject *loop = task->task_loop;
    if (cx_loop_is_fast(st, loop)) {
        return cx_loop_push_cfunc((LoopObject *)loop, cx_task_step_fn,
                                  (PyObject *)task, arg);
    }
    PyObject *cb = PyCFunction_New(&task_step_def, (PyObject *)task);
    if (cb == NULL) {
        return -1;
    }
    PyObject *stack[4] = {loop, cb, arg, NULL};
    size_t nargs = 2;
    if (arg != NULL) {
        nargs = 3;
    }
    stack[nargs] = task->task_context;
    PyObject *res = PyObject_VectorcallMethod(
        st->str_call_soon, stack, nargs | PY_VECTORCALL_ARGUMENTS_OFFSET,
        st->context_kwnames);
    Py_DECREF(cb);
    if (res == NULL) {
        return -1;
    }
    Py_DECREF(res);
    return 0;
}

/* Schedule a step that throws `exc_type(formatted message)` into the
 * coroutine.  Returns None (new reference) or NULL. */
static PyObject *
task_set_error_soon(TaskObject *task, PyObject *exc_type,
                    const char *format, ...)
{
    va_list vargs;
    va_start(vargs, format);
    PyObject *msg = PyUnicode_FromFormatV(format, vargs);
    va_end(vargs);
    if (msg == NULL) {
        return NULL;
    }
    PyObject *exc = PyObject_CallOneArg(exc_type, msg);
    Py_DECREF(msg);
    if (exc == NULL) {
        return NULL;
    }
    int ret = task_call_step_soon(task, exc);
    Py_DECREF(exc);
    if (ret < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------------- */
/* The current task: tasks._enter_task / _leave_task */

/* tasks._current_tasks is a plain dict {loop: task} up to 3.13, the one
 * _enter_task and _leave_task work on (checked at import:
 * st->current_tasks_direct): work on it directly, with their messages.
 * 3.14 keeps the current task in the thread state: ask asyncio.  Its
 * _enter_task / _leave_task are _asyncio's C functions (METH_FASTCALL |
 * METH_KEYWORDS): called through their C pointer, without the vectorcall
 * dispatch (the same call, with the same arguments; asyncio's Python
 * versions, or anything else, through vectorcall). */
static int
call_task_hook(PyObject *fn, PyObject *loop, PyObject *task)
{
    PyObject *args[2] = {loop, task};
    PyObject *res;
#if PY_VERSION_HEX >= 0x030E0000
    if (PyCFunction_CheckExact(fn)
        && PyCFunction_GET_FLAGS(fn) == (METH_FASTCALL | METH_KEYWORDS)) {
        PyCFunctionFastWithKeywords f = (PyCFunctionFastWithKeywords)
            (void (*)(void))PyCFunction_GET_FUNCTION(fn);
        res = f(PyCFunction_GET_SELF(fn), args, 2, NULL);
    }
    else
#endif
    {
        res = PyObject_Vectorcall(fn, args, 2, NULL);
    }
    if (res == NULL) {
        return -1;
    }
    Py_DECREF(res);
    return 0;
}

static int
enter_task(cx_state *st, PyObject *loop, PyObject *task)
{
#if PY_VERSION_HEX < 0x030E0000
    if (st->current_tasks_direct) {
        /* One lookup: setdefault() inserts task unless loop has a task
         * already (then the dict is left as it was); the size tells which
         * happened. */
        PyObject *d = st->asyncio_current_tasks;
        Py_ssize_t size = PyDict_GET_SIZE(d);
        PyObject *cur = PyDict_SetDefault(d, loop, task);
        if (cur == NULL) {
            return -1;
        }
        if (PyDict_GET_SIZE(d) == size) {
            Py_INCREF(cur);
            PyErr_Format(PyExc_RuntimeError,
                         "Cannot enter into task %R while another task %R "
                         "is being executed.", task, cur);
            Py_DECREF(cur);
            return -1;
        }
        return 0;
    }
#endif
    return call_task_hook(st->asyncio_enter_task, loop, task);
}

static int
leave_task(cx_state *st, PyObject *loop, PyObject *task)
{
#if PY_VERSION_HEX < 0x030E0000
    if (st->current_tasks_direct) {
        /* One lookup: pop the loop's entry; one that is not task (the
         * error case) is put back, so the dict maps as before. */
        PyObject *d = st->asyncio_current_tasks;
        PyObject *cur;
#if PY_VERSION_HEX >= 0x030D0000
        int found = PyDict_Pop(d, loop, &cur);
        if (found < 0) {
            return -1;
        }
#else
        int found = 1;
        cur = _PyDict_Pop(d, loop, NULL);
        if (cur == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_KeyError)) {
                return -1;
            }
            PyErr_Clear();
            found = 0;
        }
#endif
        if (found && cur == task) {
            Py_DECREF(cur);
            return 0;
        }
        if (found) {
            if (PyDict_SetItem(d, loop, cur) < 0) {
                Py_DECREF(cur);
                return -1;
            }
        }
        else {
            cur = Py_NewRef(Py_None);
        }
        PyErr_Format(PyExc_RuntimeError,
                     "Leaving task %R does not match the current task "
                     "%R.", task, cur);
        Py_DECREF(cur);
        return -1;
    }
#endif
    return call_task_hook(st->asyncio_leave_task, loop, task);
}

/* ---------------------------------------------------------------------- */
/* Deferred leave (3.11-3.13)
 *
 * Up to 3.13 each step inserts tasks._current_tasks[loop] = task and
 * deletes it again (_enter_task, _leave_task): with consecutive task steps
 * in the ready queue (a task switch: sleep(0), a future's wake-up) that is
 * a delete and an insert per switch, the dict's slots filling with dummies
 * until it resizes.  Instead, a step run by the loop as a ready-queue entry
 * (loop_defer_leave) checks that the entry is its own, as _leave_task
 * does, and leaves it in place (loop_leave_pending); when the loop's next
 * entry is another task step, that step's _enter_task just replaces the
 * value.  Only C code of ours runs in between, which calls no Python and
 * frees nothing (cx_task_leave_may_wait: the entries' references are not
 * the last ones), so no code can see the dict in between; in any other
 * case the loop deletes the entry right after the step
 * (cx_task_leave_flush), before anything else runs.  Not observable but
 * for the dict's order of keys when several threads' loops share it (the
 * replaced key keeps its place). */

#if PY_VERSION_HEX < 0x030E0000
/* The dict's version tag (3.11-3.13): changed by every modification. */
static inline uint64_t
dict_version(PyObject *d)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    return ((PyDictObject *)d)->ma_version_tag;
#pragma GCC diagnostic pop
}
#endif

int
cx_task_leave_flush(LoopObject *lp)
{
    PyObject *task = lp->loop_leave_pending;
    if (task == NULL) {
        return 0;
    }
    lp->loop_leave_pending = NULL;
    return leave_task(lp->st, (PyObject *)lp, task);
}

/* Before code that may run Python (or fail) ahead of the task's own
 * _enter_task: the leave its loop put off is done now, and this step
 * will not put off its own. */
static void
task_leave_flush_for(TaskObject *task)
{
#if PY_VERSION_HEX < 0x030E0000
    PyObject *loop = task->task_loop;
    if (loop != NULL && cx_loop_check(task->task_st, loop)) {
        LoopObject *lp = (LoopObject *)loop;
        lp->loop_defer_leave = 0;       /* nor does this step put it off */
        if (lp->loop_leave_pending != NULL) {
            PyObject *exc = cx_err_fetch();
            if (cx_task_leave_flush(lp) < 0) {
                PyErr_WriteUnraisable(loop);
            }
            cx_err_restore(exc);
        }
    }
#endif
}

/* ---------------------------------------------------------------------- */
/* Stepping the coroutine (Task.__step) */

/* After coro.throw(): PYGEN_RETURN with the StopIteration value in
 * *result, PYGEN_NEXT, or PYGEN_ERROR with the exception set. */
static PySendResult
throw_status(PyObject **result)
{
    if (*result != NULL) {
        return PYGEN_NEXT;
    }
    if (!PyErr_ExceptionMatches(PyExc_StopIteration)) {
        return PYGEN_ERROR;
    }
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    PyErr_NormalizeException(&et, &ev, &tb);
    PyObject *value = Py_None;
    if (ev != NULL && PyObject_TypeCheck(ev, (PyTypeObject *)PyExc_StopIteration)) {
        value = ((PyStopIterationObject *)ev)->value;
    }
    *result = Py_NewRef(value);
    Py_XDECREF(et);
    Py_XDECREF(ev);
    Py_XDECREF(tb);
    return PYGEN_RETURN;
}

/* The current exception, normalized, with its traceback attached.  New
 * reference, the error indicator cleared; *type gets the type. */
static PyObject *
fetch_exception(PyObject **type)
{
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    PyErr_NormalizeException(&et, &ev, &tb);
    if (tb != NULL) {
        PyException_SetTraceback(ev, tb);
        Py_DECREF(tb);
    }
    *type = et;
    return ev;
}

/* Wait on `result`, a future that yielded itself: register the wake-up,
 * remember it as _fut_waiter (steals the reference to result), and pass on
 * a pending cancellation.  None or NULL. */
static PyObject *
task_wait_on(TaskObject *task, PyObject *result, int ours)
{
    cx_state *st = task->task_st;
#if PY_VERSION_HEX >= 0x030E0000
    /* futures.future_add_to_awaited_by(result, self): recorded on our
     * futures (asyncio's record only their own tasks). */
    if (PyObject_TypeCheck(result, st->FutureType)
        && cx_future_awaited_by_add(FUT(result), (PyObject *)task) < 0) {
        Py_DECREF(result);
        return NULL;
    }
#endif
    if (ours) {
        if (cx_future_add_wakeup(FUT(result), (PyObject *)task,
                                 task->task_context) < 0) {
            Py_DECREF(result);
            return NULL;
        }
    }
    else {
        PyObject *wakeup = cx_task_wakeup_callable((PyObject *)task);
        if (wakeup == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        PyObject *stack[3] = {result, wakeup, task->task_context};
        PyObject *res = PyObject_VectorcallMethod(
            st->str_add_done_callback, stack,
            2 | PY_VECTORCALL_ARGUMENTS_OFFSET, st->context_kwnames);
        Py_DECREF(wakeup);
        if (res == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        Py_DECREF(res);
    }
    Py_XSETREF(task->task_fut_waiter, result);

    if (task->task_must_cancel) {
        PyObject *msg = task->task_cancel_msg ? task->task_cancel_msg
                                              : Py_None;
        Py_INCREF(result);      /* the call may replace _fut_waiter */
        PyObject *r = PyObject_CallMethodOneArg(result, st->str_cancel, msg);
        Py_DECREF(result);
        if (r == NULL) {
            return NULL;
        }
        int is_true = PyObject_IsTrue(r);
        Py_DECREF(r);
        if (is_true < 0) {
            return NULL;
        }
        if (is_true) {
            task->task_must_cancel = 0;
        }
    }
    Py_RETURN_NONE;
}

/* futures._get_loop(fut): fut.get_loop() if it has one, else fut._loop. */
static PyObject *
future_get_loop(cx_state *st, PyObject *fut)
{
    if (cx_future_check_exact(st, fut)) {
        return Py_NewRef(FUT(fut)->fut_loop ? FUT(fut)->fut_loop : Py_None);
    }
    PyObject *getloop = PyObject_GetAttr(fut, st->str_get_loop);
    if (getloop == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return NULL;
        }
        PyErr_Clear();
        return PyObject_GetAttrString(fut, "_loop");
    }
    PyObject *res = PyObject_CallNoArgs(getloop);
    Py_DECREF(getloop);
    return res;
}

/* One step of Task.__step, without entering/leaving the current task.
 * exc: NULL to send None, else the exception to throw in (borrowed). */
static PyObject *
task_step_impl(TaskObject *task, PyObject *exc)
{
    cx_state *st = task->task_st;
    PyObject *result = NULL;
    PyObject *own_exc = NULL;   /* an exception we created */

    if (task->task_state != CX_FUT_PENDING) {
        PyErr_Format(st->asyncio_InvalidStateError,
#if PY_VERSION_HEX >= 0x030E0000
                     "__step(): already done: %R %R", task,
#else
                     "_step(): already done: %R %R", task,
#endif
                     exc ? exc : Py_None);
        return NULL;
    }
    if (task->task_must_cancel) {
        if (exc != NULL) {
            int is_cancel = PyObject_IsInstance(exc,
                                                st->asyncio_CancelledError);
            if (is_cancel < 0) {
                return NULL;
            }
            if (!is_cancel) {
                exc = NULL;
            }
        }
        if (exc == NULL) {
            exc = own_exc = cx_future_make_cancelled_error(FUT(task));
            if (exc == NULL) {
                return NULL;
            }
        }
        task->task_must_cancel = 0;
    }
    Py_CLEAR(task->task_fut_waiter);

    PyObject *coro = task->task_coro;
    if (coro == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "uninitialized Task object");
        Py_XDECREF(own_exc);
        return NULL;
    }
    Py_INCREF(coro);
    PySendResult status;
    if (exc == NULL) {
        status = PyIter_Send(coro, Py_None, &result);
    }
    else {
        result = PyObject_CallMethodOneArg(coro, st->str_throw, exc);
        status = throw_status(&result);
    }
    Py_DECREF(coro);
    Py_XDECREF(own_exc);

    if (status == PYGEN_RETURN) {
        PyObject *r;
        if (task->task_must_cancel) {
            /* Cancelled right before the coroutine returned. */
            task->task_must_cancel = 0;
            r = cx_future_cancel(FUT(task), task->task_cancel_msg);
        }
        else {
            r = cx_future_set_result(FUT(task), result);
        }
        Py_DECREF(result);
        if (r == NULL) {
            return NULL;
        }
        Py_DECREF(r);
        Py_RETURN_NONE;
    }
    if (status == PYGEN_ERROR) {
        PyObject *et;
        if (PyErr_ExceptionMatches(st->asyncio_CancelledError)) {
            /* Keep it to chain from when result() raises. */
            PyObject *ev = fetch_exception(&et);
            Py_XDECREF(et);
            Py_XSETREF(task->task_cancelled_exc, ev);
            return cx_future_cancel(FUT(task), NULL);
        }
        PyObject *ev = fetch_exception(&et);
        PyObject *r = cx_future_set_exception(FUT(task), ev);
        if (r == NULL) {
            Py_XDECREF(et);
            Py_XDECREF(ev);
            return NULL;
        }
        Py_DECREF(r);
        if (PyErr_GivenExceptionMatches(et, PyExc_KeyboardInterrupt)
            || PyErr_GivenExceptionMatches(et, PyExc_SystemExit)) {
            /* Done (with the exception), and re-raised out of the loop. */
            PyErr_Restore(et, ev, PyException_GetTraceback(ev));
            return NULL;
        }
        Py_XDECREF(et);
        Py_XDECREF(ev);
        Py_RETURN_NONE;
    }

    /* The coroutine yielded `result`. */
    PyObject *o;
    if (result == (PyObject *)task) {
        o = task_set_error_soon(task, PyExc_RuntimeError,
                                "Task cannot await on itself: %R", task);
        Py_DECREF(result);
        return o;
    }

    /* Our own Future or Task (exact types): no attribute lookups, and the
     * wake-up goes in the future's inline slot. */
    if (cx_future_check_exact(st, result)) {
        FutureObject *fut = FUT(result);
        if (fut->fut_loop != task->task_loop) {
            goto different_loop;
        }
        if (!fut->fut_blocking) {
            goto yield_instead_of_yield_from;
        }
        fut->fut_blocking = 0;
        return task_wait_on(task, result, 1);
    }

    if (result == Py_None) {
        /* A bare yield gives up the loop for one iteration. */
        Py_DECREF(result);
        if (task_call_step_soon(task, NULL) < 0) {
            return NULL;
        }
        Py_RETURN_NONE;
    }

    /* Anything advertising the Future protocol (asyncio.Future, our
     * subclasses, duck types). */
    o = PyObject_GetAttr(result, st->str_asyncio_future_blocking);
    if (o == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            goto fail;
        }
        PyErr_Clear();
    }
    if (o != NULL && o != Py_None) {
        int blocking = PyObject_IsTrue(o);
        Py_DECREF(o);
        if (blocking < 0) {
            goto fail;
        }
        PyObject *oloop = future_get_loop(st, result);
        if (oloop == NULL) {
            goto fail;
        }
        Py_DECREF(oloop);
        if (oloop != task->task_loop) {
            goto different_loop;
        }
        if (!blocking) {
            goto yield_instead_of_yield_from;
        }
        if (PyObject_SetAttr(result, st->str_asyncio_future_blocking,
                             Py_False) < 0) {
            goto fail;
        }
        return task_wait_on(task, result, 0);
    }
    Py_XDECREF(o);

    if (PyGen_Check(result)) {
        o = task_set_error_soon(task, PyExc_RuntimeError,
                                "yield was used instead of yield from for "
                                "generator in task %R with %R", task, result);
        Py_DECREF(result);
        return o;
    }
    o = task_set_error_soon(task, PyExc_RuntimeError,
                            "Task got bad yield: %R", result);
    Py_DECREF(result);
    return o;

different_loop:
    o = task_set_error_soon(task, PyExc_RuntimeError,
                            "Task %R got Future %R attached to a different "
                            "loop", task, result);
    Py_DECREF(result);
    return o;

yield_instead_of_yield_from:
    o = task_set_error_soon(task, PyExc_RuntimeError,
                            "yield was used instead of yield from in task "
                            "%R with %R", task, result);
    Py_DECREF(result);
    return o;

fail:
    Py_DECREF(result);
    return NULL;
}

/* Task.__step: one step between _enter_task and _leave_task.  exc is
 * borrowed (NULL: send None).  None or NULL. */
static PyObject *
task_step(TaskObject *task, PyObject *exc)
{
    cx_state *st = task->task_st;
    if (task->task_loop == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "uninitialized Task object");
        return NULL;
    }
    PyObject *loop = Py_NewRef(task->task_loop);
    Py_INCREF(task);
    PyObject *res = NULL;
    int entered;
#if PY_VERSION_HEX < 0x030E0000
    /* the deferred leave, see above */
    LoopObject *lp = NULL;
    int defer = 0;
    if (st->current_tasks_direct && cx_loop_check(st, loop)) {
        lp = (LoopObject *)loop;
        defer = lp->loop_defer_leave;
        lp->loop_defer_leave = 0;       /* not for steps run inside */
    }
    if (lp != NULL && lp->loop_leave_pending != NULL) {
        /* _current_tasks[loop] is the task that ran last: replaced */
        lp->loop_leave_pending = NULL;
        entered = PyDict_SetItem(st->asyncio_current_tasks, loop,
                                 (PyObject *)task);
    }
    else
#endif
    {
        entered = enter_task(st, loop, (PyObject *)task);
    }
    if (entered < 0) {
        goto done;
    }
#if PY_VERSION_HEX < 0x030E0000
    if (defer) {
        lp->loop_ct_version = dict_version(st->asyncio_current_tasks);
    }
#endif
    res = task_step_impl(task, exc);
#if PY_VERSION_HEX < 0x030E0000
    if (res != NULL && defer && cx_queue_len(&lp->loop_ready) > 0
        && cx_task_entry_may_defer(lp, cx_queue_at(&lp->loop_ready, 0))) {
        /* the loop's next entry in this iteration is a task step */
        /* what _leave_task checks (the dict unchanged since this task
         * entered: still its entry); then the entry is left in place */
        PyObject *d = st->asyncio_current_tasks;
        PyObject *cur = dict_version(d) == lp->loop_ct_version
                        ? (PyObject *)task
                        : PyDict_GetItemWithError(d, loop);
        if (cur == (PyObject *)task) {
            lp->loop_leave_pending = cur;
            goto done;
        }
        if (cur == NULL && PyErr_Occurred()) {
            Py_CLEAR(res);
            goto done;
        }
    }
#endif
    if (res == NULL) {
        /* Leave anyway; a failure to leave is chained to the first. */
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        if (leave_task(st, loop, (PyObject *)task) < 0) {
            PyObject *et2, *ev2, *tb2;
            PyErr_NormalizeException(&et, &ev, &tb);
            if (tb != NULL) {
                PyException_SetTraceback(ev, tb);
            }
            PyErr_Fetch(&et2, &ev2, &tb2);
            PyErr_NormalizeException(&et2, &ev2, &tb2);
            PyException_SetContext(ev2, ev);    /* steals ev */
            Py_XDECREF(et);
            Py_XDECREF(tb);
            PyErr_Restore(et2, ev2, tb2);
        }
        else {
            PyErr_Restore(et, ev, tb);
        }
    }
    else if (leave_task(st, loop, (PyObject *)task) < 0) {
        Py_CLEAR(res);
    }

done:
    Py_DECREF(task);
    Py_DECREF(loop);
    return res;
}

/* Task.__wakeup: `o` is done; step with its outcome.  None or NULL. */
static PyObject *
task_wakeup(TaskObject *task, PyObject *o)
{
    cx_state *st = task->task_st;
#if PY_VERSION_HEX >= 0x030E0000
    if (PyObject_TypeCheck(o, st->FutureType)
        && cx_future_awaited_by_discard(FUT(o), (PyObject *)task) < 0) {
        return NULL;
    }
#endif
    if (cx_future_check_exact(st, o)) {
        PyObject *outcome;
        int res = cx_future_get_result(FUT(o), &outcome);
        if (res == 0) {
            /* Like tasks.py: resume with send(None), not the value. */
            Py_DECREF(outcome);
            return task_step(task, NULL);
        }
        if (res == 1) {
            PyObject *r = task_step(task, outcome);
            Py_DECREF(outcome);
            return r;
        }
    }
    else {
        PyObject *r = PyObject_CallMethodNoArgs(o, st->str_result);
        if (r != NULL) {
            Py_DECREF(r);
            return task_step(task, NULL);
        }
    }
    /* result() raised (maybe a CancelledError): throw it in. */
    PyObject *et;
    PyObject *ev = fetch_exception(&et);
    Py_XDECREF(et);
    PyObject *r = task_step(task, ev);
    Py_XDECREF(ev);
    return r;
}

/* ---------------------------------------------------------------------- */
/* Construction */

/* tasks._register_task(task): what WeakSet.add does, straight into the
 * registry's data set when it was found (see cx_task_registry_setup) and
 * has no removals pending (add() would commit them first: then the call
 * does it).  The set gets a _TaskRef, which answers there as a weakref
 * without callback would (taskref.h); the task takes it out of the set
 * itself when it goes (task_unregister_ref), as the WeakSet's _remove
 * would. */
static int
task_register(TaskObject *task)
{
    cx_state *st = task->task_st;
    if (st->all_tasks_data != NULL
        && (st->all_tasks_pending == NULL
            || PyList_GET_SIZE(st->all_tasks_pending) == 0)) {
        /* Registered again (__init__ run twice, or after
         * _unregister_task): the same _TaskRef, which the task forgets
         * when it goes. */
        PyObject *wr = task->task_registry_ref;
        if (wr == NULL) {
            wr = cx_taskref_new(st, (PyObject *)task);
            if (wr == NULL) {
                return -1;
            }
            task->task_registry_ref = wr;
        }
        return PySet_Add(st->all_tasks_data, wr);
    }
    PyObject *r = PyObject_CallOneArg(st->asyncio_register_task,
                                      (PyObject *)task);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* The task is going (dealloc, or tp_clear of cyclic garbage): what the
 * WeakSet's _remove callback does with its weakref (a weakref without
 * callback, so this is the only removal).  Keeps any current exception. */
static void
task_unregister_ref(TaskObject *task)
{
    PyObject *wr = task->task_registry_ref;
    if (wr == NULL) {
        return;
    }
    task->task_registry_ref = NULL;
    cx_taskref_forget(wr);      /* a copy of the set's items sees None */
    cx_state *st = task->task_st;
    if (st != NULL && st->all_tasks_data != NULL) {
        PyObject *exc = cx_err_fetch();
        int rc;
        if (st->all_tasks_iterating != NULL
            && PySet_GET_SIZE(st->all_tasks_iterating) > 0) {
            rc = PyList_Append(st->all_tasks_pending, wr);
        }
        else {
            rc = PySet_Discard(st->all_tasks_data, wr) < 0 ? -1 : 0;
        }
        if (rc < 0) {
            PyErr_WriteUnraisable((PyObject *)task);
        }
        cx_err_restore(exc);
    }
    Py_DECREF(wr);
}

static int
loop_is_running(cx_state *st, PyObject *loop)
{
    if (cx_loop_is_fast(st, loop)) {
        return ((LoopObject *)loop)->loop_running;
    }
    PyObject *r = PyObject_CallMethod(loop, "is_running", NULL);
    if (r == NULL) {
        return -1;
    }
    int running = PyObject_IsTrue(r);
    Py_DECREF(r);
    return running;
}

/* Eager start (Python 3.12's Task(eager_start=True)): run the first step
 * now, inside the constructor, as the loop's current task in place of the
 * caller's, then give the current task back.  The task is registered
 * first, so all_tasks() sees it during that step (3.11 has no separate
 * eager-task set).  0 or -1. */
static int
task_eager_start(TaskObject *task)
{
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
    cx_state *st = task->task_st;
    PyObject *current = st->asyncio_current_tasks;
    if (task_register(task) < 0) {
        return -1;
    }
    PyObject *loop = Py_NewRef(task->task_loop);
    PyObject *prev = PyDict_GetItemWithError(current, loop);
    if (prev == NULL && PyErr_Occurred()) {
        Py_DECREF(loop);
        return -1;
    }
    Py_XINCREF(prev);
    int ret = -1;
    if (PyDict_SetItem(current, loop, (PyObject *)task) < 0) {
        goto done;
    }
    PyObject *ctx = Py_NewRef(task->task_context);
    PyObject *res = NULL;
    if (PyContext_Enter(ctx) == 0) {
        res = task_step_impl(task, NULL);
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        if (PyContext_Exit(ctx) < 0) {
            PyErr_WriteUnraisable((PyObject *)task);
        }
        PyErr_Restore(et, ev, tb);
    }
    Py_DECREF(ctx);

    /* Give the loop its current task back, keeping any error of the
     * step. */
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    int swap = prev != NULL ? PyDict_SetItem(current, loop, prev)
                            : PyDict_DelItem(current, loop);
    if (swap < 0) {
        Py_XDECREF(et);
        Py_XDECREF(ev);
        Py_XDECREF(tb);
        Py_CLEAR(res);
    }
    else {
        PyErr_Restore(et, ev, tb);
    }
    if (res != NULL) {
        Py_DECREF(res);
        ret = 0;
    }

done:
    Py_XDECREF(prev);
    Py_DECREF(loop);
    return ret;
#else
    /* 3.12+: tasks.py's __eager_start, with asyncio's own (C) current-task
     * and eager-task functions. */
    cx_state *st = task->task_st;
    PyObject *loop = Py_NewRef(task->task_loop);
    PyObject *prev = PyObject_CallFunctionObjArgs(
        st->asyncio_swap_current_task, loop, (PyObject *)task, NULL);
    if (prev == NULL) {
        Py_DECREF(loop);
        return -1;
    }
    int ret = -1;
    PyObject *r = PyObject_CallOneArg(st->asyncio_register_eager_task,
                                      (PyObject *)task);
    if (r != NULL) {
        Py_DECREF(r);
        PyObject *ctx = Py_NewRef(task->task_context);
        PyObject *res = NULL;
        if (PyContext_Enter(ctx) == 0) {
            res = task_step_impl(task, NULL);
            PyObject *exc = cx_err_fetch();
            if (PyContext_Exit(ctx) < 0) {
                PyErr_WriteUnraisable((PyObject *)task);
            }
            cx_err_restore(exc);
        }
        Py_DECREF(ctx);
        if (res != NULL) {
            Py_DECREF(res);
            ret = 0;
        }
        /* finally: _unregister_eager_task(self), keeping the step's
         * error first. */
        PyObject *exc = cx_err_fetch();
        r = PyObject_CallOneArg(st->asyncio_unregister_eager_task,
                                (PyObject *)task);
        if (r == NULL) {
            ret = -1;
            if (exc != NULL) {
                PyObject *exc2 = cx_err_fetch();
                PyException_SetContext(exc2, exc);
                exc = exc2;
            }
            else {
                exc = cx_err_fetch();
            }
        }
        Py_XDECREF(r);
        cx_err_restore(exc);
    }
    /* finally: give the current task back. */
    PyObject *exc = cx_err_fetch();
    PyObject *cur = PyObject_CallFunctionObjArgs(
        st->asyncio_swap_current_task, loop, prev, NULL);
    if (cur == NULL) {
        ret = -1;
        PyObject *exc2 = cx_err_fetch();
        if (exc != NULL) {
            PyException_SetContext(exc2, exc);
        }
        exc = exc2;
    }
    Py_XDECREF(cur);
    cx_err_restore(exc);
    if (task->task_state != CX_FUT_PENDING) {
        /* As tasks.py (and _asyncio): the done task drops its coroutine. */
        Py_CLEAR(task->task_coro);
    }
    else {
        exc = cx_err_fetch();
        if (task_register(task) < 0) {
            ret = -1;
            PyObject *exc2 = cx_err_fetch();
            if (exc != NULL) {
                PyException_SetContext(exc2, exc);
            }
            exc = exc2;
        }
        cx_err_restore(exc);
    }
    Py_DECREF(prev);
    Py_DECREF(loop);
    return ret;
#endif
}

static int
task_init(TaskObject *self, PyObject *coro, PyObject *loop, PyObject *name,
          PyObject *context, int eager_start)
{
    cx_state *st = self->task_st;
    if (cx_future_init(FUT(self), loop) < 0) {
        return -1;
    }
    int is_coro = PyCoro_CheckExact(coro);
    if (!is_coro) {
        PyObject *r = PyObject_CallOneArg(st->asyncio_iscoroutine, coro);
        if (r == NULL) {
            return -1;
        }
        is_coro = PyObject_IsTrue(r);
        Py_DECREF(r);
        if (is_coro < 0) {
            return -1;
        }
    }
    if (!is_coro) {
        /* Pending but never scheduled: nothing to report at deletion. */
        self->task_log_destroy_pending = 0;
        PyErr_Format(PyExc_TypeError, "a coroutine was expected, got %R",
                     coro);
        return -1;
    }

    if (context == NULL || context == Py_None) {
        context = PyContext_CopyCurrent();
        if (context == NULL) {
            return -1;
        }
    }
    else if (st->task_checks_context && !PyContext_CheckExact(context)) {
        /* gh-157301 (in the 3.13 and 3.15 asyncio we run on): refused. */
        self->task_log_destroy_pending = 0;
        PyErr_Format(PyExc_TypeError,
                     "a contextvars.Context was expected, got %s",
                     Py_TYPE(context)->tp_name);
        return -1;
    }
    else {
        Py_INCREF(context);
    }
    Py_XSETREF(self->task_context, context);

    Py_CLEAR(self->task_fut_waiter);
    self->task_must_cancel = 0;
    self->task_log_destroy_pending = 1;
    self->task_num_cancels_requested = 0;
    Py_XSETREF(self->task_coro, Py_NewRef(coro));

    self->task_name_number = 0;
    if (name == NULL || name == Py_None) {
        /* "Task-N" is formatted when first asked for (Task_get_name). */
        self->task_name_number = ++st->task_name_counter;
        Py_CLEAR(self->task_name);
    }
    else if (PyUnicode_CheckExact(name)) {
        Py_INCREF(name);
    }
    else {
        name = PyObject_Str(name);
    }
    if (self->task_name_number == 0) {
        if (name == NULL) {
            return -1;
        }
        Py_XSETREF(self->task_name, name);
    }

    if (eager_start) {
        int running = loop_is_running(st, self->task_loop);
        if (running < 0) {
            return -1;
        }
        if (running) {
            int rc = task_eager_start(self);
            if (rc < 0 && st->task_checks_context) {
                /* the same asyncio change: no "destroyed but pending" */
                self->task_log_destroy_pending = 0;
            }
            return rc;
        }
    }
    if (task_call_step_soon(self, NULL) < 0) {
        return -1;
    }
    return task_register(self);
}

static int
Task_init(TaskObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"coro", "loop", "name", "context",
                             "eager_start", NULL};
    PyObject *coro, *loop = Py_None, *name = Py_None, *context = Py_None;
    int eager_start = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$OOOp:Task", kwlist,
                                     &coro, &loop, &name, &context,
                                     &eager_start)) {
        return -1;
    }
    return task_init(self, coro, loop, name, context, eager_start);
}

PyObject *
cx_task_new(cx_state *st, PyObject *coro, PyObject *loop, PyObject *name,
            PyObject *context)
{
    PyTypeObject *tp = st->TaskType;
    TaskObject *task = (TaskObject *)tp->tp_alloc(tp, 0);
    if (task == NULL) {
        return NULL;
    }
    task->task_st = st;
    if (task_init(task, coro, loop, name, context, 0) < 0) {
        Py_DECREF(task);
        return NULL;
    }
    return (PyObject *)task;
}

/* ---------------------------------------------------------------------- */
/* Python methods */

static PyObject *
Task_cancel(TaskObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"msg", NULL};
    PyObject *msg = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:cancel", kwlist, &msg)) {
        return NULL;
    }
    self->task_log_tb = 0;
    if (self->task_state != CX_FUT_PENDING) {
        Py_RETURN_FALSE;
    }
    self->task_num_cancels_requested += 1;
    /* tasks.py leaves out "if cancels requested > 1: return False" on
     * purpose; so do we. */
    if (self->task_fut_waiter != NULL) {
        PyObject *waiter = Py_NewRef(self->task_fut_waiter);
        PyObject *r;
        if (Py_IS_TYPE(waiter, self->task_st->FutureType)) {
            r = cx_future_cancel(FUT(waiter), msg);
        }
        else {
            r = PyObject_CallMethodOneArg(waiter, self->task_st->str_cancel,
                                          msg);
        }
        Py_DECREF(waiter);
        if (r == NULL) {
            return NULL;
        }
        int is_true = PyObject_IsTrue(r);
        Py_DECREF(r);
        if (is_true < 0) {
            return NULL;
        }
        if (is_true) {
            /* Keep _fut_waiter: it may be a task that ignores the
             * cancellation and has to be cancelled again. */
            Py_RETURN_TRUE;
        }
    }
    /* The step is already scheduled: it throws CancelledError in. */
    self->task_must_cancel = 1;
    Py_XSETREF(self->task_cancel_msg, Py_NewRef(msg));
    Py_RETURN_TRUE;
}

static PyObject *
Task_cancelling(TaskObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLong(self->task_num_cancels_requested);
}

static PyObject *
Task_uncancel(TaskObject *self, PyObject *Py_UNUSED(ignored))
{
    if (self->task_num_cancels_requested > 0) {
        self->task_num_cancels_requested -= 1;
#if PY_VERSION_HEX >= 0x030D0000
        /* 3.13: back at zero, a pending cancellation is dropped. */
        if (self->task_num_cancels_requested == 0) {
            self->task_must_cancel = 0;
        }
#endif
    }
    return PyLong_FromLong(self->task_num_cancels_requested);
}

static PyObject *
Task_get_coro(TaskObject *self, PyObject *Py_UNUSED(ignored))
{
    return Py_NewRef(self->task_coro ? self->task_coro : Py_None);
}

static PyObject *
Task_get_context(TaskObject *self, PyObject *Py_UNUSED(ignored))
{
    return Py_NewRef(self->task_context ? self->task_context : Py_None);
}

static PyObject *
Task_get_name(TaskObject *self, PyObject *Py_UNUSED(ignored))
{
    if (self->task_name == NULL && self->task_name_number != 0) {
        self->task_name = PyUnicode_FromFormat("Task-%llu",
                                               self->task_name_number);
        if (self->task_name == NULL) {
            return NULL;
        }
    }
    return Py_NewRef(self->task_name ? self->task_name : Py_None);
}

static PyObject *
Task_set_name(TaskObject *self, PyObject *value)
{
    PyObject *name = PyUnicode_CheckExact(value) ? Py_NewRef(value)
                                                 : PyObject_Str(value);
    if (name == NULL) {
        return NULL;
    }
    Py_XSETREF(self->task_name, name);
    self->task_name_number = 0;
    Py_RETURN_NONE;
}

static PyObject *
Task_set_result(TaskObject *self, PyObject *Py_UNUSED(result))
{
    PyErr_SetString(PyExc_RuntimeError,
                    "Task does not support set_result operation");
    return NULL;
}

static PyObject *
Task_set_exception(TaskObject *self, PyObject *Py_UNUSED(exc))
{
    PyErr_SetString(PyExc_RuntimeError,
                    "Task does not support set_exception operation");
    return NULL;
}

static PyObject *
Task_get_stack(TaskObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"limit", NULL};
    PyObject *limit = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$O:get_stack", kwlist,
                                     &limit)) {
        return NULL;
    }
    return PyObject_CallFunctionObjArgs(self->task_st->asyncio_task_get_stack,
                                        self, limit, NULL);
}

static PyObject *
Task_print_stack(TaskObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"limit", "file", NULL};
    PyObject *limit = Py_None, *file = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$OO:print_stack", kwlist,
                                     &limit, &file)) {
        return NULL;
    }
    return PyObject_CallFunctionObjArgs(
        self->task_st->asyncio_task_print_stack, self, limit, file, NULL);
}

static PyObject *
Task_repr(TaskObject *self)
{
    if (self->task_loop == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Future object is not "
                                            "initialized.");
        return NULL;
    }
    return PyObject_CallOneArg(self->task_st->asyncio_task_repr,
                               (PyObject *)self);
}

/* ---------------------------------------------------------------------- */
/* Attributes */

static PyObject *
Task_get_log_destroy_pending(TaskObject *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(self->task_log_destroy_pending);
}

static int
Task_set_log_destroy_pending(TaskObject *self, PyObject *val,
                             void *Py_UNUSED(closure))
{
    int is_true = cx_attr_bool(val);
    if (is_true < 0) {
        return -1;
    }
    self->task_log_destroy_pending = is_true;
    return 0;
}

static PyObject *
Task_get_must_cancel(TaskObject *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(self->task_must_cancel);
}

static PyObject *
Task_get_coro_attr(TaskObject *self, void *Py_UNUSED(closure))
{
    return Py_NewRef(self->task_coro ? self->task_coro : Py_None);
}

static PyObject *
Task_get_fut_waiter(TaskObject *self, void *Py_UNUSED(closure))
{
    return Py_NewRef(self->task_fut_waiter ? self->task_fut_waiter
                                           : Py_None);
}

static PyObject *
Task_get_num_cancels_requested(TaskObject *self, void *Py_UNUSED(closure))
{
    return PyLong_FromLong(self->task_num_cancels_requested);
}

/* ---------------------------------------------------------------------- */
/* Life cycle */

static int
Task_traverse(TaskObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->task_fut_waiter);
    Py_VISIT(self->task_coro);
    Py_VISIT(self->task_name);
    Py_VISIT(self->task_context);
    Py_VISIT(self->task_registry_ref);
    return cx_future_traverse_fields(FUT(self), visit, arg);
}

static int
Task_clear(TaskObject *self)
{
    task_unregister_ref(self);
    cx_future_clear_fields(FUT(self));
    Py_CLEAR(self->task_fut_waiter);
    Py_CLEAR(self->task_coro);
    Py_CLEAR(self->task_name);
    Py_CLEAR(self->task_context);
    return 0;
}

/* "Task was destroyed but it is pending!", then the Future's report. */
static void
Task_finalize(PyObject *self)
{
    TaskObject *task = TASK(self);
    cx_state *st = task->task_st;
    /* Out of the registry now, as a weakref there would be cleared before
     * the finalizers of cyclic garbage run: a handler that keeps the task
     * (resurrects it) does not keep it in all_tasks(). */
    task_unregister_ref(task);
    if (task->task_loop == NULL || task->task_state != CX_FUT_PENDING
        || !task->task_log_destroy_pending) {
        goto future;
    }
    PyObject *err_type, *err_value, *err_tb;
    PyErr_Fetch(&err_type, &err_value, &err_tb);
    PyObject *context = PyDict_New();
    PyObject *message = PyUnicode_FromString(
        "Task was destroyed but it is pending!");
    if (context == NULL || message == NULL
        || PyDict_SetItem(context, st->str_message, message) < 0
        || PyDict_SetItem(context, st->str_task, self) < 0
        || (task->task_source_tb != NULL
            && PyDict_SetItem(context, st->str_source_traceback,
                              task->task_source_tb) < 0)) {
        PyErr_WriteUnraisable(self);
    }
    else {
        PyObject *res = PyObject_CallMethodOneArg(
            task->task_loop, st->str_call_exception_handler, context);
        if (res == NULL) {
            PyErr_WriteUnraisable(self);
        }
        Py_XDECREF(res);
    }
    Py_XDECREF(context);
    Py_XDECREF(message);
    PyErr_Restore(err_type, err_value, err_tb);

future:
    cx_future_finalize(self);
}

static void
Task_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    /* A Python subclass runs the finalizer from subtype_dealloc. */
    if (tp->tp_dealloc == Task_dealloc
        && PyObject_CallFinalizerFromDealloc(self) < 0) {
        return;     /* resurrected */
    }
    PyObject_GC_UnTrack(self);
    task_unregister_ref(TASK(self));
    if (TASK(self)->task_weakreflist != NULL) {
        PyObject_ClearWeakRefs(self);
    }
    Task_clear(TASK(self));
    tp->tp_free(self);
    Py_DECREF(tp);
}

/* ---------------------------------------------------------------------- */
/* The type */

static PyMethodDef task_methods[] = {
    /* Signatures: asyncio's C Task (_asyncio.Task); where it has no
     * docstring of its own, inspect.getdoc() finds Future's. */
    {"cancel", (PyCFunction)(void (*)(void))Task_cancel,
     METH_VARARGS | METH_KEYWORDS,
     CX_DOC_SIG("cancel($self, /, msg=None)",
                "Request that this task cancel itself.")},
    {"cancelling", (PyCFunction)Task_cancelling, METH_NOARGS,
     CX_DOC_SIG("cancelling($self, /)",
                "Return the count of the task's cancellation requests.")},
    {"uncancel", (PyCFunction)Task_uncancel, METH_NOARGS,
     CX_DOC_SIG("uncancel($self, /)",
                "Decrement the task's count of cancellation requests.")},
    {"get_coro", (PyCFunction)Task_get_coro, METH_NOARGS,
     CX_DOC_SIG("get_coro($self, /)", "")},
    {"get_context", (PyCFunction)Task_get_context, METH_NOARGS,
     CX_DOC_SIG("get_context($self, /)", "")},
    {"get_name", (PyCFunction)Task_get_name, METH_NOARGS,
     CX_DOC_SIG("get_name($self, /)", "")},
    {"set_name", (PyCFunction)Task_set_name, METH_O,
     CX_DOC_SIG("set_name($self, value, /)", "")},
    {"set_result", (PyCFunction)Task_set_result, METH_O,
     CX_DOC_SIG("set_result($self, result, /)", "")},
    {"set_exception", (PyCFunction)Task_set_exception, METH_O,
     CX_DOC_SIG("set_exception($self, exception, /)", "")},
    {"get_stack", (PyCFunction)(void (*)(void))Task_get_stack,
     METH_VARARGS | METH_KEYWORDS,
     CX_DOC_SIG("get_stack($self, /, *, limit=None)",
                "Return the list of stack frames for this task's "
                "coroutine.")},
    {"print_stack", (PyCFunction)(void (*)(void))Task_print_stack,
     METH_VARARGS | METH_KEYWORDS,
     CX_DOC_SIG("print_stack($self, /, *, limit=None, file=None)",
                "Print the stack or traceback for this task's "
                "coroutine.")},
    {NULL, NULL},
};

static PyGetSetDef task_getsets[] = {
    {"_log_destroy_pending", (getter)Task_get_log_destroy_pending,
     (setter)Task_set_log_destroy_pending, NULL, NULL},
    {"_must_cancel", (getter)Task_get_must_cancel, NULL, NULL, NULL},
    {"_coro", (getter)Task_get_coro_attr, NULL, NULL, NULL},
    {"_fut_waiter", (getter)Task_get_fut_waiter, NULL, NULL, NULL},
    {"_num_cancels_requested", (getter)Task_get_num_cancels_requested, NULL,
     NULL, NULL},
    {NULL},
};

static PyType_Slot task_slots[] = {
    /* eager_start is taken on 3.11 too (casyncio.eager backports it) */
    {Py_tp_doc, CX_DOC_SIG("Task(coro, *, loop=None, name=None, "
                           "context=None, eager_start=False)",
                           "A coroutine wrapped in a Future.")},
    {Py_tp_init, Task_init},
    {Py_tp_dealloc, Task_dealloc},
    {Py_tp_finalize, Task_finalize},
    {Py_tp_traverse, Task_traverse},
    {Py_tp_clear, Task_clear},
    {Py_tp_repr, Task_repr},
    {Py_tp_methods, task_methods},
    {Py_tp_getset, task_getsets},
    {0, NULL},
};

static PyType_Spec task_spec = {
    .name = "casyncio._core.Task",
    .basicsize = sizeof(TaskObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC
             | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = task_slots,
};

int
cx_task_setup(PyObject *module)
{
    cx_state *st = PyModule_GetState(module);
    st->TaskType = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &task_spec, (PyObject *)st->FutureType);
    if (st->TaskType == NULL) {
        return -1;
    }
    return PyModule_AddType(module, st->TaskType);
}

/* ---------------------------------------------------------------------- */
/* asyncio's task registry and current-task dict, found at import */

/* 1 if the data set of WeakSet ws holds a weakref to obj, 0 if not (or ws
 * is not a WeakSet with a set for data), -1 on error. */
static int
weakset_holds(PyObject *ws, PyObject *weakset_type, PyObject *obj)
{
    if (!Py_IS_TYPE(ws, (PyTypeObject *)weakset_type)) {
        return 0;
    }
    PyObject *data = PyObject_GetAttrString(ws, "data");
    if (data == NULL) {
        return -1;
    }
    int rc = 0;
    if (PySet_CheckExact(data)) {
        PyObject *wr = PyWeakref_NewRef(obj, NULL);
        rc = wr == NULL ? -1 : PySet_Contains(data, wr);
        Py_XDECREF(wr);
    }
    Py_DECREF(data);
    return rc;
}

/* Find the WeakSet that tasks._register_task adds a task of ours to, by
 * registering a probe: 3.11's tasks._all_tasks, 3.12/3.13's
 * tasks._scheduled_tasks, on 3.14+ the WeakSet _asyncio keeps in its
 * module state for tasks that are not its own (a referent of the module).
 * New reference, NULL with no error when not found. */
static PyObject *
find_task_registry(cx_state *st, PyObject *probe, PyObject *asyncio_c)
{
    PyObject *candidates = PyList_New(0);
    PyObject *weakset_type = NULL, *found = NULL, *r;
    if (candidates == NULL) {
        return NULL;
    }
    PyObject *tasks = PyImport_ImportModule("asyncio.tasks");
    if (tasks == NULL) {
        goto error;
    }
    static const char *const names[] = {"_all_tasks", "_scheduled_tasks"};
    for (size_t i = 0; i < 2; i++) {
        PyObject *ws = PyObject_GetAttrString(tasks, names[i]);
        if (ws == NULL) {
            PyErr_Clear();
            continue;
        }
        int rc = PyList_Append(candidates, ws);
        Py_DECREF(ws);
        if (rc < 0) {
            Py_DECREF(tasks);
            goto error;
        }
    }
    Py_DECREF(tasks);
    if (asyncio_c != NULL) {
        PyObject *gc = PyImport_ImportModule("gc");
        if (gc == NULL) {
            goto error;
        }
        PyObject *refs = PyObject_CallMethod(gc, "get_referents", "O",
                                             asyncio_c);
        Py_DECREF(gc);
        if (refs == NULL) {
            goto error;
        }
        Py_ssize_t n = PyList_GET_SIZE(candidates);
        int rc = PyList_SetSlice(candidates, n, n, refs);
        Py_DECREF(refs);
        if (rc < 0) {
            goto error;
        }
    }
    PyObject *weakref = PyImport_ImportModule("weakref");
    if (weakref == NULL) {
        goto error;
    }
    weakset_type = PyObject_GetAttrString(weakref, "WeakSet");
    Py_DECREF(weakref);
    if (weakset_type == NULL) {
        goto error;
    }

    r = PyObject_CallOneArg(st->asyncio_register_task, probe);
    if (r == NULL) {
        goto error;
    }
    Py_DECREF(r);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(candidates); i++) {
        PyObject *ws = PyList_GET_ITEM(candidates, i);
        int rc = weakset_holds(ws, weakset_type, probe);
        if (rc < 0) {
            PyErr_Clear();
            Py_CLEAR(found);
            goto unregister;
        }
        if (rc && found != NULL && found != ws) {
            Py_CLEAR(found);        /* two of them: not a registry we know */
            goto unregister;
        }
        if (rc) {
            found = Py_NewRef(ws);
        }
    }
unregister:
    r = PyObject_CallOneArg(st->asyncio_unregister_task, probe);
    if (r == NULL) {
        Py_CLEAR(found);
        goto error;
    }
    Py_DECREF(r);
    if (found != NULL && weakset_holds(found, weakset_type, probe) != 0) {
        Py_CLEAR(found);            /* _unregister_task did not remove it */
    }
    Py_DECREF(weakset_type);
    Py_DECREF(candidates);
    PyErr_Clear();
    return found;

error:
    Py_XDECREF(weakset_type);
    Py_DECREF(candidates);
    return NULL;
}

/* *out = getattr(o, name), or NULL when it has none.  0 or -1. */
static int
optional_attr(PyObject *o, const char *name, PyObject **out)
{
    *out = PyObject_GetAttrString(o, name);
    if (*out == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return -1;
        }
        PyErr_Clear();
    }
    return 0;
}

/* The task registry (st->all_tasks_*): what task_register writes to.
 * Left NULL (tasks._register_task is called then) unless found and shaped
 * as expected.  0, or -1 on an error other than "not found". */
static int
setup_task_registry(cx_state *st, PyObject *probe,
                    PyObject *asyncio_c)
{
    PyObject *ws = find_task_registry(st, probe, asyncio_c);
    if (ws == NULL) {
        if (PyErr_Occurred()) {
            PyErr_Clear();      /* probing failed: keep the slow path */
        }
        return 0;
    }
    /* Up to 3.13 a WeakSet defers removals while iterated (_iterating,
     * _pending_removals); 3.14's has neither. */
    PyObject *data = NULL, *iterating = NULL, *pending = NULL;
    int shaped = 0;
    if (optional_attr(ws, "data", &data) >= 0
        && optional_attr(ws, "_iterating", &iterating) >= 0
        && optional_attr(ws, "_pending_removals",
                                          &pending) >= 0) {
        shaped = data != NULL && PySet_CheckExact(data)
                 && ((iterating == NULL && pending == NULL)
                     || (iterating != NULL && PySet_CheckExact(iterating)
                         && pending != NULL && PyList_CheckExact(pending)));
    }
    Py_DECREF(ws);
    PyErr_Clear();
    if (shaped) {
        st->all_tasks_data = data;
        st->all_tasks_iterating = iterating;
        st->all_tasks_pending = pending;
        return 0;
    }
    Py_XDECREF(data);
    Py_XDECREF(iterating);
    Py_XDECREF(pending);
    return 0;
}

#if PY_VERSION_HEX < 0x030E0000
/* Does tasks._enter_task(loop, task) set tasks._current_tasks[loop] and
 * _leave_task delete it?  1, or 0 (and no error) when not. */
static int
current_tasks_is_direct(cx_state *st, PyObject *probe)
{
    PyObject *cur = st->asyncio_current_tasks;
    if (cur == NULL || !PyDict_CheckExact(cur)) {
        return 0;
    }
    int ok = 0;
    PyObject *key = PyLong_FromVoidPtr(probe);    /* a loop stand-in */
    if (key == NULL) {
        goto done;
    }
    if (call_task_hook(st->asyncio_enter_task, key, probe) < 0) {
        goto done;
    }
    ok = PyDict_GetItemWithError(cur, key) == probe;
    if (call_task_hook(st->asyncio_leave_task, key, probe) < 0) {
        ok = 0;
        goto done;
    }
    if (PyDict_GetItemWithError(cur, key) != NULL) {
        ok = 0;
    }
done:
    Py_XDECREF(key);
    PyErr_Clear();
    return ok;
}
#endif

int
cx_task_registry_setup(PyObject *mod)
{
    cx_state *st = PyModule_GetState(mod);
    st->current_tasks_direct = 0;
    PyObject *asyncio_c = PyImport_ImportModule("_asyncio");
    if (asyncio_c == NULL) {
        PyErr_Clear();          /* asyncio runs its Python versions */
    }
    /* A weakly referenceable, hashable stand-in for a task. */
    PyObject *probe = NULL;
    PyObject *cls = PyObject_CallFunction((PyObject *)&PyType_Type, "s()N",
                                          "_casyncio_probe", PyDict_New());
    if (cls != NULL) {
        probe = PyObject_CallNoArgs(cls);
        Py_DECREF(cls);
    }
    if (probe == NULL) {
        Py_XDECREF(asyncio_c);
        return -1;
    }
    int rc = setup_task_registry(st, probe, asyncio_c);
#if PY_VERSION_HEX < 0x030E0000
    if (rc == 0) {
        st->current_tasks_direct = current_tasks_is_direct(st, probe);
    }
#endif
    Py_DECREF(probe);
    Py_XDECREF(asyncio_c);
    return rc;
}
