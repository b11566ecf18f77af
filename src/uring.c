/* The io_uring receive path of stream transports: see uring.h.
 *
 * The ring: raw io_uring_setup / io_uring_enter / io_uring_register, the
 * SQ and CQ rings and the SQE array mmap'd (IORING_FEAT_SINGLE_MMAP), a
 * provided-buffer ring (IORING_REGISTER_PBUF_RING, group 0) of
 * URING_BUFS buffers of URING_BUF_SIZE bytes.  Requests carry their
 * cx_uring_rx's address as user_data (URING_UD_CANCEL: a cancel's own
 * completion, ignored).  COOP_TASKRUN where the kernel has it: the loop is
 * not interrupted in user space; the completions' task work runs when it
 * enters the kernel, at the latest in epoll_wait (which then returns
 * EINTR, after which the loop reaps anyway). */
#include "internal.h"
#include <errno.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#define URING_ENTRIES 256
#define URING_BUFS 128                  /* a power of two */
#define URING_BUF_SIZE (64 * 1024)
#define URING_BGID 0
#define URING_UD_CANCEL 1               /* rx addresses are aligned */

Py_ssize_t cx_uring_recv_count;
Py_ssize_t cx_uring_open_count;

/* Bumped in a child after fork(): a ring made under another value belongs
 * to the parent and is never used (its fd and mappings are only let go). */
static unsigned uring_fork_gen;
static pthread_once_t uring_once = PTHREAD_ONCE_INIT;

static void
uring_atfork_child(void)
{
    uring_fork_gen++;
}

static void
uring_init_once(void)
{
    (void)pthread_atfork(NULL, NULL, uring_atfork_child);
}

struct cx_uring {
    unsigned to_submit;
    int fd;
    unsigned gen;
    unsigned sq_entries;
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array, *sq_flags;
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
    unsigned sq_local_tail;
    void *ring_mem;
    size_t ring_size;
    size_t sqes_size;
    struct io_uring_buf_ring *br;
    size_t br_size;
    uint16_t br_tail;
    char *bufs;
    cx_uring_rx *rxs;           /* every started rx not yet released */
    Py_ssize_t inflight;        /* armed recvs */
    int starved;                /* rx ended for want of buffers */
};

static int
uring_enter(int fd, unsigned submit, unsigned wait, unsigned flags)
{
    return (int)syscall(__NR_io_uring_enter, fd, submit, wait, flags, NULL,
                        0);
}

/* Multishot recv into provided buffers is Linux 6.0. */
static int
uring_kernel_ok(void)
{
    struct utsname un;
    int major = 0;
    if (uname(&un) < 0 || sscanf(un.release, "%d.", &major) != 1) {
        return 0;
    }
    return major >= 6;
}

static void
uring_free(cx_uring *u)
{
    if (u->bufs != NULL) {
        munmap(u->bufs, (size_t)URING_BUFS * URING_BUF_SIZE);
    }
    if (u->br != NULL) {
        munmap(u->br, u->br_size);
    }
    if (u->sqes != NULL) {
        munmap(u->sqes, u->sqes_size);
    }
    if (u->ring_mem != NULL) {
        munmap(u->ring_mem, u->ring_size);
    }
    if (u->fd >= 0) {
        close(u->fd);
    }
    PyMem_RawFree(u);
}

static void
uring_buf_return(cx_uring *u, uint16_t bid);

