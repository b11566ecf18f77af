/* casyncio._core: module init.  Builds the module state and the types, in
 * dependency order; nothing else lives here. */
#include "internal.h"

#define CX_STATE_OBJECTS(X) \
    X(LoopType) X(HandleType) X(TimerHandleType) X(FutureType) \
    X(FutureIterType) X(TaskType) X(TaskRefType) X(PyMethodType) \
    X(Sleep0IterType) \
    X(LoopSubtypeSeen) \
    X(ctx_scratch) X(ctx_empty_vars) \
    X(asyncio_CancelledError) X(asyncio_InvalidStateError) \
    X(asyncio_Future) X(asyncio_Task) \
    X(asyncio_get_running_loop) X(asyncio_set_running_loop) \
    X(asyncio_get_event_loop) X(asyncio_iscoroutine) \
    X(asyncio_future_repr) X(asyncio_future_repr_info) \
    X(asyncio_task_repr) X(asyncio_task_get_stack) \
    X(asyncio_task_print_stack) X(asyncio_register_task) \
    X(asyncio_unregister_task) X(asyncio_current_tasks) \
    X(asyncio_format_callback) X(asyncio_extract_stack) X(asyncio_logger) \
    X(str_call_soon) X(str_call_exception_handler) X(str_get_debug) \
    X(str_add_done_callback) X(str_remove_done_callback) X(str_cancel) \
    X(str_done) X(str_result) X(str_send) X(str_throw) X(str_context) \
    X(str_message) X(str_exception) X(str_future) X(str_task) \
    X(str_handle) X(str_source_traceback) X(str_asyncio_future_blocking) \
    X(str_get_loop) X(all_tasks_data) X(all_tasks_iterating) \
    X(all_tasks_pending) \
    X(context_kwnames) X(asyncio_enter_task) X(asyncio_leave_task) \
    X(asyncio_swap_current_task) X(asyncio_register_eager_task) \
    X(asyncio_unregister_eager_task) X(asyncio_fut_add_awaited_by) \
    X(asyncio_fut_discard_awaited_by) X(stdtask_done) \
    X(GatherCallbackType) X(gather_ensure_future) X(gather_get_loop) \
    X(gather_outer_class) X(gather_current_task) X(gather_loop_kwnames) \
    X(gather_core_outer) X(str_create_task) X(str_time) \
    X(str_log_destroy_pending) X(str_children) X(str_cancel_requested) \
    X(SockOpType) X(socket_socket) X(str_transports) X(str_data) \
    X(str_ensure_fd_no_transport) \
    X(TransportType) X(SocketTransportType) X(DatagramTransportType) \
    X(ReadPipeTransportType) X(WritePipeTransportType) \
    X(asyncio_BufferedProtocol) X(str_datagram_received) X(str_error_received) \
    X(str_connection_made) X(str_connection_lost) X(str_data_received) \
    X(str_eof_received) X(str_get_buffer) X(str_buffer_updated) \
    X(str_pause_writing) X(str_resume_writing) X(str_close) \
    X(str_transport) X(str_protocol) \
    X(TLSProtocolType) X(tls_get_buffer) X(tls_buffer_updated) \
    X(stream_write) X(tls_states) X(ssl_again_errors) X(ssl_SSLObject) \
    X(ssl_MemoryBIO) \
    X(str_read) X(str_write) X(str_pending) X(str_join) X(str_sslobj) \
    X(str_loop) X(str_app_transport) X(str_max_size) X(str_pause_reading) \
    X(str_resume_reading) X(str_fatal_error) X(str_do_handshake) \
    X(str_do_flush) X(str_do_shutdown) X(str_call_eof_received) \
    X(str_start_shutdown) X(str_write_closed) X(str_schedule_read) \
    X(TLSAppTransportType) X(str_ssl_protocol) X(str_write_appdata) \
    X(asyncio_SRProtocol) X(asyncio_SReader) X(rp_orig_data_received) \
    X(rp_orig__stream_reader) X(rp_orig_feed_data) \
    X(rp_orig__wakeup_waiter) X(rp_str_data_received) \
    X(rp_str__stream_reader) X(rp_str__stream_reader_wr) X(rp_str_feed_data) \
    X(rp_str__wakeup_waiter) X(rp_str__eof) X(rp_str__buffer) \
    X(rp_str__waiter) X(rp_str__transport) X(rp_str__paused) \
    X(rp_str__limit) X(rp_str_cancelled) X(rp_str_set_result) \
    X(rp_str_fget) X(rp_code_data_received) X(rp_code__stream_reader) \
    X(rp_code_feed_data) X(rp_code__wakeup_waiter) X(rp_fget__stream_reader) \
    X(rp_str_len) X(rp_str_NotImplementedError) X(rp_builtin_len)

