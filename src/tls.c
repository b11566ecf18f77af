/* SSLProtocolBase: the data path of asyncio.sslproto.SSLProtocol (3.11)
 * in C, method for method (tls.h).  What asyncio does in Python is kept:
 * the same calls in the same order, the same exceptions caught, the same
 * messages; the C functions below carry the names of the methods they
 * replace.  Two shortcuts, neither visible to a protocol:
 *   - the stream transport hands received bytes straight to cx_tls_feed
 *     (no get_buffer()/buffer_updated() round trip through Python);
 *   - the read loops stop when the incoming BIO is empty and OpenSSL holds
 *     no decrypted byte, where asyncio calls read() once more to get the
 *     SSLWantReadError that ends its loop.
 * _write_backlog is a list (asyncio: a deque); max_size is read from the
 * class when the protocol is made. */
#include "internal.h"
#include "structmember.h"

enum {
    TLS_UNWRAPPED, TLS_DO_HANDSHAKE, TLS_WRAPPED, TLS_FLUSHING, TLS_SHUTDOWN,
    TLS_NSTATES
};

typedef struct {
    PyObject_HEAD
    cx_state *tls_st;
    PyObject *tls_sslobj;            /* _sslobj: the ssl.SSLObject */
    PyObject *tls_sslsock;           /* its _ssl._SSLSocket when _sslobj is
                                        an exact SSLObject, else NULL */
    PyObject *tls_incoming;          /* _incoming: ssl.MemoryBIO */
    PyObject *tls_outgoing;          /* _outgoing */
    PyObject *tls_transport;         /* _transport */
    PyObject *tls_app_protocol;      /* _app_protocol */
    PyObject *tls_app_get_buffer;    /* _app_protocol_get_buffer */
    PyObject *tls_app_buffer_updated;
    PyObject *tls_write_backlog;     /* _write_backlog: a list */
    PyObject *tls_ssl_buffer;        /* _ssl_buffer: bytearray */
    PyObject *tls_ssl_buffer_view;   /* _ssl_buffer_view */
    PyObject *tls_max_size;          /* the class's max_size (an int) */
    PyObject *tls_sealed;            /* list of ciphertext chunks read out
                                        of _outgoing ahead of its content,
                                        or NULL: see tls_write_sliced */
    Py_ssize_t tls_sealed_size;      /* their length in all */
    Py_ssize_t tls_write_buffer_size;
    Py_ssize_t tls_incoming_high_water;
    Py_ssize_t tls_incoming_low_water;
    Py_ssize_t tls_outgoing_high_water;
    Py_ssize_t tls_outgoing_low_water;
    int tls_state;
    char tls_app_is_buffer;          /* _app_protocol_is_buffer */
    char tls_ssl_writing_paused;
    char tls_app_reading_paused;
    char tls_ssl_reading_paused;
    char tls_app_writing_paused;
    char tls_transport_fast;         /* _transport is a SocketTransport
                                        whose write() is the C one */
} cx_tls;

/* ---- small helpers ---- */

