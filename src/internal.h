/* Cross-file declarations, grouped by area; each area has its own header. */
#ifndef CX_INTERNAL_H
#define CX_INTERNAL_H

#define PY_SSIZE_T_CLEAN
#include "Python.h"

#include "state.h"
#include "queue.h"
#include "heap.h"
#include "poller.h"
#include "handle.h"
#include "loop.h"
#include "future.h"
#include "task.h"

/* Debug builds (CASYNCIO_DEBUG=1) count live objects; the tests read the
 * counters through _core._debug_counters() and assert they return to zero. */
#ifdef CX_DEBUG
extern Py_ssize_t cx_debug_live_handles;
#define CX_DEBUG_INC(c) ((c)++)
#define CX_DEBUG_DEC(c) ((c)--)
#else
#define CX_DEBUG_INC(c) ((void)0)
#define CX_DEBUG_DEC(c) ((void)0)
#endif

#endif /* CX_INTERNAL_H */
