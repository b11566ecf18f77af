/* The fd transports' common part (transport.c): asyncio's
 * selector_events._SelectorTransport in C, as the base type
 * casyncio._core._Transport (deriving from asyncio's _FlowControlMixin, as
 * _SelectorTransport does, so isinstance(t, asyncio.Transport) holds and
 * loop.sendfile()'s fallback takes our transports; not instantiable).  Its subclasses add reading and writing: SocketTransport
 * (stream.c) for stream sockets, DatagramTransport (dgram.c) for datagram
 * sockets, ReadPipeTransport and WritePipeTransport (pipe.c) for pipes
 * (tr_sock is then the pipe's file object).  They reuse its fields,
 * closing, flow control, protocol callbacks, extra info and the methods
 * the base type defines. */
#ifndef CX_TRANSPORT_H
#define CX_TRANSPORT_H

#include "Python.h"
#include <errno.h>
#include "state.h"
#include "loop.h"

#define CX_LOG_THRESHOLD_FOR_CONNLOST_WRITES 5
#define CX_TRANSPORT_MAX_SIZE (256 * 1024)   /* asyncio's max_size */

/* _FlowControlMixin's fields are BaseTransport's slot `_extra` then the
 * mixin's four slots: tr_extra must come first to be that slot (so
 * BaseTransport's `_extra` descriptor reads it), then room for the four,
 * which our own descriptors of the same names (_loop, _protocol_paused,
 * _high_water, _low_water) shadow.  A subclass's struct starts with this
 * one. */
#define CX_TRANSPORT_MIXIN_SLOTS 4
typedef struct cx_transport cx_transport;
struct cx_transport {
    PyObject_HEAD
    PyObject *tr_extra;           /* dict; asyncio's _extra slot */
    PyObject *tr_mixin_slots[CX_TRANSPORT_MIXIN_SLOTS];  /* unused, NULL */
    cx_state *tr_st;
    /* A subclass's addition to _call_connection_lost, run after it
     * succeeded (asyncio's override in _SelectorSocketTransport), or
     * NULL.  0 or -1. */
    int (*tr_on_lost)(cx_transport *tr);
    LoopObject *tr_loop;          /* NULL after connection_lost */
    PyObject *tr_sock;            /* NULL after connection_lost */
    PyObject *tr_protocol;
    PyObject *tr_server;          /* or NULL */
    PyObject *tr_read_handle;     /* Handle(self._read_ready) */
    PyObject *tr_write_handle;    /* Handle(self._write_ready) */
    PyObject *tr_context;         /* 3.15: the context the protocol's
                                     callbacks run in, or NULL: each
                                     scheduled callback, and the reader
                                     and writer each time they are put
                                     into the poller, take a copy of
                                     the current one (asyncio's
                                     Handles) */
    PyObject *tr_wbuf;            /* list of queued items; those before
                                     wbuf_head are sent */
    Py_ssize_t tr_wbuf_head;
    Py_ssize_t tr_wbuf_off;       /* stream: bytes of wbuf[head] sent */
    Py_ssize_t tr_wbuf_size;      /* bytes queued, not yet sent */
    Py_ssize_t tr_high_water;
    Py_ssize_t tr_low_water;
    PyObject *weakreflist;
    PyObject *tr_dict;
    struct cx_uring_rx *tr_rx;    /* a stream socket's io_uring receive
                                     state (uring.h), or NULL: the
                                     reader is epoll's */
    int tr_fd;
    int tr_conn_lost;
    char tr_closing;
    char tr_paused;               /* reading paused */
    char tr_eof;                  /* write_eof() called */
    char tr_protocol_paused;      /* pause_writing() called */
    char tr_protocol_connected;
    char tr_buffered;             /* protocol is a BufferedProtocol; 2:
                                     our SSLProtocol (cx_tls_is_fast) */
    char tr_reader_on;            /* read_handle is in the poller */
    char tr_writer_on;
};

int cx_transport_setup(PyObject *module);

/* Schedule fn(arg1, arg2) on the transport's loop, in its context if it
 * has one (asyncio 3.15's _SelectorTransport._call_soon), else in a copy
 * of the current context, as asyncio's call_soon() (connection_made in
 * the context the transport was made in, connection_lost in the one that
 * closed it).  Not on a per-message path. */
int cx_transport_push(cx_transport *tr, cx_cfunc fn, PyObject *arg1,
                      PyObject *arg2);

/* The receive buffer (CX_TRANSPORT_MAX_SIZE bytes) every transport of this
 * interpreter reads into: the bytes are copied out before any Python code
 * runs, so one buffer serves all.  Made on first use; NULL with
 * MemoryError.  Freed by cx_transport_free_state (module_free). */
char *cx_transport_rbuf(cx_state *st);
void cx_transport_free_state(cx_state *st);

/* recv(fd, view->buf, view->len, flags) into a caller's buffer (a
 * BufferedProtocol's, sock_recv_into's), by way of the receive buffer
 * when the kernel's copy straight into a bytearray would be slow
 * (copy.h).  As recv(): bytes or -1 and errno.  No Python code runs. */
