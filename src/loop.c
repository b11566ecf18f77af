/* The Loop type: asyncio's event loop core in C.
 *
 * One iteration (loop_run_once) is, as in asyncio's _run_once and libuv's
 * uv_run:
 *     loop_poll_io         wait for fds (or the wake-up eventfd) and queue
 *                          the ready readers and writers
 *     loop_expire_timers   move due timers to the ready queue
 *     loop_run_ready       run what was queued before this point; entries
 *                          queued while running wait for the next iteration
 * The cold parts (run_forever's set-up, run_until_complete, close, the
 * exception handler, executors) live in python/casyncio/_loop.py, in a
 * subclass of this type. */
#include "internal.h"
#include "structmember.h"
#include <errno.h>
#include <math.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define LOOP_MAX_EVENTS 256
#define LOOP_MAX_TIMEOUT (24 * 3600.0)   /* asyncio's MAXIMUM_SELECT_TIMEOUT */

double
cx_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- errors and reporting ---- */

static int
loop_check_closed(LoopObject *lp)
{
    if (lp->loop_closed) {
        PyErr_SetString(PyExc_RuntimeError, "Event loop is closed");
        return -1;
    }
    return 0;
}

int
cx_loop_report_exception(PyObject *loop, PyObject *message,
                         PyObject *extra_key, PyObject *extra_obj)
{
    PyObject *exc = cx_err_fetch();
    PyObject *ctx = PyDict_New();
    PyObject *res = NULL;
    if (ctx == NULL
        || PyDict_SetItemString(ctx, "message", message) < 0
        || (exc && PyDict_SetItemString(ctx, "exception", exc) < 0)) {
        goto done;
    }
    if (extra_key != NULL && extra_obj != NULL) {
        if (PyDict_SetItem(ctx, extra_key, extra_obj) < 0) {
            goto done;
        }
        PyObject *tb = PyObject_GetAttrString(extra_obj, "_source_traceback");
        if (tb == NULL) {
            PyErr_Clear();
        }
        else {
            int r = PyObject_IsTrue(tb);
            if (r > 0) {
                r = PyDict_SetItemString(ctx, "source_traceback", tb);
            }
            Py_DECREF(tb);
            if (r < 0) {
                goto done;
            }
        }
    }
    res = PyObject_CallMethod(loop, "call_exception_handler", "O", ctx);
done:
    Py_XDECREF(ctx);
    Py_XDECREF(exc);
    if (res == NULL) {
        if (cx_is_exit_exception()) {
            return -1;
        }
        PyErr_WriteUnraisable(loop);
        return 0;
    }
    Py_DECREF(res);
    return 0;
}

PyObject *
cx_format_callback_source(cx_state *st, PyObject *callback, PyObject *args,
                          PyObject *loop)
{
    PyObject *fn = st->asyncio_format_callback;
    PyObject *cb = callback ? callback : Py_None;
    PyObject *a = args ? args : Py_None;
    /* 3.13: _format_callback_source(func, args, *, debug=False) shows the
     * arguments only when debug is true: the loop's get_debug(), as
     * Handle._repr_info passes it. */
    PyObject *kwdefaults = PyObject_GetAttrString(fn, "__kwdefaults__");
    if (kwdefaults == NULL) {
        return NULL;
    }
    int takes_debug = PyDict_Check(kwdefaults)
        ? PyDict_GetItemString(kwdefaults, "debug") != NULL : 0;
    Py_DECREF(kwdefaults);
    if (!takes_debug) {
        return PyObject_CallFunctionObjArgs(fn, cb, a, NULL);
    }
    PyObject *debug = Py_False;
    if (loop != NULL && loop != Py_None) {
        PyObject *r = PyObject_CallMethod(loop, "get_debug", NULL);
        int truth = r ? PyObject_IsTrue(r) : -1;
        Py_XDECREF(r);
        if (truth < 0) {
            return NULL;
        }
        debug = truth ? Py_True : Py_False;
    }
    PyObject *kw = Py_BuildValue("{sO}", "debug", debug);
    PyObject *pos = kw ? PyTuple_Pack(2, cb, a) : NULL;
    PyObject *r = pos ? PyObject_Call(fn, pos, kw) : NULL;
    Py_XDECREF(pos);
    Py_XDECREF(kw);
    return r;
}

PyObject *
cx_callback_error_message(cx_state *st, PyObject *callback, PyObject *args,
                          PyObject *loop)
{
    PyObject *exc = cx_err_fetch();
    PyObject *src = cx_format_callback_source(st, callback, args, loop);
    PyObject *msg = src ? PyUnicode_FromFormat("Exception in callback %U",
                                               src) : NULL;
    Py_XDECREF(src);
    if (msg == NULL) {
        /* The repr failed: still report, with a plainer message. */
        PyErr_Clear();
        msg = PyUnicode_FromString("Exception in callback");
    }
    cx_err_restore(exc);
    return msg;
}

/* ---- the wake-up eventfd (wakeup.c) ---- */

static void
loop_wakeup(LoopObject *lp)
{
    if (lp->loop_wakeup_fd >= 0) {
        cx_wakeup_signal(lp->loop_wakeup_fd);
    }
}

/* ---- scheduling ---- */

/* Debug mode: asyncio's _check_thread() (the Python method, so a subclass
 * may change it), as call_soon does; the fast paths below do it too. */
static int
loop_check_thread(LoopObject *lp)
{
    PyObject *r = PyObject_CallMethod((PyObject *)lp, "_check_thread", NULL);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* The queue steals *e's references on success. */
static inline int
loop_push(LoopObject *lp, cx_entry *e)
{
    if (cx_queue_push(&lp->loop_ready, e) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

int
cx_loop_push_cfunc(LoopObject *lp, cx_cfunc fn, PyObject *arg1,
                   PyObject *arg2)
{
    if (loop_check_closed(lp) < 0
        || (lp->loop_debug && loop_check_thread(lp) < 0)) {
        return -1;
    }
    cx_entry e = {CX_ENTRY_CFUNC, Py_NewRef(arg1), Py_XNewRef(arg2), NULL,
                  fn};
    if (loop_push(lp, &e) < 0) {
        cx_entry_clear(&e);
        return -1;
    }
    return 0;
}

int
cx_loop_push_cfunc_ctx(LoopObject *lp, cx_cfunc fn, PyObject *arg1,
                       PyObject *arg2, PyObject *ctx)
{
    if (ctx == NULL) {
        return cx_loop_push_cfunc(lp, fn, arg1, arg2);
    }
    if (loop_check_closed(lp) < 0
        || (lp->loop_debug && loop_check_thread(lp) < 0)) {
        return -1;
    }
    cx_entry e = {CX_ENTRY_CFUNC, Py_NewRef(arg1), Py_XNewRef(arg2),
                  Py_NewRef(ctx), fn};
    if (loop_push(lp, &e) < 0) {
        cx_entry_clear(&e);
        return -1;
    }
    return 0;
}

static PyObject *loop_call_soon(LoopObject *lp, PyObject *callback,
                                PyObject *cbargs, PyObject *context);

int
cx_loop_push_call1(LoopObject *lp, PyObject *callable, PyObject *arg,
                   PyObject *ctx)
{
    return cx_loop_push_call1_run(lp, NULL, callable, arg, ctx);
}

int
cx_loop_push_call1_run(LoopObject *lp, cx_cfunc run, PyObject *callable,
                       PyObject *arg, PyObject *ctx)
{
    if (loop_check_closed(lp) < 0
        || (lp->loop_debug && loop_check_thread(lp) < 0)) {
        return -1;
    }
    if (lp->loop_debug) {
        /* asyncio's call_soon: a Handle made now, which records where the
         * callback was scheduled ("created at" in the slow-callback warning
         * and the handle's source traceback in an error report). */
        PyObject *args = PyTuple_Pack(1, arg);
        PyObject *h = args ? loop_call_soon(lp, callable, args, ctx) : NULL;
        Py_XDECREF(args);
        Py_XDECREF(h);
        return h ? 0 : -1;
    }
    cx_entry e = {CX_ENTRY_CALL1, Py_NewRef(callable), Py_NewRef(arg),
                  ctx ? Py_NewRef(ctx) : PyContext_CopyCurrent(), run};
    if (e.ctx == NULL || loop_push(lp, &e) < 0) {
        cx_entry_clear(&e);
        return -1;
    }
    return 0;
}

/* asyncio's debug-mode checks (_check_thread and _check_callback), done in
 * Python: only in debug mode, so a cold path. */
static int
loop_debug_checks(LoopObject *lp, PyObject *callback, const char *method,
                  int check_thread)
{
    if (check_thread && loop_check_thread(lp) < 0) {
        return -1;
    }
    PyObject *r = PyObject_CallMethod((PyObject *)lp, "_check_callback", "Os",
                            callback, method);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* The names of the positional parameters of call_soon (skip 0),
 * call_later and call_at (skip 1): asyncio's, which take them by keyword
 * too. */
static const char *
loop_first_param(const char *method)
{
    return method[5] == 'l' ? "delay" : "when";
}

static int
loop_is_param(PyObject *k, const char *method, Py_ssize_t skip)
{
    return PyUnicode_Check(k)
           && (PyUnicode_CompareWithASCIIString(k, "callback") == 0
               || (skip && PyUnicode_CompareWithASCIIString(
                               k, loop_first_param(method)) == 0));
}

/* Cold: call_soon/call_soon_threadsafe/call_later/call_at(meth) called
 * with callback (and delay or when) by keyword.  Calls meth again with
 * them as positional arguments and only context left as a keyword, or
 * raises Python's TypeError for a duplicate or unknown keyword. */
static PyObject *
loop_call_by_keyword(LoopObject *lp,
                     PyObject *(*meth)(LoopObject *, PyObject *const *,
                                       Py_ssize_t, PyObject *),
                     const char *method, Py_ssize_t skip,
                     PyObject *const *args, Py_ssize_t nargs,
                     PyObject *kwnames)
{
    const char *names[2] = {loop_first_param(method), "callback"};
    const char *const *pos = skip ? names : names + 1;
    Py_ssize_t npos = skip + 1;
    /* stack: the positional arguments, then context */
    PyObject *stack[3] = {NULL, NULL, NULL};
    PyObject *context = NULL;
    for (Py_ssize_t i = 0; i < nargs && i < npos; i++) {
        stack[i] = args[i];
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); i++) {
        PyObject *k = PyTuple_GET_ITEM(kwnames, i);
        PyObject **slot = NULL;
        if (PyUnicode_Check(k)
            && PyUnicode_CompareWithASCIIString(k, "context") == 0) {
            slot = &context;
        }
        for (Py_ssize_t j = 0; slot == NULL && j < npos; j++) {
            if (PyUnicode_Check(k)
                && PyUnicode_CompareWithASCIIString(k, pos[j]) == 0) {
                slot = &stack[j];
            }
        }
        if (slot == NULL) {
            PyErr_Format(PyExc_TypeError,
                         "%s() got an unexpected keyword argument '%S'",
                         method, k);
            return NULL;
        }
        if (*slot != NULL) {
            PyErr_Format(PyExc_TypeError,
                         "%s() got multiple values for argument '%S'",
                         method, k);
            return NULL;
        }
        *slot = args[nargs + i];
    }
    for (Py_ssize_t j = 0; j < npos; j++) {
        if (stack[j] == NULL) {
            PyErr_Format(PyExc_TypeError,
                         "%s() missing required argument: '%s'", method,
                         pos[j]);
            return NULL;
        }
    }
    /* callback given by keyword: there is no *args */
    if (context == NULL) {
        return meth(lp, stack, npos, NULL);
    }
    stack[npos] = context;
    PyObject *kw = Py_BuildValue("(s)", "context");
    if (kw == NULL) {
        return NULL;
    }
    PyObject *res = meth(lp, stack, npos, kw);
    Py_DECREF(kw);
    return res;
}

/* Parse (callback, *args, context=None) of a fastcall method whose first
 * `skip` positional arguments were taken by the caller.  Borrowed results:
 * the callback's arguments are (*cbargv)[0..*cbargc).  -2 (no exception
 * set) when callback (or the skipped parameter) came by keyword:
 * loop_call_by_keyword's job. */
static inline int
loop_parse_callback_args(const char *method, PyObject *const *args,
                         Py_ssize_t nargs, PyObject *kwnames,
                         Py_ssize_t skip, PyObject **callback,
                         PyObject *const **cbargv, Py_ssize_t *cbargc,
                         PyObject **context)
{
    *context = NULL;
    if (kwnames != NULL) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); i++) {
            PyObject *k = PyTuple_GET_ITEM(kwnames, i);
            if (!PyUnicode_Check(k)
                || PyUnicode_CompareWithASCIIString(k, "context") != 0) {
                if (loop_is_param(k, method, skip)) {
                    return -2;
                }
                PyErr_Format(PyExc_TypeError,
                             "%s() got an unexpected keyword argument '%S'",
                             method, k);
                return -1;
            }
            *context = args[nargs + i];
        }
    }
    if (nargs <= skip) {
        static const char *names[] = {"callback", "delay, callback",
                                      "when, callback"};
        PyErr_Format(PyExc_TypeError,
                     "%s() missing required positional argument(s): %s",
                     method, names[skip == 0 ? 0 : (method[5] == 'l' ? 1
                                                                     : 2)]);
        return -1;
    }
    *callback = args[skip];
    *cbargv = args + skip + 1;
    *cbargc = nargs - skip - 1;
    if (*context == Py_None) {
        *context = NULL;
    }
    return 0;
}

