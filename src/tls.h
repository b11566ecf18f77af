/* SSLProtocolBase (tls.c): the data path of asyncio's sslproto.SSLProtocol
 * in C.  casyncio._tls.SSLProtocol derives from it and from asyncio's
 * SSLProtocol: the C base's methods (feeding the incoming BIO, the WRAPPED
 * read loop, the app write path, flow control) win in the MRO; handshake,
 * shutdown, timeouts, errors and the app transport stay asyncio's Python.
 * The hot attributes asyncio's code reads and writes (_state, _sslobj,
 * _incoming, _outgoing, _transport, _app_protocol, _write_backlog, the
 * flow-control flags and limits) are C fields behind descriptors of the
 * same names, so both halves see one state. */
#ifndef CX_TLS_H
#define CX_TLS_H

#include "Python.h"
#include "state.h"

int cx_tls_setup(PyObject *module);

/* Is protocol one of ours whose get_buffer / buffer_updated are the C
 * ones (then the stream transport may call cx_tls_feed instead)?  0/1.
 * The transport reaches both through st->transport_fed_check and
 * st->transport_feed, set by cx_tls_setup: tls.c calls the stream
 * transport (cx_stream_write), never the other way. */
int cx_tls_is_fast(cx_state *st, PyObject *protocol);

/* buffer_updated() for n bytes received into buf (the transport's receive
 * buffer): write them into the incoming BIO, then run the state's step.
 * 0 or -1. */
int cx_tls_feed(PyObject *protocol, const char *buf, Py_ssize_t n);

#endif /* CX_TLS_H */
