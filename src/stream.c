/* SocketTransport: asyncio.selector_events._SelectorSocketTransport (3.11)
 * in C, for connected stream sockets (AF_INET, AF_INET6, AF_UNIX).
 *
 * The transport reads and writes the socket's fd itself: recv() into the
 * interpreter's shared receive buffer (the bytes handed to data_received()
 * are copied out of it first), send() at once when nothing is queued, and
 * the queue (a list of bytes) flushed with sendmsg() when writable.
 *
 * Its reader and writer are two Handles made once per transport (callback:
 * the bound _read_ready / _write_ready) and put into and out of the loop's
 * poller directly; they are never cancelled, so a queued one that fires
 * after its removal checks tr_reader_on / tr_writer_on and does nothing
 * (asyncio cancels the Handle instead).  Protocol callbacks scheduled for
 * later (connection_made, connection_lost) are CX_ENTRY_CFUNC entries: no
 * Handle, no bound method.  Messages and call order follow asyncio. */
#include "internal.h"
#include "structmember.h"
#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define STREAM_MAX_SIZE (256 * 1024)   /* asyncio's max_size for recv() */
#define STREAM_IOV_MAX 512
#define STREAM_LOG_THRESHOLD_FOR_CONNLOST_WRITES 5

/* The type derives from asyncio.transports.Transport, whose only field is
 * BaseTransport's slot `_extra`: tr_extra must come first to be that slot
 * (so BaseTransport's `_extra` descriptor reads it). */
typedef struct {
    PyObject_HEAD
    PyObject *tr_extra;           /* dict; asyncio's _extra slot */
    cx_state *tr_st;
    LoopObject *tr_loop;          /* NULL after connection_lost */
    PyObject *tr_sock;            /* NULL after connection_lost */
    PyObject *tr_protocol;
    PyObject *tr_server;          /* or NULL */
    PyObject *tr_read_handle;     /* Handle(self._read_ready) */
    PyObject *tr_write_handle;    /* Handle(self._write_ready) */
    PyObject *tr_wbuf;            /* list of bytes; items before wbuf_head
                                     are sent */
    Py_ssize_t tr_wbuf_head;
    Py_ssize_t tr_wbuf_off;       /* bytes of wbuf[head] already sent */
    Py_ssize_t tr_wbuf_size;      /* bytes queued, not yet sent */
    Py_ssize_t tr_high_water;
    Py_ssize_t tr_low_water;
    PyObject *weakreflist;
    PyObject *tr_dict;
    int tr_fd;
    int tr_conn_lost;
    char tr_closing;
    char tr_paused;               /* reading paused */
    char tr_eof;                  /* write_eof() called */
    char tr_protocol_paused;      /* pause_writing() called */
    char tr_protocol_connected;
    char tr_buffered;             /* protocol is a BufferedProtocol */
    char tr_reader_on;            /* read_handle is in the poller */
    char tr_writer_on;
} TransportObject;