/* loop_parse_callback_args, the arguments as a new tuple *cbargs. */
static int
loop_parse_callback(const char *method, PyObject *const *args,
                    Py_ssize_t nargs, PyObject *kwnames, Py_ssize_t skip,
                    PyObject **callback, PyObject **cbargs,
                    PyObject **context)
{
    PyObject *const *argv;
    Py_ssize_t argc;
    int r = loop_parse_callback_args(method, args, nargs, kwnames, skip,
                                     callback, &argv, &argc, context);
    if (r < 0) {
        return r;
    }
    *cbargs = cx_tuple_from_array(argv, argc);
    return *cbargs == NULL ? -1 : 0;
}

/* Put the new Handle h (NULL: making it failed) in the ready queue and
 * return it: the caller's reference, passed on; NULL on error. */
static PyObject *
loop_push_handle(LoopObject *lp, PyObject *h)
{
    if (h == NULL) {
        return NULL;
    }
    cx_entry e = {CX_ENTRY_HANDLE, Py_NewRef(h), NULL, NULL, NULL};
    if (loop_push(lp, &e) < 0) {
        Py_DECREF(h);
        Py_DECREF(h);
        return NULL;
    }
    return h;
}

/* call_soon() without the argument parsing.  New reference to the Handle. */
static PyObject *
loop_call_soon(LoopObject *lp, PyObject *callback, PyObject *cbargs,
               PyObject *context)
{
    return loop_push_handle(lp, cx_handle_new(lp->st, callback, cbargs,
                                              (PyObject *)lp, context));
}

static PyObject *
Loop_call_soon(LoopObject *lp, PyObject *const *args, Py_ssize_t nargs,
               PyObject *kwnames)
{
    PyObject *callback, *cbargs, *context;
    int r = 0;
    if (kwnames == NULL && nargs >= 1 && !lp->loop_debug) {
        /* call_soon(callback, *args): nothing to parse or check */
        if (loop_check_closed(lp) < 0) {
            return NULL;
        }
        /* one argument inline: no tuple (cx_handle_new_argv) */
        return loop_push_handle(lp, cx_handle_new_argv(
            lp->st, args[0], args + 1, nargs - 1, (PyObject *)lp, NULL));
    }
    if (loop_check_closed(lp) < 0
        || (r = loop_parse_callback("call_soon", args, nargs, kwnames, 0,
                                    &callback, &cbargs, &context)) < 0) {
        return r == -2 ? loop_call_by_keyword(lp, Loop_call_soon,
                                              "call_soon", 0, args, nargs,
                                              kwnames)
                       : NULL;
    }
    PyObject *h = NULL;
    if (!lp->loop_debug
        || loop_debug_checks(lp, callback, "call_soon", 1) == 0) {
        h = loop_call_soon(lp, callback, cbargs, context);
    }
    Py_DECREF(cbargs);
    return h;
}

static PyObject *
Loop_call_soon_threadsafe(LoopObject *lp, PyObject *const *args,
                          Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *callback, *cbargs, *context;
    int r = 0;
    if (loop_check_closed(lp) < 0
        || (r = loop_parse_callback("call_soon_threadsafe", args, nargs,
                                    kwnames, 0, &callback, &cbargs,
                                    &context)) < 0) {
        return r == -2 ? loop_call_by_keyword(lp, Loop_call_soon_threadsafe,
                                              "call_soon_threadsafe", 0,
                                              args, nargs, kwnames)
                       : NULL;
    }
    PyObject *h = NULL;
    if (!lp->loop_debug
        || loop_debug_checks(lp, callback, "call_soon_threadsafe", 0) == 0) {
        h = loop_call_soon(lp, callback, cbargs, context);
    }
    Py_DECREF(cbargs);
    /* The queue is safe under the GIL; the loop only needs waking when it
     * sleeps in epoll_wait, which it announces in loop_polling before
     * releasing the GIL. */
    if (h != NULL && lp->loop_polling) {
        loop_wakeup(lp);
    }
    return h;
}

/* call_at() without the argument parsing; when_obj is the deadline as
 * given to call_at() (NULL for call_later's).  New reference. */
static PyObject *
loop_call_at(LoopObject *lp, double when, PyObject *when_obj,
             PyObject *callback, PyObject *const *cbargv, Py_ssize_t cbargc,
             PyObject *context)
{
    PyObject *h = cx_timer_handle_new(lp->st, when, when_obj, callback,
                                      cbargv, cbargc, (PyObject *)lp,
                                      context);
    if (h == NULL) {
        return NULL;
    }
    TimerHandleObject *t = (TimerHandleObject *)h;
    /* A NaN deadline is due at once (asyncio's `when >= end_time` is
     * false for it); the handle keeps NaN as its when(). */
    if (cx_heap_push(&lp->loop_timers, isnan(when) ? -INFINITY : when,
                     t) < 0) {
        Py_DECREF(h);
        return PyErr_NoMemory();
    }
    Py_INCREF(h);               /* the heap's reference */
    t->th_scheduled = 1;
    return h;
}

static PyObject *Loop_time(LoopObject *, PyObject *);

/* The loop's clock, as asyncio's loop reads it: self.time().  A time()
 * patched on the instance (mock.patch.object(loop, 'time', ...)) or
 * overridden by a subclass is called; else the C clock is read directly.
 * Which one is looked up once per iteration while the loop runs, at each
 * read otherwise.  0 or -1. */
