/* The loop's low-level socket operations: the hot half of loop.sock_recv()
 * and friends (asyncio.selector_events).  The coroutines themselves, their
 * argument checks and address resolution are Python (_sock.py); they call
 * the _core._sock_* functions here, which try the operation at once and
 * return its result, or -- when it would block -- a pending Future to await.
 *
 * While waiting, a SockOp sits in the fd's reader or writer slot as a C
 * watcher (poller.h): readiness runs sockop_ready() from the ready queue
 * with no Handle, retries the operation and completes the Future.  The
 * SockOp is also the Future's done callback: when the Future is cancelled
 * it leaves the poller, as asyncio's _sock_read_done/_sock_write_done.
 *
 * recv, recv_into and sendall on an exact, non-blocking socket.socket go
 * straight to the fd (no Python method call), and so do recvfrom,
 * recvfrom_into and sendto on an AF_INET/AF_INET6 one with a numeric
 * address; everything else calls the socket's Python methods, exactly what
 * asyncio calls, so a socket-like object or a blocking socket behaves as in
 * asyncio. */
#include "internal.h"
#include <errno.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

/* The head of CPython's socket object (Modules/socketmodule.h,
 * PySocketSockObject, the same from 3.7 through 3.13).  It is private:
 * cx_sock_setup checks it against a real socket and leaves the direct
 * syscalls off (st->sock_layout_ok) if it differs. */
typedef struct {
    PyObject_HEAD
    int sock_fd;
    int sock_family;
    int sock_type;
    int sock_proto;
    PyObject *(*errorhandler)(void);
    int64_t sock_timeout;   /* _PyTime_t in ns; 0: non-blocking */
} cx_pysock;

enum {
    OP_RECV, OP_RECV_INTO, OP_RECVFROM, OP_RECVFROM_INTO,
    OP_SENDALL, OP_SENDTO, OP_CONNECT, OP_ACCEPT
};

/* One operation: what the first attempt and each retry need.  In a SockOp
 * the references are owned; on the stack (first attempt) borrowed. */
typedef struct {
    int kind;
    PyObject *sock;
    PyObject *arg1;     /* recv(from): bufsize; recv(from)_into: buffer;
                           sendall: memoryview(data) (slow path only);
                           sendto: data; connect: address */
    PyObject *arg2;     /* recvfrom_into: nbytes; sendto: address */
    Py_ssize_t n;       /* recv: bufsize; sendall: bytes sent so far */
    Py_buffer view;     /* sendall, direct path: the data (view.obj NULL
                           otherwise), held until done like asyncio's
                           memoryview */
} sock_req;

typedef struct {
    cx_cwatcher op_w;           /* first: the poller's view of us */
    LoopObject *op_loop;
    PyObject *op_fut;           /* our exact Future */
    sock_req op_req;
    int op_fd;
    int op_which;               /* 0: reader, 1: writer */
} SockOpObject;

/* An exact socket.socket in non-blocking mode, whose fd we may use
 * directly (with MSG_DONTWAIT, so a socket turned blocking meanwhile never
 * blocks the loop with the GIL held). */
static inline int
sock_is_direct(cx_state *st, PyObject *sock)
{
    return st->sock_layout_ok
        && Py_IS_TYPE(sock, (PyTypeObject *)st->socket_socket)
        && ((cx_pysock *)sock)->sock_timeout == 0;
}

/* The current exception is BlockingIOError or InterruptedError: clear it
 * and return 1 (try again when ready); else 0. */
static int
sock_err_would_block(void)
{
    if (PyErr_ExceptionMatches(PyExc_BlockingIOError)
        || PyErr_ExceptionMatches(PyExc_InterruptedError)) {
        PyErr_Clear();
        return 1;
    }
    return 0;
}

/* errno after a failed syscall: 0 would block, -1 error set; EINTR runs
 * the signal handlers and returns 1 (retry), as the socket module does
 * (PEP 475). */
static int
sock_errno(void)
{
    if (errno == EINTR) {
        return PyErr_CheckSignals() < 0 ? -1 : 1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return 0;
    }
    PyErr_SetFromErrno(PyExc_OSError);
    return -1;
}

/* Result of a Python method call: 1 (*result set), 0 would block, -1. */
static int
sock_call_result(PyObject *r, PyObject **result)
{
    if (r == NULL) {
        return sock_err_would_block() ? 0 : -1;
    }
    *result = r;
    return 1;
}

/* recv() on the fd, retried on EINTR: 1 and *k bytes (0 at EOF), 0 would
 * block, -1 error set. */
static int
sock_recv_retrying(int fd, char *buf, Py_ssize_t n, ssize_t *k)
{
    while ((*k = recv(fd, buf, (size_t)n, MSG_DONTWAIT)) < 0) {
        int rc = sock_errno();
        if (rc <= 0) {
            return rc;
        }
    }
    return 1;
}

/* recv(n) into the transports' receive buffer, then a bytes object of the
 * size received: no allocation of n bytes shrunk afterwards, and the
 * kernel's copy is never copy.h's slow case.  (If that allocation fails,
 * the bytes received are lost with the MemoryError.)  As
 * sock_recv_direct. */
