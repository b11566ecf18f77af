/* _AsyncGenSet: a loop's live asynchronous generators (see agenset.h). */
#include "internal.h"
#include "agenset.h"

typedef struct {
    PyObject_HEAD
    PyObject *as_refs;          /* set of weakrefs to the generators */
    PyObject *as_remove;        /* bound self._remove: the refs' callback */
    PyObject *as_loop;          /* weakref to the loop (no cycle): the
                                   ResourceWarning's source */
    int as_shutdown_called;     /* loop.shutdown_asyncgens() was called */
} AsyncGenSetObject;

static PyObject *
AsyncGenSet_add(AsyncGenSetObject *self, PyObject *agen)
{
    PyObject *ref = PyWeakref_NewRef(agen, self->as_remove);
    if (ref == NULL) {
        return NULL;
    }
    int rc = PySet_Add(self->as_refs, ref);
    Py_DECREF(ref);
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* The first-iteration hook: asyncio's _asyncgen_firstiter_hook. */
static PyObject *
AsyncGenSet_firstiter(AsyncGenSetObject *self, PyObject *agen)
{
    if (self->as_shutdown_called) {
        PyObject *loop;
        if (cx_weakref_get(self->as_loop, &loop) < 0) {
            return NULL;
        }
        int rc = PyErr_ResourceWarning(loop, 1,
                                       "asynchronous generator %R was "
                                       "scheduled after "
                                       "loop.shutdown_asyncgens() call",
                                       agen);
        Py_XDECREF(loop);
        if (rc < 0) {
            return NULL;
        }
    }
    return AsyncGenSet_add(self, agen);
}

static PyObject *
AsyncGenSet_discard(AsyncGenSetObject *self, PyObject *agen)
{
    PyObject *probe = PyWeakref_NewRef(agen, NULL);
    if (probe == NULL) {
        return NULL;
    }
    int rc = PySet_Discard(self->as_refs, probe);
    Py_DECREF(probe);
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* The weakrefs' callback: a generator is gone. */
static PyObject *
AsyncGenSet__remove(AsyncGenSetObject *self, PyObject *ref)
{
    if (PySet_Discard(self->as_refs, ref) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
AsyncGenSet_clear(AsyncGenSetObject *self, PyObject *Py_UNUSED(ignored))
{
    if (PySet_Clear(self->as_refs) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* The live generators, as a list (new reference) or NULL. */
static PyObject *
agenset_snapshot(AsyncGenSetObject *self)
{
    PyObject *list = PyList_New(0);
    PyObject *it = list ? PyObject_GetIter(self->as_refs) : NULL;
    if (it == NULL) {
        Py_XDECREF(list);
        return NULL;
    }
    PyObject *ref;
    while ((ref = PyIter_Next(it)) != NULL) {
        PyObject *agen;
        int rc = cx_weakref_get(ref, &agen);
        Py_DECREF(ref);
        if (rc > 0) {
            rc = PyList_Append(list, agen);
            Py_DECREF(agen);
        }
        if (rc < 0) {
            break;
        }
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) {
        Py_DECREF(list);
        return NULL;
    }
    return list;
}

static PyObject *
AsyncGenSet_iter(AsyncGenSetObject *self)
{
    PyObject *list = agenset_snapshot(self);
    if (list == NULL) {
        return NULL;
    }
    PyObject *it = PyObject_GetIter(list);
    Py_DECREF(list);
    return it;
}

static Py_ssize_t
AsyncGenSet_len(AsyncGenSetObject *self)
{
    /* A WeakSet's len() counts what is queued for removal out; here a
     * dead generator's ref leaves the set in its callback. */
    return PySet_GET_SIZE(self->as_refs);
}

static int
AsyncGenSet_contains(AsyncGenSetObject *self, PyObject *agen)
{
    PyObject *probe = PyWeakref_NewRef(agen, NULL);
    if (probe == NULL) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();      /* not weakly referenceable: not in it */
            return 0;
        }
        return -1;
    }
    int rc = PySet_Contains(self->as_refs, probe);
    Py_DECREF(probe);
    return rc;
}

static PyObject *
AsyncGenSet_repr(AsyncGenSetObject *self)
{
    PyObject *list = agenset_snapshot(self);
    if (list == NULL) {
        return NULL;
    }
    PyObject *r = PyUnicode_FromFormat("<_AsyncGenSet %R>", list);
    Py_DECREF(list);
    return r;
}

static PyObject *
AsyncGenSet_tp_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *loop;
    if (kwds != NULL && PyDict_GET_SIZE(kwds)) {
        PyErr_SetString(PyExc_TypeError,
                        "_AsyncGenSet() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_UnpackTuple(args, "_AsyncGenSet", 1, 1, &loop)) {
        return NULL;
    }
    AsyncGenSetObject *self = (AsyncGenSetObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    /* each only if the one before worked: none may run with an error set */
    if ((self->as_loop = PyWeakref_NewRef(loop, NULL)) == NULL
        || (self->as_refs = PySet_New(NULL)) == NULL
        || (self->as_remove = PyObject_GetAttrString((PyObject *)self,
                                                     "_remove")) == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int
AsyncGenSet_traverse(AsyncGenSetObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->as_refs);
    Py_VISIT(self->as_remove);
    Py_VISIT(self->as_loop);
    return 0;
}

static int
AsyncGenSet_clear_slots(AsyncGenSetObject *self)
{
    Py_CLEAR(self->as_refs);
    Py_CLEAR(self->as_remove);
    Py_CLEAR(self->as_loop);
    return 0;
}

static void
AsyncGenSet_dealloc(AsyncGenSetObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    AsyncGenSet_clear_slots(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *
AsyncGenSet_get_shutdown_called(AsyncGenSetObject *self, void *c)
{
    return PyBool_FromLong(self->as_shutdown_called);
}

static int
AsyncGenSet_set_shutdown_called(AsyncGenSetObject *self, PyObject *v,
                                void *c)
{
    int b = v == NULL ? 0 : PyObject_IsTrue(v);
    if (b < 0) {
        return -1;
    }
    self->as_shutdown_called = b;
    return 0;
}

static PyMethodDef AsyncGenSet_methods[] = {
    {"firstiter", (PyCFunction)AsyncGenSet_firstiter, METH_O,
     CX_DOC_SIG("firstiter($self, agen, /)",
                "The first-iteration hook: warn after shutdown_asyncgens(), "
                "then add agen.")},
    {"add", (PyCFunction)AsyncGenSet_add, METH_O,
     CX_DOC_SIG("add($self, agen, /)", "Add agen (held weakly).")},
    {"discard", (PyCFunction)AsyncGenSet_discard, METH_O,
     CX_DOC_SIG("discard($self, agen, /)", "Remove agen if present.")},
    {"clear", (PyCFunction)AsyncGenSet_clear, METH_NOARGS,
     CX_DOC_SIG("clear($self, /)", "Remove every generator.")},
    {"_remove", (PyCFunction)AsyncGenSet__remove, METH_O,
     CX_DOC_SIG("_remove($self, ref, /)", "The weakrefs' callback.")},
    {NULL, NULL},
};

static PyGetSetDef AsyncGenSet_getset[] = {
    {"shutdown_called", (getter)AsyncGenSet_get_shutdown_called,
     (setter)AsyncGenSet_set_shutdown_called, NULL, NULL},
    {NULL},
};

static PyType_Slot AsyncGenSet_slots[] = {
    {Py_tp_new, AsyncGenSet_tp_new},
    {Py_tp_dealloc, AsyncGenSet_dealloc},
    {Py_tp_traverse, AsyncGenSet_traverse},
    {Py_tp_clear, AsyncGenSet_clear_slots},
    {Py_tp_iter, AsyncGenSet_iter},
    {Py_tp_repr, AsyncGenSet_repr},
    {Py_sq_length, AsyncGenSet_len},
    {Py_sq_contains, AsyncGenSet_contains},
    {Py_tp_methods, AsyncGenSet_methods},
    {Py_tp_getset, AsyncGenSet_getset},
    {Py_tp_doc, CX_DOC_SIG("_AsyncGenSet(loop, /)",
                           "A loop's live asynchronous generators.")},
    {0, NULL},
};

static PyType_Spec AsyncGenSet_spec = {
    .name = "casyncio._core._AsyncGenSet",
    .basicsize = sizeof(AsyncGenSetObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC
             | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = AsyncGenSet_slots,
};

int
cx_agenset_setup(PyObject *module)
{
    PyObject *tp = PyType_FromModuleAndSpec(module, &AsyncGenSet_spec, NULL);
    if (tp == NULL) {
        return -1;
    }
    int rc = PyModule_AddType(module, (PyTypeObject *)tp);
    Py_DECREF(tp);
    return rc;
}
