/* DatagramTransport: asyncio.selector_events._SelectorDatagramTransport
 * (3.11) in C.  It derives from _Transport (transport.c: closing, flow
 * control, protocol callbacks, extra info) and from
 * asyncio.DatagramTransport; here is the reading and writing of
 * datagrams.
 *
 * Reading: recvfrom() into the interpreter's shared receive buffer, the
 * datagram copied out as bytes, the address converted as the socket
 * module does (sock.c), then protocol.datagram_received(data, addr).
 * Writing: send()/sendto() at once when nothing is queued, else the
 * datagram is queued as a (bytes, addr) tuple in tr_wbuf (a list whose
 * items before tr_wbuf_head are sent) and flushed when writable.  An
 * address the socket module must resolve, and a family other than
 * AF_INET, AF_INET6 and AF_UNIX, go through the socket's Python methods.
 * OSErrors go to protocol.error_received(), as in asyncio. */
#include "internal.h"
#include "structmember.h"
#include <sys/socket.h>
#include <sys/un.h>

typedef struct {
    cx_transport dg_tr;
    PyObject *dg_address;     /* the connected address, or NULL */
    int dg_family;
    char dg_connected;        /* extra['peername'] is set: send() */
    /* What get_write_buffer_size() counts per queued datagram beyond its
     * len(): 3.13 adds 8 "header bytes" when queueing (dg_header_in); 3.13.0
     * takes only len() off again when the datagram is sent, later 3.13s
     * and 3.14 the 8 too (dg_header_out).  Set by _set_header_sizes(). */
    Py_ssize_t dg_header_in;
    Py_ssize_t dg_header_out;
} DatagramObject;

#define DG(tr) ((DatagramObject *)(tr))

static int
dgram_direct_family(int family)
{
    return family == AF_INET || family == AF_INET6 || family == AF_UNIX;
}

/* After a socket method of Python failed: 0 (cleared) if it would
 * block, else -1 with the exception kept. */
static int
dgram_py_failed(void)
{
    if (PyErr_ExceptionMatches(PyExc_BlockingIOError)
        || PyErr_ExceptionMatches(PyExc_InterruptedError)) {
        PyErr_Clear();
        return 0;
    }
    return -1;
}

/* protocol.error_received(exc) for the current exception (an OSError).
 * 0 or -1 (what error_received raised). */