static int
errno_would_block(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

/* ---- the reader and writer in the loop's poller ---- */

/* Put our reader (which=0) or writer Handle into the poller, or take it
 * out (on=0).  A foreign Handle replaced or removed is cancelled, as
 * loop._add_reader would.  0 or -1. */
static int
transport_watch(TransportObject *tr, int which, int on)
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

static void
transport_clear_wbuf(TransportObject *tr)
{
    if (tr->tr_wbuf != NULL && PyList_GET_SIZE(tr->tr_wbuf)) {
        (void)PyList_SetSlice(tr->tr_wbuf, 0, PyList_GET_SIZE(tr->tr_wbuf),
                              NULL);
    }
    tr->tr_wbuf_head = 0;
    tr->tr_wbuf_off = 0;
    tr->tr_wbuf_size = 0;
}

/* ---- exceptions and connection_lost ---- */

static int
transport_debug(TransportObject *tr)
{
    return tr->tr_loop != NULL && tr->tr_loop->loop_debug;
}

/* logger.<level>(fmt, *args), for debug messages; errors are swallowed
 * unless they must leave the loop.  0 or -1. */
static int
transport_log(TransportObject *tr, const char *level, PyObject *args,
              PyObject *kwargs)
{
    if (args == NULL) {
        return cx_is_exit_exception() ? -1 : (PyErr_Clear(), 0);
    }
    PyObject *meth = PyObject_GetAttrString(tr->tr_st->asyncio_logger, level);
    PyObject *r = meth ? PyObject_Call(meth, args, kwargs) : NULL;
    Py_XDECREF(meth);
    Py_DECREF(args);
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

/* loop.call_exception_handler({'message', 'exception', 'transport',
 * 'protocol'}).  Borrows exc.  0, or -1 for SystemExit/KeyboardInterrupt. */
static int
transport_report(TransportObject *tr, const char *message, PyObject *exc)
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

static int transport_call_connection_lost(PyObject *self, PyObject *exc);

/* _force_close(exc): exc borrowed (NULL: None).  0 or -1. */
static int
transport_force_close(TransportObject *tr, PyObject *exc)
{
    if (tr->tr_conn_lost) {
        return 0;
    }
    if (tr->tr_wbuf_size) {
        transport_clear_wbuf(tr);
        if (transport_watch(tr, 1, 0) < 0) {
            return -1;
        }
    }
    if (!tr->tr_closing) {
        tr->tr_closing = 1;
        if (transport_watch(tr, 0, 0) < 0) {
            return -1;
        }
    }
    tr->tr_conn_lost++;
    if (tr->tr_loop == NULL) {
        return 0;
    }
    return cx_loop_push_cfunc(tr->tr_loop, transport_call_connection_lost,
                              (PyObject *)tr, exc ? exc : Py_None);
}

/* _fatal_error(exc, message) for the current exception: OSErrors are only
 * logged in debug mode, anything else goes to the exception handler; then
 * _force_close(exc).  0, or -1 when the exception must leave the loop
 * (SystemExit, KeyboardInterrupt: left set). */
static int
transport_fatal_error(TransportObject *tr, const char *message)
{
    if (cx_is_exit_exception()) {
        return -1;
    }
    PyObject *exc = cx_err_fetch();
    int rc = 0;
    if (PyObject_TypeCheck(exc, (PyTypeObject *)PyExc_OSError)) {
        if (transport_debug(tr)) {
            PyObject *kw = Py_BuildValue("{sO}", "exc_info", exc);
            if (kw == NULL) {
                rc = -1;
            }
            else {
                rc = transport_log(tr, "debug",
                                   Py_BuildValue("(sOs)", "%r: %s", tr,
                                                 message), kw);
                Py_DECREF(kw);
            }
        }
    }
    else {
        rc = transport_report(tr, message, exc);
    }
    if (rc == 0) {
        rc = transport_force_close(tr, exc);
    }
    Py_DECREF(exc);
    return rc;
}

/* _call_connection_lost(exc), a CX_ENTRY_CFUNC (or called directly):
 * protocol.connection_lost(exc), then close the socket and drop the loop,
 * the protocol and the server, whatever connection_lost did. */
static int
transport_call_connection_lost(PyObject *self, PyObject *exc)
{
    TransportObject *tr = (TransportObject *)self;
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
    PyObject *sock = tr->tr_sock;
    tr->tr_sock = NULL;
    if (sock != NULL) {
        PyObject *r = PyObject_CallMethodNoArgs(sock, st->str_close);
        Py_DECREF(sock);
        if (r == NULL) {
            if (pending == NULL) {
                pending = cx_err_fetch();
                rc = -1;
            }
            else {
                PyErr_Clear();
            }
        }
        Py_XDECREF(r);
    }
    Py_CLEAR(tr->tr_protocol);
    Py_CLEAR(tr->tr_loop);
    Py_CLEAR(tr->tr_read_handle);
    Py_CLEAR(tr->tr_write_handle);
    PyObject *server = tr->tr_server;
    tr->tr_server = NULL;
    if (server != NULL) {
        PyObject *r = PyObject_CallMethod(server, "_detach", NULL);
        Py_DECREF(server);
        if (r == NULL) {
            if (pending == NULL) {
                pending = cx_err_fetch();
                rc = -1;
            }
            else {
                PyErr_Clear();
            }
        }
        Py_XDECREF(r);
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
transport_call_flow(TransportObject *tr, PyObject *method, const char *msg)
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
    int rc = transport_report(tr, msg, exc);
    Py_DECREF(exc);
    return rc;
}

static int
transport_maybe_pause_protocol(TransportObject *tr)
{
    if (tr->tr_wbuf_size <= tr->tr_high_water || tr->tr_protocol_paused) {
        return 0;
    }
    tr->tr_protocol_paused = 1;
    return transport_call_flow(tr, tr->tr_st->str_pause_writing,
                               "protocol.pause_writing() failed");
}

static int
transport_maybe_resume_protocol(TransportObject *tr)
{
    if (!tr->tr_protocol_paused || tr->tr_wbuf_size > tr->tr_low_water) {
        return 0;
    }
    tr->tr_protocol_paused = 0;
    return transport_call_flow(tr, tr->tr_st->str_resume_writing,
                               "protocol.resume_writing() failed");
}

/* ---- reading ---- */

static PyObject *
transport_close_impl(TransportObject *tr);

/* _read_ready__on_eof.  0 or -1. */
static int
transport_on_eof(TransportObject *tr)
{
    if (transport_debug(tr)
        && transport_log(tr, "debug",
                         Py_BuildValue("(sO)", "%r received EOF", tr),
                         NULL) < 0) {
        return -1;
    }
    if (tr->tr_protocol == NULL) {
        return 0;   /* connection_lost already ran */
    }
    PyObject *proto = Py_NewRef(tr->tr_protocol);
    PyObject *keep = PyObject_CallMethodNoArgs(proto,
                                               tr->tr_st->str_eof_received);
    Py_DECREF(proto);
    if (keep == NULL) {
        return transport_fatal_error(
            tr, "Fatal error: protocol.eof_received() call failed.");
    }
    int truth = PyObject_IsTrue(keep);
    Py_DECREF(keep);
    if (truth < 0) {
        return -1;
    }
    if (truth) {
        return transport_watch(tr, 0, 0);
    }
    PyObject *r = transport_close_impl(tr);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

static int
transport_read_data(TransportObject *tr)
{
    cx_state *st = tr->tr_st;
    if (st->stream_rbuf == NULL) {
        st->stream_rbuf = PyMem_Malloc(STREAM_MAX_SIZE);
        if (st->stream_rbuf == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    ssize_t n = recv(tr->tr_fd, st->stream_rbuf, STREAM_MAX_SIZE, 0);
    if (n < 0) {
        if (errno_would_block(errno)) {
            return 0;
        }
        PyErr_SetFromErrno(PyExc_OSError);
        return transport_fatal_error(tr,
                                     "Fatal read error on socket transport");
    }
    if (n == 0) {
        return transport_on_eof(tr);
    }
    PyObject *data = PyBytes_FromStringAndSize(st->stream_rbuf, n);
    if (data == NULL) {
        return -1;
    }
    PyObject *proto = Py_NewRef(tr->tr_protocol);
    PyObject *r = PyObject_CallMethodOneArg(proto, st->str_data_received,
                                            data);
    Py_DECREF(proto);
    Py_DECREF(data);
    if (r == NULL) {
        return transport_fatal_error(
            tr, "Fatal error: protocol.data_received() call failed.");
    }
    Py_DECREF(r);
    return 0;
}

static int
transport_read_buffered(TransportObject *tr)
{
    cx_state *st = tr->tr_st;
    PyObject *proto = Py_NewRef(tr->tr_protocol);
    PyObject *hint = PyLong_FromLong(-1);     /* a cached small int */
    PyObject *buf = hint ? PyObject_CallMethodOneArg(proto,
                                                     st->str_get_buffer,
                                                     hint) : NULL;
    Py_XDECREF(hint);
    if (buf != NULL) {
        Py_ssize_t len = PyObject_Size(buf);
        if (len == 0) {
            PyErr_SetString(PyExc_RuntimeError,
                            "get_buffer() returned an empty buffer");
        }
        if (len <= 0) {
            Py_CLEAR(buf);
        }
    }
    if (buf == NULL) {
        Py_DECREF(proto);
        return transport_fatal_error(
            tr, "Fatal error: protocol.get_buffer() call failed.");
    }
    Py_buffer view;
    ssize_t n = -1;
    if (PyObject_GetBuffer(buf, &view, PyBUF_WRITABLE) == 0) {
        n = recv(tr->tr_fd, view.buf, view.len, 0);
        int e = errno;
        PyBuffer_Release(&view);
        if (n < 0) {
            if (errno_would_block(e)) {
                Py_DECREF(buf);
                Py_DECREF(proto);
                return 0;
            }
            errno = e;
            PyErr_SetFromErrno(PyExc_OSError);
        }
    }
    else if (PyErr_ExceptionMatches(PyExc_BufferError)
             || PyErr_ExceptionMatches(PyExc_TypeError)) {
        /* socket.recv_into()'s error for a read-only buffer */
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError,
                     "recv_into() argument 'buffer' must be read-write "
                     "bytes-like object, not %.200s", Py_TYPE(buf)->tp_name);
    }
    Py_DECREF(buf);
    if (n < 0) {
        Py_DECREF(proto);
        return transport_fatal_error(tr,
                                     "Fatal read error on socket transport");
    }
    if (n == 0) {
        Py_DECREF(proto);
        return transport_on_eof(tr);
    }
    PyObject *nb = PyLong_FromSsize_t(n);
    PyObject *r = nb ? PyObject_CallMethodOneArg(proto,
                                                 st->str_buffer_updated, nb)
                     : NULL;
    Py_XDECREF(nb);
    Py_DECREF(proto);
    if (r == NULL) {
        return transport_fatal_error(
            tr, "Fatal error: protocol.buffer_updated() call failed.");
    }
    Py_DECREF(r);
    return 0;
}

/* The reader Handle's callback: the socket is readable. */
static PyObject *
Transport__read_ready(TransportObject *tr, PyObject *Py_UNUSED(ignored))
{
    if (!tr->tr_reader_on || tr->tr_conn_lost || tr->tr_protocol == NULL) {
        Py_RETURN_NONE;
    }
    Py_INCREF(tr);
    int rc = tr->tr_buffered ? transport_read_buffered(tr)
                             : transport_read_data(tr);
    Py_DECREF(tr);
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---- writing ---- */

static int
transport_append(TransportObject *tr, PyObject *data, const char *buf,
                 Py_ssize_t len)
{
    PyObject *item = (data != NULL && PyBytes_CheckExact(data))
        ? Py_NewRef(data) : PyBytes_FromStringAndSize(buf, len);
    if (item == NULL) {
        return -1;
    }
    if (tr->tr_wbuf == NULL && (tr->tr_wbuf = PyList_New(0)) == NULL) {
        Py_DECREF(item);
        return -1;
    }
    int rc = PyList_Append(tr->tr_wbuf, item);
    Py_DECREF(item);
    if (rc == 0) {
        tr->tr_wbuf_size += len;
    }
    return rc;
}

static PyObject *
Transport_write(TransportObject *tr, PyObject *data)
{
    if (!PyBytes_Check(data) && !PyByteArray_Check(data)
        && !PyMemoryView_Check(data)) {
        return PyErr_Format(PyExc_TypeError,
                            "data argument must be a bytes-like object, "
                            "not '%.200s'", Py_TYPE(data)->tp_name);
    }
    if (tr->tr_eof) {
        PyErr_SetString(PyExc_RuntimeError,
                        "Cannot call write() after write_eof()");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    PyObject *res = NULL;
    if (view.len == 0) {
        goto done;
    }
    if (tr->tr_conn_lost) {
        if (tr->tr_conn_lost >= STREAM_LOG_THRESHOLD_FOR_CONNLOST_WRITES
            && transport_log(tr, "warning",
                             Py_BuildValue("(s)",
                                           "socket.send() raised exception."),
                             NULL) < 0) {
            goto error;
        }
        tr->tr_conn_lost++;
        goto done;
    }
    Py_ssize_t sent = 0;
    if (tr->tr_wbuf_size == 0) {
        /* Optimization: try to send now. */
        ssize_t n = send(tr->tr_fd, view.buf, view.len, MSG_NOSIGNAL);
        if (n < 0) {
            if (!errno_would_block(errno)) {
                PyErr_SetFromErrno(PyExc_OSError);
                if (transport_fatal_error(
                        tr, "Fatal write error on socket transport") < 0) {
                    goto error;
                }
                goto done;
            }
        }
        else {
            sent = n;
            if (sent == view.len) {
                goto done;
            }
        }
        /* Not all was written; register write handler. */
        if (transport_watch(tr, 1, 1) < 0) {
            goto error;
        }
    }
    if (transport_append(tr, sent ? NULL : data, (char *)view.buf + sent,
                         view.len - sent) < 0
        || transport_maybe_pause_protocol(tr) < 0) {
        goto error;
    }
done:
    res = Py_NewRef(Py_None);
error:
    PyBuffer_Release(&view);
    return res;
}

/* Drop n sent bytes from the front of the queue. */
static void
transport_consume(TransportObject *tr, Py_ssize_t n)
{
    PyObject *list = tr->tr_wbuf;
    tr->tr_wbuf_size -= n;
    while (n > 0) {
        PyObject *item = PyList_GET_ITEM(list, tr->tr_wbuf_head);
        Py_ssize_t left = PyBytes_GET_SIZE(item) - tr->tr_wbuf_off;
        if (n < left) {
            tr->tr_wbuf_off += n;
            break;
        }
        n -= left;
        tr->tr_wbuf_off = 0;
        tr->tr_wbuf_head++;
    }
    if (tr->tr_wbuf_head == PyList_GET_SIZE(list)) {
        transport_clear_wbuf(tr);
    }
    else if (tr->tr_wbuf_head >= 64
             && tr->tr_wbuf_head * 2 >= PyList_GET_SIZE(list)) {
        (void)PyList_SetSlice(list, 0, tr->tr_wbuf_head, NULL);
        tr->tr_wbuf_head = 0;
    }
}

/* The writer Handle's callback: flush what the queue holds. */
static PyObject *
Transport__write_ready(TransportObject *tr, PyObject *Py_UNUSED(ignored))
{
    if (!tr->tr_writer_on || tr->tr_conn_lost || tr->tr_wbuf_size == 0) {
        Py_RETURN_NONE;
    }
    struct iovec iov[STREAM_IOV_MAX];
    PyObject *list = tr->tr_wbuf;
    Py_ssize_t cnt = 0;
    for (Py_ssize_t i = tr->tr_wbuf_head;
         i < PyList_GET_SIZE(list) && cnt < STREAM_IOV_MAX; i++, cnt++) {
        PyObject *item = PyList_GET_ITEM(list, i);
        Py_ssize_t off = i == tr->tr_wbuf_head ? tr->tr_wbuf_off : 0;
        iov[cnt].iov_base = PyBytes_AS_STRING(item) + off;
        iov[cnt].iov_len = (size_t)(PyBytes_GET_SIZE(item) - off);
    }
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
    ssize_t n = sendmsg(tr->tr_fd, &msg, MSG_NOSIGNAL);
    Py_INCREF(tr);
    PyObject *res = NULL;
    if (n < 0) {
        if (errno_would_block(errno)) {
            goto done;
        }
        PyErr_SetFromErrno(PyExc_OSError);
        PyObject *exc = cx_err_fetch();
        int rc = transport_watch(tr, 1, 0);
        transport_clear_wbuf(tr);
        if (rc < 0) {
            Py_DECREF(exc);
            goto error;
        }
        cx_err_restore(exc);
        if (transport_fatal_error(
                tr, "Fatal write error on socket transport") < 0) {
            goto error;
        }
        goto done;
    }
    transport_consume(tr, n);
    if (transport_maybe_resume_protocol(tr) < 0) {  /* May append. */
        goto error;
    }
    if (tr->tr_wbuf_size == 0) {
        if (transport_watch(tr, 1, 0) < 0) {
            goto error;
        }
        if (tr->tr_closing) {
            if (transport_call_connection_lost((PyObject *)tr, Py_None) < 0) {
                goto error;
            }
        }
        else if (tr->tr_eof && shutdown(tr->tr_fd, SHUT_WR) < 0) {
            PyErr_SetFromErrno(PyExc_OSError);
            goto error;
        }
    }
done:
    res = Py_NewRef(Py_None);
error:
    Py_DECREF(tr);
    return res;
}

static PyObject *
Transport_write_eof(TransportObject *tr, PyObject *Py_UNUSED(ignored))
{
    if (tr->tr_closing || tr->tr_eof) {
        Py_RETURN_NONE;
    }
    tr->tr_eof = 1;
    if (tr->tr_wbuf_size == 0 && shutdown(tr->tr_fd, SHUT_WR) < 0) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
}

static PyObject *
Transport_can_write_eof(TransportObject *tr, PyObject *Py_UNUSED(ignored))
{
    Py_RETURN_TRUE;
}

/* ---- closing ---- */

static PyObject *
transport_close_impl(TransportObject *tr)
{
    if (tr->tr_closing) {
        Py_RETURN_NONE;
    }
    tr->tr_closing = 1;
    if (transport_watch(tr, 0, 0) < 0) {
        return NULL;
    }
    if (tr->tr_wbuf_size == 0) {
        tr->tr_conn_lost++;
        if (transport_watch(tr, 1, 0) < 0) {
            return NULL;
        }
        if (tr->tr_loop != NULL
            && cx_loop_push_cfunc(tr->tr_loop, transport_call_connection_lost,
                                  (PyObject *)tr, Py_None) < 0) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

static PyObject *
Transport_close(TransportObject *tr, PyObject *Py_UNUSED(ignored))
{
    return transport_close_impl(tr);
}

static PyObject *
Transport_abort(TransportObject *tr, PyObject *Py_UNUSED(ignored))
{
    if (transport_force_close(tr, NULL) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Transport__force_close(TransportObject *tr, PyObject *exc)
{
    if (transport_force_close(tr, exc == Py_None ? NULL : exc) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Transport__fatal_error(TransportObject *tr, PyObject *args)
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
    if (transport_fatal_error(tr, message) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Transport_is_closing(TransportObject *tr, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(tr->tr_closing);
}

/* ---- reading control ---- */

static int
transport_is_reading(TransportObject *tr)
{
    return !tr->tr_closing && !tr->tr_paused;
}

static PyObject *
Transport_is_reading(TransportObject *tr, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(transport_is_reading(tr));
}

static PyObject *
Transport_pause_reading(TransportObject *tr, PyObject *Py_UNUSED(ignored))
{
    if (!transport_is_reading(tr)) {
        Py_RETURN_NONE;
    }
    tr->tr_paused = 1;
    if (transport_watch(tr, 0, 0) < 0) {
        return NULL;
    }
    if (transport_debug(tr)
        && transport_log(tr, "debug",
                         Py_BuildValue("(sO)", "%r pauses reading", tr),
                         NULL) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Transport_resume_reading(TransportObject *tr, PyObject *Py_UNUSED(ignored))
{
    if (tr->tr_closing || !tr->tr_paused) {
        Py_RETURN_NONE;
    }
    tr->tr_paused = 0;
    if (transport_is_reading(tr) && transport_watch(tr, 0, 1) < 0) {
        return NULL;
    }
    if (transport_debug(tr)
        && transport_log(tr, "debug",
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
    TransportObject *tr = (TransportObject *)self;
    PyObject *r = PyObject_CallMethodOneArg(
        protocol, tr->tr_st->str_connection_made, self);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

static int
transport_add_reader_cb(PyObject *self, PyObject *Py_UNUSED(arg))
{
    TransportObject *tr = (TransportObject *)self;
    if (!transport_is_reading(tr)) {
        return 0;
    }
    return transport_watch(tr, 0, 1);
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

/* _start(waiter): schedule connection_made(self), then the reader, then
 * the waiter's result, in that order (asyncio's three call_soon). */
static PyObject *
Transport__start(TransportObject *tr, PyObject *waiter)
{
    if (tr->tr_loop == NULL || tr->tr_protocol == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "transport is closed");
        return NULL;
    }
    if (cx_loop_push_cfunc(tr->tr_loop, transport_connection_made_cb,
                           (PyObject *)tr, tr->tr_protocol) < 0
        || cx_loop_push_cfunc(tr->tr_loop, transport_add_reader_cb,
                              (PyObject *)tr, NULL) < 0) {
        return NULL;
    }
    if (waiter != Py_None
        && cx_loop_push_cfunc(tr->tr_loop, transport_set_waiter_cb, waiter,
                              NULL) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---- protocol, extra info, limits ---- */

static int
transport_set_protocol(TransportObject *tr, PyObject *protocol)
{
    int b = PyObject_IsInstance(protocol,
                                tr->tr_st->asyncio_BufferedProtocol);
    if (b < 0) {
        return -1;
    }
    tr->tr_buffered = (char)b;
    Py_XSETREF(tr->tr_protocol, Py_NewRef(protocol));
    tr->tr_protocol_connected = 1;
    return 0;
}

static PyObject *
Transport_set_protocol(TransportObject *tr, PyObject *protocol)
{
    if (transport_set_protocol(tr, protocol) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
Transport_get_protocol(TransportObject *tr, PyObject *Py_UNUSED(ignored))
{
    return Py_NewRef(tr->tr_protocol ? tr->tr_protocol : Py_None);
}

static PyObject *
Transport_get_extra_info(TransportObject *tr, PyObject *const *args,
                         Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError,
                        "get_extra_info() takes 1 or 2 arguments");
        return NULL;
    }
    PyObject *v = PyDict_GetItemWithError(tr->tr_extra, args[0]);
    if (v == NULL && PyErr_Occurred()) {
        return NULL;
    }
    if (v == NULL) {
        v = nargs == 2 ? args[1] : Py_None;
    }
    return Py_NewRef(v);
}

static PyObject *
Transport_get_write_buffer_size(TransportObject *tr,
                                PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSsize_t(tr->tr_wbuf_size);
}

static PyObject *
Transport_get_write_buffer_limits(TransportObject *tr,
                                  PyObject *Py_UNUSED(ignored))
{
    return Py_BuildValue("(nn)", tr->tr_low_water, tr->tr_high_water);
}

/* _set_limits(high, low): the checked values; then _maybe_pause_protocol
 * (set_write_buffer_limits in Python normalises the arguments). */
static PyObject *
Transport__set_limits(TransportObject *tr, PyObject *args)
{
    Py_ssize_t high, low;
    if (!PyArg_ParseTuple(args, "nn:_set_limits", &high, &low)) {
        return NULL;
    }
    tr->tr_high_water = high;
    tr->tr_low_water = low;
    if (transport_maybe_pause_protocol(tr) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---- the type ---- */

static PyObject *
Transport_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"loop", "sock", "protocol", "extra", "server",
                             NULL};
    PyObject *loop, *sock, *protocol, *extra = Py_None, *server = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO|OO:SocketTransport",
                                     kwlist, &loop, &sock, &protocol, &extra,
                                     &server)) {
        return NULL;
    }
    cx_state *st = cx_state_from_type(tp);
    if (st == NULL) {
        return NULL;
    }
    if (!PyObject_TypeCheck(loop, st->LoopType)) {
        PyErr_SetString(PyExc_TypeError,
                        "SocketTransport needs a casyncio loop");
        return NULL;
    }
    PyObject *fdobj = PyObject_CallMethod(sock, "fileno", NULL);
    if (fdobj == NULL) {
        return NULL;
    }
    int fd = _PyLong_AsInt(fdobj);
    Py_DECREF(fdobj);
    if (fd == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (fd < 0) {
        PyErr_SetString(PyExc_ValueError, "the socket is closed");
        return NULL;
    }
    TransportObject *tr = (TransportObject *)tp->tp_alloc(tp, 0);
    if (tr == NULL) {
        return NULL;
    }
    tr->tr_st = st;
    tr->tr_fd = fd;
    tr->tr_high_water = 64 * 1024;
    tr->tr_low_water = 16 * 1024;
    tr->tr_loop = (LoopObject *)Py_NewRef(loop);
    tr->tr_sock = Py_NewRef(sock);
    tr->tr_extra = extra == Py_None ? PyDict_New() : Py_NewRef(extra);
    if (tr->tr_extra == NULL) {
        goto error;
    }
    if (!PyDict_Check(tr->tr_extra)) {
        PyErr_SetString(PyExc_TypeError, "extra must be a dict");
        goto error;
    }
    tr->tr_server = server == Py_None ? NULL : Py_NewRef(server);
    if (transport_set_protocol(tr, protocol) < 0) {
        goto error;
    }
    PyObject *empty = PyTuple_New(0);
    if (empty == NULL) {
        goto error;
    }
    for (int which = 0; which < 2; which++) {
        PyObject *cb = PyObject_GetAttrString(
            (PyObject *)tr, which ? "_write_ready" : "_read_ready");
        PyObject *h = cb ? cx_handle_new(st, cb, empty, loop, NULL) : NULL;
        Py_XDECREF(cb);
        if (h == NULL) {
            Py_DECREF(empty);
            goto error;
        }
        if (which) {
            tr->tr_write_handle = h;
        }
        else {
            tr->tr_read_handle = h;
        }
    }
    Py_DECREF(empty);
    return (PyObject *)tr;
error:
    Py_DECREF(tr);
    return NULL;
}

static int
Transport_traverse(TransportObject *tr, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(tr));
    Py_VISIT(tr->tr_loop);
    Py_VISIT(tr->tr_sock);
    Py_VISIT(tr->tr_protocol);
    Py_VISIT(tr->tr_extra);
    Py_VISIT(tr->tr_server);
    Py_VISIT(tr->tr_read_handle);
    Py_VISIT(tr->tr_write_handle);
    Py_VISIT(tr->tr_wbuf);
    Py_VISIT(tr->tr_dict);
    return 0;
}

static int
Transport_clear(TransportObject *tr)
{
    Py_CLEAR(tr->tr_loop);
    Py_CLEAR(tr->tr_sock);
    Py_CLEAR(tr->tr_protocol);
    Py_CLEAR(tr->tr_extra);
    Py_CLEAR(tr->tr_server);
    Py_CLEAR(tr->tr_read_handle);
    Py_CLEAR(tr->tr_write_handle);
    Py_CLEAR(tr->tr_wbuf);
    Py_CLEAR(tr->tr_dict);
    return 0;
}

static void
Transport_dealloc(TransportObject *tr)
{
    PyTypeObject *tp = Py_TYPE(tr);
    PyObject_GC_UnTrack(tr);
    if (PyObject_CallFinalizerFromDealloc((PyObject *)tr) < 0) {
        return;     /* resurrected */
    }
    if (tr->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)tr);
    }
    Transport_clear(tr);
    tp->tp_free(tr);
    Py_DECREF(tp);
}

static PyObject *
Transport_get_sock(TransportObject *tr, void *c)
{
    return Py_NewRef(tr->tr_sock ? tr->tr_sock : Py_None);
}

static PyObject *
Transport_get_loop(TransportObject *tr, void *c)
{
    return Py_NewRef(tr->tr_loop ? (PyObject *)tr->tr_loop : Py_None);
}

static PyObject *
Transport_get_protocol_attr(TransportObject *tr, void *c)
{
    return Transport_get_protocol(tr, NULL);
}

static PyObject *
Transport_get_server(TransportObject *tr, void *c)
{
    return Py_NewRef(tr->tr_server ? tr->tr_server : Py_None);
}

static PyObject *
Transport_get_buffer_attr(TransportObject *tr, void *c)
{
    /* A copy of what is queued, for introspection (asyncio's _buffer). */
    PyObject *out = PyByteArray_FromStringAndSize(NULL, 0);
    if (out == NULL || tr->tr_wbuf == NULL) {
        return out;
    }
    for (Py_ssize_t i = tr->tr_wbuf_head; i < PyList_GET_SIZE(tr->tr_wbuf);
         i++) {
        PyObject *item = PyList_GET_ITEM(tr->tr_wbuf, i);
        Py_ssize_t off = i == tr->tr_wbuf_head ? tr->tr_wbuf_off : 0;
        Py_ssize_t n = PyByteArray_GET_SIZE(out);
        if (PyByteArray_Resize(out, n + PyBytes_GET_SIZE(item) - off) < 0) {
            Py_DECREF(out);
            return NULL;
        }
        memcpy(PyByteArray_AS_STRING(out) + n, PyBytes_AS_STRING(item) + off,
               PyBytes_GET_SIZE(item) - off);
    }
    return out;
}

#define FASTCALL(f) (PyCFunction)(void (*)(void))(f)
static PyMethodDef Transport_methods[] = {
    {"write", (PyCFunction)Transport_write, METH_O, NULL},
    {"write_eof", (PyCFunction)Transport_write_eof, METH_NOARGS, NULL},
    {"can_write_eof", (PyCFunction)Transport_can_write_eof, METH_NOARGS,
     NULL},
    {"close", (PyCFunction)Transport_close, METH_NOARGS, NULL},
    {"abort", (PyCFunction)Transport_abort, METH_NOARGS, NULL},
    {"is_closing", (PyCFunction)Transport_is_closing, METH_NOARGS, NULL},
    {"is_reading", (PyCFunction)Transport_is_reading, METH_NOARGS, NULL},
    {"pause_reading", (PyCFunction)Transport_pause_reading, METH_NOARGS,
     NULL},
    {"resume_reading", (PyCFunction)Transport_resume_reading, METH_NOARGS,
     NULL},
    {"set_protocol", (PyCFunction)Transport_set_protocol, METH_O, NULL},
    {"get_protocol", (PyCFunction)Transport_get_protocol, METH_NOARGS, NULL},
    {"get_extra_info", FASTCALL(Transport_get_extra_info), METH_FASTCALL,
     NULL},
    {"get_write_buffer_size", (PyCFunction)Transport_get_write_buffer_size,
     METH_NOARGS, NULL},
    {"get_write_buffer_limits",
     (PyCFunction)Transport_get_write_buffer_limits, METH_NOARGS, NULL},
    {"_set_limits", (PyCFunction)Transport__set_limits, METH_VARARGS, NULL},
    {"_read_ready", (PyCFunction)Transport__read_ready, METH_NOARGS, NULL},
    {"_write_ready", (PyCFunction)Transport__write_ready, METH_NOARGS, NULL},
    {"_start", (PyCFunction)Transport__start, METH_O, NULL},
    {"_force_close", (PyCFunction)Transport__force_close, METH_O, NULL},
    {"_fatal_error", (PyCFunction)Transport__fatal_error, METH_VARARGS,
     NULL},
    {NULL, NULL},
};

static PyGetSetDef Transport_getset[] = {
    {"_sock", (getter)Transport_get_sock, NULL, NULL, NULL},
    {"_loop", (getter)Transport_get_loop, NULL, NULL, NULL},
    {"_protocol", (getter)Transport_get_protocol_attr, NULL, NULL, NULL},
    {"_server", (getter)Transport_get_server, NULL, NULL, NULL},
    {"_buffer", (getter)Transport_get_buffer_attr, NULL, NULL, NULL},
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL,
     NULL},
    {NULL},
};

static PyMemberDef Transport_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(TransportObject, weakreflist),
     READONLY, NULL},
    {"__dictoffset__", T_PYSSIZET, offsetof(TransportObject, tr_dict),
     READONLY, NULL},
    {"_sock_fd", T_INT, offsetof(TransportObject, tr_fd), READONLY, NULL},
    {"_conn_lost", T_INT, offsetof(TransportObject, tr_conn_lost), READONLY,
     NULL},
    {"_closing", T_BOOL, offsetof(TransportObject, tr_closing), READONLY,
     NULL},
    {"_paused", T_BOOL, offsetof(TransportObject, tr_paused), READONLY, NULL},
    {"_eof", T_BOOL, offsetof(TransportObject, tr_eof), READONLY, NULL},
    {"_protocol_paused", T_BOOL,
     offsetof(TransportObject, tr_protocol_paused), READONLY, NULL},
    {"_reader_on", T_BOOL, offsetof(TransportObject, tr_reader_on), READONLY,
     NULL},
    {"_writer_on", T_BOOL, offsetof(TransportObject, tr_writer_on), READONLY,
     NULL},
    {"_high_water", T_PYSSIZET, offsetof(TransportObject, tr_high_water),
     READONLY, NULL},
    {"_low_water", T_PYSSIZET, offsetof(TransportObject, tr_low_water),
     READONLY, NULL},
    {NULL},
};

static int
Transport_init(PyObject *self, PyObject *args, PyObject *kwds)
{
    return 0;   /* all done in tp_new; not BaseTransport.__init__ */
}

static PyType_Slot Transport_slots[] = {
    {Py_tp_new, Transport_new},
    {Py_tp_init, Transport_init},
    {Py_tp_dealloc, Transport_dealloc},
    {Py_tp_traverse, Transport_traverse},
    {Py_tp_clear, Transport_clear},
    {Py_tp_methods, Transport_methods},
    {Py_tp_getset, Transport_getset},
    {Py_tp_members, Transport_members},
    {Py_tp_doc, "A stream transport over a connected socket (asyncio's "
                "_SelectorSocketTransport)."},
    {0, NULL},
};

static PyType_Spec Transport_spec = {
    .name = "casyncio._core.SocketTransport",
    .basicsize = sizeof(TransportObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = Transport_slots,
};

int
cx_stream_setup(PyObject *module)
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
    base = PyObject_GetAttrString(mod, "Transport");
    Py_DECREF(mod);
    if (base == NULL) {
        return -1;
    }
    /* BaseTransport.__slots__ = ('_extra',): one pointer after the head. */
    if (((PyTypeObject *)base)->tp_basicsize
        != (Py_ssize_t)(offsetof(TransportObject, tr_extra)
                        + sizeof(PyObject *))) {
        Py_DECREF(base);
        PyErr_SetString(PyExc_ImportError,
                        "asyncio.Transport's layout is not the expected one");
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
    st->stream_rbuf = NULL;
    st->SocketTransportType = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &Transport_spec, base);
    Py_DECREF(base);
    if (st->SocketTransportType == NULL) {
        return -1;
    }
    return PyModule_AddType(module, st->SocketTransportType);
}

void
cx_stream_free_state(cx_state *st)
{
    PyMem_Free(st->stream_rbuf);
    st->stream_rbuf = NULL;
}
