/* Cross-file declarations, grouped by area; each area has its own header. */
#ifndef CX_INTERNAL_H
#define CX_INTERNAL_H

#define PY_SSIZE_T_CLEAN
#include "Python.h"

#include "state.h"
#include "queue.h"
#include "copy.h"
#include "heap.h"
#include "poller.h"
#include "wakeup.h"
#include "signal.h"
#include "handle.h"
#include "loop.h"
#include "future.h"
#include "task.h"
#include "taskref.h"
#include "sleep.h"
#include "method.h"
#include "agenset.h"
#include "gather.h"
#include "sock.h"
#include "transport.h"
#include "stream.h"
#include "dgram.h"
#include "pipe.h"
#include "tls.h"
#include "uring.h"
#include "readerproto.h"
#include "stdtask.h"
#include "args.h"
#include "docs.h"

/* PyLong_AsInt is public from 3.13; before, the same function was private. */
#if PY_VERSION_HEX < 0x030D0000
#define PyLong_AsInt _PyLong_AsInt
#endif

/* A dead object kept in one of our pools, made alive again with one
 * reference.  A debug build of CPython (Py_REF_DEBUG) also counts it in
 * sys.gettotalrefcount() as it does a new object (Py_SET_REFCNT alone
 * would not, and each reuse would then read as -1 there, hiding leaks). */
static inline void
cx_pooled_revive(PyObject *op)
{
#ifdef Py_REF_DEBUG
    Py_SET_REFCNT(op, 0);
    Py_INCREF(op);
#else
    Py_SET_REFCNT(op, 1);
#endif
}

/* A type's name without its module, as type.__name__ of a static type
 * (what CPython's private _PyType_Name does). */
static inline const char *
cx_type_short_name(PyTypeObject *tp)
{
    const char *dot = strrchr(tp->tp_name, '.');
    return dot != NULL ? dot + 1 : tp->tp_name;
}

/* The current exception as one object (3.12's PyErr_GetRaisedException),
 * and back.  cx_err_fetch returns a new reference or NULL; cx_err_restore
 * steals it (NULL: nothing). */
static inline PyObject *
cx_err_fetch(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    if (t == NULL) {
        return NULL;
    }
    PyErr_NormalizeException(&t, &v, &tb);
    if (tb != NULL) {
        PyException_SetTraceback(v, tb);
    }
    Py_XDECREF(t);
    Py_XDECREF(tb);
    return v;
#endif
}

static inline void
cx_err_restore(PyObject *exc)
{
#if PY_VERSION_HEX >= 0x030C0000
    /* PyErr_SetRaisedException(NULL) would clear the current exception */
    if (exc != NULL) {
        PyErr_SetRaisedException(exc);
    }
#else
    if (exc == NULL) {
        return;
    }
    PyErr_Restore(Py_NewRef(Py_TYPE(exc)), exc, PyException_GetTraceback(exc));
#endif
}

/* The object weakref ref refers to: 1 and *obj (a new reference), 0 and
 * *obj = NULL when it is dead, -1 on error (PyWeakref_GetRef of 3.13). */
static inline int
cx_weakref_get(PyObject *ref, PyObject **obj)
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyWeakref_GetRef(ref, obj);
#else
    PyObject *o = PyWeakref_GetObject(ref);
    *obj = o == NULL || o == Py_None ? NULL : Py_NewRef(o);
    return o == NULL ? -1 : *obj != NULL;
#endif
}

/* What attribute lookup on an instance of tp finds on its class: the first
 * entry for name along tp's MRO, borrowed, or NULL (never an error), as
 * CPython's private _PyType_Lookup but through public API only (a static
 * type's tp_dict is NULL from 3.12 on: PyType_GetDict is the way in).  For
 * cold paths: it has no method cache. */
static inline PyObject *
cx_type_lookup(PyTypeObject *tp, PyObject *name)
{
    PyObject *mro = tp->tp_mro;
    if (mro == NULL || !PyTuple_Check(mro)) {
        return NULL;
    }
    PyObject *exc = cx_err_fetch();
    PyObject *found = NULL;
    for (Py_ssize_t i = 0; found == NULL && i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *base = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
#if PY_VERSION_HEX >= 0x030C0000
        PyObject *dict = PyType_GetDict(base);
#else
        PyObject *dict = Py_XNewRef(base->tp_dict);
#endif
        if (dict != NULL) {
            /* borrowed: the class's dict keeps it */
            found = PyDict_GetItemWithError(dict, name);
            Py_DECREF(dict);
        }
        PyErr_Clear();
    }
    cx_err_restore(exc);
    return found;
}

/* A tuple of n borrowed items.  New reference. */
static inline PyObject *
cx_tuple_from_array(PyObject *const *items, Py_ssize_t n)
{
    PyObject *t = PyTuple_New(n);
    if (t == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyTuple_SET_ITEM(t, i, Py_NewRef(items[i]));
    }
    return t;
}

/* Is the current exception one that leaves the loop (SystemExit or
 * KeyboardInterrupt) rather than being reported, as asyncio's
 * `except (SystemExit, KeyboardInterrupt): raise`? */
static inline int
cx_is_exit_exception(void)
{
    return PyErr_ExceptionMatches(PyExc_SystemExit)
        || PyErr_ExceptionMatches(PyExc_KeyboardInterrupt);
}

/* The truth of a value assigned to a bool attribute: 0 or 1, or -1 with
 * an exception (also for `del obj.attr`, which such attributes refuse). */
static inline int
cx_attr_bool(PyObject *val)
{
    if (val == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete attribute");
        return -1;
    }
    return PyObject_IsTrue(val);
}

/* Debug builds (CASYNCIO_DEBUG=1) count live objects; the tests read the
 * counters through _core._debug_counters() and assert they come back to
 * where they were (tests/test_debug_build.py). */
#ifdef CX_DEBUG
extern Py_ssize_t cx_debug_live_handles;
#define CX_DEBUG_INC(c) ((c)++)
#define CX_DEBUG_DEC(c) ((c)--)
#else
#define CX_DEBUG_INC(c) ((void)0)
#define CX_DEBUG_DEC(c) ((void)0)
#endif

#endif /* CX_INTERNAL_H */
