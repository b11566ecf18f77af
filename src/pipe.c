/* ReadPipeTransport and WritePipeTransport: asyncio.unix_events'
 * _UnixReadPipeTransport and _UnixWritePipeTransport (3.11) in C.
 *
 * Both derive from _Transport (transport.c: the reader/writer Handles put
 * into the loop's poller, flow control, reporting, connection_lost,
 * pause/resume_reading, extra info); the write pipe uses the stream's
 * write queue (stream.c: a list of bytes).  tr_sock is the pipe's file
 * object, tr_fd its fd.  What differs is here:
 * read()/write() instead of recv()/send(), asyncio's pipe messages, which
 * errors are only logged (EIO for a read pipe -- a PTY master whose slave
 * closed --, any OSError for a write pipe), and the write pipe's reader,
 * which only sees the other end close.  The checks of the file's mode,
 * set_blocking, the repr and __del__ are Python (casyncio._unix). */
#include "internal.h"
#include "structmember.h"
#include <errno.h>
#include <unistd.h>
#include <sys/uio.h>

/* _close(exc): stop watching, drop what is queued, and schedule
 * connection_lost(exc).  exc borrowed (NULL: None).  0 or -1. */
static int
pipe_close(cx_transport *tr, PyObject *exc)
{
    tr->tr_closing = 1;
    if (cx_transport_watch(tr, 1, 0) < 0) {
        return -1;
    }
    cx_transport_clear_wbuf(tr);
    if (cx_transport_watch(tr, 0, 0) < 0) {
        return -1;
    }
    if (tr->tr_loop == NULL) {
        return 0;
    }
    return cx_transport_push(tr, cx_transport_call_connection_lost,
                              (PyObject *)tr, exc ? exc : Py_None);
}

/* _fatal_error(exc, message) for the current exception: logged in debug
 * mode if quiet (the caller says: EIO for a read pipe, any OSError for a
 * write pipe), else given to the exception handler; then _close(exc).  0, or -1 for SystemExit /
 * KeyboardInterrupt (left set). */
static int
pipe_fatal_error(cx_transport *tr, const char *message, int quiet)
{
    if (cx_is_exit_exception()) {
        return -1;
    }
    PyObject *exc = cx_err_fetch();
    int rc = cx_transport_report_fatal(tr, message, exc, quiet);
    if (rc == 0) {
        rc = pipe_close(tr, exc);
    }
    Py_DECREF(exc);
    return rc;
}

/* logger.info("%r was closed by peer", self) in debug mode.  0 or -1. */
static int
pipe_log_peer_closed(cx_transport *tr)
{
    if (!cx_transport_debug(tr)) {
        return 0;
    }
    return cx_transport_log(tr, "info",
                            Py_BuildValue("(sO)", "%r was closed by peer",
                                          tr), NULL);
}

/* ---- ReadPipeTransport ---- */

