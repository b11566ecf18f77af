/* Is anything watching Python code run on this thread: a tracer or
 * profiler (sys.settrace / sys.setprofile), or a sys.monitoring tool
 * (3.12+) listening to any event, or to local events of given functions?
 * The paths that do in C what asyncio's own Python functions would
 * (readerproto.c) ask first, and call the Python functions when something
 * watches, for it to see them. */
#ifndef CX_MONITOR_H
#define CX_MONITOR_H

#include "Python.h"

/* What the last check found of sys.monitoring's global events, so that
 * they are read again only when they change (3.13+: the interpreter's
 * monitoring version; before, they are read every time). */
typedef struct {
#if PY_VERSION_HEX >= 0x030D0000
#define CX_MONITOR_EVENTS (PY_MONITORING_EVENT_RERAISE + 1)
    uint8_t events[CX_MONITOR_EVENTS];      /* PY_START ... RERAISE */
    PyMonitoringState state[CX_MONITOR_EVENTS];
    uint64_t version;
#else
    char unused;
#endif
} cx_monitor;

void cx_monitor_init(cx_monitor *m);

/* 1 when watched (see above) for the `n` code objects `codes`, else 0.
 * No exception, no Python code. */
int cx_monitor_watching(cx_monitor *m, PyObject *const *codes, int n);

#endif /* CX_MONITOR_H */
