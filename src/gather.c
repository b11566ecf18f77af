/* gather() in C: _core._gather() is the body of the running version's
 * asyncio gather() (python/casyncio/_tasks.py keeps its empty-arguments
 * case), and _GatherCallback its _done_callback closure (3.11's; from 3.14
 * with that version's call-graph bookkeeping: cur_task).
 *
 * _gather() makes one _GatherCallback, adds it to every child, then gives
 * it the outer future and the number of distinct children.  Each call of
 * it is one child finishing; the logic, including its quirks, is tasks.py's
 * _done_callback line for line.  Children that are exactly our Future or
 * Task are read directly; any other future goes through its methods. */
#include "internal.h"
#include "structmember.h"

typedef struct {
    PyObject_HEAD
    cx_state *gc_st;
    PyObject *gc_outer;         /* NULL until _set_outer() */
    PyObject *gc_children;      /* the list gather() builds */
    PyObject *gc_cur_task;      /* 3.14: the task that called gather(), or
                                   NULL */
    Py_ssize_t gc_nfuts;
    Py_ssize_t gc_nfinished;
    int gc_return_exceptions;
    vectorcallfunc gc_vectorcall;
} GatherCallbackObject;

/* ---- reading a child: fast for our exact types ---- */

/* bool(obj.<name>()): 1, 0 or -1. */
static int
method_is_true(PyObject *obj, const char *name)
{
    PyObject *r = PyObject_CallMethod(obj, name, NULL);
    if (r == NULL) {
        return -1;
    }
    int b = PyObject_IsTrue(r);
    Py_DECREF(r);
    return b;
}

static int
child_cancelled(cx_state *st, PyObject *fut)
{
    if (cx_future_check_exact(st, fut)) {
        return ((FutureObject *)fut)->fut_state == CX_FUT_CANCELLED;
    }
    return method_is_true(fut, "cancelled");
}

#if PY_VERSION_HEX >= 0x030C0000
/* fut.done(), as gather() asks it of each new child from 3.12. */
static int
child_done(cx_state *st, PyObject *fut)
{
    if (cx_future_check_exact(st, fut)) {
        return ((FutureObject *)fut)->fut_state != CX_FUT_PENDING;
    }
    return method_is_true(fut, "done");
}
#endif

/* fut.exception() of a done, not cancelled future: new reference (None for
 * no exception), or NULL. */
static PyObject *
child_exception(cx_state *st, PyObject *fut)
{
    if (cx_future_check_exact(st, fut)
        && ((FutureObject *)fut)->fut_state == CX_FUT_FINISHED) {
        FutureObject *f = (FutureObject *)fut;
        if (f->fut_exception == NULL) {
            Py_RETURN_NONE;
        }
        f->fut_log_tb = 0;          /* retrieved, as exception() does */
        return Py_NewRef(f->fut_exception);
    }
    return PyObject_CallMethod(fut, "exception", NULL);
}

static PyObject *
child_result(cx_state *st, PyObject *fut)
{
    if (cx_future_check_exact(st, fut)
        && ((FutureObject *)fut)->fut_state == CX_FUT_FINISHED
        && ((FutureObject *)fut)->fut_exception == NULL) {
        PyObject *r = ((FutureObject *)fut)->fut_result;
        return Py_NewRef(r ? r : Py_None);
    }
    return PyObject_CallMethod(fut, "result", NULL);
}

/* CancelledError('' if fut._cancel_message is None else that message). */
static PyObject *
child_cancelled_error(cx_state *st, PyObject *fut)
{
    PyObject *msg;
    if (cx_future_check_exact(st, fut)) {
        msg = Py_XNewRef(((FutureObject *)fut)->fut_cancel_msg);
    }
    else {
        msg = PyObject_GetAttrString(fut, "_cancel_message");
        if (msg == NULL) {
            return NULL;
        }
    }
    if (msg == NULL || msg == Py_None) {
        Py_XDECREF(msg);
        msg = PyUnicode_FromString("");
        if (msg == NULL) {
            return NULL;
        }
    }
    PyObject *exc = PyObject_CallOneArg(st->asyncio_CancelledError, msg);
    Py_DECREF(msg);
    return exc;
}

