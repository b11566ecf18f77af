/* gather() (gather.c): _core._gather(), the body of asyncio's gather()
 * once it has arguments, and _GatherCallback, its per-child done
 * callback.  _tasks.py keeps the empty case and installs it as
 * asyncio.gather. */
#ifndef CX_GATHER_H
#define CX_GATHER_H

#include "Python.h"

int cx_gather_setup(PyObject *module);

#endif /* CX_GATHER_H */