cx_uring *
cx_uring_open(void)
{
    pthread_once(&uring_once, uring_init_once);
    if (!uring_kernel_ok()) {
        return NULL;
    }
    cx_uring *u = PyMem_RawCalloc(1, sizeof(*u));
    if (u == NULL) {
        return NULL;
    }
    u->fd = -1;
    u->gen = uring_fork_gen;
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN;
    p.cq_entries = URING_ENTRIES * 8;
    u->fd = (int)syscall(__NR_io_uring_setup, URING_ENTRIES, &p);
    if (u->fd < 0 && errno == EINVAL) {
        memset(&p, 0, sizeof(p));
        p.flags = IORING_SETUP_CQSIZE;
        p.cq_entries = URING_ENTRIES * 8;
        u->fd = (int)syscall(__NR_io_uring_setup, URING_ENTRIES, &p);
    }
    if (u->fd < 0 || !(p.features & IORING_FEAT_SINGLE_MMAP)
        || !(p.features & IORING_FEAT_NODROP)) {
        goto fail;
    }
    size_t sring = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cring = p.cq_off.cqes
                   + p.cq_entries * sizeof(struct io_uring_cqe);
    u->ring_size = sring > cring ? sring : cring;
    u->ring_mem = mmap(NULL, u->ring_size, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_SQ_RING);
    if (u->ring_mem == MAP_FAILED) {
        u->ring_mem = NULL;
        goto fail;
    }
    u->sqes_size = p.sq_entries * sizeof(struct io_uring_sqe);
    u->sqes = mmap(NULL, u->sqes_size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_SQES);
    if (u->sqes == MAP_FAILED) {
        u->sqes = NULL;
        goto fail;
    }
    char *ring = u->ring_mem;
    u->sq_entries = p.sq_entries;
    u->sq_head = (unsigned *)(ring + p.sq_off.head);
    u->sq_tail = (unsigned *)(ring + p.sq_off.tail);
    u->sq_mask = (unsigned *)(ring + p.sq_off.ring_mask);
    u->sq_array = (unsigned *)(ring + p.sq_off.array);
    u->sq_flags = (unsigned *)(ring + p.sq_off.flags);
    u->cq_head = (unsigned *)(ring + p.cq_off.head);
    u->cq_tail = (unsigned *)(ring + p.cq_off.tail);
    u->cq_mask = (unsigned *)(ring + p.cq_off.ring_mask);
    u->cqes = (struct io_uring_cqe *)(ring + p.cq_off.cqes);
    u->sq_local_tail = *u->sq_tail;

    u->br_size = URING_BUFS * sizeof(struct io_uring_buf);
    u->br = mmap(NULL, u->br_size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (u->br == MAP_FAILED) {
        u->br = NULL;
        goto fail;
    }
    u->bufs = mmap(NULL, (size_t)URING_BUFS * URING_BUF_SIZE,
                   PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (u->bufs == MAP_FAILED) {
        u->bufs = NULL;
        goto fail;
    }
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (uint64_t)(uintptr_t)u->br;
    reg.ring_entries = URING_BUFS;
    reg.bgid = URING_BGID;
    if (syscall(__NR_io_uring_register, u->fd, IORING_REGISTER_PBUF_RING,
                &reg, 1) < 0) {
        goto fail;
    }
    for (uint16_t i = 0; i < URING_BUFS; i++) {
        uring_buf_return(u, i);
    }
    cx_uring_open_count++;
    return u;
fail:
    uring_free(u);
    return NULL;
}

int
cx_uring_fd(cx_uring *u)
{
    return u->fd;
}

int
cx_uring_pending(cx_uring *u)
{
    return u->to_submit != 0;
}

static inline int
uring_ours(cx_uring *u)
{
    return u->gen == uring_fork_gen;
}

int
cx_uring_submit(cx_uring *u)
{
    while (u->to_submit && uring_ours(u)) {
        int r = uring_enter(u->fd, u->to_submit, 0, 0);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            /* EAGAIN, EBUSY: completions first; the SQEs stay queued and
             * the loop submits them again before its next wait */
            return -errno;
        }
        if (r == 0) {
            break;          /* the kernel took none: tried again later */
        }
        u->to_submit -= (unsigned)r < u->to_submit ? (unsigned)r
                                                   : u->to_submit;
    }
    return 0;
}

/* A zeroed SQE to fill, submitting first when the ring is full. */
static struct io_uring_sqe *
uring_sqe(cx_uring *u)
{
    unsigned head = __atomic_load_n(u->sq_head, __ATOMIC_ACQUIRE);
    if (u->sq_local_tail - head >= u->sq_entries) {
        (void)cx_uring_submit(u);
        head = __atomic_load_n(u->sq_head, __ATOMIC_ACQUIRE);
        if (u->sq_local_tail - head >= u->sq_entries) {
            return NULL;
        }
    }
    unsigned idx = u->sq_local_tail & *u->sq_mask;
    struct io_uring_sqe *sqe = &u->sqes[idx];
    memset(sqe, 0, sizeof(*sqe));
    u->sq_array[idx] = idx;
    return sqe;
}

static void
uring_sqe_push(cx_uring *u)
{
    u->sq_local_tail++;
    __atomic_store_n(u->sq_tail, u->sq_local_tail, __ATOMIC_RELEASE);
    u->to_submit++;
}

static int
uring_arm(cx_uring *u, cx_uring_rx *rx)
{
    struct io_uring_sqe *s = uring_sqe(u);
    if (s == NULL) {
        return -EBUSY;
    }
    s->opcode = IORING_OP_RECV;
    s->fd = rx->rx_fd;
    s->ioprio = IORING_RECV_MULTISHOT;
    s->flags = IOSQE_BUFFER_SELECT;
    s->buf_group = URING_BGID;
    s->user_data = (uint64_t)(uintptr_t)rx;
    uring_sqe_push(u);
    Py_INCREF(rx->rx_owner);
    rx->rx_armed = 1;
    rx->rx_cancelling = 0;
    if (rx->rx_starved) {
        rx->rx_starved = 0;
        u->starved--;
    }
    u->inflight++;
    return 0;
}

static void
uring_buf_return(cx_uring *u, uint16_t bid)
{
    struct io_uring_buf *b = &u->br->bufs[u->br_tail & (URING_BUFS - 1)];
    b->addr = (uint64_t)(uintptr_t)(u->bufs + (size_t)bid * URING_BUF_SIZE);
    b->len = URING_BUF_SIZE;
    b->bid = bid;
    u->br_tail++;
    __atomic_store_n(&u->br->tail, u->br_tail, __ATOMIC_RELEASE);
    if (u->starved && uring_ours(u)) {
        /* a recv that ran out of buffers: arm it again */
        for (cx_uring_rx *rx = u->rxs; rx != NULL; rx = rx->rx_next) {
            if (rx->rx_starved && rx->rx_want && !rx->rx_armed) {
                (void)uring_arm(u, rx);
            }
        }
    }
}

static int
uring_rx_append(cx_uring_rx *rx, int32_t res, uint16_t bid)
{
    if (rx->rx_head + rx->rx_len == rx->rx_cap) {
        if (rx->rx_head > 0) {
            memmove(rx->rx_q, rx->rx_q + rx->rx_head,
                    rx->rx_len * sizeof(cx_uring_chunk));
            rx->rx_head = 0;
        }
        else {
            int cap = rx->rx_cap ? rx->rx_cap * 2 : 8;
            cx_uring_chunk *q = PyMem_RawRealloc(
                rx->rx_q, cap * sizeof(cx_uring_chunk));
            if (q == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            rx->rx_q = q;
            rx->rx_cap = cap;
        }
    }
    cx_uring_chunk *c = &rx->rx_q[rx->rx_head + rx->rx_len++];
    c->res = res;
    c->off = 0;
    c->bid = bid;
    return 0;
}

int
cx_uring_rx_kick(cx_uring_rx *rx, PyObject *loop)
{
    if (rx->rx_len == 0 || rx->rx_scheduled || loop == NULL
        || rx->rx_handle == NULL || *rx->rx_handle == NULL) {
        return 0;
    }
    if (cx_loop_push_handle((LoopObject *)loop, *rx->rx_handle) < 0) {
        return -1;
    }
    rx->rx_scheduled = 1;
    return 0;
}

/* One completion.  loop NULL: closing, nothing is scheduled.  0 or -1. */
static int
uring_complete(cx_uring *u, const struct io_uring_cqe *cqe, PyObject *loop)
{
    if (cqe->user_data == URING_UD_CANCEL || cqe->user_data == 0) {
        return 0;
    }
    cx_uring_rx *rx = (cx_uring_rx *)(uintptr_t)cqe->user_data;
    int more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    int live = rx->rx_ring != NULL;     /* not released */
    int rc = 0, queued = 0;
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        if (cqe->res > 0 && live) {
            cx_uring_recv_count++;
            rc = uring_rx_append(rx, cqe->res, bid);
            queued = rc == 0;
            if (rc < 0) {
                uring_buf_return(u, bid);
            }
        }
        else {
            uring_buf_return(u, bid);
        }
    }
    else if (cqe->res == -ENOBUFS) {
        if (live && rx->rx_want && !rx->rx_starved) {
            rx->rx_starved = 1;
            u->starved++;
        }
    }
    else if (cqe->res != -ECANCELED && cqe->res <= 0 && live) {
        /* 0: EOF; else the error */
        rc = uring_rx_append(rx, cqe->res, 0);
        queued = rc == 0;
    }
    PyObject *owner = NULL;
    if (!more) {
        owner = rx->rx_owner;   /* the reference uring_arm took */
        rx->rx_armed = 0;
        rx->rx_cancelling = 0;
        u->inflight--;
        /* ended without EOF or error while reading is wanted (the
         * kernel's choice, or a resume while the cancel was on its way):
         * arm again; starved: when a buffer comes back */
        if (live && rx->rx_want && !rx->rx_starved && loop != NULL
            && (cqe->res > 0 || cqe->res == -ECANCELED)) {
            rx->rx_owner = owner;
            if (uring_arm(u, rx) < 0) {
                rc = -1;
                PyErr_NoMemory();
            }
        }
    }
    if (queued && rx->rx_want && rc == 0) {
        rc = cx_uring_rx_kick(rx, loop);
    }
    Py_XDECREF(owner);      /* may free rx: last */
    return rc;
}

/* Handle the CQ's completions.  0 or -1. */
static int
uring_reap(cx_uring *u, PyObject *loop)
{
    int rc = 0;
    for (;;) {
        unsigned head = *u->cq_head;
        unsigned tail = __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE);
        if (head == tail) {
            /* completions the kernel kept for want of room (NODROP) */
            if (__atomic_load_n(u->sq_flags, __ATOMIC_RELAXED)
                & IORING_SQ_CQ_OVERFLOW) {
                (void)uring_enter(u->fd, 0, 0, IORING_ENTER_GETEVENTS);
                if (*u->cq_tail != head) {
                    continue;
                }
            }
            return rc;
        }
        for (; head != tail; head++) {
            struct io_uring_cqe cqe = u->cqes[head & *u->cq_mask];
            __atomic_store_n(u->cq_head, head + 1, __ATOMIC_RELEASE);
            if (uring_complete(u, &cqe, loop) < 0 && rc == 0) {
                rc = -1;
                loop = NULL;    /* keep the error; finish the batch */
            }
        }
    }
}

