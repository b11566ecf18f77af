/* SocketTransport (stream.c): asyncio's _SelectorSocketTransport in C, for
 * connected stream sockets (TCP, Unix), a subclass of _Transport
 * (transport.h).  Cold paths (repr, __del__,
 * set_write_buffer_limits, writelines) live in a Python subclass,
 * casyncio._net._SocketTransport.  _Transport derives from
 * asyncio.transports._FlowControlMixin, as asyncio's _SelectorTransport,
 * so isinstance(t, asyncio.Transport) holds and loop.sendfile()'s
 * fallback takes it: 3.11's Transport is no ABC, so Transport.register()
 * is not available. */
#ifndef CX_STREAM_H
#define CX_STREAM_H

#include "Python.h"
#include "state.h"
#include "transport.h"
#include <sys/uio.h>

int cx_stream_setup(PyObject *module);

/* ---- the write queue, shared with the write pipe (pipe.c) ---- */

#define CX_STREAM_IOV_MAX 512

/* tr_wbuf is a list of items, those before tr_wbuf_head sent, tr_wbuf_off
 * bytes of tr_wbuf[head] sent.  An item is a bytes object, or, on 3.12+
 * stream sockets, what asyncio 3.12+ queues without a copy: our
 * memoryview of the bytearray or memoryview write() was given (an export
 * held while queued, as asyncio's memoryview(data)[n:]: the object can
 * change its bytes, which are read at each flush as asyncio's sendmsg()
 * reads them, but not its size, which tr_wbuf_size counts).  The inline
 * functions below are on the stream's hot path (its _write_ready).
 *
 * write()'s common part once its checks are done, with write(): when
 * nothing is queued, write view at once; queue what is left (exact bytes
 * whole, other buffers as above or as a copy), registering the writer
 * when the queue was empty; then _maybe_pause_protocol.  0; 1 when the
 * immediate write failed (OSError set: the caller's fatal error); -1 on
 * error. */
int cx_stream_write_or_queue(cx_transport *tr, PyObject *data,
                             Py_buffer *view);

/* A queued item's bytes as they are now (*len set), after the first off
 * of them; NULL when it is a memoryview that is not C-contiguous (3.12+'s
 * write() queues one as is, on which asyncio's sendmsg() fails). */
static inline char *
cx_stream_item(PyObject *item, Py_ssize_t off, Py_ssize_t *len)
{
    char *p;
    if (PyBytes_Check(item)) {
        p = PyBytes_AS_STRING(item);
        *len = PyBytes_GET_SIZE(item);
    }
    else {
        Py_buffer *b = PyMemoryView_GET_BUFFER(item);
        if (!PyBuffer_IsContiguous(b, 'C')) {
            return NULL;
        }
        p = b->buf;
        *len = b->len;
    }
    assert(off <= *len);    /* items cannot shrink: bytes, or exported */
    *len -= off;
    return p + off;
}

/* Drop n sent bytes from the front of the queue (n from one sendmsg() of
 * cx_stream_fill_iov's iov: at most CX_STREAM_IOV_MAX items).  A sent item
 * is released at once, its slot left None until the list is compacted:
 * kept, a large bytes would hold its memory while later items wait, and
 * a memoryview (3.12+) its export of the caller's buffer, which asyncio
 * drops once sent.  They are released once the queue's state is updated
 * (a memoryview's release can run Python code, which may write or close). */
static inline void
cx_stream_consume(cx_transport *tr, Py_ssize_t n)
{
    PyObject *list = tr->tr_wbuf;
    PyObject *sent[CX_STREAM_IOV_MAX];
    int nsent = 0;
    tr->tr_wbuf_size -= n;
    while (n > 0) {
        Py_ssize_t left = 0;
        PyObject *item = PyList_GET_ITEM(list, tr->tr_wbuf_head);
        (void)cx_stream_item(item, tr->tr_wbuf_off, &left);
        if (n < left) {
            tr->tr_wbuf_off += n;
            break;
        }
        n -= left;
        if (nsent < CX_STREAM_IOV_MAX) {
            sent[nsent++] = item;
            PyList_SET_ITEM(list, tr->tr_wbuf_head, Py_NewRef(Py_None));
        }
        tr->tr_wbuf_off = 0;
        tr->tr_wbuf_head++;
    }
    if (tr->tr_wbuf_head == PyList_GET_SIZE(list)) {
        cx_transport_clear_wbuf(tr);
    }
    else if (tr->tr_wbuf_head >= 64
             && tr->tr_wbuf_head * 2 >= PyList_GET_SIZE(list)) {
        if (PyList_SetSlice(list, 0, tr->tr_wbuf_head, NULL) == 0) {
            tr->tr_wbuf_head = 0;
        }
        else {
            PyErr_Clear();      /* compacted at a later send */
        }
    }
    while (nsent > 0) {
        Py_DECREF(sent[--nsent]);
    }
}

/* Point iov (CX_STREAM_IOV_MAX entries) at the unsent queue; the count.
 * -1 when an item within reach is a non-contiguous memoryview (see
 * cx_stream_item). */
static inline int
cx_stream_fill_iov(cx_transport *tr, struct iovec *iov)
{
    PyObject *list = tr->tr_wbuf;
    int cnt = 0;
    for (Py_ssize_t i = tr->tr_wbuf_head;
         i < PyList_GET_SIZE(list) && cnt < CX_STREAM_IOV_MAX; i++, cnt++) {
        Py_ssize_t len;
        char *p = cx_stream_item(PyList_GET_ITEM(list, i),
                                 i == tr->tr_wbuf_head ? tr->tr_wbuf_off : 0,
                                 &len);
        if (p == NULL) {
            return -1;
        }
        iov[cnt].iov_base = p;
        iov[cnt].iov_len = (size_t)len;
    }
    return cnt;
}

/* SocketTransport.write(data), for a caller in C (tls.c) holding a
 * SocketTransport whose write() is not overridden.  New reference to None,
 * or NULL. */
PyObject *cx_stream_write(cx_transport *tr, PyObject *data);

/* The `_buffer` getter: a bytearray copy of what is queued. */
PyObject *cx_stream_get_buffer(cx_transport *tr, void *c);

#endif /* CX_STREAM_H */
