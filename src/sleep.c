/* _sleep0: the awaitable behind casyncio's asyncio.sleep(0) (see sleep.h).
 *
 * `await _sleep0` asks the singleton for an iterator (am_await): a small
 * object with one flag, kept in a free list of the module state.  Its
 * first __next__ returns None (the coroutine chain suspends with a bare
 * yield, as at tasks.__sleep0's `yield`); the second raises StopIteration
 * with no value (NULL and no error), so the await evaluates to None.  It
 * has no send/throw/close: a value sent in is taken as None by send() (
 * asyncio's task never sends one), an exception thrown in is raised at the
 * await in the caller's frame (where stock raises it one frame deeper, at
 * __sleep0's yield), close() has nothing to close. */
#include "internal.h"
#include "sleep.h"

typedef struct {
    PyObject_HEAD
    int s0_yielded;
    cx_state *s0_st;
} Sleep0IterObject;

#define SLEEP0_POOL_MAX \
    ((int)(sizeof(((cx_state *)0)->sleep0_pool) / sizeof(PyObject *)))

static PyObject *
Sleep0Iter_next(Sleep0IterObject *self)
{
    if (self->s0_yielded) {
        return NULL;
    }
    self->s0_yielded = 1;
    Py_RETURN_NONE;
}

static PyObject *
Sleep0Iter_send(Sleep0IterObject *self, PyObject *Py_UNUSED(value))
{
    PyObject *r = Sleep0Iter_next(self);
    if (r == NULL && !PyErr_Occurred()) {
        PyErr_SetNone(PyExc_StopIteration);
    }
    return r;
}

static void
Sleep0Iter_dealloc(Sleep0IterObject *self)
{
    cx_state *st = self->s0_st;
    if (st->sleep0_pool_len < SLEEP0_POOL_MAX
        && Py_IS_TYPE(self, st->Sleep0IterType)) {
        /* Kept with its reference to the type, for the next await. */
        st->sleep0_pool[st->sleep0_pool_len++] = (PyObject *)self;
        return;
    }
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_Free(self);
    Py_DECREF(tp);
}

static PyMethodDef Sleep0Iter_methods[] = {
    {"send", (PyCFunction)Sleep0Iter_send, METH_O, NULL},
    {NULL, NULL},
};

static PyType_Slot Sleep0Iter_slots[] = {
    {Py_tp_dealloc, Sleep0Iter_dealloc},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, Sleep0Iter_next},
    {Py_tp_methods, Sleep0Iter_methods},
    {Py_tp_doc, "One await of casyncio's sleep(0): yields None once."},
    {0, NULL},
};

static PyType_Spec Sleep0Iter_spec = {
    .name = "casyncio._core._Sleep0Iter",
    .basicsize = sizeof(Sleep0IterObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = Sleep0Iter_slots,
};

typedef struct {
    PyObject_HEAD
    cx_state *s0_st;
} Sleep0Object;

static PyObject *
Sleep0_await(Sleep0Object *self)
{
    cx_state *st = self->s0_st;
    Sleep0IterObject *it;
    if (st->sleep0_pool_len > 0) {
        it = (Sleep0IterObject *)st->sleep0_pool[--st->sleep0_pool_len];
        cx_pooled_revive((PyObject *)it);
    }
    else {
        it = PyObject_New(Sleep0IterObject, st->Sleep0IterType);
        if (it == NULL) {
            return NULL;
        }
        it->s0_st = st;
    }
    it->s0_yielded = 0;
    return (PyObject *)it;
}

static void
Sleep0_dealloc(Sleep0Object *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_Free(self);
    Py_DECREF(tp);
}

static PyObject *
Sleep0_repr(PyObject *Py_UNUSED(self))
{
    return PyUnicode_FromString("<casyncio sleep(0) awaitable>");
}

static PyType_Slot Sleep0_slots[] = {
    {Py_tp_dealloc, Sleep0_dealloc},
    {Py_am_await, Sleep0_await},
    {Py_tp_repr, Sleep0_repr},
    {Py_tp_doc, "await it: give up the loop for one iteration, as "
                "asyncio.sleep(0) does."},
    {0, NULL},
};

static PyType_Spec Sleep0_spec = {
    .name = "casyncio._core._Sleep0",
    .basicsize = sizeof(Sleep0Object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = Sleep0_slots,
};

/* Empties the free list (module clear/free). */
void
cx_sleep_clear(cx_state *st)
{
    while (st->sleep0_pool_len > 0) {
        PyObject *it = st->sleep0_pool[--st->sleep0_pool_len];
        PyTypeObject *tp = Py_TYPE(it);
        PyObject_Free(it);
        Py_DECREF(tp);
    }
}

int
cx_sleep_setup(PyObject *module)
{
    cx_state *st = PyModule_GetState(module);
    st->sleep0_pool_len = 0;
    st->Sleep0IterType = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &Sleep0Iter_spec, NULL);
    if (st->Sleep0IterType == NULL) {
        return -1;
    }
    PyTypeObject *tp = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &Sleep0_spec, NULL);
    if (tp == NULL) {
        return -1;
    }
    Sleep0Object *s = PyObject_New(Sleep0Object, tp);
    Py_DECREF(tp);
    if (s == NULL) {
        return -1;
    }
    s->s0_st = st;
    int r = PyModule_AddObjectRef(module, "_sleep0", (PyObject *)s);
    Py_DECREF(s);
    return r;
}