static int
loop_now(LoopObject *lp, double *now)
{
    if (!lp->loop_time_checked) {
        PyObject *m = PyObject_GetAttr((PyObject *)lp, lp->st->str_time);
        if (m == NULL) {
            return -1;
        }
        if (cx_method_is(lp->st, m, (PyObject *)lp, (PyCFunction)Loop_time)) {
            Py_DECREF(m);
            Py_CLEAR(lp->loop_time_fn);
        }
        else {
            Py_XSETREF(lp->loop_time_fn, m);
        }
        lp->loop_time_checked = lp->loop_running;
    }
    if (lp->loop_time_fn == NULL) {
        *now = cx_time_now();
        return 0;
    }
    PyObject *r = PyObject_CallNoArgs(lp->loop_time_fn);
    if (r == NULL) {
        return -1;
    }
    *now = PyFloat_AsDouble(r);
    Py_DECREF(r);
    return *now == -1.0 && PyErr_Occurred() ? -1 : 0;
}

/* A float from a number argument, with asyncio's message for None. */
static int
loop_time_arg(PyObject *o, const char *none_msg, double *out)
{
    if (PyFloat_CheckExact(o)) {
        *out = PyFloat_AS_DOUBLE(o);
        return 0;
    }
    if (o == Py_None) {
        PyErr_SetString(PyExc_TypeError, none_msg);
        return -1;
    }
    *out = PyFloat_AsDouble(o);
    if (*out == -1.0 && PyErr_Occurred()) {
        return -1;
    }
    return 0;
}

static PyObject *Loop_call_later(LoopObject *, PyObject *const *,
                                 Py_ssize_t, PyObject *);
static PyObject *Loop_call_at(LoopObject *, PyObject *const *, Py_ssize_t,
                              PyObject *);

static PyObject *
loop_call_at_fast(LoopObject *lp, const char *method, int is_delay,
                  PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *callback, *context;
    PyObject *const *cbargv;
    Py_ssize_t cbargc;
    double t;
    int r = loop_parse_callback_args(method, args, nargs, kwnames, 1,
                                     &callback, &cbargv, &cbargc, &context);
    if (r < 0) {
        return r == -2 ? loop_call_by_keyword(
                             lp, is_delay ? Loop_call_later : Loop_call_at,
                             method, 1, args, nargs, kwnames)
                       : NULL;
    }
    if (loop_time_arg(args[0], is_delay ? "delay must not be None"
                                        : "when cannot be None", &t) < 0
        || loop_check_closed(lp) < 0) {
        return NULL;
    }
    if (is_delay) {
        double now;
        if (loop_now(lp, &now) < 0) {
            return NULL;
        }
        t += now;
    }
    if (lp->loop_debug && loop_debug_checks(lp, callback, "call_at", 1) < 0) {
        return NULL;
    }
    return loop_call_at(lp, t, is_delay ? NULL : args[0], callback, cbargv,
                        cbargc, context);
}

static PyObject *
Loop_call_later(LoopObject *lp, PyObject *const *args, Py_ssize_t nargs,
                PyObject *kwnames)
{
    return loop_call_at_fast(lp, "call_later", 1, args, nargs, kwnames);
}

static PyObject *
Loop_call_at(LoopObject *lp, PyObject *const *args, Py_ssize_t nargs,
             PyObject *kwnames)
{
    return loop_call_at_fast(lp, "call_at", 0, args, nargs, kwnames);
}

static PyObject *
Loop_time(LoopObject *lp, PyObject *Py_UNUSED(ignored))
{
    return PyFloat_FromDouble(cx_time_now());
}

/* ---- one iteration ---- */

/* Queue fd's reader or writer, unless it was cancelled (then forget it, as
 * asyncio does).  The slot holds a Handle, or a C watcher (poller.h) whose
 * cw_ready is queued as a CFUNC entry.  0 or -1. */
static int
loop_queue_watcher(LoopObject *lp, int fd, int which)
{
    PyObject *h = cx_poller_get(&lp->loop_poller, fd, which);
    if (h == NULL) {
        return 0;
    }
    int is_handle = Py_IS_TYPE(h, lp->st->HandleType);
    if (is_handle ? ((HandleObject *)h)->handle_cancelled
                  : ((cx_cwatcher *)h)->cw_cancelled) {
        PyObject *old;
        if (cx_poller_set(&lp->loop_poller, fd, which, NULL, &old) == 0) {
            Py_XDECREF(old);
        }
        return 0;
    }
    cx_entry e = {CX_ENTRY_HANDLE, Py_NewRef(h), NULL, NULL, NULL};
    if (!is_handle) {
        e.kind = CX_ENTRY_CFUNC;
        e.fn = ((cx_cwatcher *)h)->cw_ready;
    }
    if (loop_push(lp, &e) < 0) {
        Py_DECREF(h);
        return -1;
    }
    return 0;
}

/* *timeout for epoll_wait in ms: 0 when there is work or a stop, -1 with
 * no timer, else until the first timer, rounded up so we never wake early.
 * 0 or -1 (an overriding time() raised). */
static inline __attribute__((always_inline)) int
loop_poll_timeout(LoopObject *lp, int *timeout)
{
    *timeout = 0;
    if (cx_queue_len(&lp->loop_ready) || lp->loop_stopping) {
        return 0;
    }
    cx_timer_entry *first = cx_heap_peek(&lp->loop_timers);
    if (first == NULL) {
        *timeout = -1;
        return 0;
    }
    double now;
    if (loop_now(lp, &now) < 0) {
        return -1;
    }
    double d = first->when - now;
    if (d > LOOP_MAX_TIMEOUT) {
        d = LOOP_MAX_TIMEOUT;
    }
    if (d > 0) {
        *timeout = (int)ceil(d * 1e3);
    }
    return 0;
}

/* epoll_wait for the poll phase (timeout in ms; the GIL released unless
 * 0): the count of events, or -1 with errno. */
static inline __attribute__((always_inline)) int
loop_epoll_wait(LoopObject *lp, struct epoll_event *events, int timeout)
{
    int n;
    if (timeout == 0) {
        n = epoll_wait(lp->loop_poller.epfd, events, LOOP_MAX_EVENTS, 0);
    }
    else {
        /* parked watchers (poller.h) out of epoll only before a wait that
         * can sleep: until then their events are passed over */
        cx_poller_flush(&lp->loop_poller);
        lp->loop_polling = 1;
        Py_BEGIN_ALLOW_THREADS
        n = epoll_wait(lp->loop_poller.epfd, events, LOOP_MAX_EVENTS,
                       timeout);
        Py_END_ALLOW_THREADS
        lp->loop_polling = 0;
    }
    return n;
}

/* Queue what epoll reported.  0 or -1. */
static inline __attribute__((always_inline)) int
loop_dispatch(LoopObject *lp, struct epoll_event *events, int n)
{
    for (int i = 0; i < n; i++) {
        int fd = events[i].data.fd;
        uint32_t ev = events[i].events;
        if (fd == lp->loop_wakeup_fd) {
            cx_wakeup_drain(lp->loop_wakeup_fd);
            continue;
        }
        if (fd == lp->loop_signal_rfd) {
            if (cx_signal_dispatch(lp) < 0) {
                return -1;
            }
            continue;
        }
        /* As selectors.EpollSelector: errors and hang-ups wake both. */
        if ((ev & ~EPOLLOUT) && loop_queue_watcher(lp, fd, 0) < 0) {
            return -1;
        }
        if ((ev & ~EPOLLIN) && loop_queue_watcher(lp, fd, 1) < 0) {
            return -1;
        }
    }
    return 0;
}