static int
dgram_error_received(cx_transport *tr)
{
    PyObject *exc = cx_err_fetch();
    if (tr->tr_protocol == NULL) {
        Py_DECREF(exc);
        return 0;
    }
    PyObject *proto = Py_NewRef(tr->tr_protocol);
    PyObject *r = PyObject_CallMethodOneArg(proto,
                                            tr->tr_st->str_error_received,
                                            exc);
    Py_DECREF(proto);
    Py_DECREF(exc);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* ---- reading ---- */

/* One recvfrom(): 1 with *data and *addr set (new references), 0 would
 * block, -1 with an exception set. */
static int
dgram_recvfrom(cx_transport *tr, PyObject **data, PyObject **addr)
{
    if (!dgram_direct_family(DG(tr)->dg_family)) {
        PyObject *r = PyObject_CallMethod(tr->tr_sock, "recvfrom", "i",
                                          CX_TRANSPORT_MAX_SIZE);
        if (r == NULL) {
            return dgram_py_failed();
        }
        if (!PyArg_ParseTuple(r, "OO", data, addr)) {
            Py_DECREF(r);
            return -1;
        }
        Py_INCREF(*data);
        Py_INCREF(*addr);
        Py_DECREF(r);
        return 1;
    }
    char *rbuf = cx_transport_rbuf(tr->tr_st);
    if (rbuf == NULL) {
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    ssize_t n = recvfrom(tr->tr_fd, rbuf, CX_TRANSPORT_MAX_SIZE, 0,
                         (struct sockaddr *)&ss, &len);
    if (n < 0) {
        if (cx_errno_would_block(errno)) {
            return 0;
        }
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    /* the bytes first: the address is a tuple, whose allocation may run
     * the garbage collector, and with it Python code that reads into the
     * shared buffer */
    *data = PyBytes_FromStringAndSize(rbuf, n);
    if (*data == NULL) {
        return -1;
    }
    *addr = cx_sock_addr_to_py(&ss, len);
    if (*addr == NULL) {
        Py_CLEAR(*data);
        return -1;
    }
    return 1;
}

/* The reader Handle's callback: a datagram (or an error) is waiting. */
static PyObject *
Datagram__read_ready(cx_transport *tr, PyObject *Py_UNUSED(ignored))
{
    if (!tr->tr_reader_on || tr->tr_conn_lost || tr->tr_protocol == NULL
        || tr->tr_sock == NULL) {
        Py_RETURN_NONE;
    }
    PyObject *data = NULL, *addr = NULL, *res = NULL;
    Py_INCREF(tr);
    int rc = dgram_recvfrom(tr, &data, &addr);
    if (rc < 0) {
        if (PyErr_ExceptionMatches(PyExc_OSError)) {
            rc = dgram_error_received(tr);
        }
        else {
            rc = cx_transport_fatal_error(
                tr, "Fatal read error on datagram transport");
        }
        if (rc < 0) {
            goto error;
        }
    }
    else if (rc > 0) {
        PyObject *proto = Py_NewRef(tr->tr_protocol);
        PyObject *args[] = {proto, data, addr};
        PyObject *r = PyObject_VectorcallMethod(
            tr->tr_st->str_datagram_received, args,
            3 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
        Py_DECREF(proto);
        if (r == NULL) {
            goto error;
        }
        Py_DECREF(r);
    }
    res = Py_NewRef(Py_None);
error:
    Py_XDECREF(data);
    Py_XDECREF(addr);
    Py_DECREF(tr);
    return res;
}

/* ---- writing ---- */

/* Send one datagram.  1 sent, 0 would block, -1 with an exception set. */
static int
dgram_send(cx_transport *tr, PyObject *data, PyObject *addr)
{
    DatagramObject *dg = DG(tr);
    struct sockaddr_storage ss;
    socklen_t len = 0;
    int direct = dg->dg_connected
        || (dgram_direct_family(dg->dg_family)
            && cx_sock_addr_from_py(dg->dg_family, addr, &ss, &len));
    if (!direct) {
        PyObject *r = PyObject_CallMethod(tr->tr_sock, "sendto", "OO", data,
                                          addr);
        if (r == NULL) {
            return dgram_py_failed();
        }
        Py_DECREF(r);
        return 1;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        return -1;
    }
    if (!dg->dg_connected
        && PySys_Audit("socket.sendto", "OO", tr->tr_sock, addr) < 0) {
        PyBuffer_Release(&view);
        return -1;
    }
    ssize_t n = dg->dg_connected
        ? send(tr->tr_fd, view.buf, (size_t)view.len, MSG_NOSIGNAL)
        : sendto(tr->tr_fd, view.buf, (size_t)view.len, MSG_NOSIGNAL,
                 (struct sockaddr *)&ss, len);
    int err = errno;
    PyBuffer_Release(&view);
    if (n >= 0) {
        return 1;
    }
    if (cx_errno_would_block(err)) {
        return 0;
    }
    errno = err;
    PyErr_SetFromErrno(PyExc_OSError);
    return -1;
}

/* After a failed send: error_received for an OSError, _fatal_error for
 * anything else.  0 or -1. */
static int
dgram_send_failed(cx_transport *tr)
{
    if (cx_is_exit_exception()) {
        return -1;
    }
    if (PyErr_ExceptionMatches(PyExc_OSError)) {
        return dgram_error_received(tr);
    }
    return cx_transport_fatal_error(
        tr, "Fatal write error on datagram transport");
}

static int
dgram_append(cx_transport *tr, PyObject *data, PyObject *addr,
             Py_ssize_t len)
{
    /* Ensure that what we buffer is immutable. */
    PyObject *b = PyBytes_CheckExact(data) ? Py_NewRef(data)
                                           : PyBytes_FromObject(data);
    PyObject *item = b ? PyTuple_Pack(2, b, addr) : NULL;
    Py_XDECREF(b);
    if (item == NULL) {
        return -1;
    }
    if (tr->tr_wbuf == NULL && (tr->tr_wbuf = PyList_New(0)) == NULL) {
        Py_DECREF(item);
        return -1;
    }
    int rc = PyList_Append(tr->tr_wbuf, item);
    Py_DECREF(item);
    if (rc < 0) {
        return -1;
    }
    tr->tr_wbuf_size += len + DG(tr)->dg_header_in;
    return cx_transport_maybe_pause(tr);
}

/* sendto(data, addr=None)'s arguments, borrowed.  Positional calls are
 * taken as they come; any other call goes through the public parser, for
 * its checks and messages. */
static int
sendto_args(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
            PyObject **data, PyObject **addr)
{
    if (kwnames == NULL && nargs >= 1 && nargs <= 2) {
        *data = args[0];
        if (nargs == 2) {
            *addr = args[1];
        }
        return 0;
    }
    static char *kw[] = {"data", "addr", NULL};
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    PyObject *tuple = PyTuple_New(nargs);
    PyObject *dict = PyDict_New();
    int ok = tuple != NULL && dict != NULL;
    for (Py_ssize_t i = 0; ok && i < nargs; i++) {
        PyTuple_SET_ITEM(tuple, i, Py_NewRef(args[i]));
    }
    for (Py_ssize_t i = 0; ok && i < nkw; i++) {
        ok = PyDict_SetItem(dict, PyTuple_GET_ITEM(kwnames, i),
                            args[nargs + i]) == 0;
    }
    /* The parsed objects stay alive in the caller's arguments. */
    ok = ok && PyArg_ParseTupleAndKeywords(tuple, dict, "O|O:sendto", kw,
                                           data, addr);
    Py_XDECREF(tuple);
    Py_XDECREF(dict);
    return ok ? 0 : -1;
}

static PyObject *
Datagram_sendto(cx_transport *tr, PyObject *const *args, Py_ssize_t nargs,
                PyObject *kwnames)
{
    PyObject *data, *addr = Py_None;
    if (sendto_args(args, nargs, kwnames, &data, &addr) < 0) {
        return NULL;
    }
    DatagramObject *dg = DG(tr);
    if (!PyBytes_Check(data) && !PyByteArray_Check(data)
        && !PyMemoryView_Check(data)) {
        return PyErr_Format(PyExc_TypeError,
                            "data argument must be a bytes-like object, "
                            "not '%.200s'", Py_TYPE(data)->tp_name);
    }
#if PY_VERSION_HEX < 0x030D0000
    Py_ssize_t len = PyObject_Size(data);
    if (len < 0) {
        return NULL;
    }
    if (len == 0) {
        Py_RETURN_NONE;
    }
#endif
    /* 3.13: an empty datagram is sent too; len(data) is taken only when
     * the datagram is queued */
    if (dg->dg_address != NULL) {
        int same = addr == Py_None ? 1
            : PyObject_RichCompareBool(addr, dg->dg_address, Py_EQ);
        if (same < 0) {
            return NULL;
        }
        if (!same) {
            PyObject *s = PyObject_Str(dg->dg_address);
            if (s != NULL) {
                PyErr_Format(PyExc_ValueError,
                             "Invalid address: must be None or %U", s);
                Py_DECREF(s);
            }
            return NULL;
        }
        addr = dg->dg_address;
        if (tr->tr_conn_lost) {
            if (tr->tr_conn_lost >= CX_LOG_THRESHOLD_FOR_CONNLOST_WRITES
                && cx_transport_log(
                    tr, "warning",
                    Py_BuildValue("(s)", "socket.send() raised exception."),
                    NULL) < 0) {
                return NULL;
            }
            tr->tr_conn_lost++;
            Py_RETURN_NONE;
        }
    }
    if (tr->tr_sock == NULL) {
        /* After connection_lost: asyncio's sendto fails on its
         * `self._sock = None` and its _fatal_error on `self._loop = None`. */
        PyErr_SetString(PyExc_AttributeError, "'NoneType' object has no "
                        "attribute 'call_exception_handler'");
        return NULL;
    }
    Py_INCREF(tr);
    Py_INCREF(addr);
    PyObject *res = NULL;
    if (!cx_transport_queued(tr)) {
        /* Attempt to send it right away first. */
        int rc = dgram_send(tr, data, addr);
        if (rc > 0) {
            goto done;
        }
        if (rc < 0) {
            if (dgram_send_failed(tr) < 0) {
                goto error;
            }
            goto done;
        }
        if (cx_transport_watch(tr, 1, 1) < 0) {
            goto error;
        }
    }
#if PY_VERSION_HEX >= 0x030D0000
    Py_ssize_t len = PyObject_Size(data);
    if (len < 0) {
        goto error;
    }
#endif
    if (dgram_append(tr, data, addr, len) < 0) {
        goto error;
    }
done:
    res = Py_NewRef(Py_None);
error:
    Py_DECREF(addr);
    Py_DECREF(tr);
    return res;
}

/* The writer Handle's callback (asyncio's _sendto_ready): flush the queue
 * until it is empty or the socket would block. */
static PyObject *
Datagram__write_ready(cx_transport *tr, PyObject *Py_UNUSED(ignored))
{
    if (!tr->tr_writer_on || tr->tr_sock == NULL) {
        Py_RETURN_NONE;
    }
    Py_INCREF(tr);
    PyObject *res = NULL;
    while (cx_transport_queued(tr) && tr->tr_sock != NULL) {
        PyObject *item = Py_NewRef(PyList_GET_ITEM(tr->tr_wbuf,
                                                   tr->tr_wbuf_head));
        PyObject *data = PyTuple_GET_ITEM(item, 0);
        Py_ssize_t len = PyBytes_GET_SIZE(data);
        tr->tr_wbuf_head++;
        tr->tr_wbuf_size -= len + DG(tr)->dg_header_out;
        int rc = dgram_send(tr, data, PyTuple_GET_ITEM(item, 1));
        if (rc == 0) {
            /* Try again later: put it back in front (dgram_send may have
             * run Python code, socket.sendto, that changed the queue). */
            int ok = 0;
            if (tr->tr_wbuf_head > 0
                && PyList_GET_ITEM(tr->tr_wbuf, tr->tr_wbuf_head - 1)
                   == item) {
                tr->tr_wbuf_head--;
            }
            else {
                ok = PyList_Insert(tr->tr_wbuf, tr->tr_wbuf_head, item);
            }
            Py_DECREF(item);
            if (ok < 0) {
                goto error;
            }
            tr->tr_wbuf_size += len + DG(tr)->dg_header_out;
            break;
        }
        Py_DECREF(item);
        if (!cx_transport_queued(tr)) {
            /* Drop the sent items, keep the size (asyncio's). */
            Py_ssize_t size = tr->tr_wbuf_size;
            cx_transport_clear_wbuf(tr);
            tr->tr_wbuf_size = size;
        }
        if (rc < 0) {
            if (dgram_send_failed(tr) < 0) {
                goto error;
            }
            goto done;
        }
    }
    if (cx_transport_maybe_resume(tr) < 0) {   /* May append. */
        goto error;
    }
    if (!cx_transport_queued(tr)) {
        if (cx_transport_watch(tr, 1, 0) < 0) {
            goto error;
        }
        if (tr->tr_closing
            && cx_transport_call_connection_lost((PyObject *)tr,
                                                 Py_None) < 0) {
            goto error;
        }
    }
done:
    res = Py_NewRef(Py_None);
error:
    Py_DECREF(tr);
    return res;
}

/* ---- the type ---- */

static PyObject *
Datagram_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"loop", "sock", "protocol", "address", "extra",
                             NULL};
    PyObject *loop, *sock, *protocol, *address = Py_None, *extra = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO|OO:DatagramTransport",
                                     kwlist, &loop, &sock, &protocol,
                                     &address, &extra)) {
        return NULL;
    }
    cx_transport *tr = (cx_transport *)tp->tp_alloc(tp, 0);
    if (tr == NULL) {
        return NULL;
    }
    DatagramObject *dg = DG(tr);
    if (cx_transport_init(tr, loop, sock, protocol, extra, Py_None) < 0) {
        goto error;
    }
    PyObject *fam = PyObject_GetAttrString(sock, "family");
    dg->dg_family = fam ? PyLong_AsInt(fam) : -1;
    Py_XDECREF(fam);
    if (dg->dg_family == -1 && PyErr_Occurred()) {
        goto error;
    }
    /* asyncio: a falsy address is no address. */
    int truth = PyObject_IsTrue(address);
    if (truth < 0) {
        goto error;
    }
    dg->dg_address = truth ? Py_NewRef(address) : NULL;
    PyObject *peer = PyDict_GetItemString(tr->tr_extra, "peername");
    truth = peer ? PyObject_IsTrue(peer) : 0;
    if (truth < 0) {
        goto error;
    }
    dg->dg_connected = (char)truth;
    return (PyObject *)tr;
error:
    Py_DECREF(tr);
    return NULL;
}

