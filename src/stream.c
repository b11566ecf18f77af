/* SocketTransport: asyncio.selector_events._SelectorSocketTransport (3.11)
 * in C, for connected stream sockets (AF_INET, AF_INET6, AF_UNIX).  It
 * derives from _Transport (transport.c), which has the fields, closing,
 * flow control and the methods common to the socket transports; here is
 * the reading and writing of a stream.
 *
 * The transport reads and writes the socket's fd itself: recv() into the
 * interpreter's shared receive buffer (the bytes handed to data_received()
 * are copied out of it first), send() at once when nothing is queued, and
 * the queue (a list of bytes) flushed with sendmsg() when writable.
 * With the loop's io_uring switch on (uring.h), the bytes come from a
 * multishot recv's queued buffers instead of recv(): the reader Handle
 * is queued when they come, and _read_ready hands them to the protocol
 * as it would a recv()'s (transport_read_uring).
 * For loop.sendfile() it has asyncio's _empty_waiter: a Future resolved
 * when the queue drains, or with the error when the write or the
 * connection fails. */
#include "internal.h"
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

typedef struct {
    cx_transport st_tr;
    PyObject *st_empty_waiter;    /* Future or NULL: asyncio's
                                     _empty_waiter, set while
                                     loop.sendfile() runs */
    int st_big_reads;             /* the last streams read filled at least
                                     half the receive buffer: the next
                                     goes straight into the reader's
                                     buffer (transport_read_streams) */
    cx_uring_rx st_rx;            /* io_uring receive state, when the
                                     loop's switch is on (tr_rx points
                                     here; uring.h) */
} StreamObject;

#define STREAM(tr) ((StreamObject *)(tr))

/* stream_shrink_head: how large a queued bytes object must be for its
 * tail to be copied out before resume_writing. */
#define STREAM_SHRINK_MIN (1 << 20)

/* ---- the empty waiter (loop.sendfile) ---- */

/* The write queue drained (exc NULL: set_result(None)) or the write
 * failed (set_exception(exc)): resolve _empty_waiter, which must be set.
 * 0 or -1 (InvalidStateError when it is done already, as in asyncio). */