static int
loop_poll_io(LoopObject *lp)
{
    struct epoll_event events[LOOP_MAX_EVENTS];
    int timeout;
    if (loop_poll_timeout(lp, &timeout) < 0) {
        return -1;
    }
    if (timeout == 0 && lp->loop_poller.nregistered == 0
        && lp->loop_signal_rfd < 0) {
        /* Nothing epoll could report: no fd of the table is in it, and
         * the wake-up eventfd is written only while the loop sleeps
         * (loop_polling), which it is not about to do.  As libuv's
         * uv__io_poll with no fd watched: no epoll_wait. */
        return 0;
    }
    int n = loop_epoll_wait(lp, events, timeout);
    if (n < 0) {
        if (errno != EINTR) {
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        /* A signal: run its Python handler now (Ctrl+C raises here). */
        return PyErr_CheckSignals();
    }
    return loop_dispatch(lp, events, n);
}

/* The poll phase of a loop with an io_uring ring (uring.h): what it
 * queued submitted before the wait, its completions reaped after it,
 * before epoll's events, so that a reader runs before the writer of the
 * same socket, as on epoll (a reset's error is the recv's, the send then
 * sees EPIPE).  The ring's fd, in the epoll set to wake the wait, has no
 * watcher: loop_dispatch passes over it. */
static int
loop_poll_io_uring(LoopObject *lp)
{
    struct epoll_event events[LOOP_MAX_EVENTS];
    int timeout;
    cx_uring *u = lp->loop_uring;
    if (loop_poll_timeout(lp, &timeout) < 0) {
        return -1;
    }
    if (cx_uring_pending(u)) {
        (void)cx_uring_submit(u);   /* retried before the next wait */
    }
    int n = loop_epoll_wait(lp, events, timeout);
    if (n < 0) {
        if (errno != EINTR) {
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        /* A signal, or the completions' task work interrupting the wait */
        if (PyErr_CheckSignals() < 0) {
            return -1;
        }
        n = 0;
    }
    if (cx_uring_reap(u, (PyObject *)lp) < 0) {
        return -1;
    }
    return loop_dispatch(lp, events, n);
}

/* Take the soonest timer out of the heap; the caller gets the heap's
 * reference. */
static TimerHandleObject *
loop_pop_timer(LoopObject *lp)
{
    TimerHandleObject *t = cx_heap_pop(&lp->loop_timers);
    t->th_scheduled = 0;
    return t;
}

static int
timer_not_cancelled(void *t)
{
    return !((TimerHandleObject *)t)->base.handle_cancelled;
}

/* Drop cancelled timers, as asyncio's _run_once does: all of them when they
 * are more than half of a heap of over 100, else those at the top. */
static void
loop_prune_timers(LoopObject *lp)
{
    cx_timer_entry *top;
    if (lp->loop_timers.len > 100
        && lp->loop_timers_cancelled * 2 > lp->loop_timers.len) {
        void **dropped;
        ptrdiff_t n;
        if (cx_heap_filter(&lp->loop_timers, timer_not_cancelled, &dropped,
                           &n) == 0) {
            lp->loop_timers_cancelled = 0;
            for (ptrdiff_t i = 0; i < n; i++) {
                ((TimerHandleObject *)dropped[i])->th_scheduled = 0;
            }
            /* Released only now: a finalizer may schedule new timers. */
            for (ptrdiff_t i = 0; i < n; i++) {
                Py_DECREF((PyObject *)dropped[i]);
            }
            free(dropped);
            return;
        }
    }
    while ((top = cx_heap_peek(&lp->loop_timers)) != NULL
           && ((TimerHandleObject *)top->data)->base.handle_cancelled) {
        /* Only here does asyncio count a cancelled timer out: one the
         * timer phase below takes out (due, behind a live one) stays
         * counted until the next compaction, as in asyncio. */
        lp->loop_timers_cancelled--;
        Py_DECREF(loop_pop_timer(lp));
    }
}

static int
loop_expire_timers(LoopObject *lp)
{
    if (lp->loop_timers.len == 0) {
        return 0;   /* no clock read: most iterations of a busy server */
    }
    double end;
    if (loop_now(lp, &end) < 0) {
        return -1;
    }
    cx_timer_entry *top;
    while ((top = cx_heap_peek(&lp->loop_timers)) != NULL
           && top->when <= end) {
        TimerHandleObject *t = loop_pop_timer(lp);
        if (t->base.handle_cancelled) {
            Py_DECREF(t);
            continue;
        }
        /* The heap's reference moves to the queue. */
        cx_entry e = {CX_ENTRY_HANDLE, (PyObject *)t, NULL, NULL, NULL};
        if (loop_push(lp, &e) < 0) {
            Py_DECREF(t);
            return -1;
        }
    }
    return 0;
}

/* Empty the heap, releasing every timer. */
static void
loop_clear_timers(LoopObject *lp)
{
    while (lp->loop_timers.len) {
        Py_DECREF(loop_pop_timer(lp));
    }
}

/* Report a failed CALL1 entry as asyncio would a failed Handle.  0, or
 * -1 when the exception handler raised SystemExit or KeyboardInterrupt. */
int
cx_loop_report_call1(LoopObject *lp, PyObject *callable, PyObject *arg,
                     PyObject *ctx)
{
    PyObject *args = PyTuple_Pack(1, arg);
    if (args == NULL) {
        return -1;
    }
    PyObject *msg = cx_callback_error_message(lp->st, callable, args,
                                              (PyObject *)lp);
    PyObject *exc = cx_err_fetch();
    PyObject *h = cx_handle_new(lp->st, callable, args, (PyObject *)lp,
                                ctx);
    PyErr_Clear();
    cx_err_restore(exc);
    int rc = msg ? cx_loop_report_exception((PyObject *)lp, msg,
                                            lp->st->str_handle, h) : -1;
    Py_XDECREF(msg);
    Py_XDECREF(h);
    Py_DECREF(args);
    return rc;
}

/* Run one entry.  -1 only for what must leave the loop (SystemExit,
 * KeyboardInterrupt); any other error is reported and the loop goes on. */
/* A CALL1 or CFUNC entry's call in its context e->ctx (a CALL1 always has
 * one; a CFUNC when it is a transport's callback in its context, 3.15):
 * fn(obj, arg), or a CALL1's obj(arg) when it has no fn, an error kept
 * across the context's exit.  0, or -1 with an exception set. */
static int
loop_entry_call_in_context(cx_entry *e)
{
    if (PyContext_Enter(e->ctx) < 0) {
        return -1;
    }
    int rc;
    if (e->fn != NULL) {
        rc = e->fn(e->obj, e->arg);
    }
    else {
        PyObject *res = PyObject_CallOneArg(e->obj, e->arg);
        rc = res != NULL ? 0 : -1;
        Py_XDECREF(res);
    }
    PyObject *exc = rc < 0 ? cx_err_fetch() : NULL;
    PyContext_Exit(e->ctx);
    cx_err_restore(exc);
    return rc;
}

static int
loop_run_entry(LoopObject *lp, cx_entry *e)
{
    switch (e->kind) {
    case CX_ENTRY_HANDLE:
        if (((HandleObject *)e->obj)->handle_cancelled) {
            return 0;
        }
        return cx_handle_run((HandleObject *)e->obj);
    case CX_ENTRY_CALL1:
    case CX_ENTRY_CFUNC:
        /* no context: a CFUNC entering its own (a task step) */
        if ((e->ctx == NULL ? e->fn(e->obj, e->arg)
                            : loop_entry_call_in_context(e)) == 0) {
            return 0;
        }
        break;
    }
    if (cx_is_exit_exception()) {
        return -1;
    }
    if (e->kind == CX_ENTRY_CALL1) {
        return cx_loop_report_call1(lp, e->obj, e->arg, e->ctx);
    }
    PyObject *msg = PyUnicode_FromString("Exception in callback");
    if (msg == NULL) {
        return -1;
    }
    int rc = cx_loop_report_exception((PyObject *)lp, msg, lp->st->str_task,
                                      e->obj);
    Py_DECREF(msg);
    return rc;
}

/* Debug mode: time the entry and log it when slow (asyncio's warning
 * "Executing <...> took N seconds"), through Loop._log_slow_callback. */
static int
loop_run_entry_debug(LoopObject *lp, cx_entry *e)
{
    if (e->kind == CX_ENTRY_HANDLE
        && ((HandleObject *)e->obj)->handle_cancelled) {
        return 0;
    }
    /* asyncio's default exception handler shows where the running Handle
     * was created: it reads loop._current_handle. */
    PyObject *current = e->kind == CX_ENTRY_HANDLE ? e->obj : Py_None;
    if (PyObject_SetAttrString((PyObject *)lp, "_current_handle",
                               current) < 0) {
        return -1;
    }
    double t0 = cx_time_now();
    int rc = loop_run_entry(lp, e);
    double dt = cx_time_now() - t0;
    if (rc == 0 && PyObject_SetAttrString((PyObject *)lp, "_current_handle",
                                          Py_None) < 0) {
        return -1;
    }
    if (rc == 0 && dt >= lp->loop_slow_callback_duration) {
        PyObject *what = e->obj;
        PyObject *tmp = NULL;
        if (e->kind == CX_ENTRY_CALL1) {
            PyObject *args = PyTuple_Pack(1, e->arg);
            tmp = what = args ? cx_handle_new(lp->st, e->obj, args,
                                              (PyObject *)lp, e->ctx) : NULL;
            Py_XDECREF(args);
        }
        PyObject *r = what ? PyObject_CallMethod(
            (PyObject *)lp, "_log_slow_callback", "Od", what, dt) : NULL;
        Py_XDECREF(tmp);
        if (r == NULL) {
            return -1;
        }
        Py_DECREF(r);
    }
    return rc;
}

/* The deferred _leave_task failed after entry e ran (with rc): as the
 * step's own failure would be, reported (or passed on when it is an exit
 * exception; when rc was -1 already, its exception is passed on and this
 * one is unraisable). */
#if PY_VERSION_HEX < 0x030E0000
static int
loop_report_leave_error(LoopObject *lp, cx_entry *e, int rc)
{
    if (rc < 0) {
        PyErr_WriteUnraisable((PyObject *)lp);
        return -1;
    }
    if (cx_is_exit_exception()) {
        return -1;
    }
    PyObject *msg = PyUnicode_FromString("Exception in callback");
    if (msg == NULL) {
        return -1;
    }
    rc = cx_loop_report_exception((PyObject *)lp, msg, lp->st->str_task,
                                  e->obj);
    Py_DECREF(msg);
    return rc;
}
#endif

static int
loop_run_ready(LoopObject *lp)
{
    /* Only what is queued now: callbacks added while running wait for
     * the next iteration, as in asyncio. */
    Py_ssize_t ntodo = cx_queue_len(&lp->loop_ready);
    /* A callback may close the loop, which empties the queue. */
    for (Py_ssize_t i = 0; i < ntodo && cx_queue_len(&lp->loop_ready); i++) {
        cx_entry e;
        cx_queue_pop(&lp->loop_ready, &e);
        int rc;
        if (lp->loop_debug) {
            rc = loop_run_entry_debug(lp, &e);
        }
        else {
#if PY_VERSION_HEX < 0x030E0000
            /* a task step may put off its _leave_task (task.c) */
            lp->loop_defer_leave = i + 1 < ntodo
                                   && cx_task_entry_may_defer(lp, &e);
            rc = loop_run_entry(lp, &e);
            lp->loop_defer_leave = 0;
#else
            rc = loop_run_entry(lp, &e);
#endif
        }
#if PY_VERSION_HEX < 0x030E0000
        if (lp->loop_leave_pending != NULL) {
            const cx_entry *next =
                i + 1 < ntodo && cx_queue_len(&lp->loop_ready)
                ? cx_queue_at(&lp->loop_ready, 0) : NULL;
            if (!cx_task_leave_may_wait(lp, &e, rc, next)) {
                PyObject *exc = rc < 0 ? cx_err_fetch() : NULL;
                if (cx_task_leave_flush(lp) < 0) {
                    rc = loop_report_leave_error(lp, &e, rc);
                }
                cx_err_restore(exc);
            }
        }
#endif
        cx_entry_clear(&e);
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}

static int
loop_run_once(LoopObject *lp)
{
    lp->loop_time_checked = 0;
    loop_prune_timers(lp);
    if ((lp->loop_uring != NULL ? loop_poll_io_uring(lp)
                                : loop_poll_io(lp)) < 0
        || loop_expire_timers(lp) < 0) {
        return -1;
    }
    return loop_run_ready(lp);
}

static PyObject *
Loop__run_once(LoopObject *lp, PyObject *Py_UNUSED(ignored))
{
    if (lp->loop_running) {
        PyErr_SetString(PyExc_RuntimeError,
                        "This event loop is already running");
        return NULL;
    }
    if (loop_check_closed(lp) < 0 || loop_run_once(lp) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* The heart of run_forever(): iterate until stop().  The Python wrapper
 * does the set-up and tear-down around it. */
static PyObject *
Loop__run_forever_core(LoopObject *lp, PyObject *Py_UNUSED(ignored))
{
    int rc = 0;
    lp->loop_running = 1;
    while (rc == 0) {
        rc = loop_run_once(lp);
        if (lp->loop_stopping) {
            break;
        }
    }
    lp->loop_running = 0;
    lp->loop_stopping = 0;
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Loop_stop(LoopObject *lp, PyObject *Py_UNUSED(ignored))
{
    lp->loop_stopping = 1;
    Py_RETURN_NONE;
}

static PyObject *
Loop_is_closed(LoopObject *lp, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(lp->loop_closed);
}

/* In C, not Python: asyncio.Task(..., eager_start=True) asks it of the
 * loop for every task it makes (aiohttp makes one per request). */
static PyObject *
Loop_is_running(LoopObject *lp, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(lp->loop_thread_id != 0);
}

static PyObject *
Loop_get_debug(LoopObject *lp, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(lp->loop_debug);
}

static PyObject *
Loop_set_debug(LoopObject *lp, PyObject *enabled)
{
    int r = PyObject_IsTrue(enabled);
    if (r < 0) {
        return NULL;
    }
    lp->loop_debug = r;
    Py_RETURN_NONE;
}

/* Close the io_uring ring: its requests cancelled, the transports it
 * held let go of (uring.h). */
static void
loop_close_uring(LoopObject *lp)
{
    if (lp->loop_uring != NULL) {
        cx_uring *u = lp->loop_uring;
        lp->loop_uring = NULL;
        lp->loop_uring_on = 0;
        cx_uring_close(u);
    }
}

/* Drop the queue, the timers and the watchers, close epoll and the
 * eventfd.  The Python close() does the checks and the executor. */
static void
loop_release(LoopObject *lp)
{
    cx_queue_free(&lp->loop_ready);
    loop_clear_timers(lp);
    cx_heap_free(&lp->loop_timers);
    cx_signal_close(lp);
    loop_close_uring(lp);
    cx_poller_close(&lp->loop_poller);
    if (lp->loop_wakeup_fd >= 0) {
        close(lp->loop_wakeup_fd);
        lp->loop_wakeup_fd = -1;
    }
}

static PyObject *
Loop__close_core(LoopObject *lp, PyObject *Py_UNUSED(ignored))
{
    if (lp->loop_running) {
        PyErr_SetString(PyExc_RuntimeError,
                        "Cannot close a running event loop");
        return NULL;
    }
    lp->loop_closed = 1;
    loop_release(lp);
    Py_RETURN_NONE;
}

static PyObject *
Loop__write_to_self(LoopObject *lp, PyObject *Py_UNUSED(ignored))
{
    loop_wakeup(lp);
    Py_RETURN_NONE;
}

/* asyncio's _add_callback(handle): queue an existing Handle as is. */
static PyObject *
Loop__add_callback(LoopObject *lp, PyObject *handle)
{
    if (!PyObject_TypeCheck(handle, lp->st->HandleType)) {
        PyErr_Format(PyExc_TypeError, "a casyncio Handle is required, "
                     "not %.100s", Py_TYPE(handle)->tp_name);
        return NULL;
    }
    if (((HandleObject *)handle)->handle_cancelled) {
        Py_RETURN_NONE;
    }
    cx_entry e = {CX_ENTRY_HANDLE, Py_NewRef(handle), NULL, NULL, NULL};
    if (loop_check_closed(lp) < 0 || loop_push(lp, &e) < 0) {
        Py_DECREF(handle);
        return NULL;
    }
    if (lp->loop_polling) {
        loop_wakeup(lp);
    }
    Py_RETURN_NONE;
}

/* _signal_wakeup_fd(): the fd for signal.set_wakeup_fd() (signal.c). */
static PyObject *
Loop__signal_wakeup_fd(LoopObject *lp, PyObject *Py_UNUSED(ignored))
{
    int fd = cx_signal_wakeup_fd(lp);
    return fd < 0 ? NULL : PyLong_FromLong(fd);
}

static PyObject *
Loop__timer_handle_cancelled(LoopObject *lp, PyObject *handle)
{
    Py_RETURN_NONE;     /* TimerHandle.cancel() already counted it */
}

/* ---- fd readiness ---- */

/* selectors._fileobj_to_fd: the fd, or -1 with an exception set, or -2
 * (no exception) for a number too large to be an fd, which add_* turn
 * into OverflowError and remove_* into False, as epoll would. */
static int
loop_fileobj_to_fd(PyObject *fileobj)
{
    PyObject *num;
    if (PyLong_Check(fileobj)) {
        num = Py_NewRef(fileobj);
    }
    else {
        PyObject *r = PyObject_CallMethod(fileobj, "fileno", NULL);
        num = r ? PyNumber_Long(r) : NULL;
        Py_XDECREF(r);
        if (num == NULL) {
            if (PyErr_ExceptionMatches(PyExc_AttributeError)
                || PyErr_ExceptionMatches(PyExc_TypeError)
                || PyErr_ExceptionMatches(PyExc_ValueError)) {
                PyErr_Clear();
                PyErr_Format(PyExc_ValueError, "Invalid file object: %R",
                             fileobj);
            }
            return -1;
        }
    }
    int overflow;
    long fd = PyLong_AsLongAndOverflow(num, &overflow);
    if (fd == -1 && PyErr_Occurred()) {
        Py_DECREF(num);
        return -1;
    }
    if (overflow < 0 || (overflow == 0 && fd < 0)) {
        PyErr_Format(PyExc_ValueError, "Invalid file descriptor: %S", num);
        Py_DECREF(num);
        return -1;
    }
    Py_DECREF(num);
    return (overflow > 0 || fd > INT_MAX) ? -2 : (int)fd;
}

/* selectors' _fileobj_lookup: the fd, or, when the object gives none (a
 * closed socket's fileno() is -1), the fd it is registered under, found
 * by identity.  Results as loop_fileobj_to_fd's. */
static int
loop_fileobj_lookup(LoopObject *lp, PyObject *fileobj)
{
    int fd = loop_fileobj_to_fd(fileobj);
    if (fd == -1 && PyErr_ExceptionMatches(PyExc_ValueError)) {
        int found = cx_poller_find(&lp->loop_poller, fileobj);
        if (found >= 0) {
            PyErr_Clear();
            return found;
        }
    }
    return fd;
}

/* Cancel a replaced or removed watcher Handle; steals `old`. */
static int
loop_cancel_watcher(PyObject *old)
{
    if (old == NULL) {
        return 0;
    }
    PyObject *r = PyObject_CallMethod(old, "cancel", NULL);
    Py_DECREF(old);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

static PyObject *
loop_add_watcher(LoopObject *lp, int which, const char *method,
                 PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 2) {
        PyErr_Format(PyExc_TypeError,
                     "%s() missing required positional argument(s): "
                     "fd, callback", method);
        return NULL;
    }
    int fd = loop_fileobj_lookup(lp, args[0]);
    if (fd == -2) {
        PyErr_SetString(PyExc_OverflowError,
                        "Python int too large to convert to C int");
    }
    if (fd < 0 || loop_check_closed(lp) < 0) {
        return NULL;
    }
    PyObject *cbargs = cx_tuple_from_array(args + 2, nargs - 2);
    if (cbargs == NULL) {
        return NULL;
    }
    PyObject *h = cx_handle_new(lp->st, args[1], cbargs, (PyObject *)lp,
                                NULL);
    Py_DECREF(cbargs);
    if (h == NULL) {
        return NULL;
    }
    /* The fd's first registration keeps the object it was given. */
    int fresh = cx_poller_get(&lp->loop_poller, fd, 0) == NULL
                && cx_poller_get(&lp->loop_poller, fd, 1) == NULL;
    PyObject *old;
    int rc = cx_poller_set(&lp->loop_poller, fd, which, h, &old);
    if (rc < 0) {
        Py_DECREF(h);
        errno = -rc;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (fresh && !PyLong_Check(args[0])) {
        cx_poller_set_fileobj(&lp->loop_poller, fd, args[0]);
    }
    if (loop_cancel_watcher(old) < 0) {
        Py_DECREF(h);
        return NULL;
    }
    return h;
}

static PyObject *
loop_remove_watcher(LoopObject *lp, int which, PyObject *fileobj)
{
    if (lp->loop_closed) {
        Py_RETURN_FALSE;
    }
    int fd = loop_fileobj_lookup(lp, fileobj);
    if (fd == -1) {
        return NULL;
    }
    if (fd == -2) {
        Py_RETURN_FALSE;
    }
    PyObject *old;
    int rc = cx_poller_set(&lp->loop_poller, fd, which, NULL, &old);
    if (rc < 0) {
        errno = -rc;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (old == NULL) {
        Py_RETURN_FALSE;
    }
    if (loop_cancel_watcher(old) < 0) {
        return NULL;
    }
    Py_RETURN_TRUE;
}

static PyObject *
Loop__add_reader(LoopObject *lp, PyObject *const *args, Py_ssize_t nargs)
{
    return loop_add_watcher(lp, 0, "add_reader", args, nargs);
}

static PyObject *
Loop__add_writer(LoopObject *lp, PyObject *const *args, Py_ssize_t nargs)
{
    return loop_add_watcher(lp, 1, "add_writer", args, nargs);
}

static PyObject *
Loop__remove_reader(LoopObject *lp, PyObject *fd)
{
    return loop_remove_watcher(lp, 0, fd);
}

static PyObject *
Loop__remove_writer(LoopObject *lp, PyObject *fd)
{
    return loop_remove_watcher(lp, 1, fd);
}

/* ---- futures and tasks ---- */

static PyObject *
Loop_create_future(LoopObject *lp, PyObject *Py_UNUSED(ignored))
{
    return cx_future_new(lp->st, (PyObject *)lp);
}

#if PY_VERSION_HEX >= 0x030E0000
static PyObject *loop_create_task_kwargs(LoopObject *, PyObject *const *,
                                         Py_ssize_t, PyObject *);

/* create_task() with no positional argument and coro by keyword (kwnames
 * item `at`): again with coro first, the other keywords as they were. */
static PyObject *
loop_create_task_coro_kw(LoopObject *lp, PyObject *const *args,
                         Py_ssize_t at, PyObject *kwnames)
{
    Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames);
    PyObject *names = PyTuple_New(nkw - 1);
    PyObject **stack = PyMem_Malloc((size_t)nkw * sizeof(PyObject *));
    PyObject *res = NULL;
    if (names == NULL || stack == NULL) {
        if (stack == NULL) {
            PyErr_NoMemory();
        }
        goto done;
    }
    stack[0] = args[at];
    for (Py_ssize_t i = 0, j = 0; i < nkw; i++) {
        if (i != at) {
            stack[1 + j] = args[i];
            PyTuple_SET_ITEM(names, j,
                             Py_NewRef(PyTuple_GET_ITEM(kwnames, i)));
            j++;
        }
    }
    res = loop_create_task_kwargs(lp, stack, 1, nkw > 1 ? names : NULL);
done:
    Py_XDECREF(names);
    PyMem_Free(stack);
    return res;
}

/* 3.14's create_task(coro, **kwargs): every keyword goes on, to the task
 * factory as factory(loop, coro, **kwargs), or to Task(coro, loop=self,
 * **kwargs) (name, context, eager_start). */
static PyObject *
loop_create_task_kwargs(LoopObject *lp, PyObject *const *args,
                        Py_ssize_t nargs, PyObject *kwnames)
{
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs == 0) {
        /* create_task(coro=...): coro moved to the front */
        for (Py_ssize_t i = 0; i < nkw; i++) {
            PyObject *k = PyTuple_GET_ITEM(kwnames, i);
            if (PyUnicode_Check(k)
                && PyUnicode_CompareWithASCIIString(k, "coro") == 0) {
                return loop_create_task_coro_kw(lp, args, i, kwnames);
            }
        }
    }
    if (nargs != 1) {
        if (nargs == 0) {
            PyErr_SetString(PyExc_TypeError, "create_task() missing 1 "
                            "required positional argument: 'coro'");
        }
        else {
            PyErr_Format(PyExc_TypeError, "create_task() takes 2 positional "
                         "arguments but %zd were given", nargs + 1);
        }
        return NULL;
    }
    if (loop_check_closed(lp) < 0) {
        return NULL;
    }
    PyObject *res;
    PyObject **stack = PyMem_Malloc((size_t)(nkw + 3) * sizeof(PyObject *));
    if (stack == NULL) {
        return PyErr_NoMemory();
    }
    if (lp->loop_task_factory != NULL) {
        PyObject *factory = Py_NewRef(lp->loop_task_factory);
        stack[0] = (PyObject *)lp;
        stack[1] = args[0];
        for (Py_ssize_t i = 0; i < nkw; i++) {
            stack[2 + i] = args[1 + i];
        }
        res = PyObject_Vectorcall(factory, stack, 2, kwnames);
        Py_DECREF(factory);
    }
    else {
        /* Task(coro, **kwargs, loop=self) */
        PyObject *names = PyTuple_New(nkw + 1);
        PyObject *loopname = PyUnicode_FromString("loop");
        if (names == NULL || loopname == NULL) {
            Py_XDECREF(names);
            Py_XDECREF(loopname);
            PyMem_Free(stack);
            return NULL;
        }
        stack[0] = args[0];
        for (Py_ssize_t i = 0; i < nkw; i++) {
            stack[1 + i] = args[1 + i];
            PyTuple_SET_ITEM(names, i,
                             Py_NewRef(PyTuple_GET_ITEM(kwnames, i)));
        }
        stack[1 + nkw] = (PyObject *)lp;
        PyTuple_SET_ITEM(names, nkw, loopname);     /* steals */
        res = PyObject_Vectorcall((PyObject *)lp->st->TaskType, stack, 1,
                                  names);
        Py_DECREF(names);
    }
    PyMem_Free(stack);
    return res;
}
#endif

int
cx_loop_check_slow(cx_state *st, PyObject *op)
{
    if (!PyObject_TypeCheck(op, st->LoopType)) {
        return 0;
    }
    /* A strong reference: the address cannot name another type later. */
    Py_XSETREF(st->LoopSubtypeSeen, (PyTypeObject *)Py_NewRef(Py_TYPE(op)));
    return 1;
}

PyObject *
cx_loop_create_task_plain(cx_state *st, PyObject *loop, PyObject *coro)
{
    if (!cx_loop_check(st, loop)) {
        return NULL;
    }
    LoopObject *lp = (LoopObject *)loop;
    if (!lp->loop_create_task_fast || lp->loop_task_factory != NULL) {
        return NULL;
    }
    if (Py_TYPE(loop)->tp_dictoffset != 0) {
        /* mock.patch.object(loop, 'create_task', ...) */
        PyObject *dict = PyObject_GenericGetDict(loop, NULL);
        if (dict == NULL) {
            return NULL;
        }
        int patched = PyDict_Contains(dict, st->str_create_task);
        Py_DECREF(dict);
        if (patched != 0) {
            return NULL;        /* patched, or an error (set) */
        }
    }
    if (loop_check_closed(lp) < 0) {
        return NULL;
    }
    return cx_task_new(st, coro, loop, NULL, NULL);
}

static PyObject *
Loop_create_task(LoopObject *lp, PyObject *const *args, Py_ssize_t nargs,
                 PyObject *kwnames)
{
#if PY_VERSION_HEX >= 0x030E0000
    /* Keywords other than name and context: asyncio 3.14's pass-through. */
    if (kwnames != NULL || lp->loop_task_factory != NULL) {
        Py_ssize_t n = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
        int plain = lp->loop_task_factory == NULL;
        for (Py_ssize_t i = 0; plain && i < n; i++) {
            PyObject *k = PyTuple_GET_ITEM(kwnames, i);
            plain = PyUnicode_Check(k)
                    && (PyUnicode_CompareWithASCIIString(k, "name") == 0
                        || PyUnicode_CompareWithASCIIString(k, "context")
                           == 0);
        }
        if (!plain) {
            return loop_create_task_kwargs(lp, args, nargs, kwnames);
        }
    }
#endif
    static const char *const kw[] = {"coro", "name", "context", NULL};
    PyObject *coro = NULL, *name = Py_None, *context = Py_None;
    PyObject *slots[3] = {NULL, NULL, NULL};
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError,
                     "create_task() takes 2 positional arguments but %zd "
                     "were given", nargs + 1);
        return NULL;
    }
    if (nargs == 1) {
        slots[0] = args[0];
    }
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *k = PyTuple_GET_ITEM(kwnames, i);
        int found = 0;
        for (int j = 0; kw[j]; j++) {
            if (PyUnicode_Check(k) && PyUnicode_CompareWithASCIIString(k, kw[j]) == 0) {
                if (slots[j] != NULL) {
                    PyErr_Format(PyExc_TypeError, "create_task() got "
                                 "multiple values for argument '%s'", kw[j]);
                    return NULL;
                }
                slots[j] = args[nargs + i];
                found = 1;
            }
        }
        if (!found) {
            PyErr_Format(PyExc_TypeError, "create_task() got an unexpected "
                         "keyword argument '%S'", k);
            return NULL;
        }
    }
    if (slots[0] == NULL) {
        PyErr_SetString(PyExc_TypeError, "create_task() missing 1 required "
                        "positional argument: 'coro'");
        return NULL;
    }
    coro = slots[0];
    if (slots[1]) {
        name = slots[1];
    }
    if (slots[2]) {
        context = slots[2];
    }
    if (loop_check_closed(lp) < 0) {
        return NULL;
    }
    if (lp->loop_task_factory == NULL) {
        return cx_task_new(lp->st, coro, (PyObject *)lp,
                           name == Py_None ? NULL : name,
                           context == Py_None ? NULL : context);
    }
    PyObject *task;
    PyObject *factory = Py_NewRef(lp->loop_task_factory);
    if (context == Py_None) {
        /* The legacy factory signature when no context is needed. */
        task = PyObject_CallFunctionObjArgs(factory, lp, coro, NULL);
    }
    else {
        PyObject *a[3] = {(PyObject *)lp, coro, context};
        PyObject *names = Py_BuildValue("(s)", "context");
        task = names ? PyObject_Vectorcall(factory, a, 2, names) : NULL;
        Py_XDECREF(names);
    }
    Py_DECREF(factory);
    if (task != NULL && name != Py_None) {
        /* tasks._set_task_name: only if the object has set_name. */
        PyObject *set_name = PyObject_GetAttrString(task, "set_name");
        if (set_name == NULL && PyErr_ExceptionMatches(PyExc_AttributeError)) {
            PyErr_Clear();
        }
        else if (set_name == NULL) {
            Py_CLEAR(task);
        }
        else if (set_name != NULL) {
            PyObject *r = PyObject_CallOneArg(set_name, name);
            Py_DECREF(set_name);
            if (r == NULL) {
                Py_CLEAR(task);
            }
            Py_XDECREF(r);
        }
    }
    return task;
}

static PyObject *
Loop_set_task_factory(LoopObject *lp, PyObject *factory)
{
    if (factory != Py_None && !PyCallable_Check(factory)) {
        PyErr_SetString(PyExc_TypeError,
                        "task factory must be a callable or None");
        return NULL;
    }
    Py_XSETREF(lp->loop_task_factory,
               factory == Py_None ? NULL : Py_NewRef(factory));
    Py_RETURN_NONE;
}

static PyObject *
Loop_get_task_factory(LoopObject *lp, PyObject *Py_UNUSED(ignored))
{
    return Py_NewRef(lp->loop_task_factory ? lp->loop_task_factory
                                           : Py_None);
}

/* ---- attributes ---- */

static PyObject *
Loop_get_thread_id(LoopObject *lp, void *c)
{
    if (lp->loop_thread_id == 0) {
        Py_RETURN_NONE;
    }
    return PyLong_FromUnsignedLong(lp->loop_thread_id);
}

static int
Loop_set_thread_id(LoopObject *lp, PyObject *v, void *c)
{
    if (v == NULL || v == Py_None) {
        lp->loop_thread_id = 0;
        return 0;
    }
    unsigned long id = PyLong_AsUnsignedLong(v);
    if (id == (unsigned long)-1 && PyErr_Occurred()) {
        return -1;
    }
    lp->loop_thread_id = id;
    return 0;
}

static PyObject *
Loop_get_stopping(LoopObject *lp, void *c)
{
    return PyBool_FromLong(lp->loop_stopping);
}

static int
Loop_set_stopping(LoopObject *lp, PyObject *v, void *c)
{
    int r = cx_attr_bool(v);
    if (r < 0) {
        return -1;
    }
    lp->loop_stopping = r;
    return 0;
}

static PyObject *
Loop_get_slow(LoopObject *lp, void *c)
{
    return PyFloat_FromDouble(lp->loop_slow_callback_duration);
}

static int
Loop_set_slow(LoopObject *lp, PyObject *v, void *c)
{
    if (v == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete attribute");
        return -1;
    }
    double d = PyFloat_AsDouble(v);
    if (d == -1.0 && PyErr_Occurred()) {
        return -1;
    }
    lp->loop_slow_callback_duration = d;
    return 0;
}

static PyObject *
Loop_get_debug_attr(LoopObject *lp, void *c)
{
    return PyBool_FromLong(lp->loop_debug);
}

static PyObject *
Loop_get_exception_handler_attr(LoopObject *lp, void *c)
{
    return Py_NewRef(lp->loop_exception_handler ? lp->loop_exception_handler
                                                : Py_None);
}

static int
Loop_set_exception_handler_attr(LoopObject *lp, PyObject *v, void *c)
{
    Py_XSETREF(lp->loop_exception_handler,
               (v == NULL || v == Py_None) ? NULL : Py_NewRef(v));
    return 0;
}

static PyObject *
Loop_get_signal_handlers(LoopObject *lp, void *c)
{
    if (lp->loop_signal_handlers == NULL) {
        lp->loop_signal_handlers = PyDict_New();
    }
    return Py_XNewRef(lp->loop_signal_handlers);
}

static int
Loop_set_signal_handlers(LoopObject *lp, PyObject *v, void *c)
{
    if (v == NULL || !PyDict_Check(v)) {
        PyErr_SetString(PyExc_TypeError, "_signal_handlers must be a dict");
        return -1;
    }
    Py_XSETREF(lp->loop_signal_handlers, Py_NewRef(v));
    return 0;
}

static PyObject *
Loop_get_ready_count(LoopObject *lp, void *c)
{
    return PyLong_FromSsize_t(cx_queue_len(&lp->loop_ready));
}

static PyObject *
Loop_get_timer_count(LoopObject *lp, void *c)
{
    return PyLong_FromSsize_t(lp->loop_timers.len);
}

/* ---- the type ---- */

/* Whether a loop of type tp has _core.Loop's own method name (not
 * overridden by a subclass): 1 or 0, or -1 with an exception set. */
static int
loop_keeps_method(cx_state *st, PyTypeObject *tp, PyObject *name)
{
    PyObject *mine = PyDict_GetItemWithError(st->LoopType->tp_dict, name);
    if (mine == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    return cx_method_inherited(st, tp, name, mine);
}

static PyObject *
Loop_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    cx_state *st = cx_state_from_type(tp);
    if (st == NULL) {
        return NULL;
    }
    LoopObject *lp = (LoopObject *)tp->tp_alloc(tp, 0);
    if (lp == NULL) {
        return NULL;
    }
    lp->st = st;
    lp->loop_wakeup_fd = -1;
    lp->loop_signal_rfd = lp->loop_signal_wfd = -1;
    lp->loop_poller.epfd = -1;
    lp->loop_signal_handlers = PyDict_New();
    if (lp->loop_signal_handlers == NULL) {
        Py_DECREF(lp);
        return NULL;
    }
    lp->loop_slow_callback_duration = 0.1;
    int rc = cx_poller_init(&lp->loop_poller);
    if (rc < 0) {
        errno = -rc;
        goto oserror;
    }
    rc = cx_wakeup_open(lp->loop_poller.epfd);
    if (rc < 0) {
        errno = -rc;
        goto oserror;
    }
    lp->loop_wakeup_fd = rc;
    /* Futures and tasks may queue straight into our ready queue only when
     * call_soon is ours: a subclass overriding it must see every call. */
    lp->loop_fast = loop_keeps_method(st, tp, st->str_call_soon);
    if (lp->loop_fast < 0) {
        goto error;
    }
    /* gather() may make its tasks without calling create_task (see
     * cx_loop_create_task_plain) only when create_task is ours too. */
    lp->loop_create_task_fast = loop_keeps_method(st, tp,
                                                  st->str_create_task);
    if (lp->loop_create_task_fast < 0) {
        goto error;
    }
    /* The io_uring switch: the ring is made now (its fd is the loop's
     * from the start), or the loop stays on epoll. */
    const char *uring = getenv("CASYNCIO_IO_URING");
    lp->loop_uring_on = uring != NULL && strcmp(uring, "1") == 0;
    (void)cx_loop_uring(lp);
    return (PyObject *)lp;
oserror:
    PyErr_SetFromErrno(PyExc_OSError);
error:
    Py_DECREF(lp);
    return NULL;
}

static int
Loop_traverse(LoopObject *lp, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(lp));
    for (Py_ssize_t i = 0; i < cx_queue_len(&lp->loop_ready); i++) {
        cx_entry *e = cx_queue_at(&lp->loop_ready, i);
        Py_VISIT(e->obj);
        Py_VISIT(e->arg);
        Py_VISIT(e->ctx);
    }
    for (ptrdiff_t i = 0; i < lp->loop_timers.len; i++) {
        Py_VISIT((PyObject *)lp->loop_timers.items[i].data);
    }
    int r = cx_poller_traverse(&lp->loop_poller, visit, arg);
    if (r) {
        return r;
    }
    if (lp->loop_uring != NULL
        && (r = cx_uring_traverse(lp->loop_uring, visit, arg)) != 0) {
        return r;
    }
    Py_VISIT(lp->loop_task_factory);
    Py_VISIT(lp->loop_exception_handler);
    Py_VISIT(lp->loop_signal_handlers);
    Py_VISIT(lp->loop_time_fn);
    return 0;
}

static int
Loop_clear(LoopObject *lp)
{
    /* Keep the fds: only the Python references are dropped here (and the
     * io_uring ring's, which are its requests'). */
    loop_close_uring(lp);
    cx_queue_free(&lp->loop_ready);
    loop_clear_timers(lp);
    for (int fd = 0; fd < lp->loop_poller.nwatchers; fd++) {
        Py_CLEAR(lp->loop_poller.watchers[fd].reader);
        Py_CLEAR(lp->loop_poller.watchers[fd].writer);
        Py_CLEAR(lp->loop_poller.watchers[fd].fileobj);
    }
    Py_CLEAR(lp->loop_task_factory);
    Py_CLEAR(lp->loop_exception_handler);
    Py_CLEAR(lp->loop_signal_handlers);
    Py_CLEAR(lp->loop_time_fn);
    return 0;
}

static void
Loop_dealloc(LoopObject *lp)
{
    PyTypeObject *tp = Py_TYPE(lp);
    /* The finalizer first: CPython wants the object still tracked. */
    if (PyObject_CallFinalizerFromDealloc((PyObject *)lp) < 0) {
        return;     /* resurrected */
    }
    PyObject_GC_UnTrack(lp);
    if (lp->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)lp);
    }
    Loop_clear(lp);
    loop_release(lp);
    tp->tp_free(lp);
    Py_DECREF(tp);
}