/* obj.name(), its result dropped.  0 or -1. */
static int
call_method0(PyObject *obj, PyObject *name)
{
    PyObject *r = PyObject_CallMethodNoArgs(obj, name);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* bio.pending, or -1 with an exception. */
static Py_ssize_t
bio_pending(cx_tls *self, PyObject *bio)
{
    PyObject *p = PyObject_GetAttr(bio, self->tls_st->str_pending);
    if (p == NULL) {
        return -1;
    }
    Py_ssize_t n = PyLong_AsSsize_t(p);
    Py_DECREF(p);
    return n;
}

/* self._sslobj.read(n[, buf]) (SSLObject.read's own call when _sslobj is
 * an exact SSLObject).  New reference or NULL. */
static PyObject *
tls_ssl_read(cx_tls *self, PyObject *n, PyObject *buf)
{
    PyObject *target = self->tls_sslsock ? self->tls_sslsock
                                         : self->tls_sslobj;
    PyObject *args[3] = {target ? target : Py_None, n, buf};
    Py_INCREF(args[0]);
    PyObject *r = PyObject_VectorcallMethod(self->tls_st->str_read, args,
                                            buf ? 3 : 2, NULL);
    Py_DECREF(args[0]);
    return r;
}

static int tls_again(cx_tls *self);

/* self._sslobj.read(n, buf) into a buffer: *count set and 1; 0 for
 * SSLAgainErrors (cleared); -1 on error. */
static int
tls_ssl_read_into(cx_tls *self, Py_ssize_t n, PyObject *buf,
                  Py_ssize_t *count)
{
    PyObject *nobj = PyLong_FromSsize_t(n);
    PyObject *cnt = nobj ? tls_ssl_read(self, nobj, buf) : NULL;
    Py_XDECREF(nobj);
    if (cnt == NULL) {
        return tls_again(self) ? 0 : -1;
    }
    *count = PyLong_AsSsize_t(cnt);
    Py_DECREF(cnt);
    return *count == -1 && PyErr_Occurred() ? -1 : 1;
}

/* self._sslobj.write(data).  New reference or NULL. */
static PyObject *
tls_ssl_write(cx_tls *self, PyObject *data)
{
    PyObject *target = self->tls_sslsock ? self->tls_sslsock
                                         : self->tls_sslobj;
    PyObject *args[2] = {target ? target : Py_None, data};
    Py_INCREF(args[0]);
    PyObject *r = PyObject_VectorcallMethod(self->tls_st->str_write, args, 2,
                                            NULL);
    Py_DECREF(args[0]);
    return r;
}

/* Would the next read() raise SSLWantReadError: nothing left in the
 * incoming BIO and no decrypted byte in OpenSSL?  Known only with an exact
 * SSLObject (0 otherwise: read on).  0/1, -1 on error. */
static int
tls_drained(cx_tls *self)
{
    if (self->tls_sslsock == NULL) {
        return 0;
    }
    Py_ssize_t n = bio_pending(self, self->tls_incoming);
    if (n != 0) {
        return n < 0 ? -1 : 0;
    }
    PyObject *p = PyObject_CallMethodNoArgs(self->tls_sslsock,
                                            self->tls_st->str_pending);
    if (p == NULL) {
        return -1;
    }
    n = PyLong_AsSsize_t(p);
    Py_DECREF(p);
    return n < 0 ? -1 : n == 0;
}

/* Is the current exception one of SSLAgainErrors (then cleared)?  0/1. */
static int
tls_again(cx_tls *self)
{
    if (PyErr_ExceptionMatches(self->tls_st->ssl_again_errors)) {
        PyErr_Clear();
        return 1;
    }
    return 0;
}

/* `except Exception as ex: self._fatal_error(ex, message)` around a step
 * that failed: other exceptions go on.  0 or -1. */
static int
tls_fatal_from_current(cx_tls *self, const char *message)
{
    if (!PyErr_ExceptionMatches(PyExc_Exception)) {
        return -1;
    }
    PyObject *exc = cx_err_fetch();
    PyObject *msg = PyUnicode_FromString(message);
    PyObject *r = NULL;
    if (msg != NULL) {
        PyObject *args[3] = {(PyObject *)self, exc, msg};
        r = PyObject_VectorcallMethod(self->tls_st->str_fatal_error, args, 3,
                                      NULL);
        Py_DECREF(msg);
    }
    Py_DECREF(exc);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* ---- flow control ---- */

/* _get_write_buffer_size(): outgoing.pending + _write_buffer_size, the
 * sealed chunks counted as the part of _outgoing they are. */
static Py_ssize_t
tls_write_buffer_size(cx_tls *self)
{
    Py_ssize_t n = bio_pending(self, self->tls_outgoing);
    return n < 0 ? -1
                 : n + self->tls_sealed_size + self->tls_write_buffer_size;
}

/* app_protocol.<name>() for _control_app_writing, a failure reported to
 * the loop's exception handler.  0 or -1. */
static int
tls_call_app_writing(cx_tls *self, PyObject *name, const char *message)
{
    cx_state *st = self->tls_st;
    PyObject *app = self->tls_app_protocol ? self->tls_app_protocol
                                           : Py_None;
    Py_INCREF(app);
    int rc = call_method0(app, name);
    Py_DECREF(app);
    if (rc == 0) {
        return 0;
    }
    if (cx_is_exit_exception()) {
        return -1;
    }
    PyObject *exc = cx_err_fetch();
    PyObject *loop = NULL, *ctx = NULL, *r = NULL;
    PyObject *apptr = PyObject_GetAttr((PyObject *)self,
                                       st->str_app_transport);
    if (apptr == NULL) {
        goto done;
    }
    ctx = Py_BuildValue("{sssOsOsO}", "message", message, "exception", exc,
                        "transport", apptr, "protocol", self);
    loop = ctx ? PyObject_GetAttr((PyObject *)self, st->str_loop) : NULL;
    if (loop != NULL) {
        r = PyObject_CallMethodOneArg(loop, st->str_call_exception_handler,
                                      ctx);
    }
done:
    Py_XDECREF(apptr);
    Py_XDECREF(ctx);
    Py_XDECREF(loop);
    Py_DECREF(exc);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* _control_app_writing().  0 or -1. */
static int
tls_control_app_writing(cx_tls *self)
{
    Py_ssize_t size = tls_write_buffer_size(self);
    if (size < 0) {
        return -1;
    }
    if (size >= self->tls_outgoing_high_water
        && !self->tls_app_writing_paused) {
        self->tls_app_writing_paused = 1;
        return tls_call_app_writing(self, self->tls_st->str_pause_writing,
                                    "protocol.pause_writing() failed");
    }
    if (size <= self->tls_outgoing_low_water
        && self->tls_app_writing_paused) {
        self->tls_app_writing_paused = 0;
        return tls_call_app_writing(self, self->tls_st->str_resume_writing,
                                    "protocol.resume_writing() failed");
    }
    return 0;
}

/* _control_ssl_reading().  0 or -1. */
static int
tls_control_ssl_reading(cx_tls *self)
{
    Py_ssize_t size = bio_pending(self, self->tls_incoming);
    if (size < 0) {
        return -1;
    }
    PyObject *name;
    if (size >= self->tls_incoming_high_water
        && !self->tls_ssl_reading_paused) {
        self->tls_ssl_reading_paused = 1;
        name = self->tls_st->str_pause_reading;
    }
    else if (size <= self->tls_incoming_low_water
             && self->tls_ssl_reading_paused) {
        self->tls_ssl_reading_paused = 0;
        name = self->tls_st->str_resume_reading;
    }
    else {
        return 0;
    }
    PyObject *tr = Py_NewRef(self->tls_transport ? self->tls_transport
                                                 : Py_None);
    int rc = call_method0(tr, name);
    Py_DECREF(tr);
    return rc;
}

/* ---- outgoing flow ---- */

/* transport.write(data).  0 or -1. */
static int
tls_transport_write(cx_tls *self, PyObject *data)
{
    PyObject *tr = Py_NewRef(self->tls_transport ? self->tls_transport
                                                 : Py_None);
    PyObject *r = self->tls_transport_fast
        ? cx_stream_write((cx_transport *)tr, data)
        : PyObject_CallMethodOneArg(tr, self->tls_st->str_write, data);
    Py_DECREF(tr);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* Where tls_read_out() puts what it reads out of _outgoing: behind the
 * sealed chunks, to the transport, or nowhere once a write of ours has
 * found the transport lost.  asyncio makes one transport.write() per
 * _do_write() or _process_outgoing() where we may make several: the
 * first to a lost transport counts (and from the fifth on logs) as
 * asyncio's one write does; the rest are dropped, not counted again. */
enum { TLS_OUT_SEAL, TLS_OUT_SEND, TLS_OUT_DROP };

static int
tls_transport_lost(cx_tls *self)
{
    return self->tls_transport_fast
        && ((cx_transport *)self->tls_transport)->tr_conn_lost > 0;
}

/* What _outgoing holds, read out to *to (TLS_OUT_SEND becomes
 * TLS_OUT_DROP when the transport is lost after the write).  0 or -1. */
static int
tls_read_out(cx_tls *self, int *to)
{
    PyObject *data = PyObject_CallMethodNoArgs(self->tls_outgoing,
                                               self->tls_st->str_read);
    if (data == NULL) {
        return -1;
    }
    Py_ssize_t n = PyObject_Size(data);
    int rc = n < 0 ? -1 : 0;
    if (n > 0 && *to == TLS_OUT_SEND) {
        rc = tls_transport_write(self, data);
        if (tls_transport_lost(self)) {
            *to = TLS_OUT_DROP;
        }
    }
    else if (n > 0 && *to == TLS_OUT_SEAL) {
        if (self->tls_sealed == NULL
            && (self->tls_sealed = PyList_New(0)) == NULL) {
            rc = -1;
        }
        else if ((rc = PyList_Append(self->tls_sealed, data)) == 0) {
            self->tls_sealed_size += n;
        }
    }
    Py_DECREF(data);
    return rc;
}

/* The sealed chunks and then _outgoing's content, to the transport (to
 * TLS_OUT_SEND) or dropped (TLS_OUT_DROP).  As asyncio's one read() of
 * _outgoing: all of it, whether or not the transport pauses on the way.
 * 0 or -1. */
static int
tls_send_outgoing(cx_tls *self, int to)
{
    PyObject *sealed = self->tls_sealed;
    if (sealed != NULL) {
        self->tls_sealed = NULL;
        self->tls_sealed_size = 0;
        for (Py_ssize_t i = 0;
             i < PyList_GET_SIZE(sealed) && to == TLS_OUT_SEND; i++) {
            if (tls_transport_write(self, PyList_GET_ITEM(sealed, i)) < 0) {
                Py_DECREF(sealed);
                return -1;
            }
            if (tls_transport_lost(self)) {
                to = TLS_OUT_DROP;
            }
        }
        Py_DECREF(sealed);
    }
    return tls_read_out(self, &to);
}

/* _process_outgoing().  0 or -1. */
static int
tls_process_outgoing(cx_tls *self)
{
    if (!self->tls_ssl_writing_paused
        && tls_send_outgoing(self, TLS_OUT_SEND) < 0) {
        return -1;
    }
    return tls_control_app_writing(self);
}

/* Above this, a bytes object in the backlog is encrypted a slice at a
 * time (tls_write_sliced). */
#define TLS_SLICE (512 * 1024)

/* _do_write()'s SSLObject.write(data) for a large bytes object, a slice
 * at a time, each slice's ciphertext read out of _outgoing at once to *to:
 * the transport when asyncio would hand it all over at the end of this
 * _do_write, else the sealed chunks, which stand for _outgoing's content
 * until the transport resumes (or, the transport lost, nowhere: the rest
 * is not encrypted).  _outgoing never
 * holds more than a slice: asyncio grows it to the whole write (10 MiB
 * written, 10 MiB in the BIO, grown by copying, then read out whole).
 * Issue #14's TLS page faults: measured in the commit.  The backlog's
 * first item is taken off, or on SSLWantRead/Write left as the rest not
 * yet encrypted.  1 done, 0 stopped by SSLWantRead/Write, -1 on error. */
static int
tls_write_sliced(cx_tls *self, PyObject *backlog, PyObject *data, int *to)
{
    const char *buf = PyBytes_AS_STRING(data);
    Py_ssize_t len = PyBytes_GET_SIZE(data), off = 0;
    int rc = 1;
    while (off < len) {
        if (*to == TLS_OUT_DROP) {
            off = len;
            break;
        }
        Py_ssize_t k = Py_MIN(len - off, TLS_SLICE);
        PyObject *view = PyMemoryView_FromMemory((char *)buf + off, k,
                                                 PyBUF_READ);
        PyObject *cnt = view ? tls_ssl_write(self, view) : NULL;
        Py_XDECREF(view);
        if (cnt == NULL) {
            rc = tls_again(self) ? 0 : -1;
            break;
        }
        Py_ssize_t count = PyLong_AsSsize_t(cnt);
        Py_DECREF(cnt);
        if (count < 0) {
            rc = -1;
            break;
        }
        off += Py_MIN(count, k);
        if (tls_read_out(self, to) < 0) {
            rc = -1;
            break;
        }
    }
    if (off > 0 && PyList_GET_SIZE(backlog) > 0) {
        int set;
        if (off == len) {
            set = PyList_SetSlice(backlog, 0, 1, NULL);
        }
        else {
            PyObject *rest = PyBytes_FromStringAndSize(buf + off, len - off);
            set = rest != NULL ? PyList_SetItem(backlog, 0, rest) : -1;
        }
        if (set < 0) {
            return -1;
        }
        self->tls_write_buffer_size -= off;
    }
    return rc;
}

/* _do_write(): hand the backlog to SSLObject.write, then
 * _process_outgoing().  0 or -1. */
static int
tls_do_write(cx_tls *self)
{
    /* asyncio's _process_outgoing() at the end hands everything to the
     * transport if it is not paused now (and then nothing is sealed but
     * inside tls_send_outgoing) */
    int to = self->tls_ssl_writing_paused || self->tls_sealed != NULL
             ? TLS_OUT_SEAL : TLS_OUT_SEND;
    for (;;) {
        PyObject *backlog = self->tls_write_backlog;
        if (backlog == NULL || PyList_GET_SIZE(backlog) == 0) {
            break;
        }
        Py_INCREF(backlog);
        PyObject *data = Py_NewRef(PyList_GET_ITEM(backlog, 0));
        if (PyBytes_CheckExact(data) && PyBytes_GET_SIZE(data) > TLS_SLICE
            && self->tls_sslsock != NULL && self->tls_transport_fast) {
            int rc = tls_write_sliced(self, backlog, data, &to);
            Py_DECREF(data);
            Py_DECREF(backlog);
            if (rc < 0) {
                return -1;
            }
            if (rc == 0) {
                break;
            }
            continue;
        }
        PyObject *cnt = tls_ssl_write(self, data);
        if (cnt == NULL) {
            Py_DECREF(data);
            Py_DECREF(backlog);
            if (tls_again(self)) {
                break;
            }
            return -1;
        }
        Py_ssize_t count = PyLong_AsSsize_t(cnt);
        Py_DECREF(cnt);
        Py_ssize_t data_len = count == -1 && PyErr_Occurred()
                              ? -1 : PyObject_Size(data);
        int rc = -1;
        if (data_len >= 0) {
            if (count < data_len) {
                PyObject *rest = PySequence_GetSlice(data, count,
                                                     PY_SSIZE_T_MAX);
                if (rest != NULL && PyList_GET_SIZE(backlog) > 0) {
                    rc = PyList_SetItem(backlog, 0, rest);
                    self->tls_write_buffer_size -= count;
                }
                else {
                    Py_XDECREF(rest);
                }
            }
            else if (PyList_GET_SIZE(backlog) > 0) {
                rc = PyList_SetSlice(backlog, 0, 1, NULL);
                self->tls_write_buffer_size -= data_len;
            }
        }
        Py_DECREF(data);
        Py_DECREF(backlog);
        if (rc < 0) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_IndexError, "deque index out of range");
            }
            return -1;
        }
    }
    /* _process_outgoing(), whose read() of _outgoing asyncio makes only
     * now: the transport paused by our own slices of this call counts as
     * not paused, a transport they found lost gets nothing more */
    if (to == TLS_OUT_SEAL && !self->tls_ssl_writing_paused) {
        to = TLS_OUT_SEND;
    }
    if (to != TLS_OUT_SEAL && tls_send_outgoing(self, to) < 0) {
        return -1;
    }
    return tls_control_app_writing(self);
}

/* _write_appdata's append of one item to the backlog.  0 or -1. */
static int
tls_backlog_append(cx_tls *self, PyObject *data)
{
    PyObject *backlog = self->tls_write_backlog;
    if (backlog == NULL) {
        PyErr_SetString(PyExc_AttributeError, "_write_backlog");
        return -1;
    }
    if (PyList_Append(backlog, data) < 0) {
        return -1;
    }
    Py_ssize_t n = PyObject_Size(data);
    if (n < 0) {
        return -1;
    }
    self->tls_write_buffer_size += n;
    return 0;
}

/* _write_appdata(list_of_data), or _write_appdata((one,)) when one is not
 * NULL (the app transport's write()).  0 or -1. */
static int
tls_write_appdata(cx_tls *self, PyObject *list_of_data, PyObject *one)
{
    if (self->tls_state == TLS_FLUSHING || self->tls_state == TLS_SHUTDOWN
        || self->tls_state == TLS_UNWRAPPED) {
        /* the count and the warning of closed writes, in Python */
        return call_method0((PyObject *)self, self->tls_st->str_write_closed);
    }
    if (one != NULL) {
        if (tls_backlog_append(self, one) < 0) {
            return -1;
        }
    }
    else {
        PyObject *it = PyObject_GetIter(list_of_data);
        if (it == NULL) {
            return -1;
        }
        PyObject *data;
        while ((data = PyIter_Next(it)) != NULL) {
            int rc = tls_backlog_append(self, data);
            Py_DECREF(data);
            if (rc < 0) {
                Py_DECREF(it);
                return -1;
            }
        }
        Py_DECREF(it);
        if (PyErr_Occurred()) {
            return -1;
        }
    }
    if (self->tls_state == TLS_WRAPPED && tls_do_write(self) < 0) {
        return tls_fatal_from_current(self, "Fatal error on SSL protocol");
    }
    return 0;
}

/* ---- incoming flow ---- */

/* The eof step of both read loops: close_notify received. */
static int
tls_on_close_notify(cx_tls *self)
{
    if (call_method0((PyObject *)self, self->tls_st->str_call_eof_received)
        < 0) {
        return -1;
    }
    return call_method0((PyObject *)self, self->tls_st->str_start_shutdown);
}

/* _do_read__buffered().  0 or -1. */
static int
tls_read_buffered(cx_tls *self)
{
    cx_state *st = self->tls_st;
    Py_ssize_t offset = 0, count = 1, wants;
    int rc = -1;
    PyObject *buf = NULL;
    Py_ssize_t pending = bio_pending(self, self->tls_incoming);
    if (pending < 0) {
        return -1;
    }
    PyObject *hint = PyLong_FromSsize_t(pending);
    PyObject *get_buffer = self->tls_app_get_buffer;
    if (hint == NULL) {
        return -1;
    }
    if (get_buffer == NULL) {
        Py_DECREF(hint);
        PyErr_SetString(PyExc_AttributeError, "_app_protocol_get_buffer");
        return -1;
    }
    Py_INCREF(get_buffer);
    buf = PyObject_CallOneArg(get_buffer, hint);
    Py_DECREF(get_buffer);
    Py_DECREF(hint);
    if (buf == NULL || (wants = PyObject_Size(buf)) < 0) {
        goto error;
    }
    int got = tls_ssl_read_into(self, wants, buf, &count);
    if (got <= 0) {
        if (got < 0) {
            goto error;
        }
        goto read_done;
    }
    if (count > 0) {
        offset = count;
        while (offset < wants) {
            int d = tls_drained(self);
            if (d != 0) {
                if (d < 0) {
                    goto error;
                }
                goto read_done;       /* as SSLWantReadError */
            }
            PyObject *rest = PySequence_GetSlice(buf, offset, PY_SSIZE_T_MAX);
            got = rest ? tls_ssl_read_into(self, wants - offset, rest, &count)
                       : -1;
            Py_XDECREF(rest);
            if (got <= 0) {
                if (got < 0) {
                    goto error;
                }
                goto read_done;
            }
            if (count <= 0) {
                break;
            }
            offset += count;
        }
        if (offset >= wants) {
            /* while's else: the buffer is full, read on later */
            if (call_method0((PyObject *)self, st->str_schedule_read) < 0) {
                goto error;
            }
        }
    }
read_done:
    if (offset > 0) {
        PyObject *updated = self->tls_app_buffer_updated;
        if (updated == NULL) {
            PyErr_SetString(PyExc_AttributeError,
                            "_app_protocol_buffer_updated");
            goto error;
        }
        Py_INCREF(updated);
        PyObject *nb = PyLong_FromSsize_t(offset);
        PyObject *r = nb ? PyObject_CallOneArg(updated, nb) : NULL;
        Py_XDECREF(nb);
        Py_DECREF(updated);
        if (r == NULL) {
            goto error;
        }
        Py_DECREF(r);
    }
    if (count == 0 && tls_on_close_notify(self) < 0) {
        goto error;
    }
    rc = 0;
error:
    Py_XDECREF(buf);
    return rc;
}

/* Where tls_decrypt puts the plaintext: a bytes object of our own, or the
 * free tail of a stream reader's buffer (readerproto.c). */
typedef struct {
    PyObject *bytes;                /* NULL: the reader's buffer */
    cx_readerproto_dest *feed;
    char *base;                     /* where the plaintext goes */
    Py_ssize_t cap;                 /* room there */
} tls_sink;

/* The sink grown to `cap` bytes (those read kept).  0 or -1. */
static int
tls_sink_grow(tls_sink *sink, Py_ssize_t cap)
{
    if (sink->bytes != NULL) {
        if (_PyBytes_Resize(&sink->bytes, cap) < 0) {
            return -1;
        }
        sink->base = PyBytes_AS_STRING(sink->bytes);
    }
    else if ((sink->base = cx_readerproto_regrow(sink->feed, cap)) == NULL) {
        return -1;
    }
    sink->cap = cap;
    return 0;
}

/* What _do_read__copied() reads with an exact SSLObject (read(max_size)
 * until SSLWantReadError or close_notify, then joined), decrypted straight
 * into the sink: its size, *eof set on close_notify; -1 on error. */
static Py_ssize_t
tls_decrypt(cx_tls *self, tls_sink *sink, int *eof)
{
    Py_ssize_t size = 0;
    for (;;) {
        if (size == sink->cap && tls_sink_grow(sink, sink->cap * 2) < 0) {
            return -1;
        }
        /* a writable view of memory only we use; the reader's buffer
         * exported meanwhile, so that Python code run from OpenSSL (an
         * SSLContext's _msg_callback) cannot resize it under the view */
        Py_buffer held = {.obj = NULL};
        PyObject *view = sink->bytes == NULL
                         && PyObject_GetBuffer(sink->feed->buffer, &held,
                                               PyBUF_WRITABLE) < 0
            ? NULL
            : PyMemoryView_FromMemory(sink->base + size, sink->cap - size,
                                      PyBUF_WRITE);
        Py_ssize_t count = 0;
        int got = view ? tls_ssl_read_into(self, sink->cap - size, view,
                                           &count)
                       : -1;
        Py_XDECREF(view);
        if (held.obj != NULL) {
            PyBuffer_Release(&held);
        }
        if (got <= 0) {
            return got < 0 ? -1 : size;
        }
        if (count == 0) {
            *eof = 1;
            return size;
        }
        size += count;
        int d = tls_drained(self);
        if (d != 0) {
            return d < 0 ? -1 : size;       /* as SSLWantReadError */
        }
    }
}

/* How much plaintext the next reads may bring: what OpenSSL holds
 * decrypted and what the incoming BIO holds (plaintext is never longer
 * than its records; a record OpenSSL has begun to read is not counted:
 * the sink grows if need be), and some room.  -1 on error. */
static Py_ssize_t
tls_read_room(cx_tls *self)
{
    PyObject *p = PyObject_CallMethodNoArgs(self->tls_sslsock,
                                            self->tls_st->str_pending);
    Py_ssize_t need = p ? PyLong_AsSsize_t(p) : -1;
    Py_XDECREF(p);
    Py_ssize_t in = need < 0 ? -1 : bio_pending(self, self->tls_incoming);
    return in < 0 ? -1 : need + in + 1024;
}

/* _do_read__copied() with an exact SSLObject, into one bytes object: the
 * transports' kept one when it is large enough (cx_transport_bytes_take:
 * no allocation to fault in per read).  *data: the bytes read (NULL:
 * none), *cap its capacity for cx_transport_bytes_done; *eof:
 * close_notify.  0 or -1. */
static int
tls_read_into_bytes(cx_tls *self, PyObject **data, Py_ssize_t *cap,
                    int *eof)
{
    cx_state *st = self->tls_st;
    Py_ssize_t room = tls_read_room(self);
    tls_sink sink = {.bytes = room < 0 ? NULL
                              : cx_transport_bytes_take(st, room, cap)};
    if (sink.bytes == NULL) {
        return -1;
    }
    sink.base = PyBytes_AS_STRING(sink.bytes);
    sink.cap = *cap;
    Py_ssize_t size = tls_decrypt(self, &sink, eof);
    *cap = sink.cap;
    if (size <= 0) {
        if (size < 0) {
            Py_DECREF(sink.bytes);
            return -1;
        }
        cx_transport_bytes_done(st, sink.bytes, *cap);
        return 0;
    }
    if (cx_transport_bytes_fit(st, &sink.bytes, size, cap) < 0) {
        return -1;
    }
    *data = sink.bytes;
    return 0;
}

/* The app protocol is asyncio's StreamReaderProtocol, unchanged, and
 * _sslobj an exact SSLObject: decrypted straight into the reader's
 * buffer, then the rest of feed_data (readerproto.c), as a plain
 * transport's bulk reads: one copy less than decrypting into our bytes
 * object and feeding that.  On every version: the one-process TLS bulk
 * row (issue #14), A/B of the two builds in one run, 7-9 interleaved
 * rounds, CPU/MiB against uvloop's 0.875 -> 0.825 (3.15), 0.879 -> 0.821
 * (3.14), 0.875 -> 0.826 (3.13).  Its page faults per MiB are 17.6-17.8
 * or 23.1-23.6 from one run to the next with either build (where the heap
 * lies for OpenSSL's outgoing BIO; the length of PYTHONPATH moves them
 * too), which an earlier comparison of one run each read as the direct
 * decrypt's cost from 3.13 on.  1 done (*eof set on close_notify), 0 not
 * taken (nothing read), -1 on error. */
static int
tls_read_into_reader(cx_tls *self, int *eof)
{
    cx_state *st = self->tls_st;
    PyObject *app = self->tls_app_protocol;
    cx_readerproto_dest feed;
    if (app == NULL || !cx_readerproto_check(st, app)) {
        return 0;
    }
    Py_INCREF(app);
    int ready = cx_readerproto_prepare(st, app, &feed);
    /* the checks may have run Python code that changed the protocol */
    if (ready && (app != self->tls_app_protocol
                  || (self->tls_state != TLS_WRAPPED
                      && self->tls_state != TLS_FLUSHING))) {
        cx_readerproto_release(&feed);
        ready = 0;
    }
    Py_DECREF(app);
    Py_ssize_t room = ready ? tls_read_room(self) : 0;
    tls_sink sink = {.feed = &feed, .cap = room};
    sink.base = room > 0 ? cx_readerproto_reserve(&feed, room) : NULL;
    if (sink.base == NULL) {
        if (ready) {
            cx_readerproto_release(&feed);
        }
        return room < 0 ? -1 : 0;
    }
    Py_ssize_t size = tls_decrypt(self, &sink, eof);
    if (size < 0) {
        cx_readerproto_commit(st, &feed, 0);
        return -1;
    }
    return cx_readerproto_commit(st, &feed, size) < 0 ? -1 : 1;
}

/* _do_read__copied().  0 or -1. */
static int
tls_read_copied(cx_tls *self)
{
    cx_state *st = self->tls_st;
    PyObject *first = NULL, *data = NULL, *list = NULL;
    Py_ssize_t cap = 0;     /* data's capacity: from tls_read_into_bytes */
    int eof = 0, rc = -1;
    if (self->tls_sslsock != NULL) {
        int direct = tls_read_into_reader(self, &eof);
        if (direct < 0) {
            return -1;
        }
        if (direct == 0 && tls_read_into_bytes(self, &data, &cap, &eof) < 0) {
            return -1;
        }
        goto deliver;
    }
    for (;;) {
        PyObject *chunk = tls_ssl_read(self, self->tls_max_size, NULL);
        if (chunk == NULL) {
            if (!tls_again(self)) {
                goto error;
            }
            break;
        }
        int t = PyObject_IsTrue(chunk);
        if (t <= 0) {
            Py_DECREF(chunk);
            if (t < 0) {
                goto error;
            }
            eof = 1;
            break;
        }
        if (first == NULL) {
            first = chunk;
        }
        else {
            if (list == NULL && (list = PyList_New(1)) != NULL) {
                PyList_SET_ITEM(list, 0, Py_NewRef(first));
            }
            int r = list ? PyList_Append(list, chunk) : -1;
            Py_DECREF(chunk);
            if (r < 0) {
                goto error;
            }
        }
        int d = tls_drained(self);
        if (d != 0) {
            if (d < 0) {
                goto error;
            }
            break;      /* as SSLWantReadError */
        }
    }
    if (list != NULL) {
        PyObject *empty = PyBytes_FromStringAndSize(NULL, 0);
        data = empty ? PyObject_CallMethodOneArg(empty, st->str_join, list)
                     : NULL;
        Py_XDECREF(empty);
        if (data == NULL) {
            goto error;
        }
    }
    else if (first != NULL) {
        data = Py_NewRef(first);
    }
deliver:
    if (data != NULL) {
        PyObject *app = Py_NewRef(self->tls_app_protocol
                                  ? self->tls_app_protocol : Py_None);
        /* asyncio streams over TLS: fed in C as on a plain transport */
        cx_readerproto_dest feed;
        int fed = cx_readerproto_check(st, app) && PyBytes_CheckExact(data)
                  && PyBytes_GET_SIZE(data)
                  && cx_readerproto_prepare(st, app, &feed)
                  ? cx_readerproto_feed(st, &feed, PyBytes_AS_STRING(data),
                                        PyBytes_GET_SIZE(data))
                  : 0;
        PyObject *r = fed > 0 ? Py_NewRef(Py_None)
                      : fed < 0 ? NULL
                      : PyObject_CallMethodOneArg(app, st->str_data_received,
                                                  data);
        Py_DECREF(app);
        if (r == NULL) {
            goto error;
        }
        Py_DECREF(r);
    }
    if (eof && tls_on_close_notify(self) < 0) {
        goto error;
    }
    rc = 0;
error:
    Py_XDECREF(first);
    Py_XDECREF(list);
    if (data != NULL) {
        cx_transport_bytes_done(st, data, cap);
    }
    return rc;
}

/* _do_read().  0 or -1. */
static int
tls_do_read(cx_tls *self)
{
    if (self->tls_state != TLS_WRAPPED && self->tls_state != TLS_FLUSHING) {
        return 0;
    }
    int rc = 0;
    if (!self->tls_app_reading_paused) {
        rc = self->tls_app_is_buffer ? tls_read_buffered(self)
                                     : tls_read_copied(self);
        if (rc == 0) {
            PyObject *backlog = self->tls_write_backlog;
            rc = backlog && PyList_GET_SIZE(backlog)
                ? tls_do_write(self) : tls_process_outgoing(self);
        }
    }
    if (rc == 0) {
        rc = tls_control_ssl_reading(self);
    }
    if (rc < 0) {
        return tls_fatal_from_current(self, "Fatal error on SSL protocol");
    }
    return 0;
}

/* buffer_updated()'s step once the bytes are in the incoming BIO. */
static int
tls_step(cx_tls *self)
{
    cx_state *st = self->tls_st;
    switch (self->tls_state) {
    case TLS_DO_HANDSHAKE:
        return call_method0((PyObject *)self, st->str_do_handshake);
    case TLS_WRAPPED:
        return tls_do_read(self);
    case TLS_FLUSHING:
        return call_method0((PyObject *)self, st->str_do_flush);
    case TLS_SHUTDOWN:
        return call_method0((PyObject *)self, st->str_do_shutdown);
    }
    return 0;
}

/* self._incoming.write(data).  0 or -1. */
static int
tls_incoming_write(cx_tls *self, PyObject *data)
{
    PyObject *bio = Py_NewRef(self->tls_incoming ? self->tls_incoming
                                                 : Py_None);
    PyObject *r = PyObject_CallMethodOneArg(bio, self->tls_st->str_write,
                                            data);
    Py_DECREF(bio);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

int
cx_tls_feed(PyObject *protocol, const char *buf, Py_ssize_t n)
{
    cx_tls *self = (cx_tls *)protocol;
    cx_state *st = self->tls_st;
    PyObject *bio = self->tls_incoming;
    int rc;
    Py_INCREF(self);
    if (bio != NULL && st->ssl_MemoryBIO != NULL
        && Py_IS_TYPE(bio, (PyTypeObject *)st->ssl_MemoryBIO)) {
        /* ssl.MemoryBIO.write copies the bytes in C and keeps nothing: a
         * view of the receive buffer, made with the garbage collector off
         * (it could run Python code that reads into that buffer). */
        int gc_was_on = PyGC_Disable();
        PyObject *view = PyMemoryView_FromMemory((char *)buf, n, PyBUF_READ);
        rc = view ? tls_incoming_write(self, view) : -1;
        Py_XDECREF(view);
        if (gc_was_on) {
            PyGC_Enable();
        }
    }
    else {
        /* anything else may run Python code or keep what it is given */
        PyObject *data = PyBytes_FromStringAndSize(buf, n);
        rc = data ? tls_incoming_write(self, data) : -1;
        Py_XDECREF(data);
    }
    if (rc == 0) {
        rc = tls_step(self);
    }
    Py_DECREF(self);
    return rc;
}

int
cx_tls_is_fast(cx_state *st, PyObject *protocol)
{
    if (st->TLSProtocolType == NULL
        || !PyObject_TypeCheck(protocol, st->TLSProtocolType)) {
        return 0;
    }
    PyTypeObject *tp = Py_TYPE(protocol);
    return cx_method_inherited(st, tp, st->str_get_buffer,
                               st->tls_get_buffer)
        && cx_method_inherited(st, tp, st->str_buffer_updated,
                               st->tls_buffer_updated);
}

/* ---- methods ---- */

#define TLS_METHOD(name, call) \
    static PyObject * \
    name(cx_tls *self, PyObject *Py_UNUSED(ignored)) \
    { \
        return (call) < 0 ? NULL : Py_NewRef(Py_None); \
    }

TLS_METHOD(SSLProtocolBase__do_read, tls_do_read(self))
TLS_METHOD(SSLProtocolBase__do_read__buffered, tls_read_buffered(self))
TLS_METHOD(SSLProtocolBase__do_read__copied, tls_read_copied(self))
TLS_METHOD(SSLProtocolBase__do_write, tls_do_write(self))
TLS_METHOD(SSLProtocolBase__process_outgoing, tls_process_outgoing(self))
TLS_METHOD(SSLProtocolBase__control_app_writing,
           tls_control_app_writing(self))
TLS_METHOD(SSLProtocolBase__control_ssl_reading,
           tls_control_ssl_reading(self))

static PyObject *
SSLProtocolBase__write_appdata(cx_tls *self, PyObject *list_of_data)
{
    return tls_write_appdata(self, list_of_data, NULL) < 0
        ? NULL : Py_NewRef(Py_None);
}

static PyObject *
SSLProtocolBase__get_write_buffer_size(cx_tls *self,
                                       PyObject *Py_UNUSED(ignored))
{
    Py_ssize_t n = tls_write_buffer_size(self);
    return n < 0 ? NULL : PyLong_FromSsize_t(n);
}

static PyObject *
SSLProtocolBase__get_read_buffer_size(cx_tls *self,
                                      PyObject *Py_UNUSED(ignored))
{
    Py_ssize_t n = bio_pending(self, self->tls_incoming);
    return n < 0 ? NULL : PyLong_FromSsize_t(n);
}

static PyObject *
SSLProtocolBase_get_buffer(cx_tls *self, PyObject *n)
{
    Py_ssize_t max = PyLong_AsSsize_t(self->tls_max_size);
    Py_ssize_t want = PyLong_AsSsize_t(n);
    if (max == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (want == -1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) {
            return NULL;
        }
        PyErr_Clear();      /* out of range: as > max_size */
        want = max;
    }
    if (want <= 0 || want > max) {
        want = max;
    }
    if (self->tls_ssl_buffer == NULL
        || PyObject_Size(self->tls_ssl_buffer) < want) {
        PyErr_Clear();
        PyObject *b = PyByteArray_FromStringAndSize(NULL, want);
        PyObject *v = b ? PyMemoryView_FromObject(b) : NULL;
        if (v == NULL) {
            Py_XDECREF(b);
            return NULL;
        }
        Py_XSETREF(self->tls_ssl_buffer, b);
        Py_XSETREF(self->tls_ssl_buffer_view, v);
    }
    return Py_NewRef(self->tls_ssl_buffer_view);
}

static PyObject *
SSLProtocolBase_buffer_updated(cx_tls *self, PyObject *nbytes)
{
    PyObject *view = self->tls_ssl_buffer_view;
    if (view == NULL) {
        PyErr_SetString(PyExc_AttributeError, "_ssl_buffer_view");
        return NULL;
    }
    PyObject *slice = PySlice_New(NULL, nbytes, NULL);
    PyObject *part = slice ? PyObject_GetItem(view, slice) : NULL;
    Py_XDECREF(slice);
    if (part == NULL) {
        return NULL;
    }
    Py_INCREF(self);
    int rc = tls_incoming_write(self, part);
    Py_DECREF(part);
    if (rc == 0) {
        rc = tls_step(self);
    }
    Py_DECREF(self);
    return rc < 0 ? NULL : Py_NewRef(Py_None);
}

/* get_buffer(n) and buffer_updated(nbytes) take their argument by keyword
 * too, as asyncio's do. */
CX_METH_O_KW(SSLProtocolBase_get_buffer, cx_tls, "get_buffer", "n")
CX_METH_O_KW(SSLProtocolBase_buffer_updated, cx_tls, "buffer_updated",
             "nbytes")

static PyMethodDef SSLProtocolBase_methods[] = {
    {"get_buffer", CX_FASTKW(SSLProtocolBase_get_buffer_kw),
     CX_DOC_SIG("get_buffer($self, n)",
                "Called to allocate a new receive buffer.")},
    {"buffer_updated", CX_FASTKW(SSLProtocolBase_buffer_updated_kw),
     CX_DOC_SIG("buffer_updated($self, nbytes)",
                "Called when the buffer was updated with the received "
                "data.")},
    {"_do_read", (PyCFunction)SSLProtocolBase__do_read, METH_NOARGS,
     CX_DOC_SIG("_do_read($self, /)", "")},
    {"_do_read__buffered", (PyCFunction)SSLProtocolBase__do_read__buffered,
     METH_NOARGS, CX_DOC_SIG("_do_read__buffered($self, /)", "")},
    {"_do_read__copied", (PyCFunction)SSLProtocolBase__do_read__copied,
     METH_NOARGS, CX_DOC_SIG("_do_read__copied($self, /)", "")},
    {"_do_write", (PyCFunction)SSLProtocolBase__do_write, METH_NOARGS,
     CX_DOC_SIG("_do_write($self, /)", "")},
    {"_process_outgoing", (PyCFunction)SSLProtocolBase__process_outgoing,
     METH_NOARGS, CX_DOC_SIG("_process_outgoing($self, /)", "")},
    {"_write_appdata", (PyCFunction)SSLProtocolBase__write_appdata, METH_O,
     CX_DOC_SIG("_write_appdata($self, list_of_data, /)", "")},
    {"_control_app_writing",
     (PyCFunction)SSLProtocolBase__control_app_writing, METH_NOARGS,
     CX_DOC_SIG("_control_app_writing($self, /)", "")},
    {"_control_ssl_reading",
     (PyCFunction)SSLProtocolBase__control_ssl_reading, METH_NOARGS,
     CX_DOC_SIG("_control_ssl_reading($self, /)", "")},
    {"_get_write_buffer_size",
     (PyCFunction)SSLProtocolBase__get_write_buffer_size, METH_NOARGS,
     CX_DOC_SIG("_get_write_buffer_size($self, /)", "")},
    {"_get_read_buffer_size",
     (PyCFunction)SSLProtocolBase__get_read_buffer_size, METH_NOARGS,
     CX_DOC_SIG("_get_read_buffer_size($self, /)", "")},
    {NULL, NULL},
};

/* ---- attributes ---- */

static PyObject *
SSLProtocolBase_get_state(cx_tls *self, void *c)
{
    return Py_NewRef(PyTuple_GET_ITEM(self->tls_st->tls_states,
                                      self->tls_state));
}

static int
SSLProtocolBase_set_state(cx_tls *self, PyObject *v, void *c)
{
    PyObject *states = self->tls_st->tls_states;
    for (int i = 0; v != NULL && i < TLS_NSTATES; i++) {
        if (PyTuple_GET_ITEM(states, i) == v) {
            self->tls_state = i;
            return 0;
        }
    }
    PyErr_Format(PyExc_TypeError, "_state must be an SSLProtocolState, "
                 "not %.200s", v ? Py_TYPE(v)->tp_name : "nothing");
    return -1;
}

/* The getter of an object field whose offset is the closure. */
static PyObject *
SSLProtocolBase_get_field(cx_tls *self, void *offset)
{
    PyObject *v = *(PyObject **)((char *)self + (size_t)offset);
    if (v == NULL) {
        PyErr_SetString(PyExc_AttributeError, "attribute not set");
        return NULL;
    }
    return Py_NewRef(v);
}

static int
SSLProtocolBase_set_sslobj(cx_tls *self, PyObject *v, void *c)
{
    PyObject *sock = NULL;
    if (v != NULL && Py_IS_TYPE(v, (PyTypeObject *)self->tls_st->ssl_SSLObject)
        && (sock = PyObject_GetAttr(v, self->tls_st->str_sslobj)) == NULL) {
        return -1;
    }
    Py_XSETREF(self->tls_sslsock, sock);
    Py_XSETREF(self->tls_sslobj, Py_XNewRef(v));
    return 0;
}

static int
SSLProtocolBase_set_transport(cx_tls *self, PyObject *v, void *c)
{
    cx_state *st = self->tls_st;
    self->tls_transport_fast = v != NULL
        && PyObject_TypeCheck(v, st->SocketTransportType)
        && cx_method_inherited(st, Py_TYPE(v), st->str_write,
                               st->stream_write);
    Py_XSETREF(self->tls_transport, Py_XNewRef(v));
    /* ciphertext for the transport there was (connection_lost() sets
     * None, as it empties _outgoing) */
    Py_CLEAR(self->tls_sealed);
    self->tls_sealed_size = 0;
    return 0;
}

/* Any iterable (asyncio's __init__ assigns a deque) becomes a list. */
static int
SSLProtocolBase_set_write_backlog(cx_tls *self, PyObject *v, void *c)
{
    if (v == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete _write_backlog");
        return -1;
    }
    PyObject *list = PyList_CheckExact(v) ? Py_NewRef(v) : PySequence_List(v);
    if (list == NULL) {
        return -1;
    }
    Py_SETREF(self->tls_write_backlog, list);
    return 0;
}

static PyGetSetDef SSLProtocolBase_getset[] = {
    {"_state", (getter)SSLProtocolBase_get_state,
     (setter)SSLProtocolBase_set_state, NULL, NULL},
    {"_sslobj", (getter)SSLProtocolBase_get_field,
     (setter)SSLProtocolBase_set_sslobj, NULL,
     (void *)offsetof(cx_tls, tls_sslobj)},
    {"_transport", (getter)SSLProtocolBase_get_field,
     (setter)SSLProtocolBase_set_transport, NULL,
     (void *)offsetof(cx_tls, tls_transport)},
    {"_write_backlog", (getter)SSLProtocolBase_get_field,
     (setter)SSLProtocolBase_set_write_backlog, NULL,
     (void *)offsetof(cx_tls, tls_write_backlog)},
    {NULL},
};

#define TLS_OBJ(name, field) \
    {name, T_OBJECT_EX, offsetof(cx_tls, field), 0, NULL}
#define TLS_SIZE(name, field) \
    {name, T_PYSSIZET, offsetof(cx_tls, field), 0, NULL}
#define TLS_BOOL(name, field) \
    {name, T_BOOL, offsetof(cx_tls, field), 0, NULL}

static PyMemberDef SSLProtocolBase_members[] = {
    TLS_OBJ("_incoming", tls_incoming),
    TLS_OBJ("_outgoing", tls_outgoing),
    TLS_OBJ("_app_protocol", tls_app_protocol),
    TLS_OBJ("_app_protocol_get_buffer", tls_app_get_buffer),
    TLS_OBJ("_app_protocol_buffer_updated", tls_app_buffer_updated),
    TLS_OBJ("_ssl_buffer", tls_ssl_buffer),
    TLS_OBJ("_ssl_buffer_view", tls_ssl_buffer_view),
    TLS_SIZE("_write_buffer_size", tls_write_buffer_size),
    TLS_SIZE("_incoming_high_water", tls_incoming_high_water),
    TLS_SIZE("_incoming_low_water", tls_incoming_low_water),
    TLS_SIZE("_outgoing_high_water", tls_outgoing_high_water),
    TLS_SIZE("_outgoing_low_water", tls_outgoing_low_water),
    TLS_BOOL("_app_protocol_is_buffer", tls_app_is_buffer),
    TLS_BOOL("_ssl_writing_paused", tls_ssl_writing_paused),
    TLS_BOOL("_app_reading_paused", tls_app_reading_paused),
    TLS_BOOL("_ssl_reading_paused", tls_ssl_reading_paused),
    TLS_BOOL("_app_writing_paused", tls_app_writing_paused),
    {NULL},
};

/* ---- the app transport's write() ---- */

/* asyncio's _SSLProtocolTransport.write(data), for casyncio._tls's
 * subclass of it: self._ssl_protocol._write_appdata((data,)), without the
 * tuple when the protocol is ours. */
static PyObject *
AppTransport_write(PyObject *self, PyObject *data)
{
    if (!PyBytes_Check(data) && !PyByteArray_Check(data)
        && !PyMemoryView_Check(data)) {
        return PyErr_Format(PyExc_TypeError,
                            "data: expecting a bytes-like instance, got %s",
                            cx_type_short_name(Py_TYPE(data)));
    }
    int t = PyObject_IsTrue(data);
    if (t <= 0) {
        return t < 0 ? NULL : Py_NewRef(Py_None);
    }
    cx_state *st = cx_state_from_type(Py_TYPE(self));
    PyObject *proto = st ? PyObject_GetAttr(self, st->str_ssl_protocol)
                         : NULL;
    if (proto == NULL) {
        return NULL;
    }
    PyObject *r = NULL;
    if (PyObject_TypeCheck(proto, st->TLSProtocolType)) {
        if (tls_write_appdata((cx_tls *)proto, NULL, data) == 0) {
            r = Py_NewRef(Py_None);
        }
    }
    else {
        PyObject *one = PyTuple_Pack(1, data);
        r = one ? PyObject_CallMethodOneArg(proto, st->str_write_appdata,
                                            one) : NULL;
        Py_XDECREF(one);
    }
    Py_DECREF(proto);
    return r;
}

/* write(data) takes its argument by keyword too, as asyncio's does. */
CX_METH_O_KW(AppTransport_write, PyObject, "write", "data")

static PyMethodDef AppTransport_methods[] = {
    {"write", CX_FASTKW(AppTransport_write_kw), CX_DOC_TR_WRITE},
    {NULL, NULL},
};

static PyType_Slot AppTransport_slots[] = {
    {Py_tp_methods, AppTransport_methods},
    {Py_tp_doc, "write() of asyncio's _SSLProtocolTransport in C; "
                "casyncio._tls._SSLProtocolTransport derives from it."},
    {0, NULL},
};

static PyType_Spec AppTransport_spec = {
    .name = "casyncio._core.SSLAppTransportBase",
    .basicsize = 0,             /* _FlowControlMixin's slots, no more */
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .slots = AppTransport_slots,
};

/* ---- the type ---- */

/* What the first instance needs from asyncio.sslproto and ssl.  0/-1. */
static int
tls_import(cx_state *st)
{
    PyObject *sslproto = PyImport_ImportModule("asyncio.sslproto");
    if (sslproto == NULL) {
        return -1;
    }
    PyObject *enum_ = PyObject_GetAttrString(sslproto, "SSLProtocolState");
    PyObject *again = PyObject_GetAttrString(sslproto, "SSLAgainErrors");
    PyObject *ssl = PyObject_GetAttrString(sslproto, "ssl");
    PyObject *sslobject = ssl ? PyObject_GetAttrString(ssl, "SSLObject")
                              : NULL;
    /* _ssl's own type, whatever ssl.MemoryBIO names by then */
    PyObject *_ssl = ssl ? PyImport_ImportModule("_ssl") : NULL;
    PyObject *memorybio = _ssl ? PyObject_GetAttrString(_ssl, "MemoryBIO")
                               : NULL;
    Py_XDECREF(_ssl);
    PyObject *states = PyTuple_New(TLS_NSTATES);
    static const char *names[TLS_NSTATES] = {
        "UNWRAPPED", "DO_HANDSHAKE", "WRAPPED", "FLUSHING", "SHUTDOWN"};
    int rc = -1;
    if (enum_ == NULL || again == NULL || sslobject == NULL
        || memorybio == NULL || states == NULL) {
        goto done;
    }
    for (int i = 0; i < TLS_NSTATES; i++) {
        PyObject *m = PyObject_GetAttrString(enum_, names[i]);
        if (m == NULL) {
            goto done;
        }
        PyTuple_SET_ITEM(states, i, m);
    }
    Py_XSETREF(st->tls_states, Py_NewRef(states));
    Py_XSETREF(st->ssl_again_errors, Py_NewRef(again));
    Py_XSETREF(st->ssl_SSLObject, Py_NewRef(sslobject));
    Py_XSETREF(st->ssl_MemoryBIO, Py_NewRef(memorybio));
    rc = 0;
done:
    Py_DECREF(sslproto);
    Py_XDECREF(enum_);
    Py_XDECREF(again);
    Py_XDECREF(ssl);
    Py_XDECREF(sslobject);
    Py_XDECREF(memorybio);
    Py_XDECREF(states);
    return rc;
}

/* Arguments are __init__'s (asyncio's SSLProtocol.__init__). */
static PyObject *
SSLProtocolBase_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    cx_state *st = cx_state_from_type(tp);
    if (st == NULL || (st->tls_states == NULL && tls_import(st) < 0)) {
        return NULL;
    }
    PyObject *max_size = PyObject_GetAttr((PyObject *)tp, st->str_max_size);
    if (max_size == NULL) {
        return NULL;
    }
    if (!PyLong_Check(max_size)) {
        PyErr_SetString(PyExc_TypeError, "max_size must be an int");
        Py_DECREF(max_size);
        return NULL;
    }
    cx_tls *self = (cx_tls *)tp->tp_alloc(tp, 0);
    if (self == NULL) {
        Py_DECREF(max_size);
        return NULL;
    }
    self->tls_st = st;
    self->tls_max_size = max_size;
    self->tls_state = TLS_UNWRAPPED;
    if ((self->tls_write_backlog = PyList_New(0)) == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

#define TLS_FIELDS(X) \
    X(tls_sslobj) X(tls_sslsock) X(tls_incoming) X(tls_outgoing) \
    X(tls_transport) X(tls_app_protocol) X(tls_app_get_buffer) \
    X(tls_app_buffer_updated) X(tls_write_backlog) X(tls_ssl_buffer) \
    X(tls_ssl_buffer_view) X(tls_max_size) X(tls_sealed)

static int
SSLProtocolBase_traverse(cx_tls *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
#define X(f) Py_VISIT(self->f);
    TLS_FIELDS(X)
#undef X
    return 0;
}

static int
SSLProtocolBase_clear(cx_tls *self)
{
#define X(f) Py_CLEAR(self->f);
    TLS_FIELDS(X)
#undef X
    self->tls_transport_fast = 0;
    return 0;
}

static void
SSLProtocolBase_dealloc(cx_tls *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    (void)SSLProtocolBase_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyType_Slot SSLProtocolBase_slots[] = {
    {Py_tp_new, SSLProtocolBase_new},
    {Py_tp_dealloc, SSLProtocolBase_dealloc},
    {Py_tp_traverse, SSLProtocolBase_traverse},
    {Py_tp_clear, SSLProtocolBase_clear},
    {Py_tp_methods, SSLProtocolBase_methods},
    {Py_tp_members, SSLProtocolBase_members},
    {Py_tp_getset, SSLProtocolBase_getset},
    {Py_tp_doc, "The data path of asyncio's SSLProtocol in C; "
                "casyncio._tls.SSLProtocol adds asyncio's own Python."},
    {0, NULL},
};

static PyType_Spec SSLProtocolBase_spec = {
    .name = "casyncio._core.SSLProtocolBase",
    .basicsize = sizeof(cx_tls),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = SSLProtocolBase_slots,
};

int
cx_tls_setup(PyObject *module)
{
    cx_state *st = PyModule_GetState(module);
    /* our SSLProtocol is fed by the stream transport (transport.h) */
    st->transport_fed_check = cx_tls_is_fast;
    st->transport_feed = cx_tls_feed;
#define INTERN(slot, text) \
    if ((st->slot = PyUnicode_InternFromString(text)) == NULL) { return -1; }
    INTERN(str_read, "read")
    INTERN(str_write, "write")
    INTERN(str_pending, "pending")
    INTERN(str_join, "join")
    INTERN(str_sslobj, "_sslobj")
    INTERN(str_loop, "_loop")
    INTERN(str_app_transport, "_app_transport")
    INTERN(str_max_size, "max_size")
    INTERN(str_pause_reading, "pause_reading")
    INTERN(str_resume_reading, "resume_reading")
    INTERN(str_fatal_error, "_fatal_error")
    INTERN(str_do_handshake, "_do_handshake")
    INTERN(str_do_flush, "_do_flush")
    INTERN(str_do_shutdown, "_do_shutdown")
    INTERN(str_call_eof_received, "_call_eof_received")
    INTERN(str_start_shutdown, "_start_shutdown")
    INTERN(str_write_closed, "_write_closed")
    INTERN(str_schedule_read, "_schedule_read")
    INTERN(str_ssl_protocol, "_ssl_protocol")
    INTERN(str_write_appdata, "_write_appdata")
#undef INTERN
    st->TLSProtocolType = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &SSLProtocolBase_spec, NULL);
    if (st->TLSProtocolType == NULL) {
        return -1;
    }
    st->tls_get_buffer = Py_XNewRef(PyDict_GetItemWithError(
        st->TLSProtocolType->tp_dict, st->str_get_buffer));
    st->tls_buffer_updated = Py_XNewRef(PyDict_GetItemWithError(
        st->TLSProtocolType->tp_dict, st->str_buffer_updated));
    st->stream_write = Py_XNewRef(PyDict_GetItemWithError(
        st->SocketTransportType->tp_dict, st->str_write));
    if (st->tls_get_buffer == NULL || st->tls_buffer_updated == NULL
        || st->stream_write == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_SystemError, "SSLProtocolBase setup");
        }
        return -1;
    }
    if (PyModule_AddType(module, st->TLSProtocolType) < 0) {
        return -1;
    }
    PyObject *mixin;
    PyObject *mod = PyImport_ImportModule("asyncio.transports");
    if (mod == NULL) {
        return -1;
    }
    mixin = PyObject_GetAttrString(mod, "_FlowControlMixin");
    Py_DECREF(mod);
    if (mixin == NULL) {
        return -1;
    }
    st->TLSAppTransportType = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &AppTransport_spec, mixin);
    Py_DECREF(mixin);
    if (st->TLSAppTransportType == NULL) {
        return -1;
    }
    return PyModule_AddType(module, st->TLSAppTransportType);
}
