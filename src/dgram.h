/* DatagramTransport (dgram.c): asyncio's _SelectorDatagramTransport in C,
 * for UDP and Unix datagram sockets; a subclass of _Transport
 * (transport.h).  Cold paths (repr, __del__, set_write_buffer_limits)
 * live in a Python subclass, casyncio._udp._DatagramTransport, and
 * create_datagram_endpoint is Python (casyncio._udp.UDPMixin). */
#ifndef CX_DGRAM_H
#define CX_DGRAM_H

#include "Python.h"

int cx_dgram_setup(PyObject *module);

#endif /* CX_DGRAM_H */