static int
Datagram_traverse(DatagramObject *dg, visitproc visit, void *arg)
{
    Py_VISIT(dg->dg_address);
    return cx_transport_traverse(&dg->dg_tr, visit, arg);
}

static int
Datagram_clear(DatagramObject *dg)
{
    Py_CLEAR(dg->dg_address);
    return cx_transport_clear(&dg->dg_tr);
}

static PyObject *
Datagram_get_address(DatagramObject *dg, void *c)
{
    return Py_NewRef(dg->dg_address ? dg->dg_address : Py_None);
}

static PyObject *
Datagram_get_buffer(cx_transport *tr, void *c)
{
    /* A copy of what is queued, for introspection (asyncio's _buffer, a
     * deque of (data, addr)). */
    if (tr->tr_wbuf == NULL) {
        return PyList_New(0);
    }
    return PyList_GetSlice(tr->tr_wbuf, tr->tr_wbuf_head,
                           PyList_GET_SIZE(tr->tr_wbuf));
}

static PyObject *
Datagram__set_header_sizes(DatagramObject *dg, PyObject *args)
{
    Py_ssize_t in, out;
    if (!PyArg_ParseTuple(args, "nn:_set_header_sizes", &in, &out)) {
        return NULL;
    }
    if (in < 0 || out < 0) {
        PyErr_SetString(PyExc_ValueError, "header sizes must be >= 0");
        return NULL;
    }
    dg->dg_header_in = in;
    dg->dg_header_out = out;
    Py_RETURN_NONE;
}

