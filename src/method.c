/* _PyMethod: a C method that binds as a Python method (see method.h). */
#include "internal.h"
#include "method.h"
#include "structmember.h"

typedef struct {
    PyObject_HEAD
    PyObject *pm_descr;         /* the wrapped method descriptor */
    vectorcallfunc pm_call;     /* its vectorcall */
    vectorcallfunc pm_vectorcall;
    /* The type of the last self the descriptor accepted, known by address
     * and version tag (borrowed: a type freed or changed since gets a new
     * tag, so the pair never matches another type).  A call with a self
     * of that type goes straight to the C function, skipping the
     * descriptor's isinstance check (an MRO walk for a subclass such as
     * casyncio.Loop or a TimerHandle running a Handle method). */
    PyTypeObject *pm_seen_type;
    unsigned int pm_seen_tag;
} PyMethodObject_;

#define PM(o) ((PyMethodObject_ *)(o))

PyObject *
cx_method_unwrap(cx_state *st, PyObject *attr)
{
    if (attr != NULL && Py_IS_TYPE(attr, st->PyMethodType)) {
        return PM(attr)->pm_descr;
    }
    return attr;
}

int
cx_method_inherited(cx_state *st, PyTypeObject *tp, PyObject *name,
                    PyObject *original)
{
    return cx_method_unwrap(st, cx_type_lookup(tp, name)) == original;
}

int
cx_method_is(cx_state *st, PyObject *bound, PyObject *self, PyCFunction fn)
{
    if (PyCFunction_Check(bound)) {
        return PyCFunction_GET_SELF(bound) == self
               && PyCFunction_GET_FUNCTION(bound) == fn;
    }
    if (!PyMethod_Check(bound) || PyMethod_GET_SELF(bound) != self) {
        return 0;
    }
    PyObject *f = PyMethod_GET_FUNCTION(bound);
    if (!Py_IS_TYPE(f, st->PyMethodType)) {
        return 0;
    }
    return ((PyMethodDescrObject *)PM(f)->pm_descr)->d_method->ml_meth == fn;
}

/* The wrapped method called for self args[0], of the type seen before:
 * its C function directly for the common calling conventions, else
 * through the descriptor.  No recursion check here (the descriptor makes
 * one): these methods reach Python code only through calls that make
 * their own. */
static inline PyObject *
pymethod_call_seen(PyMethodObject_ *pm, PyObject *const *args,
                   Py_ssize_t nargs, PyObject *kwnames)
{
    PyMethodDef *ml = ((PyMethodDescrObject *)pm->pm_descr)->d_method;
    int kw = kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0;
    switch (ml->ml_flags) {
    case METH_FASTCALL | METH_KEYWORDS:
        return ((_PyCFunctionFastWithKeywords)(void (*)(void))ml->ml_meth)(
            args[0], args + 1, nargs - 1, kwnames);
    case METH_NOARGS:
        if (kw || nargs != 1) {
            break;
        }
        return ml->ml_meth(args[0], NULL);
    default:
        break;
    }
    return pm->pm_call(pm->pm_descr, args, nargs, kwnames);
}

static PyObject *
pymethod_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf,
                    PyObject *kwnames)
{
    PyMethodObject_ *pm = PM(self);
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs > 0) {
        PyTypeObject *tp = Py_TYPE(args[0]);
        if (tp == pm->pm_seen_type && tp->tp_version_tag == pm->pm_seen_tag) {
            return pymethod_call_seen(pm, args, nargs, kwnames);
        }
        PyTypeObject *owner = ((PyMethodDescrObject *)pm->pm_descr)
                                  ->d_common.d_type;
        /* 0: no valid tag (never assigned, or the type changed) */
        if (tp->tp_version_tag != 0 && PyType_IsSubtype(tp, owner)) {
            pm->pm_seen_type = tp;
            pm->pm_seen_tag = tp->tp_version_tag;
        }
    }
    return pm->pm_call(pm->pm_descr, args, nargsf, kwnames);
}

