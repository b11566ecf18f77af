/* asyncio.sleep(0)'s one yield (sleep.c): _core._sleep0 is an awaitable
 * whose iterator yields None once and then finishes, as asyncio's
 * tasks.__sleep0() generator does, without a generator object and its
 * frame per sleep.  The task that drives it sees a bare yield (task.c's
 * cheap path: no Handle). */
#ifndef CX_SLEEP_H
#define CX_SLEEP_H

#include "Python.h"
#include "state.h"

/* Makes the two types and adds _sleep0 to the module. */
int cx_sleep_setup(PyObject *module);
/* Frees the kept iterators (module clear). */
void cx_sleep_clear(cx_state *st);

#endif /* CX_SLEEP_H */
