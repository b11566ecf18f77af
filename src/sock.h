/* The loop's low-level socket operations (sock.c): loop.sock_recv() and
 * friends.  Exposed to Python as _core._sock_* functions, called by
 * python/casyncio/_sock.py. */
#ifndef CX_SOCK_H
#define CX_SOCK_H

#include "Python.h"
#include <sys/socket.h>

/* Build the SockOp type and add the _sock_* functions.  0 or -1. */
int cx_sock_setup(PyObject *module);

/* The socket module's address conversions (makesockaddr, getsockaddrarg)
 * for AF_INET, AF_INET6 and AF_UNIX, in C.  To Python: (host, port),
 * (host, port, flowinfo, scope_id), a path str, abstract bytes or None;
 * new reference or NULL.  From Python: 1 and *ss, *len set; or 0 (nothing
 * set) when the socket module must parse it (a name to resolve, a zone
 * index, a bad port or path: its own errors). */
PyObject *cx_sock_addr_to_py(const struct sockaddr_storage *ss,
                             socklen_t len);
int cx_sock_addr_from_py(int family, PyObject *addr,
                         struct sockaddr_storage *ss, socklen_t *len);

#endif /* CX_SOCK_H */