static PyObject *
pymethod_tp_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *descr;
    if (kwds != NULL && PyDict_GET_SIZE(kwds)) {
        PyErr_SetString(PyExc_TypeError,
                        "_PyMethod() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_UnpackTuple(args, "_PyMethod", 1, 1, &descr)) {
        return NULL;
    }
    vectorcallfunc call = NULL;
    if (Py_IS_TYPE(descr, &PyMethodDescr_Type)) {
        call = PyVectorcall_Function(descr);
    }
    if (call == NULL) {
        PyErr_Format(PyExc_TypeError,
                     "_PyMethod() argument must be a method descriptor "
                     "with vectorcall, not %.200s", Py_TYPE(descr)->tp_name);
        return NULL;
    }
    PyObject *self = type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    PM(self)->pm_descr = Py_NewRef(descr);
    PM(self)->pm_call = call;
    PM(self)->pm_vectorcall = pymethod_vectorcall;
    return self;
}

/* Read through an instance: types.MethodType(self, obj); through the
 * class: self, as a function gives itself. */
static PyObject *
pymethod_descr_get(PyObject *self, PyObject *obj, PyObject *type)
{
    if (obj == NULL || obj == Py_None) {
        return Py_NewRef(self);
    }
    return PyMethod_New(self, obj);
}

/* __doc__ and every attribute this type lacks (__name__, __qualname__,
 * __text_signature__, __objclass__, ...) are the wrapped method's. */
static PyObject *
pymethod_getattro(PyObject *self, PyObject *name)
{
    if (PyUnicode_Check(name)
        && PyUnicode_CompareWithASCIIString(name, "__doc__") == 0) {
        return PyObject_GetAttr(PM(self)->pm_descr, name);
    }
    PyObject *r = PyObject_GenericGetAttr(self, name);
    if (r != NULL || !PyErr_ExceptionMatches(PyExc_AttributeError)) {
        return r;
    }
    PyErr_Clear();
    return PyObject_GetAttr(PM(self)->pm_descr, name);
}

static PyObject *
pymethod_repr(PyObject *self)
{
    return PyObject_Repr(PM(self)->pm_descr);
}

static int
pymethod_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(PM(self)->pm_descr);
    return 0;
}

static int
pymethod_clear(PyObject *self)
{
    Py_CLEAR(PM(self)->pm_descr);
    return 0;
}

static void
pymethod_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    pymethod_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyMemberDef pymethod_members[] = {
    {"__vectorcalloffset__", T_PYSSIZET,
     offsetof(PyMethodObject_, pm_vectorcall), READONLY, NULL},
    {NULL},
};

static PyType_Slot pymethod_slots[] = {
    {Py_tp_new, pymethod_tp_new},
    {Py_tp_dealloc, pymethod_dealloc},
    {Py_tp_traverse, pymethod_traverse},
    {Py_tp_clear, pymethod_clear},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_descr_get, pymethod_descr_get},
    {Py_tp_getattro, pymethod_getattro},
    {Py_tp_repr, pymethod_repr},
    {Py_tp_doc, "_PyMethod(descriptor, /)\n--\n\n"
                "A C method that binds as a Python method."},
    {Py_tp_members, pymethod_members},
    {0, NULL},
};

static PyType_Spec pymethod_spec = {
    .name = "casyncio._core._PyMethod",
    .basicsize = sizeof(PyMethodObject_),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC
             | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_METHOD_DESCRIPTOR
             | Py_TPFLAGS_HAVE_VECTORCALL,
    .slots = pymethod_slots,
};

int
cx_method_setup(PyObject *module)
{
    cx_state *st = PyModule_GetState(module);
    st->PyMethodType = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &pymethod_spec, NULL);
    if (st->PyMethodType == NULL) {
        return -1;
    }
    return PyModule_AddType(module, st->PyMethodType);
}