/* set_debug(enabled) and set_task_factory(factory) take their argument
 * by keyword too, as asyncio's do. */
CX_METH_O_KW(Loop_set_debug, LoopObject, "set_debug", "enabled")
CX_METH_O_KW(Loop_set_task_factory, LoopObject, "set_task_factory",
             "factory")

/* Text signatures and docstrings: asyncio's BaseEventLoop of the running
 * version (create_task changed in 3.14). */
PyDoc_STRVAR(Loop_time__doc__,
"time($self, /)\n--\n\n"
"Return the time according to the event loop's clock.");
PyDoc_STRVAR(Loop_call_soon__doc__,
"call_soon($self, callback, *args, context=None)\n--\n\n"
"Arrange for a callback to be called as soon as possible.");
PyDoc_STRVAR(Loop_call_soon_threadsafe__doc__,
"call_soon_threadsafe($self, callback, *args, context=None)\n--\n\n"
"Like call_soon(), but thread-safe.");
PyDoc_STRVAR(Loop_call_later__doc__,
"call_later($self, delay, callback, *args, context=None)\n--\n\n"
"Arrange for a callback to be called at a given time.");
PyDoc_STRVAR(Loop_call_at__doc__,
"call_at($self, when, callback, *args, context=None)\n--\n\n"
"Like call_later(), but uses an absolute time.");
PyDoc_STRVAR(Loop_stop__doc__,
"stop($self, /)\n--\n\n"
"Stop running the event loop.");
PyDoc_STRVAR(Loop_is_closed__doc__,
"is_closed($self, /)\n--\n\n"
"Returns True if the event loop was closed.");
PyDoc_STRVAR(Loop_is_running__doc__,
"is_running($self, /)\n--\n\n"
"Returns True if the event loop is running.");
PyDoc_STRVAR(Loop_get_debug__doc__, "get_debug($self, /)\n--\n\n");
PyDoc_STRVAR(Loop_set_debug__doc__, "set_debug($self, enabled)\n--\n\n");
PyDoc_STRVAR(Loop_create_future__doc__,
"create_future($self, /)\n--\n\n"
"Create a Future object attached to the loop.");
#if PY_VERSION_HEX >= 0x030E0000
PyDoc_STRVAR(Loop_create_task__doc__,
"create_task($self, coro, **kwargs)\n--\n\n"
"Schedule or begin executing a coroutine object.");
#else
PyDoc_STRVAR(Loop_create_task__doc__,
"create_task($self, coro, *, name=None, context=None)\n--\n\n"
"Schedule a coroutine object.");
#endif
PyDoc_STRVAR(Loop_set_task_factory__doc__,
"set_task_factory($self, factory)\n--\n\n"
"Set a task factory that will be used by loop.create_task().");
PyDoc_STRVAR(Loop_get_task_factory__doc__,
"get_task_factory($self, /)\n--\n\n"
"Return a task factory, or None if the default one is in use.");