static int
module_traverse(PyObject *mod, visitproc visit, void *arg)
{
    cx_state *st = PyModule_GetState(mod);
#define X(name) Py_VISIT(st->name);
    CX_STATE_OBJECTS(X)
#undef X
    return 0;
}

static int
module_clear(PyObject *mod)
{
    cx_state *st = PyModule_GetState(mod);
    cx_handle_free_state(st);
    cx_sleep_clear(st);
    cx_future_pools_clear(st);
    st->ctx_layout_ok = 0;      /* timers copy their context from now on */
#define X(name) Py_CLEAR(st->name);
    CX_STATE_OBJECTS(X)
#undef X
    return 0;
}

static void
module_free(void *mod)
{
    module_clear((PyObject *)mod);
    cx_transport_free_state(PyModule_GetState((PyObject *)mod));
}

/* Set *slot to getattr(import(modname), attr).  0 or -1. */
static int
import_attr(PyObject **slot, const char *modname, const char *attr)
{
    PyObject *mod = PyImport_ImportModule(modname);
    if (mod == NULL) {
        return -1;
    }
    *slot = PyObject_GetAttrString(mod, attr);
    Py_DECREF(mod);
    return *slot == NULL ? -1 : 0;
}

static int
module_exec(PyObject *mod)
{
    cx_state *st = PyModule_GetState(mod);

#define IMPORT(slot, modname, attr) \
    if (import_attr(&st->slot, modname, attr) < 0) { return -1; }
    IMPORT(asyncio_CancelledError, "asyncio.exceptions", "CancelledError")
    IMPORT(asyncio_InvalidStateError, "asyncio.exceptions",
           "InvalidStateError")
    IMPORT(asyncio_Future, "asyncio.futures", "Future")
    IMPORT(asyncio_Task, "asyncio.tasks", "Task")
    IMPORT(asyncio_get_running_loop, "asyncio.events", "_get_running_loop")
    IMPORT(asyncio_set_running_loop, "asyncio.events", "_set_running_loop")
    IMPORT(asyncio_get_event_loop, "asyncio.events", "get_event_loop")
    IMPORT(asyncio_iscoroutine, "asyncio.coroutines", "iscoroutine")
    IMPORT(asyncio_future_repr, "asyncio.base_futures", "_future_repr")
    IMPORT(asyncio_future_repr_info, "asyncio.base_futures",
           "_future_repr_info")
    IMPORT(asyncio_task_repr, "asyncio.base_tasks", "_task_repr")
    IMPORT(asyncio_task_get_stack, "asyncio.base_tasks", "_task_get_stack")
    IMPORT(asyncio_task_print_stack, "asyncio.base_tasks",
           "_task_print_stack")
    IMPORT(asyncio_register_task, "asyncio.tasks", "_register_task")
    IMPORT(asyncio_unregister_task, "asyncio.tasks", "_unregister_task")
    IMPORT(asyncio_current_tasks, "asyncio.tasks", "_current_tasks")
    IMPORT(asyncio_format_callback, "asyncio.format_helpers",
           "_format_callback_source")
    IMPORT(asyncio_extract_stack, "asyncio.format_helpers", "extract_stack")
    IMPORT(asyncio_logger, "asyncio.log", "logger")
    IMPORT(asyncio_enter_task, "asyncio.tasks", "_enter_task")
    IMPORT(asyncio_leave_task, "asyncio.tasks", "_leave_task")
#if PY_VERSION_HEX >= 0x030C0000
    IMPORT(asyncio_swap_current_task, "asyncio.tasks", "_swap_current_task")
    IMPORT(asyncio_register_eager_task, "asyncio.tasks",
           "_register_eager_task")
    IMPORT(asyncio_unregister_eager_task, "asyncio.tasks",
           "_unregister_eager_task")
#endif
#if PY_VERSION_HEX >= 0x030E0000
    IMPORT(asyncio_fut_add_awaited_by, "asyncio.futures",
           "future_add_to_awaited_by")
    IMPORT(asyncio_fut_discard_awaited_by, "asyncio.futures",
           "future_discard_from_awaited_by")
#endif
#undef IMPORT
    /* Feature test on the running version's tasks.py (the patch is in
     * some 3.13 and 3.15 releases, not in others): does Task.__init__
     * refuse a context that is not a contextvars.Context? */
    {
        PyObject *pytask;
        st->task_checks_context = 0;
        if (import_attr(&pytask, "asyncio.tasks", "_PyTask") < 0) {
            return -1;
        }
        PyObject *consts = PyObject_GetAttrString(pytask, "__init__");
        Py_DECREF(pytask);
        Py_XSETREF(consts, consts ? PyObject_GetAttrString(consts,
                                                           "__code__")
                                  : NULL);
        Py_XSETREF(consts, consts ? PyObject_GetAttrString(consts,
                                                           "co_consts")
                                  : NULL);
        if (consts == NULL) {
            return -1;
        }
        if (!PyTuple_Check(consts)) {
            Py_DECREF(consts);
            PyErr_SetString(PyExc_TypeError, "co_consts is not a tuple");
            return -1;
        }
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts); i++) {
            PyObject *c = PyTuple_GET_ITEM(consts, i);
            if (PyUnicode_Check(c)
                && PyUnicode_CompareWithASCIIString(
                       c, "a contextvars.Context was expected, got ") == 0) {
                st->task_checks_context = 1;
            }
        }
        Py_DECREF(consts);
    }