static int
outer_done(cx_state *st, PyObject *outer)
{
    if (PyObject_TypeCheck(outer, st->FutureType)) {
        return ((FutureObject *)outer)->fut_state != CX_FUT_PENDING;
    }
    return method_is_true(outer, "done");
}

/* outer.<method>(arg); steals arg.  0 or -1. */
static int
outer_set(PyObject *outer, const char *method, PyObject *arg)
{
    if (arg == NULL) {
        return -1;
    }
    PyObject *r = PyObject_CallMethod(outer, method, "O", arg);
    Py_DECREF(arg);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* futures.future_add_to_awaited_by(fut, waiter) when add, else
 * future_discard_from_awaited_by(fut, waiter) (3.14+; nothing before).
 * 0 or -1. */
static int
awaited_by(cx_state *st, PyObject *fut, PyObject *waiter, int add)
{
#if PY_VERSION_HEX >= 0x030E0000
    if (PyObject_TypeCheck(fut, st->FutureType)) {
        FutureObject *f = (FutureObject *)fut;
        return add ? cx_future_awaited_by_add(f, waiter)
                   : cx_future_awaited_by_discard(f, waiter);
    }
    PyObject *r = PyObject_CallFunctionObjArgs(
        add ? st->asyncio_fut_add_awaited_by
            : st->asyncio_fut_discard_awaited_by, fut, waiter, NULL);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
#else
    (void)st; (void)fut; (void)waiter; (void)add;
    return 0;
#endif
}

/* tasks.py's _discard_awaited_by(children, cur_task) (3.14): the children
 * outliving gather() lose the edge.  0 or -1. */
static int
discard_children_awaited_by(GatherCallbackObject *self)
{
    if (self->gc_cur_task == NULL) {
        return 0;
    }
    PyObject *children = Py_NewRef(self->gc_children);
    PyObject *waiter = Py_NewRef(self->gc_cur_task);
    int rc = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(children); i++) {
        PyObject *child = Py_NewRef(PyList_GET_ITEM(children, i));
        rc = awaited_by(self->gc_st, child, waiter, 0);
        Py_DECREF(child);
        if (rc < 0) {
            break;
        }
    }
    Py_DECREF(waiter);
    Py_DECREF(children);
    return rc;
}

/* outer.set_exception(exc) after _discard_awaited_by; steals exc. */
static int
outer_set_exception(GatherCallbackObject *self, PyObject *outer,
                    PyObject *exc)
{
    if (exc != NULL && discard_children_awaited_by(self) < 0) {
        Py_DECREF(exc);
        return -1;
    }
    return outer_set(outer, "set_exception", exc);
}

static PyObject *
fut_make_cancelled_error(PyObject *fut)
{
    return PyObject_CallMethod(fut, "_make_cancelled_error", NULL);
}

/* Every child is done: the list of outcomes to the outer future.  As in
 * tasks.py, the loop walks the live children list (a child's methods may
 * be Python code that changes it) and `fut` ends as its last child. */
static int
gather_finish(GatherCallbackObject *self, PyObject *outer, PyObject *fut)
{
    cx_state *st = self->gc_st;
    PyObject *children = Py_NewRef(self->gc_children);
    PyObject *results = PyList_New(0);
    PyObject *last = Py_NewRef(fut);
    int rc = -1;
    if (results == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(children); i++) {
        PyObject *child = Py_NewRef(PyList_GET_ITEM(children, i));
        Py_SETREF(last, child);
        int c = child_cancelled(st, child);
        PyObject *res;
        if (c < 0) {
            goto done;
        }
        if (c) {
            res = child_cancelled_error(st, child);
        }
        else {
            res = child_exception(st, child);
            if (res == Py_None) {
                Py_DECREF(res);
                res = child_result(st, child);
            }
        }
        if (res == NULL) {
            goto done;
        }
        int r = PyList_Append(results, res);
        Py_DECREF(res);
        if (r < 0) {
            goto done;
        }
    }
    PyObject *req = PyObject_GetAttr(outer, self->gc_st->str_cancel_requested);
    int cancel_requested = req ? PyObject_IsTrue(req) : -1;
    Py_XDECREF(req);
    if (cancel_requested < 0) {
        goto done;
    }
    if (cancel_requested) {
        rc = outer_set(outer, "set_exception",
                       fut_make_cancelled_error(last));
    }
    else {
        rc = outer_set(outer, "set_result", Py_NewRef(results));
    }
done:
    Py_DECREF(last);
    Py_XDECREF(results);
    Py_DECREF(children);
    return rc;
}