int
cx_uring_reap(cx_uring *u, PyObject *loop)
{
    if (!uring_ours(u)) {
        return 0;
    }
    return uring_reap(u, loop);
}

int
cx_uring_rx_start(cx_uring *u, cx_uring_rx *rx, PyObject *owner,
                  PyObject **handle, int fd)
{
    if (!uring_ours(u)) {
        return -EPERM;
    }
    if (rx->rx_ring == NULL) {
        rx->rx_ring = u;
        rx->rx_prev = NULL;
        rx->rx_next = u->rxs;
        if (u->rxs != NULL) {
            u->rxs->rx_prev = rx;
        }
        u->rxs = rx;
    }
    rx->rx_owner = owner;       /* borrowed until armed */
    rx->rx_handle = handle;
    rx->rx_fd = fd;
    rx->rx_want = 1;
    if (rx->rx_armed) {
        return 0;   /* still in flight, or its cancel: re-armed after */
    }
    return uring_arm(u, rx);
}

void
cx_uring_rx_stop(cx_uring_rx *rx)
{
    cx_uring *u = rx->rx_ring;
    rx->rx_want = 0;
    if (u == NULL) {
        return;
    }
    if (rx->rx_starved) {
        rx->rx_starved = 0;
        u->starved--;
    }
    if (!rx->rx_armed || rx->rx_cancelling || !uring_ours(u)) {
        return;
    }
    struct io_uring_sqe *s = uring_sqe(u);
    if (s == NULL) {
        return;
    }
    s->opcode = IORING_OP_ASYNC_CANCEL;
    s->fd = -1;
    s->addr = (uint64_t)(uintptr_t)rx;
    s->user_data = URING_UD_CANCEL;
    uring_sqe_push(u);
    rx->rx_cancelling = 1;
    /* now: the kernel lets go of the socket before anyone closes it */
    (void)cx_uring_submit(u);
}