static int
sock_recv_buffered(char *rbuf, int fd, Py_ssize_t n, PyObject **result)
{
    ssize_t k;
    int rc = sock_recv_retrying(fd, rbuf, n, &k);
    if (rc <= 0) {
        return rc;
    }
    *result = PyBytes_FromStringAndSize(NULL, k);
    if (*result == NULL) {
        return -1;
    }
    cx_copy(PyBytes_AS_STRING(*result), rbuf, (size_t)k);
    return 1;
}

static int
sock_recv_direct(cx_state *st, int fd, Py_ssize_t n, PyObject **result)
{
    if (n <= CX_TRANSPORT_MAX_SIZE) {
        char *rbuf = cx_transport_rbuf(st);
        if (rbuf != NULL) {
            return sock_recv_buffered(rbuf, fd, n, result);
        }
        PyErr_Clear();      /* no receive buffer: a bytes object of n */
    }
    PyObject *b = PyBytes_FromStringAndSize(NULL, n);
    if (b == NULL) {
        return -1;
    }
    ssize_t k;
    int rc = sock_recv_retrying(fd, PyBytes_AS_STRING(b), n, &k);
    if (rc <= 0) {
        Py_DECREF(b);
        return rc;
    }
    if (k != n && _PyBytes_Resize(&b, k) < 0) {
        return -1;
    }
    *result = b;
    return 1;
}

/* recv_into on the fd; -2 (nothing set) if buf is not a writable buffer:
 * the caller then lets sock.recv_into() raise asyncio's exact error. */
static int
sock_recv_into_direct(cx_state *st, int fd, PyObject *buf,
                      PyObject **result)
{
    Py_buffer v;
    if (PyObject_GetBuffer(buf, &v, PyBUF_WRITABLE) < 0) {
        PyErr_Clear();
        return -2;
    }
    ssize_t k;
    int rc = 1;
    while ((k = cx_transport_recv_into(st, fd, &v, MSG_DONTWAIT)) < 0) {
        rc = sock_errno();
        if (rc <= 0) {
            break;
        }
    }
    PyBuffer_Release(&v);
    if (k < 0) {
        return rc;
    }
    *result = PyLong_FromSsize_t(k);
    return *result ? 1 : -1;
}

/* Send view[r->n:] on the fd until done or it would block.  1 all sent,
 * 0 would block, -1 error.  At least one send(), even of nothing, so a
 * closed socket fails as asyncio's sock.send(b'') does. */
static int
sock_send_direct(int fd, sock_req *r)
{
    for (;;) {
        ssize_t k = send(fd, (char *)r->view.buf + r->n,
                         (size_t)(r->view.len - r->n),
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k < 0) {
            int rc = sock_errno();
            if (rc <= 0) {
                return rc;
            }
            continue;               /* EINTR */
        }
        r->n += k;
        if (r->n >= r->view.len) {
            return 1;
        }
    }
}

/* One retry of sendall on the slow path: sock.send(view[n:]) as asyncio's
 * _sock_sendall.  1 all sent, 0 not yet, -1 error. */
static int
sock_sendall_retry_slow(sock_req *r)
{
    Py_ssize_t len = PyObject_Size(r->arg1);
    if (len < 0) {
        return -1;
    }
    PyObject *rest = PySequence_GetSlice(r->arg1, r->n, len);
    if (rest == NULL) {
        return -1;
    }
    PyObject *res = PyObject_CallMethod(r->sock, "send", "(O)", rest);
    Py_DECREF(rest);
    if (res == NULL) {
        return sock_err_would_block() ? 0 : -1;
    }
    Py_ssize_t k = PyNumber_AsSsize_t(res, PyExc_OverflowError);
    Py_DECREF(res);
    if (k == -1 && PyErr_Occurred()) {
        return -1;
    }
    r->n += k;
    return r->n == len;
}

/* SO_ERROR of a connecting socket (asyncio's _sock_connect_cb).  1 done
 * (*result None), 0 not yet, -1 error set (the connect failed). */
static int
sock_connect_check(cx_state *st, sock_req *r, int fd, PyObject **result)
{
    long err;
    if (sock_is_direct(st, r->sock)) {
        int e = 0;
        socklen_t len = sizeof(e);
        while (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0) {
            int rc = sock_errno();
            if (rc <= 0) {
                return rc;
            }
        }
        err = e;
    }
    else {
        PyObject *v = PyObject_CallMethod(r->sock, "getsockopt", "ii",
                                          SOL_SOCKET, SO_ERROR);
        if (v == NULL) {
            return sock_err_would_block() ? 0 : -1;
        }
        err = PyLong_AsLong(v);
        Py_DECREF(v);
        if (err == -1 && PyErr_Occurred()) {
            return -1;
        }
    }
    if (err != 0) {
        PyObject *exc = PyObject_CallFunction(
            PyExc_OSError, "lN", err,
            PyUnicode_FromFormat("Connect call failed %S", r->arg1));
        if (exc != NULL) {
            PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
            Py_DECREF(exc);
        }
        return -1;
    }
    *result = Py_NewRef(Py_None);
    return 1;
}