/* One child finished: asyncio's _done_callback(fut). */
static int
gather_child_done(GatherCallbackObject *self, PyObject *fut)
{
    cx_state *st = self->gc_st;
    self->gc_nfinished++;
    if (self->gc_cur_task != NULL) {
        PyObject *waiter = Py_NewRef(self->gc_cur_task);
        int r = awaited_by(st, fut, waiter, 0);
        Py_DECREF(waiter);
        if (r < 0) {
            return -1;
        }
    }
    PyObject *outer = self->gc_outer;
    int done = outer ? outer_done(st, outer) : 1;
    if (done < 0) {
        return -1;
    }
    if (done) {
        int c = child_cancelled(st, fut);
        if (c == 0) {
            PyObject *exc = child_exception(st, fut);   /* retrieved */
            Py_XDECREF(exc);
            return exc ? 0 : -1;
        }
        return c < 0 ? -1 : 0;
    }
    Py_INCREF(outer);
    int rc = 0;
    if (!self->gc_return_exceptions) {
        int c = child_cancelled(st, fut);
        if (c < 0) {
            rc = -1;
            goto done;
        }
        if (c) {
            rc = outer_set_exception(self, outer,
                                     fut_make_cancelled_error(fut));
            goto done;
        }
        PyObject *exc = child_exception(st, fut);
        if (exc == NULL) {
            rc = -1;
            goto done;
        }
        if (exc != Py_None) {
            rc = outer_set_exception(self, outer, exc);
            goto done;
        }
        Py_DECREF(exc);
    }
    if (self->gc_nfinished == self->gc_nfuts) {
        rc = gather_finish(self, outer, fut);
    }
done:
    Py_DECREF(outer);
    return rc;
}

static PyObject *
GatherCallback_vectorcall(PyObject *op, PyObject *const *args,
                          size_t nargsf, PyObject *kwnames)
{
    GatherCallbackObject *self = (GatherCallbackObject *)op;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != 1 || (kwnames && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError,
                        "_done_callback() takes exactly one argument (fut)");
        return NULL;
    }
    Py_INCREF(self);
    int rc = gather_child_done(self, args[0]);
    Py_DECREF(self);
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
GatherCallback_repr(GatherCallbackObject *self)
{
    return PyUnicode_FromString("<gather._done_callback>");
}

static int
GatherCallback_traverse(GatherCallbackObject *self, visitproc visit,
                        void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->gc_outer);
    Py_VISIT(self->gc_children);
    Py_VISIT(self->gc_cur_task);
    return 0;
}

static int
GatherCallback_clear(GatherCallbackObject *self)
{
    Py_CLEAR(self->gc_outer);
    Py_CLEAR(self->gc_children);
    Py_CLEAR(self->gc_cur_task);
    return 0;
}

