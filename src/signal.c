/* Signal handling: see signal.h.  asyncio's _UnixSelectorEventLoop uses
 * its self-pipe socket and a Python reader (_process_self_data); here the
 * pipe is the loop's own and is read in C in the poll phase. */
#include "internal.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

int
cx_signal_wakeup_fd(LoopObject *lp)
{
    if (lp->loop_signal_wfd >= 0) {
        return lp->loop_signal_wfd;
    }
    if (lp->loop_closed || lp->loop_poller.epfd < 0) {
        PyErr_SetString(PyExc_RuntimeError, "Event loop is closed");
        return -1;
    }
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fds[0]};
    if (epoll_ctl(lp->loop_poller.epfd, EPOLL_CTL_ADD, fds[0], &ev) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    lp->loop_signal_rfd = fds[0];
    lp->loop_signal_wfd = fds[1];
    return fds[1];
}

/* Queue the Handle registered for sig, as asyncio's _handle_signal.
 * 0 or -1. */
static int
signal_handle_one(LoopObject *lp, int sig)
{
    if (lp->loop_signal_handlers == NULL) {
        return 0;
    }
    PyObject *key = PyLong_FromLong(sig);
    if (key == NULL) {
        return -1;
    }
    PyObject *h = PyDict_GetItemWithError(lp->loop_signal_handlers, key);
    if (h == NULL) {
        Py_DECREF(key);
        /* Assume it's some race condition. */
        return PyErr_Occurred() ? -1 : 0;
    }
    int rc = 0;
    if (!PyObject_TypeCheck(h, lp->st->HandleType)) {
        /* Not one of ours: asyncio's _add_callback path, in Python. */
        PyObject *r = PyObject_CallMethod((PyObject *)lp, "_add_callback",
                                          "O", h);
        rc = r ? 0 : -1;
        Py_XDECREF(r);
    }
    else if (((HandleObject *)h)->handle_cancelled) {
        /* Remove it properly. */
        PyObject *r = PyObject_CallMethod((PyObject *)lp,
                                          "remove_signal_handler", "O", key);
        rc = r ? 0 : -1;
        Py_XDECREF(r);
    }
    else {
        cx_entry e = {CX_ENTRY_HANDLE, Py_NewRef(h), NULL, NULL, NULL};
        if (cx_queue_push(&lp->loop_ready, &e) < 0) {
            Py_DECREF(h);
            PyErr_NoMemory();
            rc = -1;
        }
    }
    Py_DECREF(key);
    return rc;
}

int
cx_signal_dispatch(LoopObject *lp)
{
    unsigned char buf[4096];
    for (;;) {
        if (lp->loop_signal_rfd < 0) {
            return 0;       /* closed by a handler's remove/close */
        }
        ssize_t n = read(lp->loop_signal_rfd, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return 0;
            }
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        if (n == 0) {
            return 0;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] && signal_handle_one(lp, buf[i]) < 0) {
                return -1;
            }
        }
    }
}

void
cx_signal_close(LoopObject *lp)
{
    if (lp->loop_signal_rfd >= 0) {
        if (lp->loop_poller.epfd >= 0) {
            (void)epoll_ctl(lp->loop_poller.epfd, EPOLL_CTL_DEL,
                            lp->loop_signal_rfd, NULL);
        }
        close(lp->loop_signal_rfd);
        lp->loop_signal_rfd = -1;
    }
    if (lp->loop_signal_wfd >= 0) {
        close(lp->loop_signal_wfd);
        lp->loop_signal_wfd = -1;
    }
}