/* Drop the queued pieces, their buffers back to the ring (u may be NULL:
 * the ring is gone). */
static void
uring_rx_drop(cx_uring *u, cx_uring_rx *rx)
{
    for (int i = 0; i < rx->rx_len; i++) {
        cx_uring_chunk *c = &rx->rx_q[rx->rx_head + i];
        if (c->res > 0 && u != NULL) {
            uring_buf_return(u, c->bid);
        }
    }
    rx->rx_head = rx->rx_len = 0;
}

static void
uring_rx_unlink(cx_uring *u, cx_uring_rx *rx)
{
    if (rx->rx_prev != NULL) {
        rx->rx_prev->rx_next = rx->rx_next;
    }
    else if (u->rxs == rx) {
        u->rxs = rx->rx_next;
    }
    if (rx->rx_next != NULL) {
        rx->rx_next->rx_prev = rx->rx_prev;
    }
    rx->rx_next = rx->rx_prev = NULL;
}

void
cx_uring_rx_release(cx_uring_rx *rx)
{
    cx_uring *u = rx->rx_ring;
    if (u != NULL) {
        cx_uring_rx_stop(rx);
        uring_rx_drop(u, rx);
        uring_rx_unlink(u, rx);
        rx->rx_ring = NULL;
    }
    rx->rx_handle = NULL;
    PyMem_RawFree(rx->rx_q);
    rx->rx_q = NULL;
    rx->rx_head = rx->rx_len = rx->rx_cap = 0;
}

