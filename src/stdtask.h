/* The stdlib's C Task (_asyncio.Task) waiting on our Futures (stdtask.c):
 * its wake-up made cheaper for a Future that finished with a result. */
#ifndef CX_STDTASK_H
#define CX_STDTASK_H

#include "Python.h"
#include "state.h"
#include "loop.h"
#include "future.h"

/* Schedule cb(fut) on lp in ctx (NULL: a copy of the current context)
 * when cb is an _asyncio.Task's wake-up and fut, of exactly our Future or
 * Task type, finished with a result: 1 when scheduled, 0 when this is not
 * that case (schedule it as any callback), -1 on error. */
int cx_stdtask_schedule(cx_state *st, LoopObject *lp, PyObject *cb,
                        FutureObject *fut, PyObject *ctx);

int cx_stdtask_setup(PyObject *module);

#endif /* CX_STDTASK_H */