static int
read_pipe_eof_received_cb(PyObject *self, PyObject *protocol)
{
    cx_transport *tr = (cx_transport *)self;
    PyObject *r = PyObject_CallMethodNoArgs(protocol,
                                            tr->tr_st->str_eof_received);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* The reader Handle's callback: os.read(fd, max_size) and what asyncio does
 * with the result.  An error of data_received() leaves through the Handle
 * (asyncio's "Exception in callback"), as asyncio's. */
static PyObject *
ReadPipe__read_ready(cx_transport *tr, PyObject *Py_UNUSED(ignored))
{
    cx_state *st = tr->tr_st;
    if (!tr->tr_reader_on || tr->tr_protocol == NULL) {
        Py_RETURN_NONE;
    }
    char *rbuf = cx_transport_rbuf(st);
    if (rbuf == NULL) {
        return NULL;
    }
    ssize_t n = read(tr->tr_fd, rbuf, CX_TRANSPORT_MAX_SIZE);
    PyObject *res = NULL;
    Py_INCREF(tr);
    if (n < 0) {
        int e = errno;
        if (cx_errno_would_block(e)) {
            goto done;
        }
        PyErr_SetFromErrno(PyExc_OSError);
        if (pipe_fatal_error(tr, "Fatal read error on pipe transport",
                             e == EIO) < 0) {
            goto error;
        }
        goto done;
    }
    if (n > 0) {
        Py_ssize_t cap;
        PyObject *data = cx_transport_bytes(st, rbuf, n, &cap);
        if (data == NULL) {
            goto error;
        }
        PyObject *proto = Py_NewRef(tr->tr_protocol);
        PyObject *r = PyObject_CallMethodOneArg(proto, st->str_data_received,
                                                data);
        Py_DECREF(proto);
        cx_transport_bytes_done(st, data, cap);
        if (r == NULL) {
            goto error;
        }
        Py_DECREF(r);
        goto done;
    }
    /* EOF: eof_received(), then connection_lost(None), both next. */
    if (pipe_log_peer_closed(tr) < 0) {
        goto error;
    }
    tr->tr_closing = 1;
    if (cx_transport_watch(tr, 0, 0) < 0
        || cx_transport_push(tr, read_pipe_eof_received_cb,
                              (PyObject *)tr, tr->tr_protocol) < 0
        || cx_transport_push(tr, cx_transport_call_connection_lost,
                              (PyObject *)tr, Py_None) < 0) {
        goto error;
    }
done:
    res = Py_NewRef(Py_None);
error:
    Py_DECREF(tr);
    return res;
}

/* Never put into the poller: a read pipe has no writer. */
static PyObject *
ReadPipe__write_ready(cx_transport *tr, PyObject *Py_UNUSED(ignored))
{
    Py_RETURN_NONE;
}

static PyObject *
ReadPipe_close(cx_transport *tr, PyObject *Py_UNUSED(ignored))
{
    if (!tr->tr_closing && pipe_close(tr, NULL) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---- WritePipeTransport ---- */

/* The reader Handle's callback: the read end was closed. */
static PyObject *
WritePipe__read_ready(cx_transport *tr, PyObject *Py_UNUSED(ignored))
{
    if (!tr->tr_reader_on || tr->tr_loop == NULL) {
        Py_RETURN_NONE;
    }
    Py_INCREF(tr);
    PyObject *exc = NULL;
    int rc = pipe_log_peer_closed(tr);
    if (rc == 0 && tr->tr_wbuf_size) {
        exc = PyObject_CallNoArgs(PyExc_BrokenPipeError);
        rc = exc ? 0 : -1;
    }
    if (rc == 0) {
        rc = pipe_close(tr, exc);
    }
    Py_XDECREF(exc);
    Py_DECREF(tr);
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
WritePipe_write(cx_transport *tr, PyObject *data)
{
    if (!PyBytes_Check(data) && !PyByteArray_Check(data)
        && !PyMemoryView_Check(data)) {
        /* asyncio: assert isinstance(data, (bytes, bytearray, memoryview)) */
        PyObject *r = PyObject_Repr(data);
        if (r != NULL) {
            PyErr_SetObject(PyExc_AssertionError, r);
            Py_DECREF(r);
        }
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    PyObject *res = NULL;
    Py_INCREF(tr);
    if (view.len == 0) {
        goto done;
    }
    if (tr->tr_conn_lost || tr->tr_closing) {
        if (tr->tr_conn_lost >= CX_LOG_THRESHOLD_FOR_CONNLOST_WRITES
            && cx_transport_log(tr, "warning",
                                Py_BuildValue("(s)",
                                              "pipe closed by peer or "
                                              "os.write(pipe, data) raised "
                                              "exception."), NULL) < 0) {
            goto error;
        }
        tr->tr_conn_lost++;
        goto done;
    }
    int rc = cx_stream_write_or_queue(tr, data, &view);
    if (rc > 0) {
        tr->tr_conn_lost++;
        rc = pipe_fatal_error(tr, "Fatal write error on pipe transport", 1);
    }
    if (rc < 0) {
        goto error;
    }
done:
    res = Py_NewRef(Py_None);
error:
    PyBuffer_Release(&view);
    Py_DECREF(tr);
    return res;
}

/* The writer Handle's callback: flush the queue.  As asyncio, the protocol
 * is resumed only once the queue is empty: cx_stream_consume has let go
 * of every sent item by then, so no large block is alive when
 * resume_writing writes the next one (what stream.c's stream_shrink_head
 * sees to for a socket, resumed at the low-water mark). */
static PyObject *
WritePipe__write_ready(cx_transport *tr, PyObject *Py_UNUSED(ignored))
{
    if (!tr->tr_writer_on || tr->tr_loop == NULL || tr->tr_wbuf_size == 0) {
        Py_RETURN_NONE;
    }
    struct iovec iov[CX_STREAM_IOV_MAX];
    int cnt = cx_stream_fill_iov(tr, iov);      /* >= 0: bytes only */
    ssize_t n = writev(tr->tr_fd, iov, cnt < 0 ? 0 : cnt);
    PyObject *res = NULL;
    Py_INCREF(tr);
    if (n < 0) {
        if (cx_errno_would_block(errno)) {
            goto done;
        }
        PyErr_SetFromErrno(PyExc_OSError);
        PyObject *exc = cx_err_fetch();
        cx_transport_clear_wbuf(tr);
        tr->tr_conn_lost++;
        if (cx_transport_watch(tr, 1, 0) < 0) {
            Py_DECREF(exc);
            goto error;
        }
        cx_err_restore(exc);
        if (pipe_fatal_error(tr, "Fatal write error on pipe transport",
                             1) < 0) {
            goto error;
        }
        goto done;
    }
    cx_stream_consume(tr, n);
    if (tr->tr_wbuf_size == 0) {
        if (cx_transport_watch(tr, 1, 0) < 0
            || cx_transport_maybe_resume(tr) < 0) {   /* May append. */
            goto error;
        }
        if (tr->tr_closing) {
            if (cx_transport_watch(tr, 0, 0) < 0
                || cx_transport_call_connection_lost((PyObject *)tr,
                                                  Py_None) < 0) {
                goto error;
            }
        }
    }
done:
    res = Py_NewRef(Py_None);
error:
    Py_DECREF(tr);
    return res;
}

/* write_eof(): closing; connection_lost(None) once the queue is empty
 * (now, or when _write_ready empties it). */
static int
write_pipe_write_eof(cx_transport *tr)
{
    if (tr->tr_closing) {
        return 0;
    }
    tr->tr_closing = 1;
    return tr->tr_wbuf_size ? 0 : pipe_close(tr, NULL);
}

static PyObject *
WritePipe_write_eof(cx_transport *tr, PyObject *Py_UNUSED(ignored))
{
    if (write_pipe_write_eof(tr) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
WritePipe_close(cx_transport *tr, PyObject *Py_UNUSED(ignored))
{
    /* write_eof is all what we needed to close the write pipe */
    if (tr->tr_sock != NULL && write_pipe_write_eof(tr) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
WritePipe_abort(cx_transport *tr, PyObject *Py_UNUSED(ignored))
{
    if (pipe_close(tr, NULL) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
WritePipe_can_write_eof(cx_transport *tr, PyObject *Py_UNUSED(ignored))
{
    Py_RETURN_TRUE;
}

/* ---- the types ---- */

static PyObject *
Pipe_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"loop", "pipe", "protocol", "extra", NULL};
    PyObject *loop, *pipe, *protocol, *extra = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO|O:PipeTransport",
                                     kwlist, &loop, &pipe, &protocol,
                                     &extra)) {
        return NULL;
    }
    return (PyObject *)cx_transport_new(tp, loop, pipe, protocol, extra,
                                        Py_None);
}

/* The inherited _start(waiter, add_reader=True), close, abort,
 * is_reading/pause_reading/resume_reading, get/set_protocol,
 * is_closing and the write buffer's size and limits are
 * _Transport's. */
static PyMethodDef ReadPipe_methods[] = {
    {"close", (PyCFunction)ReadPipe_close, METH_NOARGS, CX_DOC_TR_CLOSE},
    {"_read_ready", (PyCFunction)ReadPipe__read_ready, METH_NOARGS,
     CX_DOC_TR_READ_READY},
    {"_write_ready", (PyCFunction)ReadPipe__write_ready, METH_NOARGS,
     CX_DOC_TR_WRITE_READY},
    {NULL, NULL},
};

/* write(data) takes its argument by keyword too, as asyncio's does. */
CX_METH_O_KW(WritePipe_write, cx_transport, "write", "data")

static PyMethodDef WritePipe_methods[] = {
    {"write", CX_FASTKW(WritePipe_write_kw), CX_DOC_TR_WRITE},
    {"write_eof", (PyCFunction)WritePipe_write_eof, METH_NOARGS,
     CX_DOC_TR_WRITE_EOF},
    {"can_write_eof", (PyCFunction)WritePipe_can_write_eof, METH_NOARGS,
     CX_DOC_TR_CAN_WRITE_EOF},
    {"close", (PyCFunction)WritePipe_close, METH_NOARGS, CX_DOC_TR_CLOSE},
    {"abort", (PyCFunction)WritePipe_abort, METH_NOARGS, CX_DOC_TR_ABORT},
    {"_read_ready", (PyCFunction)WritePipe__read_ready, METH_NOARGS,
     CX_DOC_TR_READ_READY},
    {"_write_ready", (PyCFunction)WritePipe__write_ready, METH_NOARGS,
     CX_DOC_TR_WRITE_READY},
    {NULL, NULL},
};

static PyObject *
Pipe_get_pipe(cx_transport *tr, void *c)
{
    return Py_NewRef(tr->tr_sock ? tr->tr_sock : Py_None);
}

/* `transport._pipe = None`, as asyncio's tests do to silence __del__. */
static int
Pipe_set_pipe(cx_transport *tr, PyObject *value, void *c)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete attribute");
        return -1;
    }
    Py_XSETREF(tr->tr_sock, value == Py_None ? NULL : Py_NewRef(value));
    return 0;
}

static PyGetSetDef Pipe_getset[] = {
    {"_pipe", (getter)Pipe_get_pipe, (setter)Pipe_set_pipe, NULL, NULL},
    {"_buffer", (getter)cx_stream_get_buffer, NULL, NULL, NULL},
    {NULL},
};

static PyMemberDef Pipe_members[] = {
    {"_fileno", T_INT, offsetof(cx_transport, tr_fd), READONLY, NULL},
    {NULL},
};

#define PIPE_SLOTS(methods, doc) { \
    {Py_tp_new, Pipe_new}, \
    {Py_tp_traverse, cx_transport_traverse}, \
    {Py_tp_clear, cx_transport_clear}, \
    {Py_tp_methods, methods}, \
    {Py_tp_getset, Pipe_getset}, \
    {Py_tp_members, Pipe_members}, \
    {Py_tp_doc, doc}, \
    {0, NULL}, \
}

static PyType_Slot ReadPipe_slots[] = PIPE_SLOTS(
    ReadPipe_methods,
    CX_DOC_SIG("ReadPipeTransport(loop, pipe, protocol, extra=None)",
               "The read end of a pipe (asyncio's _UnixReadPipeTransport)."));

static PyType_Slot WritePipe_slots[] = PIPE_SLOTS(
    WritePipe_methods,
    CX_DOC_SIG("WritePipeTransport(loop, pipe, protocol, extra=None)",
               "The write end of a pipe "
               "(asyncio's _UnixWritePipeTransport)."));

static PyType_Spec ReadPipe_spec = {
    .name = "casyncio._core.ReadPipeTransport",
    .basicsize = sizeof(cx_transport),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = ReadPipe_slots,
};

static PyType_Spec WritePipe_spec = {
    .name = "casyncio._core.WritePipeTransport",
    .basicsize = sizeof(cx_transport),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = WritePipe_slots,
};

/* Both derive from _Transport, hence from asyncio.Transport (so from
 * asyncio.ReadTransport and asyncio.WriteTransport both). */
static int
pipe_add_type(PyObject *module, PyType_Spec *spec, PyTypeObject **slot)
{
    cx_state *st = PyModule_GetState(module);
    *slot = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, spec, (PyObject *)st->TransportType);
    if (*slot == NULL) {
        return -1;
    }
    return PyModule_AddType(module, *slot);
}

int
cx_pipe_setup(PyObject *module)
{
    cx_state *st = PyModule_GetState(module);
    if (pipe_add_type(module, &ReadPipe_spec,
                      &st->ReadPipeTransportType) < 0
        || pipe_add_type(module, &WritePipe_spec,
                         &st->WritePipeTransportType) < 0) {
        return -1;
    }
    return 0;
}