/* sock.accept(), then conn.setblocking(False): asyncio's _sock_accept. */
static int
sock_accept_try(sock_req *r, PyObject **result)
{
    PyObject *pair = PyObject_CallMethod(r->sock, "accept", NULL);
    if (pair == NULL) {
        return sock_err_would_block() ? 0 : -1;
    }
    PyObject *conn, *addr;
    if (!PyArg_ParseTuple(pair, "OO", &conn, &addr)) {
        Py_DECREF(pair);
        return -1;
    }
    PyObject *ok = PyObject_CallMethod(conn, "setblocking", "(O)", Py_False);
    if (ok == NULL) {
        Py_DECREF(pair);
        return sock_err_would_block() ? 0 : -1;
    }
    Py_DECREF(ok);
    *result = PyTuple_Pack(2, conn, addr);
    Py_DECREF(pair);
    return *result ? 1 : -1;
}

/* ---- datagrams on an AF_INET / AF_INET6 socket, on the fd ----
 * The socket module's own address conversions (makesockaddr and
 * getsockaddrarg), for the cases that need no name resolution; anything
 * else goes through the socket's Python methods. */

static int
sock_is_inet(PyObject *sock)
{
    int f = ((cx_pysock *)sock)->sock_family;
    return f == AF_INET || f == AF_INET6;
}

PyObject *
cx_sock_addr_to_py(const struct sockaddr_storage *ss, socklen_t len)
{
    char host[INET6_ADDRSTRLEN];
    if (len == 0) {
        Py_RETURN_NONE;
    }
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        return Py_BuildValue("(si)", host, ntohs(a->sin_port));
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        return Py_BuildValue("(siII)", host, ntohs(a->sin6_port),
                             (unsigned int)ntohl(a->sin6_flowinfo),
                             (unsigned int)a->sin6_scope_id);
    }
    if (ss->ss_family == AF_UNIX) {
        /* As the socket module: an unnamed peer is None, an abstract name
         * bytes, a path a str. */
        const struct sockaddr_un *a = (const struct sockaddr_un *)ss;
        size_t n = len - offsetof(struct sockaddr_un, sun_path);
        if (len <= offsetof(struct sockaddr_un, sun_path)) {
            Py_RETURN_NONE;
        }
        if (a->sun_path[0] == 0) {
            return PyBytes_FromStringAndSize(a->sun_path, (Py_ssize_t)n);
        }
        return PyUnicode_DecodeFSDefaultAndSize(
            a->sun_path, (Py_ssize_t)strnlen(a->sun_path, n));
    }
    errno = EAFNOSUPPORT;
    return PyErr_SetFromErrno(PyExc_OSError);
}

int
cx_sock_addr_from_py(int family, PyObject *addr,
                     struct sockaddr_storage *ss, socklen_t *len)
{
    if (family == AF_UNIX) {
        /* A str or bytes path, as the socket module's getsockaddrarg. */
        PyObject *path = PyUnicode_Check(addr)
            ? PyUnicode_EncodeFSDefault(addr)
            : PyBytes_CheckExact(addr) ? Py_NewRef(addr) : NULL;
        if (path == NULL) {
            PyErr_Clear();
            return 0;
        }
        struct sockaddr_un *a = (struct sockaddr_un *)ss;
        Py_ssize_t n = PyBytes_GET_SIZE(path);
        const char *p = PyBytes_AS_STRING(path);
        if (n == 0 || (size_t)n >= sizeof(a->sun_path)
            || (p[0] != 0 && memchr(p, 0, (size_t)n) != NULL)) {
            Py_DECREF(path);
            return 0;
        }
        memset(ss, 0, sizeof(*ss));
        a->sun_family = AF_UNIX;
        memcpy(a->sun_path, p, (size_t)n);
        *len = (socklen_t)(n + offsetof(struct sockaddr_un, sun_path));
        Py_DECREF(path);
        return 1;
    }
    if ((family != AF_INET && family != AF_INET6)
        || !PyTuple_CheckExact(addr) || PyTuple_GET_SIZE(addr) != 2) {
        return 0;
    }
    PyObject *h = PyTuple_GET_ITEM(addr, 0);
    PyObject *p = PyTuple_GET_ITEM(addr, 1);
    if (!PyUnicode_CheckExact(h) || !PyLong_CheckExact(p)) {
        return 0;
    }
    const char *host = PyUnicode_AsUTF8(h);
    long port = PyLong_AsLong(p);
    if (host == NULL || port < 0 || port > 65535) {
        PyErr_Clear();
        return 0;
    }
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
            return 0;
        }
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        *len = sizeof(*a);
    }
    else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
            return 0;
        }
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        *len = sizeof(*a);
    }
    return 1;
}

/* recvfrom(n) or recvfrom_into(buf, n) on the fd: into `into` (a writable
 * buffer object) or a new bytes.  -2 (nothing set) when the arguments are
 * not the plain case: the Python method then raises its own errors. */