#define FASTKW (METH_FASTCALL | METH_KEYWORDS)
static PyMethodDef Loop_methods[] = {
    {"time", (PyCFunction)Loop_time, METH_NOARGS, Loop_time__doc__},
    {"call_soon", (PyCFunction)(void (*)(void))Loop_call_soon, FASTKW,
     Loop_call_soon__doc__},
    {"call_soon_threadsafe",
     (PyCFunction)(void (*)(void))Loop_call_soon_threadsafe, FASTKW,
     Loop_call_soon_threadsafe__doc__},
    {"call_later", (PyCFunction)(void (*)(void))Loop_call_later, FASTKW,
     Loop_call_later__doc__},
    {"call_at", (PyCFunction)(void (*)(void))Loop_call_at, FASTKW,
     Loop_call_at__doc__},
    {"stop", (PyCFunction)Loop_stop, METH_NOARGS, Loop_stop__doc__},
    {"is_closed", (PyCFunction)Loop_is_closed, METH_NOARGS,
     Loop_is_closed__doc__},
    {"is_running", (PyCFunction)Loop_is_running, METH_NOARGS,
     Loop_is_running__doc__},
    {"get_debug", (PyCFunction)Loop_get_debug, METH_NOARGS,
     Loop_get_debug__doc__},
    {"set_debug", CX_FASTKW(Loop_set_debug_kw), Loop_set_debug__doc__},
    {"create_future", (PyCFunction)Loop_create_future, METH_NOARGS,
     Loop_create_future__doc__},
    {"create_task", (PyCFunction)(void (*)(void))Loop_create_task, FASTKW,
     Loop_create_task__doc__},
    {"set_task_factory", CX_FASTKW(Loop_set_task_factory_kw),
     Loop_set_task_factory__doc__},
    {"get_task_factory", (PyCFunction)Loop_get_task_factory, METH_NOARGS,
     Loop_get_task_factory__doc__},
    {"_add_reader", (PyCFunction)(void (*)(void))Loop__add_reader,
     METH_FASTCALL, CX_DOC_SIG("_add_reader($self, fd, callback, /, *args)",
                               "")},
    {"_add_writer", (PyCFunction)(void (*)(void))Loop__add_writer,
     METH_FASTCALL, CX_DOC_SIG("_add_writer($self, fd, callback, /, *args)",
                               "")},
    {"_remove_reader", (PyCFunction)Loop__remove_reader, METH_O,
     CX_DOC_SIG("_remove_reader($self, fd, /)", "")},
    {"_remove_writer", (PyCFunction)Loop__remove_writer, METH_O,
     CX_DOC_SIG("_remove_writer($self, fd, /)", "")},
    {"_run_once", (PyCFunction)Loop__run_once, METH_NOARGS,
     CX_DOC_SIG("_run_once($self, /)", "")},
    {"_run_forever_core", (PyCFunction)Loop__run_forever_core, METH_NOARGS,
     CX_DOC_SIG("_run_forever_core($self, /)", "")},
    {"_close_core", (PyCFunction)Loop__close_core, METH_NOARGS,
     CX_DOC_SIG("_close_core($self, /)", "")},
    {"_write_to_self", (PyCFunction)Loop__write_to_self, METH_NOARGS,
     CX_DOC_SIG("_write_to_self($self, /)", "")},
    {"_add_callback", (PyCFunction)Loop__add_callback, METH_O,
     CX_DOC_SIG("_add_callback($self, handle, /)", "")},
    {"_timer_handle_cancelled", (PyCFunction)Loop__timer_handle_cancelled,
     METH_O, CX_DOC_SIG("_timer_handle_cancelled($self, handle, /)", "")},
    {"_signal_wakeup_fd", (PyCFunction)Loop__signal_wakeup_fd, METH_NOARGS,
     CX_DOC_SIG("_signal_wakeup_fd($self, /)", "")},
    {NULL, NULL},
};

