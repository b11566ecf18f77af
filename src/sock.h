/* The loop's low-level socket operations (sock.c): loop.sock_recv() and
 * friends.  Exposed to Python as _core._sock_* functions, called by
 * python/casyncio/_sock.py. */
#ifndef CX_SOCK_H
#define CX_SOCK_H

#include "Python.h"

/* Build the SockOp type and add the _sock_* functions.  0 or -1. */
int cx_sock_setup(PyObject *module);

#endif /* CX_SOCK_H */
