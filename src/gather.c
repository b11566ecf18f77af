/* _GatherCallback: asyncio gather()'s _done_callback closure in C (3.11's;
 * from 3.14 with the call-graph bookkeeping of that version: cur_task).
 *
 * gather() (python/casyncio/_tasks.py) makes one, adds it to every child,
 * then hands it the outer future and the number of distinct children with
 * _set_outer().  Each call is one child finishing; the logic, including
 * its quirks, is tasks.py's _done_callback line for line.  Children that
 * are exactly our Future or Task are read directly; any other future goes
 * through its methods. */
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

static int
child_cancelled(cx_state *st, PyObject *fut)
{
    if (cx_future_check_exact(st, fut)) {
        return ((FutureObject *)fut)->fut_state == CX_FUT_CANCELLED;
    }
    PyObject *r = PyObject_CallMethod(fut, "cancelled", NULL);
    if (r == NULL) {
        return -1;
    }
    int b = PyObject_IsTrue(r);
    Py_DECREF(r);
    return b;
}

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
    PyObject *r = PyObject_CallMethod(outer, "done", NULL);
    if (r == NULL) {
        return -1;
    }
    int b = PyObject_IsTrue(r);
    Py_DECREF(r);
    return b;
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

/* futures.future_discard_from_awaited_by(fut, waiter).  0 or -1. */
static int
discard_awaited_by(cx_state *st, PyObject *fut, PyObject *waiter)
{
#if PY_VERSION_HEX >= 0x030E0000
    if (PyObject_TypeCheck(fut, st->FutureType)) {
        return cx_future_awaited_by_discard((FutureObject *)fut, waiter);
    }
    PyObject *r = PyObject_CallFunctionObjArgs(
        st->asyncio_fut_discard_awaited_by, fut, waiter, NULL);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
#else
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
        rc = discard_awaited_by(self->gc_st, child, waiter);
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
    PyObject *req = PyObject_GetAttrString(outer, "_cancel_requested");
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
        int r = discard_awaited_by(st, fut, waiter);
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
GatherCallback_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"children", "return_exceptions", "cur_task",
                             NULL};
    PyObject *children, *cur_task = Py_None;
    int return_exceptions = 0;
    cx_state *st = cx_state_from_type(tp);
    if (st == NULL || !PyArg_ParseTupleAndKeywords(
            args, kwds, "O!p|O:_GatherCallback", kwlist, &PyList_Type,
            &children, &return_exceptions, &cur_task)) {
        return NULL;
    }
    GatherCallbackObject *self = (GatherCallbackObject *)tp->tp_alloc(tp, 0);
    if (self == NULL) {
        return NULL;
    }
    self->gc_st = st;
    self->gc_children = Py_NewRef(children);
    self->gc_return_exceptions = return_exceptions;
    self->gc_cur_task = cur_task == Py_None ? NULL : Py_NewRef(cur_task);
    self->gc_vectorcall = GatherCallback_vectorcall;
    return (PyObject *)self;
}

static PyObject *
GatherCallback_set_outer(GatherCallbackObject *self, PyObject *args)
{
    PyObject *outer;
    Py_ssize_t nfuts;
    if (!PyArg_ParseTuple(args, "On:_set_outer", &outer, &nfuts)) {
        return NULL;
    }
    Py_XSETREF(self->gc_outer, Py_NewRef(outer));
    self->gc_nfuts = nfuts;
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

static PyMethodDef GatherCallback_methods[] = {
    {"_set_outer", (PyCFunction)GatherCallback_set_outer, METH_VARARGS,
     CX_DOC_SIG("_set_outer($self, outer, nfuts, /)", "")},
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
    {Py_tp_new, GatherCallback_new},
    {Py_tp_dealloc, GatherCallback_dealloc},
    {Py_tp_traverse, GatherCallback_traverse},
    {Py_tp_clear, GatherCallback_clear},
    {Py_tp_repr, GatherCallback_repr},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_methods, GatherCallback_methods},
    {Py_tp_members, GatherCallback_members},
    {Py_tp_doc, CX_DOC_SIG("_GatherCallback(children, return_exceptions, "
                           "cur_task=None)",
                           "gather()'s done callback for its children.")},
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
    PyObject *tp = PyType_FromModuleAndSpec(module, &GatherCallback_spec,
                                            NULL);
    if (tp == NULL) {
        return -1;
    }
    int rc = PyModule_AddType(module, (PyTypeObject *)tp);
    Py_DECREF(tp);
    return rc;
}
