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

int cx_stream_setup(PyObject *module);

#endif /* CX_STREAM_H */
