/* Tracers, profilers and sys.monitoring tools: see monitor.h.
 *
 * sys.monitoring's events come in two tables: the interpreter's global
 * one (set_events) and each code object's local one (set_local_events).
 * 3.13+ has a C API for the global table (PyMonitoring_EnterScope); 3.12
 * has none, so there the table is read from the interpreter state through
 * CPython's internal header, the only file of ours that includes one (if
 * it was not installed, every check answers "watched").  A
 * code object's local table is the first member of its monitoring data
 * (`_co_monitoring`, allocated once the code was instrumented for
 * anything): a public struct through 3.13, private from 3.14, where its
 * first bytes are read as the same table (tests/test_stream_reader.py
 * sets local events on each version and checks they are seen). */
#include <stddef.h>
#include "patchlevel.h"                 /* PY_VERSION_HEX, before Python.h */
#if PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x030D0000 \
    && defined(__has_include)
#if __has_include("internal/pycore_interp.h")
#define CX_MONITOR_INTERP 1
#endif
#endif
#ifdef CX_MONITOR_INTERP
#define Py_BUILD_CORE 1
#include "Python.h"
#include "internal/pycore_interp.h"     /* PyInterpreterState.monitors */
#else
#include "Python.h"
#endif
#include "monitor.h"

#if PY_VERSION_HEX >= 0x030C0000

/* The local events of each version's table: PY_START to STOP_ITERATION,
 * from 3.15 also RAISE to RERAISE. */
#if PY_VERSION_HEX >= 0x030F0000
#define LOCAL_EVENTS (PY_MONITORING_EVENT_RERAISE + 1)
#elif PY_VERSION_HEX >= 0x030E0000
#define LOCAL_EVENTS (PY_MONITORING_EVENT_STOP_ITERATION + 1)
#else
#define LOCAL_EVENTS _PY_MONITORING_LOCAL_EVENTS     /* cpython/code.h */
#endif

/* Has a tool set local events on `code`?  0/1. */
static int
local_events(PyObject *code)
{
    const uint8_t *tools =
        (const uint8_t *)((PyCodeObject *)code)->_co_monitoring;
#if PY_VERSION_HEX < 0x030E0000
    _Static_assert(offsetof(_PyCoMonitoringData, local_monitors) == 0,
                   "the local events' table comes first");
#endif
    if (tools == NULL) {
        return 0;
    }
    for (int i = 0; i < LOCAL_EVENTS; i++) {
        if (tools[i]) {
            return 1;
        }
    }
    return 0;
}

/* Does a tool listen to any event anywhere?  0/1. */
static int
global_events(cx_monitor *m)
{
#if PY_VERSION_HEX >= 0x030D0000
    /* re-read only when the interpreter's monitoring version moved */
    if (PyMonitoring_EnterScope(m->state, &m->version, m->events,
                                CX_MONITOR_EVENTS) < 0) {
        PyErr_Clear();
        return 1;
    }
    for (int i = 0; i < CX_MONITOR_EVENTS; i++) {
        if (m->state[i].active) {
            return 1;
        }
    }
    return 0;
#elif !defined(CX_MONITOR_INTERP)
    /* 3.12 installed without its internal headers: assume a tool, so the
     * Python functions always run */
    (void)m;
    return 1;
#else
    (void)m;
    PyInterpreterState *interp = PyInterpreterState_Get();
    for (int i = 0; i < _PY_MONITORING_UNGROUPED_EVENTS; i++) {
        if (interp->monitors.tools[i]) {
            return 1;
        }
    }
    return 0;
#endif
}

#endif  /* 3.12+ */

void
cx_monitor_init(cx_monitor *m)
{
#if PY_VERSION_HEX >= 0x030D0000
    for (int i = 0; i < CX_MONITOR_EVENTS; i++) {
        m->events[i] = (uint8_t)i;
        m->state[i].active = 0;
    }
    /* 0 is the interpreter's version until a first change: no event */
    m->version = 0;
#else
    (void)m;
#endif
}

int
cx_monitor_watching(cx_monitor *m, PyObject *const *codes, int n)
{
    PyThreadState *ts = PyThreadState_Get();
    if (ts->c_tracefunc != NULL || ts->c_profilefunc != NULL) {
        return 1;
    }
#if PY_VERSION_HEX >= 0x030C0000
    if (global_events(m)) {
        return 1;
    }
    for (int i = 0; i < n; i++) {
        if (local_events(codes[i])) {
            return 1;
        }
    }
#else
    (void)m;
    (void)codes;
    (void)n;
#endif
    return 0;
}
