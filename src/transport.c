/* _Transport: the common part of the socket transports, see transport.h.
 * asyncio.selector_events._SelectorTransport (3.11) in C.
 *
 * Its reader and writer are two Handles made once per transport (callback:
 * the bound _read_ready / _write_ready of the subclass) and put into and
 * out of the loop's poller directly; they are never cancelled, so a queued
 * one that fires after its removal checks tr_reader_on / tr_writer_on and
 * does nothing (asyncio cancels the Handle instead).  Protocol callbacks
 * scheduled for later (connection_made, connection_lost) are
 * CX_ENTRY_CFUNC entries: no Handle, no bound method.  Messages and call
 * order follow asyncio. */
#include "internal.h"
#include "structmember.h"
#include <sys/mman.h>
#include <sys/socket.h>

/* ---- the reader and writer in the loop's poller ---- */

/* Put our reader (which=0) or writer Handle into the poller, or take it
 * out (on=0).  A foreign Handle replaced or removed is cancelled, as
 * loop._add_reader would.  Taking ours out parks it (poller.h): epoll is
 * told before the loop next sleeps, and not at all when it is put back
 * first (a stream reader's pause_reading() in feed_data and
 * resume_reading() in read()); call_connection_lost settles it before the
 * fd closes.  0 or -1.
 *
 * Putting it in gives it a copy of the current context unless the
 * transport has its own (3.15): asyncio's _add_reader / _add_writer make
 * a new Handle each time, so the protocol reads in the context of
 * whoever added the reader last (the transport's start, resume_reading)
 * and resume_writing runs in that of the write() that started queueing.
 * The Handle is ours alone and cx_handle_run holds the context it
 * entered, so swapping it even while the Handle runs is safe. */