static int
sock_recvfrom_direct(int fd, PyObject *into, PyObject *nobj,
                     PyObject **result)
{
    if (!PyLong_CheckExact(nobj)) {
        return -2;
    }
    Py_ssize_t n = PyLong_AsSsize_t(nobj);
    if (n < 0) {
        PyErr_Clear();
        return -2;
    }
    Py_buffer v = {.obj = NULL};
    PyObject *bytes = NULL;
    char *buf;
    if (into != NULL) {
        if (PyObject_GetBuffer(into, &v, PyBUF_WRITABLE) < 0) {
            PyErr_Clear();
            return -2;
        }
        if (n == 0) {
            n = v.len;
        }
        if (n > v.len) {
            PyBuffer_Release(&v);
            return -2;
        }
        buf = v.buf;
    }
    else {
        bytes = PyBytes_FromStringAndSize(NULL, n);
        if (bytes == NULL) {
            return -1;
        }
        buf = PyBytes_AS_STRING(bytes);
    }
    struct sockaddr_storage ss;
    socklen_t len;
    ssize_t k;
    int rc = 1;
    for (;;) {
        len = sizeof(ss);
        k = recvfrom(fd, buf, (size_t)n, MSG_DONTWAIT,
                     (struct sockaddr *)&ss, &len);
        if (k >= 0 || (rc = sock_errno()) <= 0) {
            break;
        }
    }
    if (v.obj != NULL) {
        PyBuffer_Release(&v);
    }
    if (k < 0) {
        Py_XDECREF(bytes);
        return rc;
    }
    PyObject *addr = cx_sock_addr_to_py(&ss, len);
    if (addr == NULL) {
        Py_XDECREF(bytes);
        return -1;
    }
    if (bytes != NULL) {
        if (k != n && _PyBytes_Resize(&bytes, k) < 0) {
            Py_DECREF(addr);
            return -1;
        }
        *result = PyTuple_Pack(2, bytes, addr);
        Py_DECREF(bytes);
    }
    else {
        *result = Py_BuildValue("(nO)", (Py_ssize_t)k, addr);
    }
    Py_DECREF(addr);
    return *result ? 1 : -1;
}

/* sendto(data, address) on the fd; -2 (nothing set) when data is not a
 * plain buffer or address needs the socket module.  Audited as
 * socket.sendto, as the socket module does. */
static int
sock_sendto_direct(int fd, PyObject *sock, PyObject *data, PyObject *addr,
                   PyObject **result)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (!cx_sock_addr_from_py(((cx_pysock *)sock)->sock_family, addr,
                              &ss, &len)) {
        return -2;
    }
    Py_buffer v;
    if (PyObject_GetBuffer(data, &v, PyBUF_SIMPLE) < 0) {
        PyErr_Clear();
        return -2;
    }
    if (PySys_Audit("socket.sendto", "OO", sock, addr) < 0) {
        PyBuffer_Release(&v);
        return -1;
    }
    ssize_t k;
    int rc = 1;
    while ((k = sendto(fd, v.buf, (size_t)v.len, MSG_DONTWAIT,
                       (struct sockaddr *)&ss, len)) < 0) {
        if ((rc = sock_errno()) <= 0) {
            break;
        }
    }
    PyBuffer_Release(&v);
    if (k < 0) {
        return rc;
    }
    *result = PyLong_FromSsize_t(k);
    return *result ? 1 : -1;
}

/* Try the operation once more (a retry when the fd is ready).  1 done
 * (*result: a new reference), 0 would block, -1 error set. */
static int
sock_retry(cx_state *st, sock_req *r, int fd, PyObject **result)
{
    int direct = sock_is_direct(st, r->sock);
    int rc;
    switch (r->kind) {
    case OP_RECV:
        if (direct && r->n >= 0) {
            return sock_recv_direct(st, fd, r->n, result);
        }
        return sock_call_result(
            PyObject_CallMethod(r->sock, "recv", "(O)", r->arg1), result);
    case OP_RECV_INTO:
        if (direct) {
            rc = sock_recv_into_direct(st, fd, r->arg1, result);
            if (rc != -2) {
                return rc;
            }
        }
        return sock_call_result(
            PyObject_CallMethod(r->sock, "recv_into", "(O)", r->arg1), result);
    case OP_RECVFROM:
        if (direct && sock_is_inet(r->sock)) {
            rc = sock_recvfrom_direct(fd, NULL, r->arg1, result);
            if (rc != -2) {
                return rc;
            }
        }
        return sock_call_result(
            PyObject_CallMethod(r->sock, "recvfrom", "(O)", r->arg1),
            result);
    case OP_RECVFROM_INTO:
        if (direct && sock_is_inet(r->sock)) {
            rc = sock_recvfrom_direct(fd, r->arg1, r->arg2, result);
            if (rc != -2) {
                return rc;
            }
        }
        return sock_call_result(
            PyObject_CallMethod(r->sock, "recvfrom_into", "OO", r->arg1,
                                r->arg2), result);
    case OP_SENDALL:
        rc = r->view.obj ? sock_send_direct(fd, r)
                         : sock_sendall_retry_slow(r);
        if (rc == 1) {
            *result = Py_NewRef(Py_None);
        }
        return rc;
    case OP_SENDTO:
        if (direct && sock_is_inet(r->sock)) {
            rc = sock_sendto_direct(fd, r->sock, r->arg1, r->arg2, result);
            if (rc != -2) {
                return rc;
            }
        }
        return sock_call_result(
            PyObject_CallMethod(r->sock, "sendto", "OiO", r->arg1, 0,
                                r->arg2), result);
    case OP_CONNECT:
        return sock_connect_check(st, r, fd, result);
    case OP_ACCEPT:
        return sock_accept_try(r, result);
    }
    Py_UNREACHABLE();
}

