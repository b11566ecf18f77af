/* The Loop type (loop.c) and the entry points other files use to schedule
 * work on it without going through Python (the fast paths). */
#ifndef CX_LOOP_H
#define CX_LOOP_H

#include "Python.h"
#include "state.h"
#include "queue.h"
#include "heap.h"
#include "poller.h"

typedef struct {
    PyObject_HEAD
    cx_state *st;
    cx_ready_queue loop_ready;      /* entries run by the next iteration */
    cx_timer_heap loop_timers;      /* TimerHandles, soonest first */
    Py_ssize_t loop_timers_cancelled; /* cancelled ones still in the heap */
    cx_poller loop_poller;          /* epoll and fd -> reader/writer */
    int loop_wakeup_fd;             /* eventfd, -1 once closed */
    int loop_signal_rfd;            /* signal pipe (signal.c), or -1 */
    int loop_signal_wfd;
    PyObject *loop_signal_handlers; /* dict: signal number -> Handle,
                                       asyncio's _signal_handlers */
    int loop_polling;               /* in epoll_wait with the GIL released */
    int loop_stopping;
    int loop_running;
    int loop_closed;
    int loop_debug;
    int loop_fast;                  /* call_soon not overridden by a subclass */
    int loop_create_task_fast;      /* nor create_task */
    int loop_uring_on;              /* CASYNCIO_IO_URING=1 when made: stream
                                       transports receive through io_uring
                                       (uring.h) if the kernel lets us */
    struct cx_uring *loop_uring;    /* the ring (made with the loop when
                                       the switch is on), or NULL */
    PyObject *loop_time_fn;         /* a time() that replaces ours (patched
                                       on the instance, or a subclass's),
                                       or NULL: see loop_now() */
    int loop_time_checked;          /* loop_time_fn is this iteration's */
    unsigned long loop_thread_id;   /* thread running it, 0 when not running */
    double loop_slow_callback_duration;
    PyObject *loop_task_factory;    /* or NULL */
    PyObject *loop_exception_handler; /* or NULL */
    PyObject *weakreflist;
    /* 3.11-3.13, tasks._current_tasks (task.c, "deferred leave"): the
     * ready-queue entry being run is a task's step that may leave its
     * _current_tasks entry in place; the task whose entry was left there
     * (borrowed) until the next task step replaces it or the loop removes
     * it (cx_task_leave_flush) */
    int loop_defer_leave;
    PyObject *loop_leave_pending;
    uint64_t loop_ct_version;       /* the dict's version after this loop's
                                       task entered */
} LoopObject;

int cx_loop_setup(PyObject *module);

int cx_loop_check_slow(cx_state *st, PyObject *op);

/* PyObject_TypeCheck(op, LoopType), for the fast paths: casyncio.Loop is a
 * subclass whose MRO puts _core.Loop sixth, so the last subclass seen is
 * remembered (see cx_loop_check_slow). */
static inline int
cx_loop_check(cx_state *st, PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    return tp == st->LoopType || tp == st->LoopSubtypeSeen
           || cx_loop_check_slow(st, op);
}

/* Non-zero if `loop` is a casyncio Loop whose call_soon is ours, so the
 * cx_loop_push_* calls below may stand in for loop.call_soon(). */
static inline int
cx_loop_is_fast(cx_state *st, PyObject *loop)
{
    return cx_loop_check(st, loop) && ((LoopObject *)loop)->loop_fast;
}

/* loop.create_task(coro) for a casyncio Loop whose create_task is ours
 * (not overridden by its class or on the instance) and that has no task
 * factory, without the method call: a new Task, or NULL with an exception
 * set (RuntimeError when the loop is closed).  NULL with no exception set
 * when the loop is not such a loop: call loop.create_task then. */
PyObject *cx_loop_create_task_plain(cx_state *st, PyObject *loop,
                                    PyObject *coro);

/* Schedule fn(arg1, arg2) for the next iteration, as call_soon would, but
 * with no Handle.  fn returns 0, or -1 with an exception set (reported
 * through the loop's exception handler).  The queue holds its own
 * references to arg1 and arg2 (arg2 may be NULL).  Returns 0 or -1. */
int cx_loop_push_cfunc(LoopObject *loop, cx_cfunc fn,
                       PyObject *arg1, PyObject *arg2);
/* cx_loop_push_cfunc, fn run in context ctx (entered and left around
 * the call) unless ctx is NULL. */
int cx_loop_push_cfunc_ctx(LoopObject *loop, cx_cfunc fn, PyObject *arg1,
                           PyObject *arg2, PyObject *ctx);

/* Schedule callable(arg) in context ctx (NULL: a copy of the current
 * context), as loop.call_soon(callable, arg, context=ctx) would, but with
 * no Handle.  New references are taken.  Returns 0 or -1. */
int cx_loop_push_call1(LoopObject *loop, PyObject *callable,
                       PyObject *arg, PyObject *ctx);
/* cx_loop_push_call1, but the entry runs run(callable, arg) in ctx (0, or
 * -1 with an exception set) in place of the call; a failure is reported
 * as callable(arg)'s.  In debug mode the call itself, in a Handle. */
int cx_loop_push_call1_run(LoopObject *loop, cx_cfunc run,
                           PyObject *callable, PyObject *arg, PyObject *ctx);

/* Report the current exception as the loop reports a failed
 * cx_loop_push_call1 entry callable(arg) run in ctx (asyncio's failed
 * Handle: "Exception in callback ...", with a Handle in the context).
 * 0, or -1 when the exception handler raised SystemExit or
 * KeyboardInterrupt. */
int cx_loop_report_call1(LoopObject *loop, PyObject *callable, PyObject *arg,
                         PyObject *ctx);

/* Report the current exception through loop.call_exception_handler() with
 * the context {'message': message, 'exception': exc, extra_key: extra_obj,
 * 'source_traceback': extra_obj._source_traceback if set}; extra_key may be
 * NULL.  Returns 0; or -1 with SystemExit or KeyboardInterrupt set when the
 * handler raised one (they leave the loop, as in asyncio); any other error
 * of the handler is written as unraisable. */
int cx_loop_report_exception(PyObject *loop, PyObject *message,
                             PyObject *extra_key, PyObject *extra_obj);

/* "Exception in callback <callback(args) at file:line>", asyncio's message
 * for a failed callback.  New reference; never NULL unless out of memory
 * (then the current exception is kept). */
PyObject *cx_callback_error_message(cx_state *st, PyObject *callback,
                                    PyObject *args, PyObject *loop);

/* format_helpers._format_callback_source(callback, args), with
 * debug=loop.get_debug() where it takes debug= (3.13+; loop NULL or None:
 * False).  New reference or NULL. */
PyObject *cx_format_callback_source(cx_state *st, PyObject *callback,
                                    PyObject *args, PyObject *loop);

/* A TimerHandle in this loop's heap was cancelled (handle.c). */
static inline void
cx_loop_timer_cancelled(LoopObject *loop)
{
    loop->loop_timers_cancelled++;
}

/* Queue Handle h (a transport's reader, uring.c) as the poll phase queues
 * a ready fd's.  0 or -1. */
int cx_loop_push_handle(LoopObject *loop, PyObject *h);

/* The loop's io_uring ring for a stream transport's receive path, opened
 * by the first call (Loop_new's) when the loop's switch is on; NULL when
 * off or io_uring is not available (the switch is then turned off: epoll,
 * silently). */
struct cx_uring *cx_loop_uring(LoopObject *loop);

/* loop.time() of a monotonic clock, in seconds (time.monotonic()'s clock). */
double cx_time_now(void);

#endif /* CX_LOOP_H */
