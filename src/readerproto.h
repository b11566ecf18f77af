/* asyncio.StreamReaderProtocol.data_received in C (readerproto.c).
 *
 * asyncio's streams (open_connection, start_server) put a
 * StreamReaderProtocol on the transport; its data_received() calls
 * StreamReader.feed_data(), which appends to the reader's bytearray and
 * wakes the task waiting in read().  Four Python frames and a bytes object
 * per read: the transports (stream.c, and the TLS app side in tls.c) do the
 * same work in C from their receive buffer, when the protocol and its reader
 * are exactly asyncio's classes, unmodified, and the instance overrides
 * none of the methods involved.  Anything else takes the generic call. */
#ifndef CX_READERPROTO_H
#define CX_READERPROTO_H

#include "Python.h"
#include "state.h"

int cx_readerproto_setup(PyObject *module);

/* Might `protocol` be fed by cx_readerproto_feed (exactly asyncio's
 * StreamReaderProtocol)?  Cheap; the full checks are in the feed. */
static inline int
cx_readerproto_check(cx_state *st, PyObject *protocol)
{
    return Py_IS_TYPE(protocol, (PyTypeObject *)st->asyncio_SRProtocol)
           && st->rp_enabled;
}

/* protocol.data_received(bytes(buf[:n])), n > 0.  1: done in C; 0: not
 * taken, nothing changed and no exception set (the caller makes the
 * generic call); -1: the call's exception is set.  buf is read before any
 * Python code can run. */
int cx_readerproto_feed(cx_state *st, PyObject *protocol, const char *buf,
                        Py_ssize_t n);

#endif /* CX_READERPROTO_H */
