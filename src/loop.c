/* Loop: placeholder with an empty type so cx_loop_is_fast() works. */
#include "internal.h"

static PyType_Slot loop_slots[] = {{0, NULL}};
static PyType_Spec loop_spec = {
    "casyncio._core.Loop", sizeof(LoopObject), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE, loop_slots};

int cx_loop_setup(PyObject *module)
{
    cx_state *st = PyModule_GetState(module);
    st->LoopType = (PyTypeObject *)PyType_FromModuleAndSpec(module, &loop_spec, NULL);
    if (st->LoopType == NULL) return -1;
    return PyModule_AddType(module, st->LoopType);
}
int cx_loop_push_cfunc(LoopObject *loop, cx_cfunc fn, PyObject *a, PyObject *b)
{ PyErr_SetString(PyExc_NotImplementedError, "push"); return -1; }
int cx_loop_push_call1(LoopObject *loop, PyObject *c, PyObject *a, PyObject *x)
{ PyErr_SetString(PyExc_NotImplementedError, "push"); return -1; }
void cx_loop_report_exception(PyObject *loop, const char *msg,
                              PyObject *k, PyObject *o) { PyErr_WriteUnraisable(loop); }
double cx_time_now(void) { return 0; }