int
cx_transport_watch(cx_transport *tr, int which, int on)
{
    LoopObject *lp = tr->tr_loop;
    char *flag = which ? &tr->tr_writer_on : &tr->tr_reader_on;
    PyObject *ours = which ? tr->tr_write_handle : tr->tr_read_handle;
    if (lp == NULL || ours == NULL) {
        *flag = 0;
        return 0;
    }
    if (lp->loop_closed) {
        *flag = 0;
        if (on) {
            PyErr_SetString(PyExc_RuntimeError, "Event loop is closed");
            return -1;
        }
        return 0;
    }
    if (!on && !*flag) {
        return 0;
    }
    if (on && tr->tr_context == NULL) {
        PyObject *ctx = PyContext_CopyCurrent();
        if (ctx == NULL) {
            return -1;
        }
        Py_XSETREF(((HandleObject *)ours)->handle_context, ctx);
    }
    if (which == 0 && tr->tr_rx != NULL && lp->loop_uring != NULL) {
        /* io_uring: a multishot recv instead of the poller's reader */
        if (!on) {
            cx_uring_rx_stop(tr->tr_rx);
            *flag = 0;
            return 0;
        }
        int rc = cx_uring_rx_start(lp->loop_uring, tr->tr_rx,
                                   (PyObject *)tr, &tr->tr_read_handle,
                                   tr->tr_fd);
        if (rc < 0) {
            errno = -rc;
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        *flag = 1;
        return cx_uring_rx_kick(tr->tr_rx, (PyObject *)lp);
    }
    if (!on && cx_poller_park(&lp->loop_poller, tr->tr_fd, which, ours)) {
        *flag = 0;      /* epoll told before the next wait, if still off */
        return 0;
    }
    PyObject *old;
    int rc = cx_poller_set(&lp->loop_poller, tr->tr_fd, which,
                           on ? ours : NULL, &old);
    if (rc < 0) {
        errno = -rc;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    *flag = (char)on;
    if (old != NULL && old != ours) {
        PyObject *r = PyObject_CallMethodNoArgs(old, tr->tr_st->str_cancel);
        Py_DECREF(old);
        if (r == NULL) {
            return -1;
        }
        Py_DECREF(r);
        return 0;
    }
    Py_XDECREF(old);
    return 0;
}

void
cx_transport_clear_wbuf(cx_transport *tr)
{
    if (tr->tr_wbuf != NULL && PyList_GET_SIZE(tr->tr_wbuf)) {
        (void)PyList_SetSlice(tr->tr_wbuf, 0, PyList_GET_SIZE(tr->tr_wbuf),
                              NULL);
    }
    tr->tr_wbuf_head = 0;
    tr->tr_wbuf_off = 0;
    tr->tr_wbuf_size = 0;
}

int
cx_transport_push(cx_transport *tr, cx_cfunc fn, PyObject *arg1,
                  PyObject *arg2)
{
    if (tr->tr_context != NULL) {
        return cx_loop_push_cfunc_ctx(tr->tr_loop, fn, arg1, arg2,
                                      tr->tr_context);
    }
    PyObject *ctx = PyContext_CopyCurrent();
    if (ctx == NULL) {
        return -1;
    }
    int rc = cx_loop_push_cfunc_ctx(tr->tr_loop, fn, arg1, arg2, ctx);
    Py_DECREF(ctx);
    return rc;
}

/* ---- exceptions and connection_lost ---- */

/* The end of a call made for logging or reporting: r (stolen) NULL is
 * written as unraisable, unless it must leave the loop.  0, or -1 for
 * SystemExit/KeyboardInterrupt. */
static int
transport_done(cx_transport *tr, PyObject *r)
{
    if (r == NULL) {
        if (cx_is_exit_exception()) {
            return -1;
        }
        PyErr_WriteUnraisable((PyObject *)tr);
        return 0;
    }
    Py_DECREF(r);
    return 0;
}

/* logger.<level>(fmt, *args), for debug messages; errors are swallowed
 * unless they must leave the loop.  0 or -1. */
int
cx_transport_log(cx_transport *tr, const char *level, PyObject *args,
              PyObject *kwargs)
{
    if (args == NULL) {
        return cx_is_exit_exception() ? -1 : (PyErr_Clear(), 0);
    }
    PyObject *meth = PyObject_GetAttrString(tr->tr_st->asyncio_logger, level);
    PyObject *r = meth ? PyObject_Call(meth, args, kwargs) : NULL;
    Py_XDECREF(meth);
    Py_DECREF(args);
    return transport_done(tr, r);
}

/* loop.call_exception_handler({'message', 'exception', 'transport',
 * 'protocol'}).  Borrows exc.  0, or -1 for SystemExit/KeyboardInterrupt. */
int
cx_transport_report(cx_transport *tr, const char *message, PyObject *exc)
{
    cx_state *st = tr->tr_st;
    if (tr->tr_loop == NULL) {
        return 0;
    }
    PyObject *ctx = Py_BuildValue(
        "{OsOOOOOO}", st->str_message, message, st->str_exception, exc,
        st->str_transport, (PyObject *)tr, st->str_protocol,
        tr->tr_protocol ? tr->tr_protocol : Py_None);
    PyObject *r = ctx ? PyObject_CallMethodOneArg(
        (PyObject *)tr->tr_loop, st->str_call_exception_handler, ctx) : NULL;
    Py_XDECREF(ctx);
    return transport_done(tr, r);
}


/* _force_close(exc): exc borrowed (NULL: None).  0 or -1. */
int
cx_transport_force_close(cx_transport *tr, PyObject *exc)
{
    if (tr->tr_conn_lost) {
        return 0;
    }
    if (cx_transport_queued(tr)) {
        cx_transport_clear_wbuf(tr);
        if (cx_transport_watch(tr, 1, 0) < 0) {
            return -1;
        }
    }
    if (!tr->tr_closing) {
        tr->tr_closing = 1;
        if (cx_transport_watch(tr, 0, 0) < 0) {
            return -1;
        }
    }
    tr->tr_conn_lost++;
    if (tr->tr_loop == NULL) {
        return 0;
    }
    return cx_transport_push(tr, cx_transport_call_connection_lost,
                              (PyObject *)tr, exc ? exc : Py_None);
}

/* The report half of _fatal_error: exc (borrowed) logged with message at
 * debug level in debug mode if quiet, else given to the exception handler.
 * 0, or -1 for SystemExit / KeyboardInterrupt. */
int
cx_transport_report_fatal(cx_transport *tr, const char *message,
                          PyObject *exc, int quiet)
{
    if (!quiet) {
        return cx_transport_report(tr, message, exc);
    }
    if (!cx_transport_debug(tr)) {
        return 0;
    }
    PyObject *kw = Py_BuildValue("{sO}", "exc_info", exc);
    if (kw == NULL) {
        return -1;
    }
    int rc = cx_transport_log(tr, "debug",
                              Py_BuildValue("(sOs)", "%r: %s", tr, message),
                              kw);
    Py_DECREF(kw);
    return rc;
}

/* _fatal_error(exc, message) for the current exception: OSErrors are only
 * logged in debug mode, anything else goes to the exception handler; then
 * _force_close(exc).  0, or -1 when the exception must leave the loop
 * (SystemExit, KeyboardInterrupt: left set). */
int
cx_transport_fatal_error(cx_transport *tr, const char *message)
{
    if (cx_is_exit_exception()) {
        return -1;
    }
    PyObject *exc = cx_err_fetch();
    int rc = cx_transport_report_fatal(
        tr, message, exc,
        PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_OSError));
    if (rc == 0) {
        rc = cx_transport_force_close(tr, exc);
    }
    Py_DECREF(exc);
    return rc;
}

/* After one of the calls _call_connection_lost makes whatever happened
 * before (its `finally:` blocks): r is the call's result, stolen; a failure
 * becomes *pending (and *rc -1) if none is pending yet; later ones are
 * dropped (asyncio would raise the last one, chained to the first;
 * sock.close() and Server._detach() do not fail in practice). */
static void
keep_first_error(PyObject *r, PyObject **pending, int *rc)
{
    if (r == NULL) {
        if (*pending == NULL) {
            *pending = cx_err_fetch();
            *rc = -1;
        }
        else {
            PyErr_Clear();
        }
    }
    Py_XDECREF(r);
}

/* _call_connection_lost(exc), a CX_ENTRY_CFUNC (or called directly):
 * protocol.connection_lost(exc), then close the socket and drop the loop,
 * the protocol and the server, whatever connection_lost did; then the
 * subclass's tr_on_lost. */
int
cx_transport_call_connection_lost(PyObject *self, PyObject *exc)
{
    cx_transport *tr = (cx_transport *)self;
    cx_state *st = tr->tr_st;
    int rc = 0;
    Py_INCREF(tr);
    if (tr->tr_protocol_connected && tr->tr_protocol != NULL) {
        PyObject *proto = Py_NewRef(tr->tr_protocol);
        PyObject *r = PyObject_CallMethodOneArg(proto,
                                                st->str_connection_lost, exc);
        Py_DECREF(proto);
        if (r == NULL) {
            rc = -1;
        }
        Py_XDECREF(r);
    }
    PyObject *pending = rc < 0 ? cx_err_fetch() : NULL;
    /* finally: */
    tr->tr_reader_on = tr->tr_writer_on = 0;
    if (tr->tr_rx != NULL) {
        /* the recv cancelled before the socket closes; what came is
         * dropped */
        cx_uring_rx_release(tr->tr_rx);
    }
    PyObject *sock = tr->tr_sock;
    tr->tr_sock = NULL;
    if (sock != NULL) {
        if (tr->tr_loop != NULL) {
            /* a parked reader or writer out of epoll while the fd is open */
            cx_poller_settle(&tr->tr_loop->loop_poller, tr->tr_fd);
        }
        PyObject *r = PyObject_CallMethodNoArgs(sock, st->str_close);
        Py_DECREF(sock);
        keep_first_error(r, &pending, &rc);
    }
    Py_CLEAR(tr->tr_protocol);
    Py_CLEAR(tr->tr_loop);
    Py_CLEAR(tr->tr_read_handle);
    Py_CLEAR(tr->tr_write_handle);
    Py_CLEAR(tr->tr_context);
    PyObject *server = tr->tr_server;
    tr->tr_server = NULL;
    if (server != NULL) {
#if PY_VERSION_HEX >= 0x030D0000
        /* 3.13: Server._detach(transport), the server's WeakSet of
         * clients */
        PyObject *r = PyObject_CallMethod(server, "_detach", "O", tr);
#else
        PyObject *r = PyObject_CallMethod(server, "_detach", NULL);
#endif
        Py_DECREF(server);
        keep_first_error(r, &pending, &rc);
    }
    if (rc == 0 && tr->tr_on_lost != NULL) {
        rc = tr->tr_on_lost(tr);
    }
    cx_err_restore(pending);
    Py_DECREF(tr);
    return rc;
}

/* ---- flow control ---- */

/* protocol.pause_writing() / resume_writing(): a failure is reported as
 * asyncio does ("protocol.pause_writing() failed"); -1 only for
 * SystemExit / KeyboardInterrupt. */
static int
transport_call_flow(cx_transport *tr, PyObject *method, const char *msg)
{
    if (tr->tr_protocol == NULL) {
        return 0;
    }
    PyObject *proto = Py_NewRef(tr->tr_protocol);
    PyObject *r = PyObject_CallMethodNoArgs(proto, method);
    Py_DECREF(proto);
    if (r != NULL) {
        Py_DECREF(r);
        return 0;
    }
    if (cx_is_exit_exception()) {
        return -1;
    }
    PyObject *exc = cx_err_fetch();
    int rc = cx_transport_report(tr, msg, exc);
    Py_DECREF(exc);
    return rc;
}

int
cx_transport_maybe_pause(cx_transport *tr)
{
    if (tr->tr_wbuf_size <= tr->tr_high_water || tr->tr_protocol_paused) {
        return 0;
    }
    tr->tr_protocol_paused = 1;
    return transport_call_flow(tr, tr->tr_st->str_pause_writing,
                               "protocol.pause_writing() failed");
}

int
cx_transport_maybe_resume(cx_transport *tr)
{
    if (!tr->tr_protocol_paused || tr->tr_wbuf_size > tr->tr_low_water) {
        return 0;
    }
    tr->tr_protocol_paused = 0;
    return transport_call_flow(tr, tr->tr_st->str_resume_writing,
                               "protocol.resume_writing() failed");
}

/* ---- closing ---- */

PyObject *
cx_transport_close(cx_transport *tr)
{
    if (tr->tr_closing) {
        Py_RETURN_NONE;
    }
    tr->tr_closing = 1;
    if (cx_transport_watch(tr, 0, 0) < 0) {
        return NULL;
    }
    if (!cx_transport_queued(tr)) {
        tr->tr_conn_lost++;
        if (cx_transport_watch(tr, 1, 0) < 0) {
            return NULL;
        }
        if (tr->tr_loop != NULL
            && cx_transport_push(tr, cx_transport_call_connection_lost,
                                  (PyObject *)tr, Py_None) < 0) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

static PyObject *
Transport_close(cx_transport *tr, PyObject *Py_UNUSED(ignored))
{
    return cx_transport_close(tr);
}

static PyObject *
Transport_abort(cx_transport *tr, PyObject *Py_UNUSED(ignored))
{
    if (cx_transport_force_close(tr, NULL) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Transport__force_close(cx_transport *tr, PyObject *exc)
{
    if (cx_transport_force_close(tr, exc == Py_None ? NULL : exc) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Transport__fatal_error(cx_transport *tr, PyObject *args)
{
    PyObject *exc;
    const char *message = "Fatal error on transport";
    if (!PyArg_ParseTuple(args, "O|s:_fatal_error", &exc, &message)) {
        return NULL;
    }
    if (!PyExceptionInstance_Check(exc)) {
        PyErr_SetString(PyExc_TypeError, "exc must be an exception");
        return NULL;
    }
    cx_err_restore(Py_NewRef(exc));
    if (cx_transport_fatal_error(tr, message) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Transport_is_closing(cx_transport *tr, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(tr->tr_closing);
}

/* ---- reading control ---- */

static int
transport_is_reading(cx_transport *tr)
{
    return !tr->tr_closing && !tr->tr_paused;
}

static PyObject *
Transport_is_reading(cx_transport *tr, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(transport_is_reading(tr));
}

static PyObject *
Transport_pause_reading(cx_transport *tr, PyObject *Py_UNUSED(ignored))
{
    if (!transport_is_reading(tr)) {
        Py_RETURN_NONE;
    }
    tr->tr_paused = 1;
    if (cx_transport_watch(tr, 0, 0) < 0) {
        return NULL;
    }
    if (cx_transport_debug(tr)
        && cx_transport_log(tr, "debug",
                         Py_BuildValue("(sO)", "%r pauses reading", tr),
                         NULL) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Transport_resume_reading(cx_transport *tr, PyObject *Py_UNUSED(ignored))
{
    if (tr->tr_closing || !tr->tr_paused) {
        Py_RETURN_NONE;
    }
    tr->tr_paused = 0;
    if (transport_is_reading(tr) && cx_transport_watch(tr, 0, 1) < 0) {
        return NULL;
    }
    if (cx_transport_debug(tr)
        && cx_transport_log(tr, "debug",
                         Py_BuildValue("(sO)", "%r resumes reading", tr),
                         NULL) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---- start-up ---- */

static int
transport_connection_made_cb(PyObject *self, PyObject *protocol)
{
    cx_transport *tr = (cx_transport *)self;
    PyObject *r = PyObject_CallMethodOneArg(
        protocol, tr->tr_st->str_connection_made, self);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

static int
transport_add_reader_cb(PyObject *self, PyObject *Py_UNUSED(arg))
{
    cx_transport *tr = (cx_transport *)self;
    if (!transport_is_reading(tr)) {
        return 0;
    }
    return cx_transport_watch(tr, 0, 1);
}

static int
transport_set_waiter_cb(PyObject *waiter, PyObject *Py_UNUSED(arg))
{
    /* futures._set_result_unless_cancelled(waiter, None) */
    PyObject *r = PyObject_CallMethod(waiter, "cancelled", NULL);
    if (r == NULL) {
        return -1;
    }
    int cancelled = PyObject_IsTrue(r);
    Py_DECREF(r);
    if (cancelled) {
        return cancelled < 0 ? -1 : 0;
    }
    r = PyObject_CallMethod(waiter, "set_result", "O", Py_None);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* _start(waiter, add_reader=True): schedule connection_made(self), then
 * the reader (unless add_reader is false: a write pipe whose reader would
 * not see the other end close), then the waiter's result (waiter may be
 * None), in that order (asyncio's call_soon calls). */
static PyObject *
Transport__start(cx_transport *tr, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "_start() takes 1 or 2 arguments");
        return NULL;
    }
    PyObject *waiter = args[0];
    int add_reader = nargs < 2 ? 1 : PyObject_IsTrue(args[1]);
    if (add_reader < 0) {
        return NULL;
    }
    if (tr->tr_loop == NULL || tr->tr_protocol == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "transport is closed");
        return NULL;
    }
    if (cx_transport_push(tr, transport_connection_made_cb,
                           (PyObject *)tr, tr->tr_protocol) < 0
        || (add_reader
            && cx_transport_push(tr, transport_add_reader_cb,
                                  (PyObject *)tr, NULL) < 0)) {
        return NULL;
    }
    if (waiter != Py_None
        && cx_transport_push(tr, transport_set_waiter_cb, waiter,
                              NULL) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---- protocol, extra info, limits ---- */

static int
transport_set_protocol(cx_transport *tr, PyObject *protocol)
{
    int b = PyObject_IsInstance(protocol,
                                tr->tr_st->asyncio_BufferedProtocol);
    if (b < 0) {
        return -1;
    }
    /* 2: a BufferedProtocol fed in C (our SSLProtocol: stream.c) */
    cx_state *st = tr->tr_st;
    tr->tr_buffered = (char)(b && st->transport_fed_check != NULL
                             && st->transport_fed_check(st, protocol)
                             ? 2 : b);
    Py_XSETREF(tr->tr_protocol, Py_NewRef(protocol));
    tr->tr_protocol_connected = 1;
    return 0;
}

static PyObject *
Transport_set_protocol(cx_transport *tr, PyObject *protocol)
{
    if (transport_set_protocol(tr, protocol) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Transport_get_protocol(cx_transport *tr, PyObject *Py_UNUSED(ignored))
{
    return Py_NewRef(tr->tr_protocol ? tr->tr_protocol : Py_None);
}

static PyObject *
Transport_get_write_buffer_size(cx_transport *tr,
                                PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSsize_t(tr->tr_wbuf_size);
}

static PyObject *
Transport_get_write_buffer_limits(cx_transport *tr,
                                  PyObject *Py_UNUSED(ignored))
{
    return Py_BuildValue("(nn)", tr->tr_low_water, tr->tr_high_water);
}

/* _set_limits(high, low): the checked values; then _maybe_pause_protocol
 * (set_write_buffer_limits in Python normalises the arguments). */
static PyObject *
Transport__set_limits(cx_transport *tr, PyObject *args)
{
    Py_ssize_t high, low;
    if (!PyArg_ParseTuple(args, "nn:_set_limits", &high, &low)) {
        return NULL;
    }
    tr->tr_high_water = high;
    tr->tr_low_water = low;
    if (cx_transport_maybe_pause(tr) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---- the shared receive buffer ---- */

char *
cx_transport_rbuf(cx_state *st)
{
    if (st->transport_rbuf == NULL) {
        /* Page-aligned: the kernel's copy into it is then never the slow
         * case of copy.h (malloc's page + 16 was: 2x the server CPU per
         * 100 KiB echo).  CX_TRANSPORT_MAX_SIZE is a multiple of 4096. */
        void *p = mmap(NULL, CX_TRANSPORT_MAX_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            PyErr_NoMemory();
            return NULL;
        }
        st->transport_rbuf = p;
    }
    return st->transport_rbuf;
}

/* Is the buffer's memory a bytearray's (heap memory we may copy into
 * ourselves)?  Other exporters -- an mmap of a file that shrank, a device
 * mapping -- must meet the kernel's copy, which fails with EFAULT where
 * ours would fault. */
static int
buffer_is_bytearray(Py_buffer *view)
{
    PyObject *obj = view->obj;
    if (obj != NULL && PyMemoryView_Check(obj)) {
        obj = PyMemoryView_GET_BASE(obj);
    }
    return obj != NULL && PyByteArray_CheckExact(obj);
}

ssize_t
cx_transport_recv_into(cx_state *st, int fd, Py_buffer *view, int flags)
{
    size_t len = (size_t)view->len;
    if (cx_copy_recv_is_slow(view->buf, len) && len <= CX_TRANSPORT_MAX_SIZE
        && buffer_is_bytearray(view)) {
        char *rbuf = cx_transport_rbuf(st);
        if (rbuf != NULL) {
            ssize_t n = recv(fd, rbuf, len, flags);
            if (n > 0) {
                cx_copy(view->buf, rbuf, (size_t)n);
            }
            st->transport_recv_detours++;
            return n;
        }
        PyErr_Clear();      /* no receive buffer: straight into buf */
    }
    return recv(fd, view->buf, len, flags);
}

void
cx_transport_free_state(cx_state *st)
{
    if (st->transport_rbuf != NULL) {
        munmap(st->transport_rbuf, CX_TRANSPORT_MAX_SIZE);
        st->transport_rbuf = NULL;
    }
    Py_CLEAR(st->transport_rbytes);
}

/* Smaller bytes come from obmalloc's pools, which are cheap: they are not
 * kept.  (Nor could the 0- and 1-byte singletons be refilled.) */
#define TRANSPORT_RBYTES_MIN 512

/* A bytes object only we reference, filled in place, becomes n bytes
 * long: its size, trailing NUL and cached hash as PyBytes_FromStringAndSize
 * would have made them. */
static void
bytes_set_size(PyObject *b, Py_ssize_t n)
{
    Py_SET_SIZE(b, n);
    _Py_COMP_DIAG_PUSH
    _Py_COMP_DIAG_IGNORE_DEPR_DECLS
    ((PyBytesObject *)b)->ob_shash = -1;
    _Py_COMP_DIAG_POP
    PyBytes_AS_STRING(b)[n] = '\0';
}

/* The kept bytes object is refilled only for a read of between half and
 * all of its length when made (cap), so that one a protocol keeps wastes
 * at most as much memory as it holds.  Refilling an object only we
 * reference cannot be seen from Python: _PyBytes_Resize does it too. */
PyObject *
cx_transport_bytes(cx_state *st, const char *buf, Py_ssize_t n,
                   Py_ssize_t *cap)
{
    PyObject *b = st->transport_rbytes;
    Py_ssize_t bcap = st->transport_rbytes_cap;
    if (b == NULL || n > bcap || n * 2 < bcap) {
        *cap = n;
        return PyBytes_FromStringAndSize(buf, n);
    }
    st->transport_rbytes = NULL;
    *cap = bcap;
    cx_copy(PyBytes_AS_STRING(b), buf, (size_t)n);
    bytes_set_size(b, n);
    return b;
}

void
cx_transport_bytes_done(cx_state *st, PyObject *data, Py_ssize_t cap)
{
    /* Our reference is the only one: the protocol did not keep it. */
    if (Py_REFCNT(data) == 1 && cap >= TRANSPORT_RBYTES_MIN) {
        Py_XSETREF(st->transport_rbytes, data);
        st->transport_rbytes_cap = cap;
        return;
    }
    Py_DECREF(data);
}

PyObject *
cx_transport_bytes_take(cx_state *st, Py_ssize_t need, Py_ssize_t *cap)
{
    PyObject *b = st->transport_rbytes;
    if (b == NULL || need > st->transport_rbytes_cap) {
        *cap = need;
        return PyBytes_FromStringAndSize(NULL, need);
    }
    st->transport_rbytes = NULL;
    *cap = st->transport_rbytes_cap;
    bytes_set_size(b, *cap);
    return b;
}

int
cx_transport_bytes_fit(cx_state *st, PyObject **data, Py_ssize_t n,
                       Py_ssize_t *cap)
{
    PyObject *b = *data;
    if (n * 2 >= *cap) {
        bytes_set_size(b, n);
        return 0;
    }
    *data = PyBytes_FromStringAndSize(PyBytes_AS_STRING(b), n);
    cx_transport_bytes_done(st, b, *cap);
    *cap = n;
    return *data ? 0 : -1;
}

/* ---- the type ---- */

/* The reader and writer Handles of self._read_ready / _write_ready, in
 * tr_context (NULL: a copy of the current one).  0 or -1. */
static int
transport_make_handles(cx_transport *tr)
{
    PyObject *empty = PyTuple_New(0);
    if (empty == NULL) {
        return -1;
    }
    for (int which = 0; which < 2; which++) {
        PyObject *cb = PyObject_GetAttrString(
            (PyObject *)tr, which ? "_write_ready" : "_read_ready");
        PyObject *h = cb ? cx_handle_new(tr->tr_st, cb, empty,
                                         (PyObject *)tr->tr_loop,
                                         tr->tr_context) : NULL;
        Py_XDECREF(cb);
        if (h == NULL) {
            Py_DECREF(empty);
            return -1;
        }
        if (which) {
            Py_XSETREF(tr->tr_write_handle, h);
        }
        else {
            Py_XSETREF(tr->tr_read_handle, h);
        }
    }
    Py_DECREF(empty);
    return 0;
}

/* _set_context(context): 3.15's transports run the protocol's callbacks
 * (the scheduled ones, reading and writing when ready) in the context
 * given by create_connection / the server; before _start() only. */
static PyObject *
Transport__set_context(cx_transport *tr, PyObject *ctx)
{
    if (!PyContext_CheckExact(ctx)) {
        return PyErr_Format(PyExc_TypeError,
                            "a Context was expected, got %.200s",
                            Py_TYPE(ctx)->tp_name);
    }
    if (tr->tr_loop == NULL || tr->tr_reader_on || tr->tr_writer_on) {
        PyErr_SetString(PyExc_RuntimeError,
                        "_set_context() after the transport started");
        return NULL;
    }
    Py_XSETREF(tr->tr_context, Py_NewRef(ctx));
    if (transport_make_handles(tr) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

int
cx_transport_init(cx_transport *tr, PyObject *loop, PyObject *sock,
                  PyObject *protocol, PyObject *extra, PyObject *server)
{
    cx_state *st = cx_state_from_type(Py_TYPE(tr));
    if (st == NULL) {
        return -1;
    }
    if (!cx_loop_check(st, loop)) {
        PyErr_Format(PyExc_TypeError, "%.100s needs a casyncio loop",
                     Py_TYPE(tr)->tp_name);
        return -1;
    }
    PyObject *fdobj = PyObject_CallMethod(sock, "fileno", NULL);
    if (fdobj == NULL) {
        return -1;
    }
    int fd = PyLong_AsInt(fdobj);
    Py_DECREF(fdobj);
    if (fd == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (fd < 0) {
        PyErr_SetString(PyExc_ValueError, "the socket is closed");
        return -1;
    }
    tr->tr_st = st;
    tr->tr_fd = fd;
    tr->tr_high_water = 64 * 1024;
    tr->tr_low_water = 16 * 1024;
    tr->tr_loop = (LoopObject *)Py_NewRef(loop);
    tr->tr_sock = Py_NewRef(sock);
    tr->tr_extra = extra == Py_None ? PyDict_New() : Py_NewRef(extra);
    if (tr->tr_extra == NULL) {
        return -1;
    }
    if (!PyDict_Check(tr->tr_extra)) {
        PyErr_SetString(PyExc_TypeError, "extra must be a dict");
        return -1;
    }
    tr->tr_server = server == Py_None ? NULL : Py_NewRef(server);
    if (transport_set_protocol(tr, protocol) < 0) {
        return -1;
    }
    return transport_make_handles(tr);
}

cx_transport *
cx_transport_new(PyTypeObject *tp, PyObject *loop, PyObject *sock,
                 PyObject *protocol, PyObject *extra, PyObject *server)
{
    cx_transport *tr = (cx_transport *)tp->tp_alloc(tp, 0);
    if (tr != NULL
        && cx_transport_init(tr, loop, sock, protocol, extra, server) < 0) {
        Py_CLEAR(tr);
    }
    return tr;
}

int
cx_transport_traverse(cx_transport *tr, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(tr));
    Py_VISIT(tr->tr_loop);
    Py_VISIT(tr->tr_sock);
    Py_VISIT(tr->tr_protocol);
    Py_VISIT(tr->tr_extra);
    Py_VISIT(tr->tr_server);
    Py_VISIT(tr->tr_read_handle);
    Py_VISIT(tr->tr_write_handle);
    Py_VISIT(tr->tr_context);
    Py_VISIT(tr->tr_wbuf);
    Py_VISIT(tr->tr_dict);
    for (int i = 0; i < CX_TRANSPORT_MIXIN_SLOTS; i++) {
        Py_VISIT(tr->tr_mixin_slots[i]);
    }
    return 0;
}

int
cx_transport_clear(cx_transport *tr)
{
    Py_CLEAR(tr->tr_loop);
    Py_CLEAR(tr->tr_sock);
    Py_CLEAR(tr->tr_protocol);
    Py_CLEAR(tr->tr_extra);
    Py_CLEAR(tr->tr_server);
    Py_CLEAR(tr->tr_read_handle);
    Py_CLEAR(tr->tr_write_handle);
    Py_CLEAR(tr->tr_context);
    Py_CLEAR(tr->tr_wbuf);
    Py_CLEAR(tr->tr_dict);
    for (int i = 0; i < CX_TRANSPORT_MIXIN_SLOTS; i++) {
        Py_CLEAR(tr->tr_mixin_slots[i]);
    }
    return 0;
}

/* The subclasses' dealloc: tp_clear (theirs) then free. */
static void
Transport_dealloc(cx_transport *tr)
{
    PyTypeObject *tp = Py_TYPE(tr);
    /* The finalizer first: CPython wants the object still tracked. */
    if (PyObject_CallFinalizerFromDealloc((PyObject *)tr) < 0) {
        return;     /* resurrected */
    }
    PyObject_GC_UnTrack(tr);
    if (tr->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)tr);
    }
    (void)tp->tp_clear((PyObject *)tr);
    tp->tp_free(tr);
    Py_DECREF(tp);
}

static PyObject *
Transport_get_sock(cx_transport *tr, void *c)
{
    return Py_NewRef(tr->tr_sock ? tr->tr_sock : Py_None);
}

static PyObject *
Transport_get_loop(cx_transport *tr, void *c)
{
    return Py_NewRef(tr->tr_loop ? (PyObject *)tr->tr_loop : Py_None);
}

static PyObject *
Transport_get_protocol_attr(cx_transport *tr, void *c)
{
    return Transport_get_protocol(tr, NULL);
}

static PyObject *
Transport_get_server(cx_transport *tr, void *c)
{
    return Py_NewRef(tr->tr_server ? tr->tr_server : Py_None);
}

/* set_protocol(protocol) takes its argument by keyword too, as asyncio's
 * does.  get_extra_info is not ours: the transports inherit asyncio's
 * BaseTransport.get_extra_info, which reads the _extra slot (tr_extra), so
 * a patch of asyncio.Transport.get_extra_info (mock.patch in a test) is
 * seen by our transports as by stock's. */
CX_METH_O_KW(Transport_set_protocol, cx_transport, "set_protocol",
             "protocol")

#define FASTCALL(f) (PyCFunction)(void (*)(void))(f)
static PyMethodDef Transport_methods[] = {
    {"close", (PyCFunction)Transport_close, METH_NOARGS, CX_DOC_TR_CLOSE},
    {"abort", (PyCFunction)Transport_abort, METH_NOARGS, CX_DOC_TR_ABORT},
    {"is_closing", (PyCFunction)Transport_is_closing, METH_NOARGS,
     CX_DOC_TR_IS_CLOSING},
    {"is_reading", (PyCFunction)Transport_is_reading, METH_NOARGS,
     CX_DOC_TR_IS_READING},
    {"pause_reading", (PyCFunction)Transport_pause_reading, METH_NOARGS,
     CX_DOC_TR_PAUSE_READING},
    {"resume_reading", (PyCFunction)Transport_resume_reading, METH_NOARGS,
     CX_DOC_TR_RESUME_READING},
    {"set_protocol", CX_FASTKW(Transport_set_protocol_kw),
     CX_DOC_TR_SET_PROTOCOL},
    {"get_protocol", (PyCFunction)Transport_get_protocol, METH_NOARGS,
     CX_DOC_TR_GET_PROTOCOL},
    {"get_write_buffer_size", (PyCFunction)Transport_get_write_buffer_size,
     METH_NOARGS, CX_DOC_TR_GET_WRITE_BUFFER_SIZE},
    {"get_write_buffer_limits",
     (PyCFunction)Transport_get_write_buffer_limits, METH_NOARGS,
     CX_DOC_TR_GET_WRITE_BUFFER_LIMITS},
    {"_set_limits", (PyCFunction)Transport__set_limits, METH_VARARGS,
     CX_DOC_SIG("_set_limits($self, high, low, /)", "")},
    {"_start", FASTCALL(Transport__start), METH_FASTCALL,
     CX_DOC_SIG("_start($self, waiter, add_reader=True, /)", "")},
    {"_force_close", (PyCFunction)Transport__force_close, METH_O,
     CX_DOC_SIG("_force_close($self, exc, /)", "")},
    {"_set_context", (PyCFunction)Transport__set_context, METH_O,
     CX_DOC_SIG("_set_context($self, context, /)", "")},
    {"_fatal_error", (PyCFunction)Transport__fatal_error, METH_VARARGS,
     CX_DOC_SIG("_fatal_error($self, exc, "
                "message='Fatal error on transport', /)", "")},
    {NULL, NULL},
};

static PyGetSetDef Transport_getset[] = {
    {"_sock", (getter)Transport_get_sock, NULL, NULL, NULL},
    {"_loop", (getter)Transport_get_loop, NULL, NULL, NULL},
    {"_protocol", (getter)Transport_get_protocol_attr, NULL, NULL, NULL},
    {"_server", (getter)Transport_get_server, NULL, NULL, NULL},
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL,
     NULL},
    {NULL},
};

static PyMemberDef Transport_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(cx_transport, weakreflist),
     READONLY, NULL},
    {"__dictoffset__", T_PYSSIZET, offsetof(cx_transport, tr_dict),
     READONLY, NULL},
    {"_sock_fd", T_INT, offsetof(cx_transport, tr_fd), READONLY, NULL},
    {"_conn_lost", T_INT, offsetof(cx_transport, tr_conn_lost), READONLY,
     NULL},
    {"_closing", T_BOOL, offsetof(cx_transport, tr_closing), READONLY,
     NULL},
    {"_paused", T_BOOL, offsetof(cx_transport, tr_paused), READONLY, NULL},
    {"_eof", T_BOOL, offsetof(cx_transport, tr_eof), READONLY, NULL},
    {"_protocol_paused", T_BOOL,
     offsetof(cx_transport, tr_protocol_paused), READONLY, NULL},
    {"_reader_on", T_BOOL, offsetof(cx_transport, tr_reader_on), READONLY,
     NULL},
    {"_writer_on", T_BOOL, offsetof(cx_transport, tr_writer_on), READONLY,
     NULL},
    {"_high_water", T_PYSSIZET, offsetof(cx_transport, tr_high_water),
     READONLY, NULL},
    {"_low_water", T_PYSSIZET, offsetof(cx_transport, tr_low_water),
     READONLY, NULL},
    {NULL},
};

static int
Transport_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    return 0;   /* all done in tp_new; not BaseTransport.__init__ */
}

static PyType_Slot Transport_slots[] = {
    {Py_tp_init, Transport_init},
    {Py_tp_dealloc, Transport_dealloc},
    {Py_tp_traverse, cx_transport_traverse},
    {Py_tp_clear, cx_transport_clear},
    {Py_tp_methods, Transport_methods},
    {Py_tp_getset, Transport_getset},
    {Py_tp_members, Transport_members},
    {Py_tp_doc, "The common part of casyncio's socket transports "
                "(asyncio's _SelectorTransport)."},
    {0, NULL},
};

static PyType_Spec Transport_spec = {
    .name = "casyncio._core._Transport",
    .basicsize = sizeof(cx_transport),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC
             | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = Transport_slots,
};

int
cx_transport_setup(PyObject *module)
{
    cx_state *st = PyModule_GetState(module);
#define INTERN(slot, text) \
    if ((st->slot = PyUnicode_InternFromString(text)) == NULL) { return -1; }
    INTERN(str_connection_made, "connection_made")
    INTERN(str_connection_lost, "connection_lost")
    INTERN(str_data_received, "data_received")
    INTERN(str_eof_received, "eof_received")
    INTERN(str_get_buffer, "get_buffer")
    INTERN(str_buffer_updated, "buffer_updated")
    INTERN(str_pause_writing, "pause_writing")
    INTERN(str_resume_writing, "resume_writing")
    INTERN(str_close, "close")
    INTERN(str_transport, "transport")
    INTERN(str_protocol, "protocol")
#undef INTERN
    PyObject *base;
    PyObject *mod = PyImport_ImportModule("asyncio.transports");
    if (mod == NULL) {
        return -1;
    }
    base = PyObject_GetAttrString(mod, "_FlowControlMixin");
    Py_DECREF(mod);
    if (base == NULL) {
        return -1;
    }
    /* BaseTransport.__slots__ = ('_extra',) and _FlowControlMixin's four:
     * five pointers after the head. */
    if (((PyTypeObject *)base)->tp_basicsize
        != (Py_ssize_t)(offsetof(cx_transport, tr_mixin_slots)
                        + CX_TRANSPORT_MIXIN_SLOTS * sizeof(PyObject *))) {
        Py_DECREF(base);
        PyErr_SetString(PyExc_ImportError,
                        "asyncio's _FlowControlMixin layout is not the "
                        "expected one");
        return -1;
    }
    mod = PyImport_ImportModule("asyncio.protocols");
    if (mod == NULL) {
        Py_DECREF(base);
        return -1;
    }
    st->asyncio_BufferedProtocol = PyObject_GetAttrString(mod,
                                                          "BufferedProtocol");
    Py_DECREF(mod);
    if (st->asyncio_BufferedProtocol == NULL) {
        Py_DECREF(base);
        return -1;
    }
    st->transport_rbuf = NULL;
    st->transport_rbytes = NULL;
    st->TransportType = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &Transport_spec, base);
    Py_DECREF(base);
    if (st->TransportType == NULL) {
        return -1;
    }
    return PyModule_AddType(module, st->TransportType);
}