#define FASTKW(f) (PyCFunction)(void (*)(void))(f)
static PyMethodDef Datagram_methods[] = {
    {"sendto", FASTKW(Datagram_sendto), METH_FASTCALL | METH_KEYWORDS,
     CX_DOC_SIG("sendto($self, data, addr=None)",
                "Send data to the transport.")},
    {"_read_ready", (PyCFunction)Datagram__read_ready, METH_NOARGS,
     CX_DOC_TR_READ_READY},
    {"_write_ready", (PyCFunction)Datagram__write_ready, METH_NOARGS,
     CX_DOC_TR_WRITE_READY},
    {"_sendto_ready", (PyCFunction)Datagram__write_ready, METH_NOARGS,
     CX_DOC_SIG("_sendto_ready($self, /)", "")},
    {"_set_header_sizes", (PyCFunction)Datagram__set_header_sizes,
     METH_VARARGS, CX_DOC_SIG("_set_header_sizes($self, in_size, "
                              "out_size, /)", "")},
    {NULL, NULL},
};

static PyGetSetDef Datagram_getset[] = {
    {"_address", (getter)Datagram_get_address, NULL, NULL, NULL},
    {"_buffer", (getter)Datagram_get_buffer, NULL, NULL, NULL},
    {NULL},
};

static PyType_Slot Datagram_slots[] = {
    {Py_tp_new, Datagram_new},
    {Py_tp_traverse, Datagram_traverse},
    {Py_tp_clear, Datagram_clear},
    {Py_tp_methods, Datagram_methods},
    {Py_tp_getset, Datagram_getset},
    {Py_tp_doc, CX_DOC_SIG("DatagramTransport(loop, sock, protocol, "
                           "address=None, extra=None)",
                           "A datagram transport (asyncio's "
                           "_SelectorDatagramTransport).")},
    {0, NULL},
};

