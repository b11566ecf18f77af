/* _TaskRef: the task registry's stand-in for a weakref (see taskref.h). */
#include "internal.h"
#include "taskref.h"

typedef struct {
    PyObject_HEAD
    PyObject *tr_task;          /* borrowed; NULL once the task is gone */
    Py_hash_t tr_hash;          /* the task's hash, as a weakref keeps it */
} TaskRefObject;

PyObject *
cx_taskref_new(cx_state *st, PyObject *task)
{
    Py_hash_t hash = PyObject_Hash(task);
    if (hash == -1) {
        return NULL;
    }
    TaskRefObject *ref = PyObject_New(TaskRefObject, st->TaskRefType);
    if (ref == NULL) {
        return NULL;
    }
    ref->tr_task = task;
    ref->tr_hash = hash;
    return (PyObject *)ref;
}

void
cx_taskref_forget(PyObject *ref)
{
    ((TaskRefObject *)ref)->tr_task = NULL;
}

static PyObject *
TaskRef_call(TaskRefObject *self, PyObject *args, PyObject *kwds)
{
    if (PyTuple_GET_SIZE(args) || (kwds && PyDict_GET_SIZE(kwds))) {
        PyErr_SetString(PyExc_TypeError, "_TaskRef() takes no arguments");
        return NULL;
    }
    return Py_NewRef(self->tr_task ? self->tr_task : Py_None);
}

static Py_hash_t
TaskRef_hash(TaskRefObject *self)
{
    return self->tr_hash;
}

/* The object other refers to: new reference (None when dead), or NULL
 * with no error set when other is no kind of reference. */
static PyObject *
referent(PyObject *other, PyTypeObject *ref_type)
{
    if (Py_IS_TYPE(other, ref_type)) {
        PyObject *t = ((TaskRefObject *)other)->tr_task;
        return Py_NewRef(t ? t : Py_None);
    }
    if (PyWeakref_CheckRef(other)) {
        PyObject *obj;
        if (cx_weakref_get(other, &obj) < 0) {
            return NULL;
        }
        return obj ? obj : Py_NewRef(Py_None);
    }
    return NULL;
}

/* As weakref.ref's ==: the referents when both are alive, else identity. */
static PyObject *
TaskRef_richcompare(TaskRefObject *self, PyObject *other, int op)
{
    if (op != Py_EQ && op != Py_NE) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    PyObject *theirs = referent(other, Py_TYPE(self));
    if (theirs == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        Py_RETURN_NOTIMPLEMENTED;
    }
    int eq;
    if (self->tr_task == NULL || theirs == Py_None) {
        eq = (PyObject *)self == other;
    }
    else {
        eq = self->tr_task == theirs;   /* tasks compare by identity */
    }
    Py_DECREF(theirs);
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static PyObject *
TaskRef_repr(TaskRefObject *self)
{
    if (self->tr_task == NULL) {
        return PyUnicode_FromFormat("<casyncio task ref at %p; dead>", self);
    }
    return PyUnicode_FromFormat("<casyncio task ref at %p; to '%s' at %p>",
                                self, Py_TYPE(self->tr_task)->tp_name,
                                self->tr_task);
}

static void
TaskRef_dealloc(TaskRefObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_Free(self);
    Py_DECREF(tp);
}

static PyType_Slot TaskRef_slots[] = {
    {Py_tp_dealloc, TaskRef_dealloc},
    {Py_tp_call, TaskRef_call},
    {Py_tp_hash, TaskRef_hash},
    {Py_tp_richcompare, TaskRef_richcompare},
    {Py_tp_repr, TaskRef_repr},
    {Py_tp_doc, "A casyncio task as asyncio's task registry holds it (a "
                "weakref stand-in)."},
    {0, NULL},
};

static PyType_Spec TaskRef_spec = {
    .name = "casyncio._core._TaskRef",
    .basicsize = sizeof(TaskRefObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = TaskRef_slots,
};

int
cx_taskref_setup(PyObject *module)
{
    cx_state *st = PyModule_GetState(module);
    st->TaskRefType = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &TaskRef_spec, NULL);
    return st->TaskRefType == NULL ? -1 : 0;
}