static void
GatherCallback_dealloc(GatherCallbackObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    GatherCallback_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

/* ---- gather() itself ---- */

/* Positions of arguments by identity: open addressing, linear probing,
 * at most half full. */
typedef struct {
    struct ident_slot { PyObject *key; Py_ssize_t pos; } *slots;
    size_t mask;
} ident_table;

static int
ident_table_init(ident_table *t, Py_ssize_t n)
{
    size_t cap = 32;
    while (cap < (size_t)n * 2) {
        cap *= 2;
    }
    t->slots = PyMem_Calloc(cap, sizeof(struct ident_slot));
    if (t->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    t->mask = cap - 1;
    return 0;
}

/* The position recorded for key, or -1 after recording pos for it. */
static Py_ssize_t
ident_table_find_or_add(ident_table *t, PyObject *key, Py_ssize_t pos)
{
    size_t i = ((size_t)key >> 4) & t->mask;
    while (t->slots[i].key != NULL) {
        if (t->slots[i].key == key) {
            return t->slots[i].pos;
        }
        i = (i + 1) & t->mask;
    }
    t->slots[i].key = key;
    t->slots[i].pos = pos;
    return -1;
}


/* ensure_future(arg, loop=loop) of the running version; loop may be NULL.
 * An exact coroutine on a known loop is loop.create_task(arg), closed if
 * that raises RuntimeError, as ensure_future does; anything else goes
 * through asyncio's ensure_future.  New reference, or NULL. */
static PyObject *
gather_ensure(cx_state *st, PyObject *arg, PyObject *loop)
{
    if (loop != NULL && PyCoro_CheckExact(arg)) {
        PyObject *fut = cx_loop_create_task_plain(st, loop, arg);
        if (fut == NULL && !PyErr_Occurred()) {
            PyObject *a[2] = {loop, arg};
            fut = PyObject_VectorcallMethod(
                st->str_create_task, a, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET,
                NULL);
        }
        if (fut == NULL && PyErr_ExceptionMatches(PyExc_RuntimeError)) {
            PyObject *exc = cx_err_fetch();
            PyObject *r = PyObject_CallMethodNoArgs(arg, st->str_close);
            if (r == NULL) {
                Py_DECREF(exc);     /* close()'s error wins, as in Python */
                return NULL;
            }
            Py_DECREF(r);
            cx_err_restore(exc);
        }
        return fut;
    }
    if (cx_future_check_exact(st, arg)) {
        /* ensure_future() of a future: isfuture() holds for our exact
         * types, and their loop is fut_loop (futures._get_loop); a future
         * of another loop goes on to raise ensure_future's ValueError. */
        PyObject *fut_loop = ((FutureObject *)arg)->fut_loop;
        if (fut_loop != NULL && (loop == NULL || loop == fut_loop)) {
            return Py_NewRef(arg);
        }
    }
    PyObject *a[3] = {NULL, arg, loop ? loop : Py_None};
    return PyObject_Vectorcall(st->gather_ensure_future, a + 1,
                               1 | PY_VECTORCALL_ARGUMENTS_OFFSET,
                               st->gather_loop_kwnames);
}

/* futures._get_loop(fut).  New reference, or NULL. */
static PyObject *
gather_fut_loop(cx_state *st, PyObject *fut)
{
    if (cx_future_check_exact(st, fut)
        && ((FutureObject *)fut)->fut_loop != NULL) {
        return Py_NewRef(((FutureObject *)fut)->fut_loop);
    }
    return PyObject_CallOneArg(st->gather_get_loop, fut);
}

/* 3.14+: gather() starts from the running loop and its current task:
 * *loop = running (a new reference) and *cur_task = the current task or
 * NULL.  Before 3.14 both stay NULL.  0 or -1. */
static int
gather_start(cx_state *st, PyObject *running, PyObject **loop,
             PyObject **cur_task)
{
    *loop = *cur_task = NULL;
#if PY_VERSION_HEX >= 0x030E0000
    if (running == NULL) {
        return 0;
    }
    PyObject *t = PyObject_CallOneArg(st->gather_current_task, running);
    if (t == NULL) {
        return -1;
    }
    *loop = Py_NewRef(running);
    if (t == Py_None) {
        Py_DECREF(t);
    }
    else {
        *cur_task = t;
    }
#else
    (void)st; (void)running;
#endif
    return 0;
}

/* _CoreGatheringFuture(children, loop=loop), the outer future on a
 * casyncio loop, without running its Python __init__: what that does
 * (Future.__init__(loop=loop), then _children and _cancel_requested).
 * New reference, or NULL. */
static PyObject *
gather_new_core_outer(cx_state *st, PyObject *children, PyObject *loop)
{
    PyTypeObject *tp = (PyTypeObject *)st->gather_core_outer;
    PyObject *noargs = PyTuple_New(0);
    if (noargs == NULL) {
        return NULL;
    }
    PyObject *outer = tp->tp_new(tp, noargs, NULL);
    Py_DECREF(noargs);
    if (outer == NULL) {
        return NULL;
    }
    if (cx_future_init((FutureObject *)outer, loop) < 0
        || PyObject_SetAttr(outer, st->str_children, children) < 0
        || PyObject_SetAttr(outer, st->str_cancel_requested, Py_False) < 0) {
        Py_DECREF(outer);
        return NULL;
    }
    return outer;
}

/* _gather(coros_or_futures, return_exceptions, fallback): the body of
 * asyncio's gather() of the running version after its empty-arguments
 * case, with
 * asyncio's _done_callback as a _GatherCallback.  Only the work is in C:
 * every call a user or a subclass could see (create_task, ensure_future,
 * add_done_callback, done, the outer future's class) is made as tasks.py
 * makes it, in the same order.  When fallback is not None and no casyncio
 * loop is running, fallback(*coros_or_futures, return_exceptions=...)
 * does the work instead (asyncio's own gather(), as asyncio.gather). */
static PyObject *
gather_impl(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    cx_state *st = PyModule_GetState(module);
    if (nargs != 3 || !PyTuple_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "_gather(coros_or_futures: tuple, "
                        "return_exceptions, fallback)");
        return NULL;
    }
    if (st->gather_ensure_future == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_gather_setup() not called");
        return NULL;
    }
    PyObject *items = args[0];
    int return_exceptions = PyObject_IsTrue(args[1]);
    if (return_exceptions < 0) {
        return NULL;
    }
    PyObject *running = PyObject_CallNoArgs(st->asyncio_get_running_loop);
    if (running == NULL) {
        return NULL;
    }
    if (running == Py_None) {
        Py_CLEAR(running);
    }
    if (args[2] != Py_None
        && (running == NULL || !cx_loop_check(st, running))) {
        Py_XDECREF(running);
        PyObject *kw = PyDict_New();
        if (kw == NULL || PyDict_SetItemString(kw, "return_exceptions",
                                               args[1]) < 0) {
            Py_XDECREF(kw);
            return NULL;
        }
        PyObject *r = PyObject_Call(args[2], items, kw);
        Py_DECREF(kw);
        return r;
    }
    PyObject *loop, *cur_task, *outer = NULL;
    if (gather_start(st, running, &loop, &cur_task) < 0) {
        Py_XDECREF(running);
        return NULL;
    }
    /* gather()'s arg_to_fut dict finds a duplicate argument by hash and
     * ==, which for exact coroutines and our exact futures is identity:
     * when all are such, a look at the arguments before stands in (for
     * more than a few, through an identity table of their positions). */
    Py_ssize_t nitems = PyTuple_GET_SIZE(items);
    int by_identity = 1;
    for (Py_ssize_t i = 0; by_identity && i < nitems; i++) {
        PyObject *arg = PyTuple_GET_ITEM(items, i);
        by_identity = PyCoro_CheckExact(arg) || cx_future_check_exact(st, arg);
    }
    ident_table seen = {NULL, 0};
    if (by_identity && nitems > 16 && ident_table_init(&seen, nitems) < 0) {
        Py_XDECREF(running);
        Py_XDECREF(loop);
        Py_XDECREF(cur_task);
        return NULL;
    }
    PyObject *children = PyList_New(0);
    PyObject *arg_to_fut = by_identity ? NULL : PyDict_New();
    PyObject *done_futs = NULL;         /* made for the first done child */
    PyObject *ctx = NULL;               /* the done callbacks' context */
    GatherCallbackObject *cb = NULL;
    if (children == NULL || (!by_identity && arg_to_fut == NULL)) {
        goto done;
    }
    cb = (GatherCallbackObject *)st->GatherCallbackType->tp_alloc(
        st->GatherCallbackType, 0);
    if (cb == NULL) {
        goto done;
    }
    cb->gc_st = st;
    cb->gc_children = Py_NewRef(children);
    cb->gc_return_exceptions = return_exceptions;
    cb->gc_cur_task = Py_XNewRef(cur_task);
    cb->gc_vectorcall = GatherCallback_vectorcall;

    Py_ssize_t nfuts = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(items); i++) {
        PyObject *arg = PyTuple_GET_ITEM(items, i);
        PyObject *fut = NULL;
        if (seen.slots != NULL) {
            /* children[j] is the child of items[j] */
            Py_ssize_t j = ident_table_find_or_add(&seen, arg, i);
            if (j >= 0 && j < PyList_GET_SIZE(children)) {
                fut = PyList_GET_ITEM(children, j);
            }
        }
        else if (by_identity) {
            /* children[j] is the child of items[j] */
            for (Py_ssize_t j = 0; j < i && j < PyList_GET_SIZE(children);
                 j++) {
                if (PyTuple_GET_ITEM(items, j) == arg) {
                    fut = PyList_GET_ITEM(children, j);
                    break;
                }
            }
        }
        else {
            fut = PyDict_GetItemWithError(arg_to_fut, arg);
        }
        if (fut != NULL) {
            /* A duplicate: the same child again. */
            if (PyList_Append(children, fut) < 0) {
                goto done;
            }
            continue;
        }
        if (PyErr_Occurred()) {
            goto done;
        }
        if (loop == NULL && PyCoro_CheckExact(arg)) {
            /* ensure_future(coro) takes events.get_event_loop(), which
             * is the running loop when there is one. */
            fut = gather_ensure(st, arg, running);
        }
        else {
            fut = gather_ensure(st, arg, loop);
        }
        if (fut == NULL) {
            goto done;
        }
        if (loop == NULL) {
            loop = gather_fut_loop(st, fut);
            if (loop == NULL) {
                Py_DECREF(fut);
                goto done;
            }
        }
        if (fut != arg) {
            /* A future made for arg: the caller cannot see it, so no
             * "Task was destroyed but it is pending!" for it. */
            if (Py_IS_TYPE(fut, st->TaskType)) {
                ((TaskObject *)fut)->task_log_destroy_pending = 0;
            }
            else if (PyObject_SetAttr(fut, st->str_log_destroy_pending,
                                      Py_False) < 0) {
                Py_DECREF(fut);
                goto done;
            }
        }
        nfuts++;
        int rc = by_identity ? 0 : PyDict_SetItem(arg_to_fut, arg, fut);
#if PY_VERSION_HEX >= 0x030C0000
        int is_done = rc < 0 ? -1 : child_done(st, fut);
#else
        int is_done = rc < 0 ? -1 : 0;
#endif
        if (is_done > 0) {
            if (done_futs == NULL && (done_futs = PyList_New(0)) == NULL) {
                rc = -1;
            }
            else {
                rc = PyList_Append(done_futs, fut);
            }
        }
        else if (is_done == 0) {
            if (cur_task != NULL) {
                rc = awaited_by(st, fut, cur_task, 1);
            }
            if (rc == 0 && cx_future_check_exact(st, fut)) {
                /* add_done_callback() copies the current context for
                 * each child; one copy serves them all here (the
                 * callback is ours and sets no context variable). */
                if (ctx == NULL) {
                    ctx = PyContext_CopyCurrent();
                }
                rc = ctx == NULL ? -1 : cx_future_add_done_callback(
                    (FutureObject *)fut, (PyObject *)cb, ctx);
            }
            else if (rc == 0) {
                PyObject *a[2] = {fut, (PyObject *)cb};
                PyObject *r = PyObject_VectorcallMethod(
                    st->str_add_done_callback, a,
                    2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
                rc = r == NULL ? -1 : 0;
                Py_XDECREF(r);
            }
        }
        else {
            rc = -1;
        }
        if (rc == 0) {
            rc = PyList_Append(children, fut);
        }
        Py_DECREF(fut);
        if (rc < 0) {
            goto done;
        }
    }

    if (st->gather_core_outer != NULL
        && cx_loop_check(st, loop)) {
        outer = gather_new_core_outer(st, children, loop);
    }
    else {
        PyObject *cls = PyObject_CallOneArg(st->gather_outer_class, loop);
        if (cls == NULL) {
            goto done;
        }
        PyObject *a[3] = {NULL, children, loop};
        outer = PyObject_Vectorcall(cls, a + 1,
                                    1 | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                    st->gather_loop_kwnames);
        Py_DECREF(cls);
    }
    if (outer == NULL) {
        goto done;
    }
    cb->gc_outer = Py_NewRef(outer);
    cb->gc_nfuts = nfuts;
    /* The children done already (eager tasks, done futures): their
     * callbacks run now, so when all were, outer is done on return. */
    for (Py_ssize_t i = 0; done_futs && i < PyList_GET_SIZE(done_futs); i++) {
        PyObject *fut = Py_NewRef(PyList_GET_ITEM(done_futs, i));
        int rc = gather_child_done(cb, fut);
        Py_DECREF(fut);
        if (rc < 0) {
            Py_CLEAR(outer);
            break;
        }
    }
done:
    Py_XDECREF(cb);
    Py_XDECREF(ctx);
    Py_XDECREF(done_futs);
    Py_XDECREF(arg_to_fut);
    PyMem_Free(seen.slots);
    Py_XDECREF(children);
    Py_XDECREF(cur_task);
    Py_XDECREF(loop);
    Py_XDECREF(running);
    return outer;
}

/* _gather_setup(ensure_future, get_loop, gathering_future_class,
 * current_task, core_gathering_future): the Python pieces gather() calls
 * (see state.h). */
static PyObject *
gather_setup_impl(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    cx_state *st = PyModule_GetState(module);
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "_gather_setup() takes 5 arguments");
        return NULL;
    }
    Py_XSETREF(st->gather_ensure_future, Py_NewRef(args[0]));
    Py_XSETREF(st->gather_get_loop, Py_NewRef(args[1]));
    Py_XSETREF(st->gather_outer_class, Py_NewRef(args[2]));
    Py_XSETREF(st->gather_current_task, Py_NewRef(args[3]));
    if (args[4] != Py_None && !(PyType_Check(args[4])
                                && PyType_IsSubtype((PyTypeObject *)args[4],
                                                    st->FutureType))) {
        PyErr_SetString(PyExc_TypeError,
                        "core_gathering_future must be a casyncio Future "
                        "subclass or None");
        return NULL;
    }
    Py_XSETREF(st->gather_core_outer,
               args[4] == Py_None ? NULL : Py_NewRef(args[4]));
    Py_RETURN_NONE;
}

