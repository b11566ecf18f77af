/* io_uring receive path for stream transports (uring.c), behind the
 * switch CASYNCIO_IO_URING=1 (read when a loop is made).
 *
 * One ring per loop, made with the loop, its fd registered in the loop's
 * epoll: the loop still waits in epoll_wait, and the ring's fd turning
 * readable means completions.  A reading stream transport has a
 * multishot recv armed on its socket, receiving into a provided-buffer
 * ring (the kernel picks a buffer per completion, no recv() per
 * message).  Each completion's buffer is queued on the transport
 * (cx_uring_rx) and the transport's reader Handle is queued on the loop,
 * as epoll readiness would queue it; its _read_ready then takes the
 * queued bytes instead of calling recv(), and gives the buffers back.
 * Sending stays on send()/sendmsg() and epoll.
 *
 * Raw syscalls and mmap'd rings, no liburing.  When the kernel refuses
 * (ENOSYS, EPERM, io_uring_disabled, older than 6.0) the loop silently
 * stays on epoll.  A child after fork() never touches its parent's ring
 * (the ring is then treated as gone). */
#ifndef CX_URING_H
#define CX_URING_H

#include "Python.h"
#include <stdint.h>

typedef struct cx_uring cx_uring;

/* A received piece: res > 0 bytes in buffer bid from off; 0 EOF; < 0 the
 * error (-errno). */
typedef struct {
    int32_t res;
    uint32_t off;
    uint16_t bid;
} cx_uring_chunk;

/* A transport's receive state, inside the transport object. */
typedef struct cx_uring_rx {
    cx_uring *rx_ring;          /* NULL: not on a ring (yet, or any more) */
    struct cx_uring_rx *rx_next, *rx_prev;  /* the ring's list of rx */
    PyObject *rx_owner;         /* the transport; a strong reference held
                                   while rx_armed (the kernel holds our
                                   pointer) */
    PyObject **rx_handle;       /* &owner's reader Handle: queued when
                                   bytes come */
    cx_uring_chunk *rx_q;       /* queued pieces, rx_head first */
    int rx_head, rx_len, rx_cap;
    int rx_fd;
    char rx_armed;              /* a multishot recv is in the kernel */
    char rx_want;               /* reading wanted (reader on) */
    char rx_cancelling;         /* its cancel is submitted */
    char rx_starved;            /* ended for want of buffers */
    char rx_scheduled;          /* the reader Handle is queued */
} cx_uring_rx;

/* A loop's ring (cx_loop_uring makes it with the loop when the switch is
 * on), or NULL: io_uring is not available, the loop stays on epoll. */
cx_uring *cx_uring_open(void);
/* Cancel what is in flight, wait (bounded) for the kernel to finish,
 * release the transports it held and every queued buffer, free. */
void cx_uring_close(cx_uring *u);
int cx_uring_fd(cx_uring *u);
/* Submit what was queued (before the loop waits).  0 or -errno. */
int cx_uring_submit(cx_uring *u);
/* Non-zero when something is queued for cx_uring_submit. */
int cx_uring_pending(cx_uring *u);
/* The completions: queue each piece on its transport and the transport's
 * reader Handle on loop (a LoopObject).  0 or -1. */
int cx_uring_reap(cx_uring *u, PyObject *loop);
int cx_uring_traverse(cx_uring *u, visitproc visit, void *arg);

/* rx: start reading fd into rx (owner's reader Handle at *handle): arm a
 * multishot recv unless one is in flight.  0 or -errno. */
int cx_uring_rx_start(cx_uring *u, cx_uring_rx *rx, PyObject *owner,
                      PyObject **handle, int fd);
/* Stop: cancel the recv now (submitted at once, so that the kernel lets go
 * of the socket before it is closed); what already came stays queued. */
void cx_uring_rx_stop(cx_uring_rx *rx);
/* Queue the reader Handle on loop if pieces are queued and it is not
 * queued yet.  0 or -1. */
int cx_uring_rx_kick(cx_uring_rx *rx, PyObject *loop);
/* Stop, drop the queued pieces (their buffers back to the ring) and leave
 * the ring's list: the transport is lost or freed. */
void cx_uring_rx_release(cx_uring_rx *rx);
/* Queued piece i's bytes (*len), or NULL when it is not data (EOF or an
 * error: *len = its res, <= 0) or there is none (*len = 1). */
const char *cx_uring_rx_peek(cx_uring_rx *rx, int i, Py_ssize_t *len);
/* Take n bytes from the front (data pieces), giving emptied buffers back;
 * or the first piece whole when it is EOF or an error (n ignored). */
void cx_uring_rx_consume(cx_uring_rx *rx, Py_ssize_t n);

static inline int
cx_uring_rx_queued(cx_uring_rx *rx)
{
    return rx->rx_len;
}

/* _path_counts()'s: completions with bytes, rings opened. */
extern Py_ssize_t cx_uring_recv_count;
extern Py_ssize_t cx_uring_open_count;

#endif /* CX_URING_H */