static PyType_Spec Datagram_spec = {
    .name = "casyncio._core.DatagramTransport",
    .basicsize = sizeof(DatagramObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = Datagram_slots,
};

int
cx_dgram_setup(PyObject *module)
{
    cx_state *st = PyModule_GetState(module);
    if ((st->str_datagram_received =
             PyUnicode_InternFromString("datagram_received")) == NULL
        || (st->str_error_received =
                PyUnicode_InternFromString("error_received")) == NULL) {
        return -1;
    }
    /* asyncio's own datagram transport is an asyncio.Transport (tests
     * check it); ours is also an asyncio.DatagramTransport, whose layout is
     * BaseTransport's as Transport's. */
    PyObject *mod = PyImport_ImportModule("asyncio.transports");
    if (mod == NULL) {
        return -1;
    }
    PyObject *dbase = PyObject_GetAttrString(mod, "DatagramTransport");
    Py_DECREF(mod);
    if (dbase == NULL) {
        return -1;
    }
    PyObject *bases = PyTuple_Pack(2, (PyObject *)st->TransportType, dbase);
    Py_DECREF(dbase);
    if (bases == NULL) {
        return -1;
    }
    st->DatagramTransportType = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &Datagram_spec, bases);
    Py_DECREF(bases);
    if (st->DatagramTransportType == NULL) {
        return -1;
    }
    return PyModule_AddType(module, st->DatagramTransportType);
}
