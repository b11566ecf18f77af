/* asyncio.StreamReaderProtocol.data_received in C (readerproto.c).
 *
 * asyncio's streams (open_connection, start_server) put a
 * StreamReaderProtocol on the transport; its data_received() calls
 * StreamReader.feed_data(), which appends to the reader's bytearray and
 * wakes the task waiting in read().  Four Python frames and a bytes object
 * per read: the transports (stream.c, and the TLS app side in tls.c) do the
 * same work in C from their receive buffer, when the protocol and its reader
 * are exactly asyncio's classes, unmodified, and the instance overrides
 * none of the methods involved.  Anything else takes the generic call.
 * Not while a tracer, profiler or sys.monitoring tool watches (monitor.h). */
#ifndef CX_READERPROTO_H
#define CX_READERPROTO_H

#include "Python.h"
#include "state.h"

int cx_readerproto_setup(PyObject *module);

/* Might `protocol` be fed in C (exactly asyncio's StreamReaderProtocol)?
 * Cheap; the full checks are cx_readerproto_prepare's. */
static inline int
cx_readerproto_check(cx_state *st, PyObject *protocol)
{
    return Py_IS_TYPE(protocol, (PyTypeObject *)st->asyncio_SRProtocol)
           && st->rp_enabled;
}

/* A read's destination, between cx_readerproto_prepare and
 * cx_readerproto_feed: the reader and its `_buffer` (new references). */
typedef struct {
    PyObject *reader;
    PyObject *buffer;
    Py_ssize_t size;        /* buffer's size before cx_readerproto_reserve */
} cx_readerproto_dest;

/* Before a read for `protocol`: may its bytes be fed in C?  1 and *feed
 * filled, or 0 (the generic data_received call; *feed empty, no exception
 * set).  Its checks can run Python code in contrived cases (a descriptor
 * or a hash collision in an instance dict), so a transport calls it
 * before recv() into the shared receive buffer, never between the recv()
 * and the copy. */
int cx_readerproto_prepare(cx_state *st, PyObject *protocol,
                           cx_readerproto_dest *feed);

/* protocol.data_received(bytes(buf[:n])), n > 0, for a prepared feed: the
 * copy into the reader's buffer first (no Python code before it), then
 * the rest of feed_data.  Releases *feed.  1, or -1 with the call's
 * exception set. */
int cx_readerproto_feed(cx_state *st, cx_readerproto_dest *feed,
                        const char *buf, Py_ssize_t n);

/* For a read straight into the reader's buffer (bulk transfers): the
 * buffer grown by `room` bytes, the address of that free tail; NULL (no
 * exception set) when it cannot be (a memoryview holds it, as extend
 * would find; the kernel's copy there would be copy.h's slow case; no
 * memory): the caller reads into its receive buffer and feeds from it.
 * No Python code runs.  After the recv() of n bytes into the tail,
 * cx_readerproto_commit gives the buffer its old size plus n and, when
 * n > 0, does the rest of feed_data as cx_readerproto_feed; it releases
 * *feed.  1 (fed), 0 (n <= 0: nothing fed), or -1 with an exception. */
char *cx_readerproto_reserve(cx_readerproto_dest *feed, Py_ssize_t room);
int cx_readerproto_commit(cx_state *st, cx_readerproto_dest *feed,
                          Py_ssize_t n);
/* After cx_readerproto_reserve: the free tail grown to `room` bytes, what
 * was written into it kept (tls.c decrypts more than it reserved for).
 * The tail's new address, or NULL with an exception set; commit or
 * release *feed as after reserve. */
char *cx_readerproto_regrow(cx_readerproto_dest *feed, Py_ssize_t room);

/* A prepared feed whose read brought no bytes. */
void cx_readerproto_release(cx_readerproto_dest *feed);

#endif /* CX_READERPROTO_H */