#define INTERN(slot, text) \
    if ((st->slot = PyUnicode_InternFromString(text)) == NULL) { return -1; }
    INTERN(str_call_soon, "call_soon")
    INTERN(str_call_exception_handler, "call_exception_handler")
    INTERN(str_get_debug, "get_debug")
    INTERN(str_add_done_callback, "add_done_callback")
    INTERN(str_remove_done_callback, "remove_done_callback")
    INTERN(str_cancel, "cancel")
    INTERN(str_done, "done")
    INTERN(str_result, "result")
    INTERN(str_send, "send")
    INTERN(str_throw, "throw")
    INTERN(str_context, "context")
    INTERN(str_message, "message")
    INTERN(str_exception, "exception")
    INTERN(str_future, "future")
    INTERN(str_task, "task")
    INTERN(str_handle, "handle")
    INTERN(str_source_traceback, "source_traceback")
    INTERN(str_asyncio_future_blocking, "_asyncio_future_blocking")
    INTERN(str_get_loop, "get_loop")
    INTERN(str_create_task, "create_task")
    INTERN(str_time, "time")
    INTERN(str_children, "_children")
    INTERN(str_cancel_requested, "_cancel_requested")
    INTERN(str_log_destroy_pending, "_log_destroy_pending")
#undef INTERN

    st->task_name_counter = 0;

    if (cx_handle_setup(mod) < 0 || cx_loop_setup(mod) < 0
        || cx_future_setup(mod) < 0 || cx_task_setup(mod) < 0
        || cx_taskref_setup(mod) < 0 || cx_sleep_setup(mod) < 0
        || cx_method_setup(mod) < 0
        || cx_agenset_setup(mod) < 0
        || cx_gather_setup(mod) < 0 || cx_sock_setup(mod) < 0
        || cx_transport_setup(mod) < 0 || cx_stream_setup(mod) < 0
        || cx_dgram_setup(mod) < 0 || cx_pipe_setup(mod) < 0
        || cx_tls_setup(mod) < 0 || cx_readerproto_setup(mod) < 0
        || cx_task_registry_setup(mod) < 0 || cx_stdtask_setup(mod) < 0) {
        return -1;
    }
    return 0;
}

