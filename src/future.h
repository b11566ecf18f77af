/* Future (future.c): asyncio.Future in C, and its await iterator. */
#ifndef CX_FUTURE_H
#define CX_FUTURE_H

#include "Python.h"
#include "state.h"

int cx_future_setup(PyObject *module);

/* A new pending Future bound to `loop`.  New reference. */
PyObject *cx_future_new(cx_state *st, PyObject *loop);

#endif /* CX_FUTURE_H */