const char *
cx_uring_rx_peek(cx_uring_rx *rx, int i, Py_ssize_t *len)
{
    if (i >= rx->rx_len || rx->rx_ring == NULL) {
        *len = 1;
        return NULL;
    }
    cx_uring_chunk *c = &rx->rx_q[rx->rx_head + i];
    if (c->res <= 0) {
        *len = c->res;
        return NULL;
    }
    *len = c->res - (Py_ssize_t)c->off;
    return rx->rx_ring->bufs + (size_t)c->bid * URING_BUF_SIZE + c->off;
}

void
cx_uring_rx_consume(cx_uring_rx *rx, Py_ssize_t n)
{
    cx_uring *u = rx->rx_ring;
    if (rx->rx_len == 0 || u == NULL) {
        return;
    }
    if (rx->rx_q[rx->rx_head].res <= 0) {
        rx->rx_head++;
        rx->rx_len--;
        return;
    }
    while (n > 0 && rx->rx_len > 0) {
        cx_uring_chunk *c = &rx->rx_q[rx->rx_head];
        if (c->res <= 0) {
            break;
        }
        Py_ssize_t left = c->res - (Py_ssize_t)c->off;
        if (n < left) {
            c->off += (uint32_t)n;
            break;
        }
        n -= left;
        uring_buf_return(u, c->bid);
        rx->rx_head++;
        rx->rx_len--;
    }
    if (rx->rx_len == 0) {
        rx->rx_head = 0;
    }
}

int
cx_uring_traverse(cx_uring *u, visitproc visit, void *arg)
{
    for (cx_uring_rx *rx = u->rxs; rx != NULL; rx = rx->rx_next) {
        if (rx->rx_armed) {
            Py_VISIT(rx->rx_owner);
        }
    }
    return 0;
}

void
cx_uring_close(cx_uring *u)
{
    if (uring_ours(u)) {
        if (u->inflight > 0) {
            struct io_uring_sqe *s = uring_sqe(u);
            if (s != NULL) {
                s->opcode = IORING_OP_ASYNC_CANCEL;
                s->fd = -1;
                s->cancel_flags = IORING_ASYNC_CANCEL_ANY
                                  | IORING_ASYNC_CANCEL_ALL;
                s->user_data = URING_UD_CANCEL;
                uring_sqe_push(u);
            }
        }
        /* the cancels complete at once for a recv waiting on its socket;
         * bounded, whatever the kernel does */
        for (int i = 0; i < 100 && (u->inflight > 0 || u->to_submit); i++) {
            (void)uring_enter(u->fd, u->to_submit, 0,
                              IORING_ENTER_GETEVENTS);
            u->to_submit = 0;
            (void)uring_reap(u, NULL);
            if (u->inflight > 0) {
                usleep(1000);
            }
        }
    }
    /* What is still listed: its pieces dropped, off the ring; armed ones
     * (the kernel did not answer, or a forked child's copy) let go of
     * their transport. */
    while (u->rxs != NULL) {
        cx_uring_rx *rx = u->rxs;
        uring_rx_drop(NULL, rx);
        uring_rx_unlink(u, rx);
        rx->rx_ring = NULL;
        rx->rx_want = 0;
        if (rx->rx_armed) {
            rx->rx_armed = 0;
            PyObject *owner = rx->rx_owner;
            rx->rx_owner = NULL;
            Py_XDECREF(owner);
        }
    }
    uring_free(u);
}

/* ---- the loop's side (loop.h) ---- */

int
cx_loop_push_handle(LoopObject *lp, PyObject *h)
{
    cx_entry e = {CX_ENTRY_HANDLE, Py_NewRef(h), NULL, NULL, NULL};
    if (cx_queue_push(&lp->loop_ready, &e) < 0) {
        Py_DECREF(h);
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

cx_uring *
cx_loop_uring(LoopObject *lp)
{
    if (lp->loop_uring != NULL || !lp->loop_uring_on || lp->loop_closed) {
        return lp->loop_uring;
    }
    cx_uring *u = cx_uring_open();
    struct epoll_event ev = {.events = EPOLLIN};
    if (u != NULL) {
        ev.data.fd = cx_uring_fd(u);
        if (epoll_ctl(lp->loop_poller.epfd, EPOLL_CTL_ADD, ev.data.fd,
                      &ev) < 0) {
            cx_uring_close(u);
            u = NULL;
        }
    }
    if (u == NULL) {
        lp->loop_uring_on = 0;      /* epoll, from now on */
    }
    lp->loop_uring = u;
    return u;
}