/* _io_uring: stream transports receive through io_uring (uring.h). */
static PyObject *
Loop_get_io_uring(LoopObject *lp, void *c)
{
    return PyBool_FromLong(lp->loop_uring != NULL);
}

static PyGetSetDef Loop_getset[] = {
    {"_io_uring", (getter)Loop_get_io_uring, NULL, NULL, NULL},
    {"_thread_id", (getter)Loop_get_thread_id, (setter)Loop_set_thread_id,
     NULL, NULL},
    {"_stopping", (getter)Loop_get_stopping, (setter)Loop_set_stopping, NULL,
     NULL},
    {"slow_callback_duration", (getter)Loop_get_slow, (setter)Loop_set_slow,
     NULL, NULL},
    {"_debug", (getter)Loop_get_debug_attr, NULL, NULL, NULL},
    {"_exception_handler", (getter)Loop_get_exception_handler_attr,
     (setter)Loop_set_exception_handler_attr, NULL, NULL},
    {"_ready_count", (getter)Loop_get_ready_count, NULL, NULL, NULL},
    {"_signal_handlers", (getter)Loop_get_signal_handlers,
     (setter)Loop_set_signal_handlers, NULL, NULL},
    {"_timer_count", (getter)Loop_get_timer_count, NULL, NULL, NULL},
    {NULL},
};

static PyMemberDef Loop_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(LoopObject, weakreflist),
     READONLY, NULL},
    {NULL},
};

static PyType_Slot Loop_slots[] = {
    {Py_tp_new, Loop_new},
    {Py_tp_dealloc, Loop_dealloc},
    {Py_tp_traverse, Loop_traverse},
    {Py_tp_clear, Loop_clear},
    {Py_tp_methods, Loop_methods},
    {Py_tp_getset, Loop_getset},
    {Py_tp_members, Loop_members},
    {Py_tp_doc, CX_DOC_SIG("Loop()", "The C core of casyncio's event loop.")},
    {0, NULL},
};

static PyType_Spec Loop_spec = {
    .name = "casyncio._core.Loop",
    .basicsize = sizeof(LoopObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = Loop_slots,
};

int
cx_loop_setup(PyObject *module)
{
    cx_state *st = PyModule_GetState(module);
    st->LoopType = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &Loop_spec, NULL);
    if (st->LoopType == NULL) {
        return -1;
    }
    return PyModule_AddType(module, st->LoopType);
}
