/* Module state: our types, interned strings and references into asyncio.
 *
 * Every object that needs the state caches a pointer to it (loop->st,
 * fut->fut_st), taken in tp_new from the type via PyType_GetModuleByDef.
 * Nothing here is a global: a second interpreter gets its own state. */
#ifndef CX_STATE_H
#define CX_STATE_H

#include "Python.h"
#include "monitor.h"

typedef struct cx_state {
    /* our types */
    PyTypeObject *LoopType;
    PyTypeObject *HandleType;
    PyTypeObject *TimerHandleType;
    PyTypeObject *FutureType;
    PyTypeObject *FutureIterType;
    PyTypeObject *TaskType;
    PyTypeObject *TaskRefType;             /* taskref.c */
    PyTypeObject *PyMethodType;            /* method.c */
    PyTypeObject *LoopSubtypeSeen;         /* loop.c: cx_loop_check */
    /* handle.c: a timer's context, made when it runs */
    PyObject *ctx_scratch;                 /* a spare Context, or NULL */
    PyObject *ctx_empty_vars;              /* an empty Context's mapping */
    int ctx_layout_ok;                     /* PyContext is laid out as
                                              handle.c expects */
    void **th_pool;                        /* handle.c: freed TimerHandles */
    Py_ssize_t th_pool_len;
    PyTypeObject *TransportType;           /* transport.c */
    PyTypeObject *SocketTransportType;     /* stream.c */
    PyTypeObject *DatagramTransportType;   /* dgram.c */
    PyTypeObject *ReadPipeTransportType;   /* pipe.c */
    PyTypeObject *WritePipeTransportType;  /* pipe.c */

    /* asyncio, imported once at module exec */
    PyObject *asyncio_CancelledError;
    PyObject *asyncio_InvalidStateError;
    PyObject *asyncio_Future;              /* futures.Future: our __class__ */
    PyObject *asyncio_Task;                /* tasks.Task: likewise */
    PyObject *asyncio_get_running_loop;    /* events._get_running_loop */
    PyObject *asyncio_set_running_loop;    /* events._set_running_loop */
    PyObject *asyncio_get_event_loop;      /* events.get_event_loop */
    PyObject *asyncio_iscoroutine;         /* coroutines.iscoroutine */
    PyObject *asyncio_future_repr;         /* base_futures._future_repr */
    PyObject *asyncio_future_repr_info;    /* base_futures._future_repr_info */
    PyObject *asyncio_task_repr;           /* base_tasks._task_repr */
    PyObject *asyncio_task_get_stack;      /* base_tasks._task_get_stack */
    PyObject *asyncio_task_print_stack;    /* base_tasks._task_print_stack */
    PyObject *asyncio_register_task;       /* tasks._register_task */
    PyObject *asyncio_unregister_task;     /* tasks._unregister_task */
    PyObject *asyncio_current_tasks;       /* tasks._current_tasks (dict) */
    PyObject *asyncio_format_callback;     /* format_helpers._format_callback_source */
    PyObject *asyncio_extract_stack;       /* format_helpers.extract_stack */
    PyObject *asyncio_logger;              /* asyncio.log.logger */

    /* interned method / attribute names */
    PyObject *str_call_soon;
    PyObject *str_call_exception_handler;
    PyObject *str_get_debug;
    PyObject *str_add_done_callback;
    PyObject *str_remove_done_callback;
    PyObject *str_cancel;
    PyObject *str_done;
    PyObject *str_result;
    PyObject *str_send;
    PyObject *str_throw;
    PyObject *str_context;
    PyObject *str_message;
    PyObject *str_exception;
    PyObject *str_future;
    PyObject *str_task;
    PyObject *str_handle;
    PyObject *str_source_traceback;
    PyObject *str_asyncio_future_blocking;
    PyObject *str_get_loop;

    /* Future / Task (future.c, task.c) */
    PyObject *context_kwnames;             /* ("context",), for vectorcall */
    PyObject *asyncio_enter_task;          /* tasks._enter_task, used on
                                              versions other than 3.11 */
    PyObject *asyncio_leave_task;          /* tasks._leave_task, likewise */
    PyObject *asyncio_swap_current_task;   /* 3.12+: tasks._swap_current_task */
    PyObject *asyncio_register_eager_task; /* 3.12+: tasks._register_eager_task */
    PyObject *asyncio_unregister_eager_task; /* and _unregister_eager_task */
    PyObject *asyncio_fut_add_awaited_by;  /* 3.14+: asyncio's own */
    PyObject *asyncio_fut_discard_awaited_by; /* futures.future_*_awaited_by */
    /* Task(context=) refuses what is not a Context (gh-157301): true when
     * the running version's tasks.py does. */
    int task_checks_context;
    /* The WeakSet tasks._register_task puts our tasks in (3.11
     * tasks._all_tasks, 3.12/3.13 tasks._scheduled_tasks, 3.14+ the one
     * inside _asyncio), found at import by a probe (task.c): its data set,
     * and up to 3.13 its _iterating set and _pending_removals list (NULL
     * on 3.14+, whose WeakSet has neither).  data is NULL when not found:
     * then tasks._register_task is called. */
    PyObject *all_tasks_data;
    PyObject *all_tasks_iterating;
    PyObject *all_tasks_pending;
    /* 3.12/3.13: tasks._current_tasks is the dict _enter_task/_leave_task
     * work on (_asyncio's): step there directly.  0 elsewhere. */
    int current_tasks_direct;
    /* stdtask.c: the finished _asyncio.Future an _asyncio.Task's wake-up
     * is given for one of our Futures (NULL without _asyncio), its
     * task_wakeup once seen, and how many wake-ups took that path (for
     * tests, _path_counts()). */
    PyObject *stdtask_done;
    PyCFunction stdtask_wakeup_fn;
    Py_ssize_t stdtask_wakeups;
    unsigned long long task_name_counter;

    /* gather() (gather.c), given by _tasks.py through _gather_setup():
     * the running version's ensure_future (3.11: _ensure_future),
     * futures._get_loop, _tasks._gathering_future_class and
     * tasks.current_task. */
    PyTypeObject *GatherCallbackType;
    PyObject *gather_ensure_future;
    PyObject *gather_get_loop;
    PyObject *gather_outer_class;
    PyObject *gather_current_task;
    PyObject *gather_core_outer;            /* _tasks._CoreGatheringFuture,
                                               made in C on our loops */
    PyObject *str_children;                 /* "_children" */
    PyObject *str_cancel_requested;         /* "_cancel_requested" */
    PyObject *str_create_task;
    PyObject *str_time;
    PyObject *str_log_destroy_pending;
    PyObject *gather_loop_kwnames;          /* ("loop",) */

    /* socket operations (sock.c) */
    PyTypeObject *SockOpType;
    PyObject *socket_socket;               /* socket.socket */
    int sock_layout_ok;                    /* its C layout is as sock.c
                                              expects: direct syscalls */
    PyObject *str_transports;              /* "_transports" */
    PyObject *str_data;                    /* "data" */
    PyObject *str_ensure_fd_no_transport;
    /* stream transports (stream.c) */
    PyObject *asyncio_BufferedProtocol;    /* protocols.BufferedProtocol */
    PyObject *str_connection_made;
    PyObject *str_connection_lost;
    PyObject *str_data_received;
    PyObject *str_eof_received;
    PyObject *str_get_buffer;
    PyObject *str_buffer_updated;
    PyObject *str_pause_writing;
    PyObject *str_resume_writing;
    PyObject *str_close;
    PyObject *str_transport;
    PyObject *str_protocol;
    PyObject *str_datagram_received;
    PyObject *str_error_received;
    /* cx_transport_rbuf(): the receive buffer of every transport of this
     * interpreter (NULL until the first read). */
    char *transport_rbuf;
    /* TLS (tls.c) */
    PyTypeObject *TLSProtocolType;         /* SSLProtocolBase */
    PyTypeObject *TLSAppTransportType;     /* SSLAppTransportBase */
    PyObject *tls_get_buffer;              /* its get_buffer and */
    PyObject *tls_buffer_updated;          /* buffer_updated descriptors */
    PyObject *stream_write;                /* SocketTransport.write */
    PyObject *tls_states;                  /* sslproto.SSLProtocolState's
                                              members by value (lazy: set
                                              by the first instance, as
                                              the two below) */
    PyObject *ssl_again_errors;            /* sslproto.SSLAgainErrors */
    PyObject *ssl_SSLObject;               /* ssl.SSLObject */
    PyObject *ssl_MemoryBIO;               /* ssl.MemoryBIO */
    PyObject *str_read;
    PyObject *str_write;
    PyObject *str_pending;
    PyObject *str_join;
    PyObject *str_sslobj;
    PyObject *str_loop;
    PyObject *str_app_transport;
    PyObject *str_max_size;
    PyObject *str_pause_reading;
    PyObject *str_resume_reading;
    PyObject *str_fatal_error;
    PyObject *str_do_handshake;
    PyObject *str_do_flush;
    PyObject *str_do_shutdown;
    PyObject *str_call_eof_received;
    PyObject *str_start_shutdown;
    PyObject *str_write_closed;
    PyObject *str_schedule_read;
    PyObject *str_ssl_protocol;
    PyObject *str_write_appdata;
    /* asyncio streams' data_received in C (readerproto.c) */
    PyObject *asyncio_SRProtocol;          /* streams.StreamReaderProtocol */
    PyObject *asyncio_SReader;             /* streams.StreamReader */
    PyObject *rp_orig_data_received;       /* their functions as asyncio */
    PyObject *rp_orig__stream_reader;      /* defines them (NULL: patched */
    PyObject *rp_orig_feed_data;           /* before we were imported) */
    PyObject *rp_orig__wakeup_waiter;
    PyObject *rp_code_data_received;       /* their code objects then */
    PyObject *rp_code__stream_reader;
    PyObject *rp_code_feed_data;
    PyObject *rp_code__wakeup_waiter;
    PyObject *rp_fget__stream_reader;      /* the property's getter */
    int rp_enabled;                        /* all four are asyncio's */
    unsigned int rp_srp_tag;               /* version tags last found */
    unsigned int rp_sr_tag;                /* unchanged (0: none) */
    cx_monitor rp_monitor;                 /* tools watching (monitor.h) */
    Py_ssize_t rp_feeds;                   /* reads fed in C (_path_counts) */
    Py_ssize_t rp_direct;                  /* of which straight into the
                                              reader's buffer */
    PyObject *rp_str_data_received;
    PyObject *rp_str__stream_reader;
    PyObject *rp_str__stream_reader_wr;
    PyObject *rp_str_feed_data;
    PyObject *rp_str__wakeup_waiter;
    PyObject *rp_str__eof;
    PyObject *rp_str__buffer;
    PyObject *rp_str__waiter;
    PyObject *rp_str__transport;
    PyObject *rp_str__paused;
    PyObject *rp_str__limit;
    PyObject *rp_str_cancelled;
    PyObject *rp_str_set_result;
    PyObject *rp_str_fget;
    PyObject *rp_str_len;
    PyObject *rp_str_NotImplementedError;
    PyObject *rp_builtin_len;              /* builtins.len */
    /* cx_transport_bytes(): the last bytes handed to a protocol that
     * nothing else kept, for the next read (or NULL), and its length when
     * made. */
    PyObject *transport_rbytes;
    Py_ssize_t transport_rbytes_cap;
    /* A protocol the stream transport feeds in C from its receive buffer
     * instead of get_buffer()/buffer_updated(): the check and the feed,
     * registered by the protocol's own file (tls.c), so that the transport
     * does not call into it (transport.h). */
    int (*transport_fed_check)(struct cx_state *st, PyObject *protocol);
    int (*transport_feed)(PyObject *protocol, const char *buf, Py_ssize_t n);
    /* reads into a caller's buffer by way of the receive buffer
     * (cx_transport_recv_into; _path_counts) */
    Py_ssize_t transport_recv_detours;
    /* Handles of exactly HandleType kept for reuse by cx_handle_new
     * (handle.c): untracked, their fields NULL, each holding its reference
     * to the type; chained through handle_callback. */
    PyObject *handle_freelist;
    int handle_nfree;
    /* future.c: dead FutureIters (`await fut`) kept for reuse, each
     * holding its reference to the type */
    PyObject *fut_iter_pool[64];
    int fut_iter_pool_len;
    /* future.c: dead Futures of exactly FutureType kept for reuse by
     * cx_future_new (loop.create_future): untracked, fields NULL, each
     * holding its reference to the type */
    PyObject *fut_pool[64];
    int fut_pool_len;
    /* sleep.c: _sleep0's iterators, and the dead ones kept for reuse
     * (each holding its reference to the type) */
    PyTypeObject *Sleep0IterType;
    PyObject *sleep0_pool[64];
    int sleep0_pool_len;
} cx_state;

extern PyModuleDef cx_module_def;

/* The state of the module that defined `tp` (or a base of it).  Borrowed;
 * NULL with an exception set if `tp` is not one of ours. */
static inline cx_state *
cx_state_from_type(PyTypeObject *tp)
{
    PyObject *mod = PyType_GetModuleByDef(tp, &cx_module_def);
    if (mod == NULL) {
        return NULL;
    }
    return (cx_state *)PyModule_GetState(mod);
}

/* The state of our module if it made tp itself (one of its own types);
 * NULL, no exception, for a subclass made in Python (no module) or by
 * another extension's module.  Cheaper than cx_state_from_type (no MRO
 * walk): for deallocators and free lists of our own types. */
static inline cx_state *
cx_state_of_own_type(PyTypeObject *tp)
{
    PyObject *mod = ((PyHeapTypeObject *)tp)->ht_module;
    return mod != NULL && PyModule_GetDef(mod) == &cx_module_def
           ? (cx_state *)PyModule_GetState(mod) : NULL;
}

#endif /* CX_STATE_H */