static int
stream_resolve_empty_waiter(cx_transport *tr, PyObject *exc)
{
    FutureObject *waiter =
        (FutureObject *)Py_NewRef(STREAM(tr)->st_empty_waiter);
    PyObject *r = exc ? cx_future_set_exception(waiter, exc)
                      : cx_future_set_result(waiter, Py_None);
    Py_DECREF(waiter);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* tr_on_lost: _SelectorSocketTransport._call_connection_lost's addition. */
static int
stream_on_lost(cx_transport *tr)
{
    if (STREAM(tr)->st_empty_waiter == NULL) {
        return 0;
    }
    PyObject *err = PyObject_CallFunction(PyExc_ConnectionError, "s",
                                          "Connection is closed by peer");
    int rc = err ? stream_resolve_empty_waiter(tr, err) : -1;
    Py_XDECREF(err);
    return rc;
}

/* _make_empty_waiter(): a Future done when the write queue is empty, for
 * loop.sendfile(); write() refuses data until _reset_empty_waiter(). */
static PyObject *
Stream__make_empty_waiter(cx_transport *tr, PyObject *Py_UNUSED(ignored))
{
    StreamObject *so = STREAM(tr);
    if (so->st_empty_waiter != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Empty waiter is already set");
        return NULL;
    }
    if (tr->tr_loop == NULL) {
        PyErr_SetString(PyExc_AttributeError,
                        "'NoneType' object has no attribute 'create_future'");
        return NULL;
    }
    so->st_empty_waiter = cx_future_new(tr->tr_st, (PyObject *)tr->tr_loop);
    if (so->st_empty_waiter == NULL) {
        return NULL;
    }
    if (tr->tr_wbuf_size == 0 && stream_resolve_empty_waiter(tr, NULL) < 0) {
        return NULL;
    }
    return Py_NewRef(so->st_empty_waiter);
}

static PyObject *
Stream__reset_empty_waiter(cx_transport *tr, PyObject *Py_UNUSED(ignored))
{
    Py_CLEAR(STREAM(tr)->st_empty_waiter);
    Py_RETURN_NONE;
}

static PyObject *
Stream_get_empty_waiter(cx_transport *tr, void *c)
{
    PyObject *w = STREAM(tr)->st_empty_waiter;
    return Py_NewRef(w ? w : Py_None);
}

/* ---- reading ---- */

/* _read_ready__on_eof.  0 or -1. */
static int
transport_on_eof(cx_transport *tr)
{
    if (cx_transport_debug(tr)
        && cx_transport_log(tr, "debug",
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
        return cx_transport_fatal_error(
            tr, "Fatal error: protocol.eof_received() call failed.");
    }
    int truth = PyObject_IsTrue(keep);
    Py_DECREF(keep);
    if (truth < 0) {
        return -1;
    }
    if (truth) {
        return cx_transport_watch(tr, 0, 0);
    }
    PyObject *r = cx_transport_close(tr);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* recv() into the receive buffer: *rbuf and *n set; n > 0 bytes, 0 at
 * EOF, -1 with errno set.  0, or -1 with an exception set when there is
 * no buffer. */
static int
transport_recv_raw(cx_transport *tr, char **rbuf, ssize_t *n)
{
    if ((*rbuf = cx_transport_rbuf(tr->tr_st)) == NULL) {
        return -1;
    }
    *n = recv(tr->tr_fd, *rbuf, CX_TRANSPORT_MAX_SIZE, 0);
    return 0;
}

/* A recv() that brought no bytes (n <= 0, errno as it left it): nothing
 * on would-block, else the fatal error or EOF.  0 or -1. */
static int
transport_recv_nothing(cx_transport *tr, ssize_t n)
{
    if (n < 0) {
        if (cx_errno_would_block(errno)) {
            return 0;
        }
        PyErr_SetFromErrno(PyExc_OSError);
        return cx_transport_fatal_error(tr,
                                     "Fatal read error on socket transport");
    }
    return transport_on_eof(tr);
}

/* recv() into the receive buffer: *rbuf, *n set and 1 when bytes came;
 * else the would-block, error or EOF handled: 0, or -1 on error. */
static int
transport_recv(cx_transport *tr, char **rbuf, ssize_t *n)
{
    if (transport_recv_raw(tr, rbuf, n) < 0) {
        return -1;
    }
    return *n > 0 ? 1 : transport_recv_nothing(tr, *n);
}

/* recv() for data_received(): straight into the transports' kept bytes
 * object (cx_transport_bytes_take), so that a large read is copied once,
 * by the kernel; through the receive buffer when the kernel's copy into
 * that object would be the slow case (copy.h).  1 with *data (and *cap
 * for cx_transport_bytes_done) set; else as transport_recv: 0, or -1. */
static int
transport_recv_bytes(cx_transport *tr, PyObject **data, Py_ssize_t *cap)
{
    cx_state *st = tr->tr_st;
    PyObject *b = cx_transport_bytes_take(st, CX_TRANSPORT_MAX_SIZE, cap);
    if (b == NULL) {
        return -1;
    }
    ssize_t n;
    if (cx_copy_recv_is_slow(PyBytes_AS_STRING(b), CX_TRANSPORT_MAX_SIZE)) {
        cx_transport_bytes_done(st, b, *cap);
        char *rbuf;
        int got = transport_recv(tr, &rbuf, &n);
        if (got <= 0) {
            return got;
        }
        *data = cx_transport_bytes(st, rbuf, n, cap);
        return *data ? 1 : -1;
    }
    n = recv(tr->tr_fd, PyBytes_AS_STRING(b), CX_TRANSPORT_MAX_SIZE, 0);
    if (n <= 0) {
        int e = errno;
        cx_transport_bytes_done(st, b, *cap);
        errno = e;
        return transport_recv_nothing(tr, n);
    }
    if (cx_transport_bytes_fit(st, &b, n, cap) < 0) {
        return -1;
    }
    *data = b;
    return 1;
}

/* Once n bytes already received (io_uring, transport_read_uring) are
 * copied out of src, they leave the transport's queue (src NULL: they
 * were recv()'d, nothing queued). */
static inline void
uring_take(cx_transport *tr, const char *src, Py_ssize_t n)
{
    if (src != NULL && n > 0) {
        cx_uring_rx_consume(tr->tr_rx, n);
    }
}

/* The protocol is asyncio's StreamReaderProtocol, unchanged: its reader is
 * fed in C (readerproto.c), whose checks come before the recv() (src:
 * the bytes are there already).  1 done (0 or -1 in *rc), 0 not taken
 * (nothing read). */
static int
transport_read_streams(cx_transport *tr, PyObject *proto, int *rc,
                       const char *src, Py_ssize_t srclen)
{
    cx_state *st = tr->tr_st;
    cx_readerproto_dest feed;
    if (!cx_readerproto_prepare(st, proto, &feed)) {
        return 0;
    }
    if (tr->tr_protocol != proto || !tr->tr_reader_on || tr->tr_conn_lost) {
        /* the checks ran Python code that changed the transport */
        cx_readerproto_release(&feed);
        *rc = 0;
        return 1;
    }
    ssize_t n = -1;
    int fed;
    char *tail = STREAM(tr)->st_big_reads && src == NULL
        ? cx_readerproto_reserve(&feed, CX_TRANSPORT_MAX_SIZE) : NULL;
    if (src != NULL) {
        n = srclen;
        fed = cx_readerproto_feed(st, &feed, src, n);
        uring_take(tr, src, n);
    }
    else if (tail != NULL) {
        /* a bulk transfer: the kernel copies into the reader's buffer */
        n = recv(tr->tr_fd, tail, CX_TRANSPORT_MAX_SIZE, 0);
        int e = errno;
        fed = cx_readerproto_commit(st, &feed, n);
        errno = e;
    }
    else {
        char *rbuf;
        if (transport_recv_raw(tr, &rbuf, &n) < 0 || n <= 0) {
            int e = errno;
            cx_readerproto_release(&feed);
            errno = e;
            fed = PyErr_Occurred() ? -1 : 0;
        }
        else {
            fed = cx_readerproto_feed(st, &feed, rbuf, n);
        }
    }
    STREAM(tr)->st_big_reads = n >= CX_TRANSPORT_MAX_SIZE / 2;
    *rc = fed > 0 ? 0
          : fed < 0 && n > 0 ? cx_transport_fatal_error(
                tr, "Fatal error: protocol.data_received() call failed.")
          : fed < 0 ? -1
          : transport_recv_nothing(tr, n);
    return 1;
}

static int
transport_read_data(cx_transport *tr, const char *src, Py_ssize_t srclen)
{
    cx_state *st = tr->tr_st;
    PyObject *proto = Py_NewRef(tr->tr_protocol);
    int rc;
    if (cx_readerproto_check(st, proto)
        && transport_read_streams(tr, proto, &rc, src, srclen)) {
        Py_DECREF(proto);
        return rc;
    }
    Py_ssize_t cap = 0;
    PyObject *data = NULL;
    if (src != NULL) {
        data = cx_transport_bytes(st, src, srclen, &cap);
        if (data == NULL) {
            Py_DECREF(proto);
            return -1;
        }
        uring_take(tr, src, srclen);
    }
    else {
        int got = transport_recv_bytes(tr, &data, &cap);
        if (got <= 0) {
            Py_DECREF(proto);
            return got;
        }
    }
    PyObject *r = PyObject_CallMethodOneArg(proto, st->str_data_received,
                                            data);
    Py_DECREF(proto);
    cx_transport_bytes_done(st, data, cap);
    if (r == NULL) {
        return cx_transport_fatal_error(
            tr, "Fatal error: protocol.data_received() call failed.");
    }
    Py_DECREF(r);
    return 0;
}

static int
transport_read_buffered(cx_transport *tr, const char *src,
                        Py_ssize_t srclen)
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
        return cx_transport_fatal_error(
            tr, "Fatal error: protocol.get_buffer() call failed.");
    }
    Py_buffer view;
    ssize_t n = -1;
    if (PyObject_GetBuffer(buf, &view, PyBUF_WRITABLE) == 0) {
        if (src != NULL && srclen > 0) {
            n = srclen < view.len ? srclen : view.len;
            memcpy(view.buf, src, n);
            uring_take(tr, src, n);
        }
        else if (src != NULL) {
            /* io_uring's EOF (0) or error (-errno), as recv_into's */
            n = srclen < 0 ? -1 : 0;
            errno = (int)-srclen;
        }
        else {
            n = cx_transport_recv_into(st, tr->tr_fd, &view, 0);
        }
        int e = errno;
        PyBuffer_Release(&view);
        if (n < 0) {
            if (cx_errno_would_block(e)) {
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
    /* get_buffer() may have set another protocol: asyncio calls
     * self._protocol.buffer_updated() */
    if (tr->tr_protocol != NULL) {
        Py_SETREF(proto, Py_NewRef(tr->tr_protocol));
    }
    if (n < 0) {
        Py_DECREF(proto);
        return cx_transport_fatal_error(tr,
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
        return cx_transport_fatal_error(
            tr, "Fatal error: protocol.buffer_updated() call failed.");
    }
    Py_DECREF(r);
    return 0;
}

/* The protocol is fed in C (tr_buffered == 2: our SSLProtocol, whose
 * st->transport_feed is tls.c's): what transport_read_buffered does with
 * its get_buffer(-1) (a max_size buffer) and buffer_updated(n), the bytes
 * received into the receive buffer and handed to it in C. */
static int
transport_read_fed(cx_transport *tr, const char *src, Py_ssize_t srclen)
{
    const char *rbuf = src;
    ssize_t n = srclen;
    if (src == NULL) {
        char *b;
        int got = transport_recv(tr, &b, &n);
        if (got <= 0) {
            return got;
        }
        rbuf = b;
    }
    PyObject *proto = Py_NewRef(tr->tr_protocol);
    int rc = tr->tr_st->transport_feed(proto, rbuf, n);
    uring_take(tr, src, n);
    Py_DECREF(proto);
    if (rc < 0) {
        return cx_transport_fatal_error(
            tr, "Fatal error: protocol.buffer_updated() call failed.");
    }
    return 0;
}

/* io_uring (uring.h): what _read_ready does with a recv()'s bytes, with
 * the bytes the multishot recv queued (up to now): up to max_size of them
 * (one piece as it is, several gathered in memory of their own), or the
 * EOF or error queued after them, in a call of its own as the next recv()
 * would have told it; the reader Handle queued again while more is
 * queued. */
static int
transport_read_uring(cx_transport *tr)
{
    cx_uring_rx *rx = tr->tr_rx;
    /* What came since the loop's poll phase too, as a recv() now would
     * have it (it is in the CQ already: the syscalls made since ran the
     * kernel's completion work); our own Handle not queued again. */
    rx->rx_scheduled = 1;
    int rc = cx_uring_reap(rx->rx_ring, (PyObject *)tr->tr_loop);
    rx->rx_scheduled = 0;
    if (rc < 0) {
        return -1;
    }
    Py_ssize_t len;
    const char *p = cx_uring_rx_peek(rx, 0, &len);
    if (p == NULL) {
        if (len > 0) {
            return 0;       /* nothing queued */
        }
        cx_uring_rx_consume(rx, 0);
        if (tr->tr_buffered == 1) {
            /* asyncio asks get_buffer() for the recv_into() that tells */
            rc = transport_read_buffered(tr, "", len);
        }
        else if (len == 0) {
            rc = transport_on_eof(tr);
        }
        else {
            errno = (int)-len;
            PyErr_SetFromErrno(PyExc_OSError);
            rc = cx_transport_fatal_error(
                tr, "Fatal read error on socket transport");
        }
    }
    else {
        Py_ssize_t total = len, l;
        int pieces = 1;
        while (cx_uring_rx_peek(rx, pieces, &l) != NULL
               && total + l <= CX_TRANSPORT_MAX_SIZE) {
            total += l;
            pieces++;
        }
        char *gathered = NULL;
        if (pieces > 1) {
            /* in memory of their own, not the receive buffer: the
             * threads' loops share that, and Python code (get_buffer(),
             * readerproto's checks) runs before they are copied out */
            if ((gathered = PyMem_Malloc(total)) == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            Py_ssize_t off = 0;
            for (int i = 0; i < pieces; i++) {
                const char *q = cx_uring_rx_peek(rx, i, &l);
                memcpy(gathered + off, q, l);
                off += l;
            }
            p = gathered;
        }
        rc = tr->tr_buffered == 2 ? transport_read_fed(tr, p, total)
             : tr->tr_buffered ? transport_read_buffered(tr, p, total)
             : transport_read_data(tr, p, total);
        PyMem_Free(gathered);
    }
    if (rc == 0 && tr->tr_reader_on && tr->tr_loop != NULL) {
        rc = cx_uring_rx_kick(rx, (PyObject *)tr->tr_loop);
    }
    return rc;
}

/* The reader Handle's callback: the socket is readable (io_uring: bytes
 * are queued). */
static PyObject *
Transport__read_ready(cx_transport *tr, PyObject *Py_UNUSED(ignored))
{
    int uring = tr->tr_rx != NULL && tr->tr_rx->rx_ring != NULL;
    if (uring) {
        tr->tr_rx->rx_scheduled = 0;
    }
    if (!tr->tr_reader_on || tr->tr_conn_lost || tr->tr_protocol == NULL) {
        Py_RETURN_NONE;
    }
    Py_INCREF(tr);
    int rc = uring ? transport_read_uring(tr)
             : tr->tr_buffered == 2 ? transport_read_fed(tr, NULL, 0)
             : tr->tr_buffered ? transport_read_buffered(tr, NULL, 0)
             : transport_read_data(tr, NULL, 0);
    Py_DECREF(tr);
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---- writing ---- */

/* Queue the unsent part of a write, data[sent:] (buf[0:len]), for a
 * stream socket (sock) or a write pipe.  Exact bytes are queued whole,
 * never copied (immutable): data with tr_wbuf_off = sent.  Other buffers:
 * on 3.12+ stream sockets, as asyncio's write() queues them without a
 * copy (stream.h): our memoryview of data, with tr_wbuf_off = sent;
 * elsewhere a bytes copy of buf (3.11's bytearray buffer, the pipes'
 * extend).  sent > 0 only when the queue was empty.  0 or -1. */
static int
transport_append(cx_transport *tr, PyObject *data, Py_ssize_t sent,
                 const char *buf, Py_ssize_t len, int sock)
{
    assert(sent == 0 || tr->tr_wbuf_size == 0);
    PyObject *item;
    Py_ssize_t off = 0;
    if (PyBytes_CheckExact(data)) {
        item = Py_NewRef(data);
        off = sent;
    }
#if PY_VERSION_HEX >= 0x030C0000
    else if (sock) {
        /* our memoryview: an export held while queued, so that the
         * object cannot change size under the queue's count */
        item = PyMemoryView_FromObject(data);
        off = sent;
    }
#endif
    else {
        item = PyBytes_FromStringAndSize(buf, len);
    }
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
        if (off) {
            assert(PyList_GET_SIZE(tr->tr_wbuf) == 1 && tr->tr_wbuf_head == 0);
            tr->tr_wbuf_off = off;
        }
    }
    return rc;
}

/* write()'s common part once its checks are done, for a stream socket
 * (sock=1: send()) or a write pipe (sock=0: write()): when nothing is
 * queued, write at once; queue what is left (transport_append),
 * registering the writer when the queue was empty; then
 * _maybe_pause_protocol.  0; 1 when the immediate write failed (OSError
 * set, nothing queued: the caller's fatal error); -1 on error.  Inlined
 * into Transport_write (sock a constant). */
static inline int
stream_write_or_queue(cx_transport *tr, PyObject *data, Py_buffer *view,
                      int sock, int pause)
{
    Py_ssize_t sent = 0;
    if (tr->tr_wbuf_size == 0) {
        /* Optimization: try to send now. */
        ssize_t n = sock ? send(tr->tr_fd, view->buf, view->len, MSG_NOSIGNAL)
                         : write(tr->tr_fd, view->buf, view->len);
        if (n < 0) {
            if (!cx_errno_would_block(errno)) {
                PyErr_SetFromErrno(PyExc_OSError);
                return 1;
            }
        }
        else {
            sent = n;
            if (sent == view->len) {
                return 0;
            }
        }
        /* Not all was written; register write handler. */
        if (cx_transport_watch(tr, 1, 1) < 0) {
            return -1;
        }
    }
    if (transport_append(tr, data, sent, (char *)view->buf + sent,
                         view->len - sent, sock) < 0) {
        return -1;
    }
    return pause ? cx_transport_maybe_pause(tr) : 0;
}

int
cx_stream_write_or_queue(cx_transport *tr, PyObject *data, Py_buffer *view)
{
    return stream_write_or_queue(tr, data, view, 0, 1);
}

/* write() after the connection was lost: count it, and warn from the
 * fifth on (asyncio's LOG_THRESHOLD_FOR_CONNLOST_WRITES).  0 or -1. */
static int
transport_write_lost(cx_transport *tr)
{
    if (tr->tr_conn_lost >= CX_LOG_THRESHOLD_FOR_CONNLOST_WRITES
        && cx_transport_log(tr, "warning",
                            Py_BuildValue("(s)",
                                          "socket.send() raised exception."),
                            NULL) < 0) {
        return -1;
    }
    tr->tr_conn_lost++;
    return 0;
}

/* write() after connection_lost ran with nothing lost counted (close()
 * with data queued, the queue then flushed): the socket is closed and its
 * fd may be another file's by now.  asyncio's sock.send() fails on
 * `self._sock = None`, and its _fatal_error on `self._loop = None`.
 * NULL. */
static PyObject *
transport_write_closed(void)
{
    PyErr_SetString(PyExc_AttributeError, "'NoneType' object has no "
                    "attribute 'call_exception_handler'");
    return NULL;
}

/* write(memoryview) that is not a flat byte buffer (not C-contiguous, or
 * not one-dimensional), as asyncio 3.11 handles it, passing the view on as
 * is: `if not data` is the view's truth; a non-contiguous view fails in
 * sock.send() -- BufferError, a fatal write error that closes the
 * transport -- or, with data queued, in bytearray.extend() -- TypeError,
 * raised; a 0-d view sent at once fails in `data[n:]` (TypeError, raised
 * after the send).  Other views go on as their bytes.  None (done), NULL
 * with an exception, or NULL without one: go on. */
static PyObject *
transport_write_odd_view(cx_transport *tr, PyObject *data)
{
    int truth = PyObject_IsTrue(data);
    if (truth <= 0) {
        return truth < 0 ? NULL : Py_NewRef(Py_None);
    }
    Py_buffer *vb = PyMemoryView_GET_BUFFER(data);
    int contiguous = PyBuffer_IsContiguous(vb, 'C');
    if (tr->tr_conn_lost) {
        return transport_write_lost(tr) < 0 ? NULL : Py_NewRef(Py_None);
    }
    if (contiguous && vb->ndim != 0) {
        return NULL;
    }
    if (tr->tr_sock == NULL) {
        return transport_write_closed();
    }
    if (tr->tr_wbuf_size) {
        if (contiguous) {
            return NULL;
        }
#if PY_VERSION_HEX >= 0x030C0000
        /* 3.12: the view is queued as it is (a deque of buffers), its
         * len() counted; the flush's sendmsg() fails on it: BufferError,
         * a fatal write error (Transport__write_ready). */
        Py_ssize_t len = PyObject_Size(data);
        if (len < 0 || tr->tr_wbuf == NULL
            || PyList_Append(tr->tr_wbuf, data) < 0) {
            return NULL;
        }
        tr->tr_wbuf_size += len;
        if (cx_transport_maybe_pause(tr) < 0) {
            return NULL;
        }
        Py_RETURN_NONE;
#else
        PyErr_SetString(PyExc_TypeError,
                        "can't set bytearray slice from memoryview");
        return NULL;
#endif
    }
    if (contiguous) {
        /* 0-d, nothing queued: the optimistic send() */
        if (send(tr->tr_fd, vb->buf, vb->len, MSG_NOSIGNAL) < 0) {
            if (cx_errno_would_block(errno)) {
                return NULL;
            }
            PyErr_SetFromErrno(PyExc_OSError);
            goto fatal;
        }
        PyErr_SetString(PyExc_TypeError, "invalid indexing of 0-dim memory");
        return NULL;
    }
    PyErr_SetString(PyExc_BufferError,
                    "memoryview: underlying buffer is not C-contiguous");
fatal:
    if (cx_transport_fatal_error(
            tr, "Fatal write error on socket transport") < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* write(data) of a type asyncio refuses: the TypeError of the running
 * asyncio, whose message changed (3.14: "data argument must be a bytes,
 * bytearray, or memoryview object"): its _SelectorSocketTransport.write
 * checks the type before anything else, so it raises it for us.  NULL. */
static PyObject *
transport_write_type_error(PyObject *data)
{
    PyObject *mod = PyImport_ImportModule("asyncio.selector_events");
    PyObject *cls = mod ? PyObject_GetAttrString(
        mod, "_SelectorSocketTransport") : NULL;
    PyObject *fn = cls ? PyObject_GetAttrString(cls, "write") : NULL;
    PyObject *r = fn ? PyObject_CallFunctionObjArgs(fn, Py_None, data, NULL)
                     : NULL;
    Py_XDECREF(fn);
    Py_XDECREF(cls);
    Py_XDECREF(mod);
    if (r == NULL && PyErr_ExceptionMatches(PyExc_TypeError)) {
        return NULL;
    }
    Py_XDECREF(r);
    PyErr_Clear();
    return PyErr_Format(PyExc_TypeError,
                        "data argument must be a bytes-like object, "
                        "not '%.200s'", Py_TYPE(data)->tp_name);
}

/* write(data); pause: _maybe_pause_protocol() once queued (3.12 and 3.13's
 * writelines() do not call it). */
static inline PyObject *
transport_write(cx_transport *tr, PyObject *data, int pause)
{
    if (!PyBytes_Check(data) && !PyByteArray_Check(data)
        && !PyMemoryView_Check(data)) {
        return transport_write_type_error(data);
    }
    if (tr->tr_eof) {
        PyErr_SetString(PyExc_RuntimeError,
                        "Cannot call write() after write_eof()");
        return NULL;
    }
    if (STREAM(tr)->st_empty_waiter != NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "unable to write; sendfile is in progress");
        return NULL;
    }
    Py_buffer *vb = PyMemoryView_Check(data)
        ? PyMemoryView_GET_BUFFER(data) : NULL;
    if (vb != NULL && (vb->ndim != 1 || (vb->strides != NULL
                                         && vb->strides[0] != vb->itemsize))) {
        PyObject *r = transport_write_odd_view(tr, data);
        if (r != NULL || PyErr_Occurred()) {
            return r;
        }
    }
    Py_buffer view;
    if (PyBytes_CheckExact(data)) {
        /* The common case, without the buffer protocol's calls; obj NULL
         * makes PyBuffer_Release a no-op.  The caller's reference keeps
         * data alive across the callbacks a fatal error runs. */
        view.buf = PyBytes_AS_STRING(data);
        view.len = PyBytes_GET_SIZE(data);
        view.obj = NULL;
    }
    else if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    PyObject *res = NULL;
    if (view.len == 0) {
        goto done;
    }
    if (tr->tr_conn_lost) {
        if (transport_write_lost(tr) < 0) {
            goto error;
        }
        goto done;
    }
    if (tr->tr_sock == NULL) {
        transport_write_closed();
        goto error;
    }
    int rc = stream_write_or_queue(tr, data, &view, 1, pause);
    if (rc > 0) {
        rc = cx_transport_fatal_error(tr,
                                      "Fatal write error on socket transport");
    }
    if (rc < 0) {
        goto error;
    }
done:
    res = Py_NewRef(Py_None);
error:
    PyBuffer_Release(&view);
    return res;
}

static PyObject *
Transport_write(cx_transport *tr, PyObject *data)
{
    return transport_write(tr, data, 1);
}

/* _write_nopause(data): write() without _maybe_pause_protocol(), for 3.12
 * and 3.13's writelines() (_net.py). */
static PyObject *
Transport__write_nopause(cx_transport *tr, PyObject *data)
{
    return transport_write(tr, data, 0);
}

PyObject *
cx_stream_write(cx_transport *tr, PyObject *data)
{
    return transport_write(tr, data, 1);
}

/* Before resume_writing: when what is left queued is the tail of one large
 * bytes object only we hold, that tail (at most the low-water mark) goes
 * into a bytes object of its own and the large one is freed now.  The
 * protocol usually answers resume_writing with its next large write (TLS:
 * the outgoing BIO read out whole): without this the old object, nearly
 * all sent, would still be alive then and the heap grow by its size.
 * Bytes only: they cannot change, so the copy sends what the item would.
 * 0 or -1. */
static int
stream_shrink_head(cx_transport *tr)
{
    if (!tr->tr_protocol_paused || tr->tr_wbuf_size > tr->tr_low_water
        || tr->tr_wbuf_size == 0
        || PyList_GET_SIZE(tr->tr_wbuf) - tr->tr_wbuf_head != 1) {
        return 0;
    }
    PyObject *item = PyList_GET_ITEM(tr->tr_wbuf, tr->tr_wbuf_head);
    if (!PyBytes_CheckExact(item) || Py_REFCNT(item) != 1
        || PyBytes_GET_SIZE(item) < STREAM_SHRINK_MIN
        || tr->tr_wbuf_size > PyBytes_GET_SIZE(item) / 4) {
        return 0;
    }
    PyObject *rest = PyBytes_FromStringAndSize(
        PyBytes_AS_STRING(item) + tr->tr_wbuf_off, tr->tr_wbuf_size);
    if (rest == NULL) {
        return -1;
    }
    PyList_SET_ITEM(tr->tr_wbuf, tr->tr_wbuf_head, rest);
    tr->tr_wbuf_off = 0;
    Py_DECREF(item);
    return 0;
}

/* asyncio's _write_sendmsg(): flush what the queue holds, as far as the
 * socket takes it; once empty, the writer off, the empty waiter, and the
 * close or the shutdown that waited for it.  None or NULL. */
static PyObject *
stream_flush(cx_transport *tr)
{
    if (tr->tr_conn_lost || tr->tr_wbuf_size == 0) {
        Py_RETURN_NONE;
    }
    struct iovec iov[CX_STREAM_IOV_MAX];
    int cnt = cx_stream_fill_iov(tr, iov);
    ssize_t n = -1;
    if (cnt >= 0) {
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
        n = sendmsg(tr->tr_fd, &msg, MSG_NOSIGNAL);
    }
    Py_INCREF(tr);
    PyObject *res = NULL;
    if (n < 0) {
        if (cnt < 0) {
            /* 3.12+: a queued non-contiguous memoryview (write()) */
            PyErr_SetString(PyExc_BufferError,
                            "memoryview: underlying buffer is not "
                            "C-contiguous");
        }
        else if (cx_errno_would_block(errno)) {
            goto done;
        }
        else {
            PyErr_SetFromErrno(PyExc_OSError);
        }
        PyObject *exc = cx_err_fetch();
        int rc = cx_transport_watch(tr, 1, 0);
        cx_transport_clear_wbuf(tr);
        if (rc < 0) {
            Py_DECREF(exc);
            goto error;
        }
        cx_err_restore(Py_NewRef(exc));
        rc = cx_transport_fatal_error(tr,
                                      "Fatal write error on socket transport");
        if (rc == 0 && STREAM(tr)->st_empty_waiter != NULL) {
            rc = stream_resolve_empty_waiter(tr, exc);
        }
        Py_DECREF(exc);
        if (rc < 0) {
            goto error;
        }
        goto done;
    }
    cx_stream_consume(tr, n);
    if (stream_shrink_head(tr) < 0
        || cx_transport_maybe_resume(tr) < 0) {  /* May append. */
        goto error;
    }
    if (tr->tr_wbuf_size == 0) {
        if (cx_transport_watch(tr, 1, 0) < 0) {
            goto error;
        }
        if (STREAM(tr)->st_empty_waiter != NULL
            && stream_resolve_empty_waiter(tr, NULL) < 0) {
            goto error;
        }
#if PY_VERSION_HEX >= 0x030E0000
        /* 3.14 (gh-156512): counted as lost first, so that
         * _call_connection_lost runs once and later writes are dropped */
        if (tr->tr_closing && !tr->tr_conn_lost) {
            tr->tr_conn_lost++;
#else
        if (tr->tr_closing) {
#endif
            if (cx_transport_call_connection_lost((PyObject *)tr, Py_None) < 0) {
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

/* The writer Handle's callback. */
static PyObject *
Transport__write_ready(cx_transport *tr, PyObject *Py_UNUSED(ignored))
{
    if (!tr->tr_writer_on) {
        Py_RETURN_NONE;
    }
    return stream_flush(tr);
}

#if PY_VERSION_HEX >= 0x030C0000
/* _write_views(views, pause): 3.12+'s writelines() once its checks are
 * done (_net.py): views is a list of C-contiguous memoryviews made of the
 * items, not all empty.  As asyncio: each queued as a memoryview (no
 * copy; empty ones skipped, as 3.15 does), then _write_ready()'s flush at
 * once, the writer registered if some is left, then _maybe_pause_protocol
 * when pause (3.14+). */
static PyObject *
Stream__write_views(cx_transport *tr, PyObject *const *args,
                    Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError,
                     "_write_views expected 2 arguments, got %zd", nargs);
        return NULL;
    }
    PyObject *views = args[0];
    int pause = PyObject_IsTrue(args[1]);
    if (pause < 0) {
        return NULL;
    }
    if (!PyList_CheckExact(views)) {
        PyErr_SetString(PyExc_TypeError, "_write_views() takes a list");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(views); i++) {
        PyObject *v = PyList_GET_ITEM(views, i);
        if (!PyMemoryView_Check(v)
            || !PyBuffer_IsContiguous(PyMemoryView_GET_BUFFER(v), 'C')) {
            PyErr_SetString(PyExc_TypeError,
                            "_write_views() takes contiguous memoryviews");
            return NULL;
        }
    }
    if (tr->tr_sock == NULL) {
        return transport_write_closed();
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(views); i++) {
        PyObject *v = PyList_GET_ITEM(views, i);
        Py_ssize_t len = PyMemoryView_GET_BUFFER(v)->len;
        if (len == 0) {
            continue;
        }
        if (tr->tr_wbuf == NULL && (tr->tr_wbuf = PyList_New(0)) == NULL) {
            return NULL;
        }
        /* our own view of it: the caller's may be released */
        PyObject *own = PyMemoryView_FromObject(v);
        int rc = own ? PyList_Append(tr->tr_wbuf, own) : -1;
        Py_XDECREF(own);
        if (rc < 0) {
            return NULL;
        }
        tr->tr_wbuf_size += len;
    }
    Py_INCREF(tr);
    PyObject *r = stream_flush(tr);
    if (r != NULL && tr->tr_wbuf_size
        && (cx_transport_watch(tr, 1, 1) < 0
            || (pause && cx_transport_maybe_pause(tr) < 0))) {
        Py_CLEAR(r);
    }
    Py_DECREF(tr);
    return r;
}
#endif

static PyObject *
Transport_write_eof(cx_transport *tr, PyObject *Py_UNUSED(ignored))
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
Transport_can_write_eof(cx_transport *tr, PyObject *Py_UNUSED(ignored))
{
    Py_RETURN_TRUE;
}


/* ---- the type ---- */

static PyObject *
Stream_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"loop", "sock", "protocol", "extra", "server",
                             NULL};
    PyObject *loop, *sock, *protocol, *extra = Py_None, *server = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO|OO:SocketTransport",
                                     kwlist, &loop, &sock, &protocol, &extra,
                                     &server)) {
        return NULL;
    }
    cx_transport *tr = cx_transport_new(tp, loop, sock, protocol, extra,
                                        server);
    if (tr != NULL) {
        tr->tr_on_lost = stream_on_lost;
        if (tr->tr_loop != NULL && tr->tr_loop->loop_uring_on
            && cx_loop_uring(tr->tr_loop) != NULL) {
            tr->tr_rx = &STREAM(tr)->st_rx;
        }
    }
    return (PyObject *)tr;
}

static int
Stream_traverse(cx_transport *tr, visitproc visit, void *arg)
{
    Py_VISIT(STREAM(tr)->st_empty_waiter);
    return cx_transport_traverse(tr, visit, arg);
}

static int
Stream_clear(cx_transport *tr)
{
    cx_uring_rx_release(&STREAM(tr)->st_rx);
    Py_CLEAR(STREAM(tr)->st_empty_waiter);
    return cx_transport_clear(tr);
}

PyObject *
cx_stream_get_buffer(cx_transport *tr, void *c)
{
    /* A copy of what is queued, for introspection (asyncio's _buffer). */
    PyObject *out = PyByteArray_FromStringAndSize(NULL, 0);
    if (out == NULL || tr->tr_wbuf == NULL) {
        return out;
    }
    for (Py_ssize_t i = tr->tr_wbuf_head; i < PyList_GET_SIZE(tr->tr_wbuf);
         i++) {
        Py_ssize_t len;
        const char *p = cx_stream_item(PyList_GET_ITEM(tr->tr_wbuf, i),
                                       i == tr->tr_wbuf_head
                                       ? tr->tr_wbuf_off : 0, &len);
        if (p == NULL) {
            continue;       /* a non-contiguous view (3.12+): no bytes */
        }
        Py_ssize_t n = PyByteArray_GET_SIZE(out);
        if (PyByteArray_Resize(out, n + len) < 0) {
            Py_DECREF(out);
            return NULL;
        }
        memcpy(PyByteArray_AS_STRING(out) + n, p, len);
    }
    return out;
}

/* write(data) takes its argument by keyword too, as asyncio's does. */
CX_METH_O_KW(Transport_write, cx_transport, "write", "data")

static PyMethodDef Stream_methods[] = {
    {"write", CX_FASTKW(Transport_write_kw), CX_DOC_TR_WRITE},
    {"_write_nopause", (PyCFunction)Transport__write_nopause, METH_O,
     CX_DOC_SIG("_write_nopause($self, data, /)", "")},
#if PY_VERSION_HEX >= 0x030C0000
    {"_write_views", (PyCFunction)(void (*)(void))Stream__write_views,
     METH_FASTCALL, CX_DOC_SIG("_write_views($self, views, pause, /)", "")},
#endif
    {"write_eof", (PyCFunction)Transport_write_eof, METH_NOARGS,
     CX_DOC_TR_WRITE_EOF},
    {"can_write_eof", (PyCFunction)Transport_can_write_eof, METH_NOARGS,
     CX_DOC_TR_CAN_WRITE_EOF},
    {"_read_ready", (PyCFunction)Transport__read_ready, METH_NOARGS,
     CX_DOC_TR_READ_READY},
    {"_write_ready", (PyCFunction)Transport__write_ready, METH_NOARGS,
     CX_DOC_TR_WRITE_READY},
    {"_make_empty_waiter", (PyCFunction)Stream__make_empty_waiter,
     METH_NOARGS, CX_DOC_SIG("_make_empty_waiter($self, /)", "")},
    {"_reset_empty_waiter", (PyCFunction)Stream__reset_empty_waiter,
     METH_NOARGS, CX_DOC_SIG("_reset_empty_waiter($self, /)", "")},
    {NULL, NULL},
};

static PyGetSetDef Stream_getset[] = {
    {"_buffer", (getter)cx_stream_get_buffer, NULL, NULL, NULL},
    {"_empty_waiter", (getter)Stream_get_empty_waiter, NULL, NULL, NULL},
    {NULL},
};

static PyType_Slot Stream_slots[] = {
    {Py_tp_new, Stream_new},
    {Py_tp_traverse, Stream_traverse},
    {Py_tp_clear, Stream_clear},
    {Py_tp_methods, Stream_methods},
    {Py_tp_getset, Stream_getset},
    {Py_tp_doc, CX_DOC_SIG("SocketTransport(loop, sock, protocol, "
                           "extra=None, server=None)",
                           "A stream transport over a connected socket "
                           "(asyncio's _SelectorSocketTransport).")},
    {0, NULL},
};

static PyType_Spec Stream_spec = {
    .name = "casyncio._core.SocketTransport",
    .basicsize = sizeof(StreamObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = Stream_slots,
};

int
cx_stream_setup(PyObject *module)
{
    cx_state *st = PyModule_GetState(module);
    st->SocketTransportType = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &Stream_spec, (PyObject *)st->TransportType);
    if (st->SocketTransportType == NULL) {
        return -1;
    }
    return PyModule_AddType(module, st->SocketTransportType);
}