/* _debug_counters(): live-object counts of a debug build, None otherwise. */
static PyObject *
module_debug_counters(PyObject *mod, PyObject *Py_UNUSED(ignored))
{
#ifdef CX_DEBUG
    return Py_BuildValue("{sn}", "handles", cx_debug_live_handles);
#else
    Py_RETURN_NONE;
#endif
}

/* _path_counts(): how often the data paths that leave no trace in Python
 * were taken, for tests: reads fed to asyncio streams in C
 * (readerproto.c) and, of those, received straight into the reader's
 * buffer, reads into a caller's buffer by way of the receive buffer
 * (transport.c); io_uring rings opened and their receive completions
 * with bytes (uring.c); wake-ups of the stdlib's Task on one of our
 * Futures given a finished _asyncio.Future (stdtask.c). */
static PyObject *
module_path_counts(PyObject *mod, PyObject *Py_UNUSED(ignored))
{
    cx_state *st = PyModule_GetState(mod);
    return Py_BuildValue("{snsnsnsnsnsn}", "streams_fed", st->rp_feeds,
                         "streams_direct", st->rp_direct,
                         "recv_detours", st->transport_recv_detours,
                         "uring_rings", cx_uring_open_count,
                         "uring_recvs", cx_uring_recv_count,
                         "stdtask_wakeups", st->stdtask_wakeups);
}

/* _task_paths(): which of asyncio's task bookkeeping task.c does itself
 * (found at import), for tests: "registry" (tasks._register_task's WeakSet
 * written directly), "current_tasks" (tasks._current_tasks written
 * directly, up to 3.13). */
static PyObject *
module_task_paths(PyObject *mod, PyObject *Py_UNUSED(ignored))
{
    cx_state *st = PyModule_GetState(mod);
    return Py_BuildValue("{sOsO}",
                         "registry",
                         st->all_tasks_data ? Py_True : Py_False,
                         "current_tasks",
                         st->current_tasks_direct ? Py_True : Py_False);
}

/* Free the dead objects kept for reuse (Future, FutureIter, Handle,
 * TimerHandle, sleep(0) pools): tests/conformance/refleaks.py calls it
 * between rounds, as gc.collect() empties CPython's own free lists, so a
 * pool filling up does not read as a leak. */
static PyObject *
module_clear_pools(PyObject *mod, PyObject *Py_UNUSED(ignored))
{
    cx_state *st = PyModule_GetState(mod);
    cx_handle_free_state(st);
    cx_sleep_clear(st);
    cx_future_pools_clear(st);
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"_clear_pools", module_clear_pools, METH_NOARGS,
     CX_DOC_SIG("_clear_pools($module, /)", "")},
    {"_debug_counters", module_debug_counters, METH_NOARGS,
     CX_DOC_SIG("_debug_counters($module, /)", "")},
    {"_path_counts", module_path_counts, METH_NOARGS,
     CX_DOC_SIG("_path_counts($module, /)", "")},
    {"_task_paths", module_task_paths, METH_NOARGS,
     CX_DOC_SIG("_task_paths($module, /)", "")},
    {NULL, NULL},
};

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

PyModuleDef cx_module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "casyncio._core",
    .m_doc = "The C core of casyncio: loop, handles, Future and Task.",
    .m_size = sizeof(cx_state),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC
PyInit__core(void)
{
    return PyModuleDef_Init(&cx_module_def);
}