static void
sock_req_clear(sock_req *r)
{
    Py_CLEAR(r->sock);
    Py_CLEAR(r->arg1);
    Py_CLEAR(r->arg2);
    if (r->view.obj != NULL) {
        PyBuffer_Release(&r->view);
        r->view.obj = NULL;
    }
}

/* ---- SockOp: a pending operation, C watcher and done callback ---- */

/* Leave the poller (if still in our slot) and drop the held data.  The
 * caller holds a reference to op (the poller's may be the other one). */
static void
sockop_unwatch(SockOpObject *op)
{
    op->op_w.cw_cancelled = 1;
    LoopObject *lp = op->op_loop;
    if (cx_poller_get(&lp->loop_poller, op->op_fd, op->op_which)
        == (PyObject *)op) {
        PyObject *old;
        if (cx_poller_set(&lp->loop_poller, op->op_fd, op->op_which, NULL,
                          &old) == 0) {
            Py_XDECREF(old);
        }
    }
    if (op->op_req.view.obj != NULL) {
        PyBuffer_Release(&op->op_req.view);
        op->op_req.view.obj = NULL;
    }
}

/* The fd is ready (a CFUNC entry, see poller.h): retry, and complete the
 * Future unless it would still block.  -1 only for SystemExit and
 * KeyboardInterrupt, which leave the loop as in asyncio (the watcher then
 * stays, as asyncio's Handle does). */
static int
sockop_ready(PyObject *self, PyObject *Py_UNUSED(unused))
{
    SockOpObject *op = (SockOpObject *)self;
    FutureObject *fut = (FutureObject *)op->op_fut;
    if (op->op_w.cw_cancelled || fut->fut_state != CX_FUT_PENDING) {
        /* Cancelled since it was queued: its done callback removes us. */
        return 0;
    }
    PyObject *result = NULL;
    int rc = sock_retry(fut->fut_st, &op->op_req, op->op_fd, &result);
    if (rc == 0) {
        return 0;
    }
    if (rc < 0 && cx_is_exit_exception()) {
        return -1;
    }
    sockop_unwatch(op);
    PyObject *r;
    if (rc > 0) {
        r = cx_future_set_result(fut, result);
        Py_DECREF(result);
    }
    else {
        PyObject *exc = cx_err_fetch();
        r = cx_future_set_exception(fut, exc);
        Py_DECREF(exc);
    }
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

/* The Future's done callback: if it finished some other way (cancelled),
 * stop watching the fd, as asyncio's _sock_read_done/_sock_write_done. */
static PyObject *
SockOp_call(PyObject *self, PyObject *args, PyObject *kwds)
{
    SockOpObject *op = (SockOpObject *)self;
    if (!op->op_w.cw_cancelled) {
        sockop_unwatch(op);
    }
    Py_RETURN_NONE;
}

/* cancel(): called by remove_reader()/remove_writer() or a replacing
 * add_reader()/add_writer(), as for a Handle.  The Future stays pending,
 * as in asyncio. */
static PyObject *
SockOp_cancel(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    ((SockOpObject *)self)->op_w.cw_cancelled = 1;
    Py_RETURN_NONE;
}

static PyObject *
SockOp_cancelled(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(((SockOpObject *)self)->op_w.cw_cancelled);
}

static PyObject *
SockOp_repr(PyObject *self)
{
    static const char *const names[] = {
        "sock_recv", "sock_recv_into", "sock_recvfrom", "sock_recvfrom_into",
        "sock_sendall", "sock_sendto", "sock_connect", "sock_accept"};
    SockOpObject *op = (SockOpObject *)self;
    return PyUnicode_FromFormat("<%s fd=%d%s>", names[op->op_req.kind],
                                op->op_fd,
                                op->op_w.cw_cancelled ? " cancelled" : "");
}

static int
SockOp_traverse(SockOpObject *op, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(op));
    Py_VISIT(op->op_loop);
    Py_VISIT(op->op_fut);
    Py_VISIT(op->op_req.sock);
    Py_VISIT(op->op_req.arg1);
    Py_VISIT(op->op_req.arg2);
    Py_VISIT(op->op_req.view.obj);
    return 0;
}