ssize_t cx_transport_recv_into(cx_state *st, int fd, Py_buffer *view,
                               int flags);

/* bytes(buf[:n]) for a protocol's data_received(), and its release once
 * the call returned (steals data; *cap as cx_transport_bytes set it).
 * Past obmalloc's limit a bytes object is a malloc() and a free() that
 * cost more than the rest of the read path, so the last one nothing kept
 * is refilled for the next read.  New reference or NULL. */
PyObject *cx_transport_bytes(cx_state *st, const char *buf, Py_ssize_t n,
                             Py_ssize_t *cap);
void cx_transport_bytes_done(cx_state *st, PyObject *data, Py_ssize_t cap);

/* The same kept object for a reader that fills it in place (TLS's
 * decryption): a bytes object whose first `need` bytes may be written,
 * *cap its capacity (the kept one when large enough).  Once n bytes are
 * in, cx_transport_bytes_fit gives it size n: in place when n is at least
 * half its capacity, else as a new exact copy, the large one kept for the
 * next read (*data and *cap updated; 0, or -1 with *data cleared).
 * cx_transport_bytes_done releases the result. */
PyObject *cx_transport_bytes_take(cx_state *st, Py_ssize_t need,
                                  Py_ssize_t *cap);
int cx_transport_bytes_fit(cx_state *st, PyObject **data, Py_ssize_t n,
                           Py_ssize_t *cap);

/* The common part of a subclass's tp_new: tr is freshly allocated; sets
 * the fields from the arguments (extra: a dict or None; server: or None)
 * and makes the reader and writer Handles of self._read_ready and
 * self._write_ready.  0 or -1 (the caller drops tr). */
int cx_transport_init(cx_transport *tr, PyObject *loop, PyObject *sock,
                      PyObject *protocol, PyObject *extra, PyObject *server);
/* tp_alloc then cx_transport_init: a new transport of type tp with no
 * fields of its own, or NULL. */
cx_transport *cx_transport_new(PyTypeObject *tp, PyObject *loop,
                               PyObject *sock, PyObject *protocol,
                               PyObject *extra, PyObject *server);
int cx_transport_traverse(cx_transport *tr, visitproc visit, void *arg);
int cx_transport_clear(cx_transport *tr);

static inline int
cx_errno_would_block(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

static inline int
cx_transport_debug(cx_transport *tr)
{
    return tr->tr_loop != NULL && tr->tr_loop->loop_debug;
}

/* Something is queued (asyncio's `if self._buffer`).  tr_wbuf_size is
 * asyncio's _buffer_size, which for a datagram transport counts len(data)
 * in and len(bytes(data)) out (a memoryview of wider items, or of more
 * dimensions, leaves it off zero): the queue, not the size, says when it
 * is empty. */
static inline int
cx_transport_queued(cx_transport *tr)
{
    return tr->tr_wbuf != NULL
           && tr->tr_wbuf_head < PyList_GET_SIZE(tr->tr_wbuf);
}

/* Put the reader (which=0) or writer Handle into the poller, or take it
 * out (on=0).  0 or -1. */
int cx_transport_watch(cx_transport *tr, int which, int on);
/* Empty the write queue. */
void cx_transport_clear_wbuf(cx_transport *tr);
/* logger.<level>(*args, **kwargs); steals args (NULL: the error of
 * building them).  0, or -1 for SystemExit/KeyboardInterrupt. */
int cx_transport_log(cx_transport *tr, const char *level, PyObject *args,
                     PyObject *kwargs);
/* loop.call_exception_handler() with message, exc (borrowed), transport
 * and protocol.  0, or -1 for SystemExit/KeyboardInterrupt. */
int cx_transport_report(cx_transport *tr, const char *message,
                        PyObject *exc);
/* _fatal_error's report: exc (borrowed) logged in debug mode if quiet,
 * else given to the exception handler.  0, or -1 for SystemExit /
 * KeyboardInterrupt. */
int cx_transport_report_fatal(cx_transport *tr, const char *message,
                              PyObject *exc, int quiet);
/* asyncio's _force_close(exc) (exc borrowed, NULL: None) and
 * _fatal_error(current exception, message).  0 or -1. */
int cx_transport_force_close(cx_transport *tr, PyObject *exc);
int cx_transport_fatal_error(cx_transport *tr, const char *message);
/* _call_connection_lost(exc), also a CX_ENTRY_CFUNC. */
int cx_transport_call_connection_lost(PyObject *self, PyObject *exc);
/* _maybe_pause_protocol / _maybe_resume_protocol.  0 or -1. */
int cx_transport_maybe_pause(cx_transport *tr);
int cx_transport_maybe_resume(cx_transport *tr);
/* close().  New reference to None, or NULL. */
PyObject *cx_transport_close(cx_transport *tr);

#endif /* CX_TRANSPORT_H */