static PyMethodDef gather_module_functions[] = {
    {"_gather", (PyCFunction)(void (*)(void))gather_impl, METH_FASTCALL,
     "_gather(coros_or_futures, return_exceptions, fallback)\n--\n\n"
     "gather()'s work once it has arguments (python/casyncio/_tasks.py)."},
    {"_gather_setup", (PyCFunction)(void (*)(void))gather_setup_impl,
     METH_FASTCALL,
     "_gather_setup(ensure_future, get_loop, gathering_future_class, "
     "current_task, core_gathering_future)\n--\n\n"
     "Give _gather() the asyncio functions it calls."},
    {NULL, NULL},
};

static PyMemberDef GatherCallback_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET,
     offsetof(GatherCallbackObject, gc_vectorcall), READONLY, NULL},
    {"_nfinished", T_PYSSIZET, offsetof(GatherCallbackObject, gc_nfinished),
     READONLY, NULL},
    {NULL},
};

static PyType_Slot GatherCallback_slots[] = {
    {Py_tp_dealloc, GatherCallback_dealloc},
    {Py_tp_traverse, GatherCallback_traverse},
    {Py_tp_clear, GatherCallback_clear},
    {Py_tp_repr, GatherCallback_repr},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_members, GatherCallback_members},
    {Py_tp_doc, "gather()'s done callback for its children (made by "
                "_gather())."},
    {0, NULL},
};

static PyType_Spec GatherCallback_spec = {
    .name = "casyncio._core._GatherCallback",
    .basicsize = sizeof(GatherCallbackObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC
             | Py_TPFLAGS_HAVE_VECTORCALL,
    .slots = GatherCallback_slots,
};

int
cx_gather_setup(PyObject *module)
{
    cx_state *st = PyModule_GetState(module);
    PyObject *tp = PyType_FromModuleAndSpec(module, &GatherCallback_spec,
                                            NULL);
    if (tp == NULL) {
        return -1;
    }
    st->GatherCallbackType = (PyTypeObject *)tp;
    st->gather_loop_kwnames = Py_BuildValue("(s)", "loop");
    if (st->gather_loop_kwnames == NULL) {
        return -1;
    }
    if (PyModule_AddFunctions(module, gather_module_functions) < 0) {
        return -1;
    }
    return PyModule_AddType(module, (PyTypeObject *)tp);
}