static int
SockOp_clear(SockOpObject *op)
{
    Py_CLEAR(op->op_loop);
    Py_CLEAR(op->op_fut);
    sock_req_clear(&op->op_req);
    return 0;
}

static void
SockOp_dealloc(SockOpObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    SockOp_clear(op);
    tp->tp_free(op);
    Py_DECREF(tp);
}

static PyMethodDef SockOp_methods[] = {
    {"cancel", SockOp_cancel, METH_NOARGS,
     CX_DOC_SIG("cancel($self, /)", "")},
    {"cancelled", SockOp_cancelled, METH_NOARGS,
     CX_DOC_SIG("cancelled($self, /)", "")},
    {NULL, NULL},
};

static PyType_Slot SockOp_slots[] = {
    {Py_tp_call, SockOp_call},
    {Py_tp_repr, SockOp_repr},
    {Py_tp_traverse, SockOp_traverse},
    {Py_tp_clear, SockOp_clear},
    {Py_tp_dealloc, SockOp_dealloc},
    {Py_tp_methods, SockOp_methods},
    {0, NULL},
};

static PyType_Spec SockOp_spec = {
    .name = "casyncio._core._SockOp",
    .basicsize = sizeof(SockOpObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC
             | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = SockOp_slots,
};

/* ---- entry points ---- */

/* The fd to watch: the socket's own for a direct socket, else
 * sock.fileno() as asyncio.  -1 with an exception set on error. */
static int
sock_fileno(cx_state *st, PyObject *sock)
{
    if (st->sock_layout_ok
        && Py_IS_TYPE(sock, (PyTypeObject *)st->socket_socket)) {
        return ((cx_pysock *)sock)->sock_fd;
    }
    PyObject *r = PyObject_CallMethod(sock, "fileno", NULL);
    if (r == NULL) {
        return -1;
    }
    long fd = PyLong_AsLong(r);
    Py_DECREF(r);
    if (fd == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (fd < -1 || fd > INT_MAX) {
        PyErr_Format(PyExc_ValueError, "Invalid file descriptor: %ld", fd);
        return -1;
    }
    return (int)fd;
}

/* asyncio's loop._ensure_fd_no_transport(fd), on the would-block path as
 * there: an fd that a live transport of the loop uses is refused
 * (RuntimeError, from the Python method).  The registry loop._transports
 * (a WeakValueDictionary, _loop.py) is looked up in its `data` dict first,
 * so an fd without a transport costs one dict lookup; on a hit, or with a
 * registry of another kind, the Python method decides.  A loop without the
 * registry (a bare _core.Loop) has no transports.  0 or -1. */
static int
sock_ensure_no_transport(cx_state *st, LoopObject *lp, int fd)
{
    PyObject *reg = PyObject_GetAttr((PyObject *)lp, st->str_transports);
    if (reg == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
            return -1;
        }
        PyErr_Clear();
        return 0;
    }
    PyObject *key = PyLong_FromLong(fd);
    PyObject *data = key ? PyObject_GetAttr(reg, st->str_data) : NULL;
    Py_DECREF(reg);
    int hit = 1;
    if (data != NULL && PyDict_CheckExact(data)) {
        hit = PyDict_Contains(data, key);
    }
    else if (key != NULL) {
        PyErr_Clear();              /* not a WeakValueDictionary: ask */
    }
    Py_XDECREF(data);
    if (key == NULL || hit < 0) {
        Py_XDECREF(key);
        return -1;
    }
    PyObject *r = hit ? PyObject_CallMethodOneArg(
        (PyObject *)lp, st->str_ensure_fd_no_transport, key) : Py_None;
    Py_DECREF(key);
    if (r == NULL) {
        return -1;
    }
    if (hit) {
        Py_DECREF(r);
    }
    return 0;
}

/* The operation would block: watch the fd with a SockOp and return a new
 * pending Future.  Takes new references to what *r holds and steals
 * r->view. */
static PyObject *
sock_wait(cx_state *st, LoopObject *lp, sock_req *r, int which)
{
    int fd = sock_fileno(st, r->sock);
    if (fd == -1 && PyErr_Occurred()) {
        goto error;
    }
    if (sock_ensure_no_transport(st, lp, fd) < 0) {
        goto error;
    }
    if (lp->loop_closed) {
        PyErr_SetString(PyExc_RuntimeError, "Event loop is closed");
        goto error;
    }
    SockOpObject *op = PyObject_GC_New(SockOpObject, st->SockOpType);
    if (op == NULL) {
        goto error;
    }
    op->op_w.cw_ready = sockop_ready;
    op->op_w.cw_cancelled = 0;
    op->op_loop = (LoopObject *)Py_NewRef(lp);
    op->op_fut = NULL;
    op->op_req = *r;
    Py_XINCREF(r->sock);
    Py_XINCREF(r->arg1);
    Py_XINCREF(r->arg2);
    r->view.obj = NULL;             /* now op's */
    op->op_fd = fd;
    op->op_which = which;
    PyObject_GC_Track(op);

    op->op_fut = cx_future_new(st, (PyObject *)lp);
    if (op->op_fut == NULL) {
        Py_DECREF(op);
        return NULL;
    }
    PyObject *old;
    int rc = cx_poller_set(&lp->loop_poller, fd, which, (PyObject *)op,
                           &old);
    if (rc < 0) {
        Py_DECREF(op);
        errno = -rc;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (old != NULL) {
        /* Replaced another reader/writer: cancel it, as add_reader does. */
        PyObject *c = PyObject_CallMethodNoArgs(old, st->str_cancel);
        Py_DECREF(old);
        if (c == NULL) {
            goto unwatch;
        }
        Py_DECREF(c);
    }
    PyObject *fut = Py_NewRef(op->op_fut);
    PyObject *c = PyObject_CallMethodOneArg(fut, st->str_add_done_callback,
                                            (PyObject *)op);
    if (c == NULL) {
        Py_DECREF(fut);
        goto unwatch;
    }
    Py_DECREF(c);
    Py_DECREF(op);
    return fut;

unwatch:
    sockop_unwatch(op);
    Py_DECREF(op);
    return NULL;
error:
    if (r->view.obj != NULL) {
        PyBuffer_Release(&r->view);
    }
    return NULL;
}

/* The first attempt: the result, or a Future to await. */
static PyObject *
sock_start(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
           Py_ssize_t want, int kind, int which)
{
    cx_state *st = PyModule_GetState(module);
    if (nargs != want) {
        PyErr_Format(PyExc_TypeError, "expected %zd arguments, got %zd",
                     want, nargs);
        return NULL;
    }
    if (!PyObject_TypeCheck(args[0], st->LoopType)) {
        PyErr_SetString(PyExc_TypeError, "a casyncio loop is required");
        return NULL;
    }
    LoopObject *lp = (LoopObject *)args[0];
    sock_req r = {.kind = kind, .sock = args[1],
                  .arg1 = nargs > 2 ? args[2] : NULL,
                  .arg2 = nargs > 3 ? args[3] : NULL};
    PyObject *result = NULL;
    int rc;
    int direct = sock_is_direct(st, r.sock);
    int fd = direct ? ((cx_pysock *)r.sock)->sock_fd : -1;
    PyObject *owned = NULL;

    switch (kind) {
    case OP_RECV:
        if (direct && PyLong_CheckExact(r.arg1)) {
            r.n = PyLong_AsSsize_t(r.arg1);
            if (r.n < 0) {
                PyErr_Clear();          /* let sock.recv() raise */
                direct = 0;
            }
        }
        else {
            direct = 0;
        }
        if (direct) {
            rc = sock_recv_direct(st, fd, r.n, &result);
        }
        else {
            /* Not direct: the retries call sock.recv() too. */
            r.n = -1;
            rc = sock_call_result(
                PyObject_CallMethod(r.sock, "recv", "(O)", r.arg1), &result);
        }
        break;
    case OP_SENDALL:
        if (direct && PyObject_GetBuffer(r.arg1, &r.view, PyBUF_SIMPLE) == 0) {
            r.n = 0;
            rc = sock_send_direct(fd, &r);
            if (rc != 0) {
                PyBuffer_Release(&r.view);
                r.view.obj = NULL;
            }
        }
        else {
            PyErr_Clear();
            /* asyncio: n = sock.send(data); done if n == len(data), else
             * wait with memoryview(data) and pos n. */
            PyObject *k = PyObject_CallMethod(r.sock, "send", "(O)", r.arg1);
            if (k == NULL && !sock_err_would_block()) {
                return NULL;
            }
            r.n = k ? PyNumber_AsSsize_t(k, PyExc_OverflowError) : 0;
            Py_XDECREF(k);
            if (r.n == -1 && PyErr_Occurred()) {
                return NULL;
            }
            Py_ssize_t len = PyObject_Size(r.arg1);
            if (len < 0) {
                return NULL;
            }
            if (r.n == len) {
                Py_RETURN_NONE;
            }
            owned = r.arg1 = PyMemoryView_FromObject(r.arg1);
            if (owned == NULL) {
                return NULL;
            }
            rc = 0;
        }
        if (rc > 0) {
            Py_RETURN_NONE;
        }
        break;
    case OP_SENDTO:
        rc = -2;
        if (direct && sock_is_inet(r.sock)) {
            rc = sock_sendto_direct(fd, r.sock, r.arg1, r.arg2, &result);
        }
        if (rc == -2) {
            rc = sock_call_result(
                PyObject_CallMethod(r.sock, "sendto", "OO", r.arg1, r.arg2),
                &result);
        }
        break;
    case OP_CONNECT:
        result = PyObject_CallMethod(r.sock, "connect", "(O)", r.arg1);
        rc = sock_call_result(result, &result);
        break;
    default:
        rc = sock_retry(st, &r, fd, &result);
        break;
    }
    if (rc > 0) {
        return result;
    }
    if (rc < 0) {
        return NULL;
    }
    PyObject *fut = sock_wait(st, lp, &r, which);
    Py_XDECREF(owned);
    return fut;
}

#define SOCK_ENTRY(name, want, kind, which)                                  \
    static PyObject *                                                        \
    name(PyObject *module, PyObject *const *args, Py_ssize_t nargs)          \
    {                                                                        \
        return sock_start(module, args, nargs, want, kind, which);          \
    }

SOCK_ENTRY(sock_recv_fn, 3, OP_RECV, 0)
SOCK_ENTRY(sock_recv_into_fn, 3, OP_RECV_INTO, 0)
SOCK_ENTRY(sock_recvfrom_fn, 3, OP_RECVFROM, 0)
SOCK_ENTRY(sock_recvfrom_into_fn, 4, OP_RECVFROM_INTO, 0)
SOCK_ENTRY(sock_sendall_fn, 3, OP_SENDALL, 1)
SOCK_ENTRY(sock_sendto_fn, 4, OP_SENDTO, 1)
SOCK_ENTRY(sock_connect_fn, 3, OP_CONNECT, 1)
SOCK_ENTRY(sock_accept_fn, 2, OP_ACCEPT, 0)

#define FASTCALL(f) (PyCFunction)(void (*)(void))f, METH_FASTCALL
static PyMethodDef sock_functions[] = {
    {"_sock_recv", FASTCALL(sock_recv_fn),
     CX_DOC_SIG("_sock_recv($module, loop, sock, n, /)",
                "The result (bytes), or a Future to await.")},
    {"_sock_recv_into", FASTCALL(sock_recv_into_fn),
     CX_DOC_SIG("_sock_recv_into($module, loop, sock, buf, /)", "")},
    {"_sock_recvfrom", FASTCALL(sock_recvfrom_fn),
     CX_DOC_SIG("_sock_recvfrom($module, loop, sock, bufsize, /)", "")},
    {"_sock_recvfrom_into", FASTCALL(sock_recvfrom_into_fn),
     CX_DOC_SIG("_sock_recvfrom_into($module, loop, sock, buf, nbytes, /)",
                "")},
    {"_sock_sendall", FASTCALL(sock_sendall_fn),
     CX_DOC_SIG("_sock_sendall($module, loop, sock, data, /)", "")},
    {"_sock_sendto", FASTCALL(sock_sendto_fn),
     CX_DOC_SIG("_sock_sendto($module, loop, sock, data, address, /)", "")},
    {"_sock_connect", FASTCALL(sock_connect_fn),
     CX_DOC_SIG("_sock_connect($module, loop, sock, address, /)", "")},
    {"_sock_accept", FASTCALL(sock_accept_fn),
     CX_DOC_SIG("_sock_accept($module, loop, sock, /)", "")},
    {NULL, NULL},
};
#undef FASTCALL

/* Check cx_pysock against a real socket: fd, family, type and the
 * timeout of a blocking (-1 s), a timed (1.5 s) and a non-blocking one. */
static int
sock_check_layout(cx_state *st)
{
    st->sock_layout_ok = 0;
    PyObject *s = PyObject_CallFunction(st->socket_socket, "ii", AF_INET,
                                        SOCK_DGRAM);
    if (s == NULL) {
        PyErr_Clear();
        return 0;
    }
    cx_pysock *ps = (cx_pysock *)s;
    int ok = 0;
    PyObject *fd = PyObject_CallMethod(s, "fileno", NULL);
    if (fd != NULL && PyLong_AsLong(fd) == ps->sock_fd
        && ps->sock_family == AF_INET && ps->sock_type == SOCK_DGRAM
        && ps->sock_timeout == -1000000000LL) {
        PyObject *r = PyObject_CallMethod(s, "settimeout", "d", 1.5);
        ok = r != NULL && ps->sock_timeout == 1500000000LL;
        Py_XDECREF(r);
        r = PyObject_CallMethod(s, "setblocking", "(O)", Py_False);
        ok = ok && r != NULL && ps->sock_timeout == 0;
        Py_XDECREF(r);
    }
    Py_XDECREF(fd);
    PyObject *r = PyObject_CallMethod(s, "close", NULL);
    Py_XDECREF(r);
    Py_DECREF(s);
    PyErr_Clear();
    st->sock_layout_ok = ok;
    return 0;
}

int
cx_sock_setup(PyObject *module)
{
    cx_state *st = PyModule_GetState(module);
    st->SockOpType = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &SockOp_spec, NULL);
    if (st->SockOpType == NULL) {
        return -1;
    }
    if ((st->str_transports = PyUnicode_InternFromString("_transports"))
            == NULL
        || (st->str_data = PyUnicode_InternFromString("data")) == NULL
        || (st->str_ensure_fd_no_transport = PyUnicode_InternFromString(
                "_ensure_fd_no_transport")) == NULL) {
        return -1;
    }
    PyObject *socket = PyImport_ImportModule("socket");
    if (socket == NULL) {
        return -1;
    }
    st->socket_socket = PyObject_GetAttrString(socket, "socket");
    Py_DECREF(socket);
    if (st->socket_socket == NULL || sock_check_layout(st) < 0) {
        return -1;
    }
    return PyModule_AddFunctions(module, sock_functions);
}
