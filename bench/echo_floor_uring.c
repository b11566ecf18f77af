/* The io_uring floor for the echo benchmarks: echo_floor.c's server on
 * io_uring instead of epoll (bench/net.py builds it with cc -O2 and runs
 * it as impl `floor_uring`), the least work an io_uring event loop can do
 * for the same load.  Raw syscalls, no liburing.
 *
 *     echo_floor_uring PORT
 *
 * Listens on 127.0.0.1:PORT (0: any free port), prints "PORT <n>" and
 * flushes, then serves for ever: a multishot accept; per connection a
 * multishot recv into a provided-buffer ring (BUFS buffers of BUF_SIZE
 * bytes, the kernel picks one per completion); each received buffer is
 * sent back with an IORING_OP_SEND of that buffer (one send in flight per
 * connection, the others queued in order; a short send is resubmitted for
 * the rest) and returned to the ring once sent.  One io_uring_enter() per
 * loop turn submits what the turn queued and waits for one completion.
 * A multishot recv that ends (no IORING_CQE_F_MORE: out of buffers) is
 * armed again.  Exits 1 when io_uring is not available. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ENTRIES 512
#define BUFS 128                   /* a power of two */
#define BUF_SIZE (64 * 1024)
#define BGID 0

enum { OP_ACCEPT = 1, OP_RECV = 2, OP_SEND = 3 };

typedef struct pend {
    struct pend *next;
    uint16_t bid;
    uint32_t len, off;
} pend_t;

typedef struct conn {
    int fd;
    int closing;            /* EOF or error seen */
    int inflight;           /* operations the kernel still holds */
    pend_t *head, *tail;    /* buffers to send, head in flight */
} conn_t;

static int ring_fd;
static unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
static unsigned *cq_head, *cq_tail, *cq_mask;
static struct io_uring_sqe *sqes;
static struct io_uring_cqe *cqes;
static unsigned sq_local_tail, to_submit;
static struct io_uring_buf_ring *br;
static unsigned short br_tail;
static char *bufs;

static void
die(const char *what, int err)
{
    fprintf(stderr, "echo_floor_uring: %s: %s\n", what, strerror(err));
    exit(1);
}

static struct io_uring_sqe *
sqe_get(void)
{
    unsigned head = __atomic_load_n(sq_head, __ATOMIC_ACQUIRE);
    if (sq_local_tail - head >= ENTRIES) {
        /* full: submit what we have */
        int r = (int)syscall(__NR_io_uring_enter, ring_fd, to_submit, 0, 0,
                             NULL, 0);
        if (r < 0) {
            die("io_uring_enter", errno);
        }
        to_submit = 0;
    }
    unsigned idx = sq_local_tail & *sq_mask;
    struct io_uring_sqe *sqe = &sqes[idx];
    memset(sqe, 0, sizeof(*sqe));
    sq_array[idx] = idx;
    sq_local_tail++;
    __atomic_store_n(sq_tail, sq_local_tail, __ATOMIC_RELEASE);
    to_submit++;
    return sqe;
}

static uint64_t
udata(conn_t *c, int op)
{
    return (uint64_t)(uintptr_t)c | (uint64_t)op;
}

static void
buf_return(uint16_t bid)
{
    struct io_uring_buf *b = &br->bufs[br_tail & (BUFS - 1)];
    b->addr = (uint64_t)(uintptr_t)(bufs + (size_t)bid * BUF_SIZE);
    b->len = BUF_SIZE;
    b->bid = bid;
    br_tail++;
    __atomic_store_n(&br->tail, br_tail, __ATOMIC_RELEASE);
}

static void
arm_recv(conn_t *c)
{
    struct io_uring_sqe *s = sqe_get();
    s->opcode = IORING_OP_RECV;
    s->fd = c->fd;
    s->ioprio = IORING_RECV_MULTISHOT;
    s->flags = IOSQE_BUFFER_SELECT;
    s->buf_group = BGID;
    s->user_data = udata(c, OP_RECV);
    c->inflight++;
}

static void
arm_send(conn_t *c)
{
    pend_t *p = c->head;
    struct io_uring_sqe *s = sqe_get();
    s->opcode = IORING_OP_SEND;
    s->fd = c->fd;
    s->addr = (uint64_t)(uintptr_t)(bufs + (size_t)p->bid * BUF_SIZE
                                    + p->off);
    s->len = p->len - p->off;
    s->msg_flags = MSG_NOSIGNAL;
    s->user_data = udata(c, OP_SEND);
    c->inflight++;
}

static void
arm_accept(int lfd)
{
    struct io_uring_sqe *s = sqe_get();
    s->opcode = IORING_OP_ACCEPT;
    s->fd = lfd;
    s->ioprio = IORING_ACCEPT_MULTISHOT;
    s->accept_flags = SOCK_NONBLOCK;
    s->user_data = OP_ACCEPT;
}

static void
conn_maybe_free(conn_t *c)
{
    if (c->closing && c->inflight == 0) {
        while (c->head != NULL) {
            pend_t *p = c->head;
            c->head = p->next;
            buf_return(p->bid);
            free(p);
        }
        close(c->fd);
        free(c);
    }
}

static void
conn_close(conn_t *c)
{
    if (!c->closing) {
        c->closing = 1;
        /* the multishot recv and a send end with errors once shut */
        shutdown(c->fd, SHUT_RDWR);
    }
}

static void
on_recv(conn_t *c, struct io_uring_cqe *cqe)
{
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        c->inflight--;
    }
    if (cqe->res > 0) {
        uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        if (c->closing) {
            buf_return(bid);
        }
        else {
            pend_t *p = malloc(sizeof(*p));
            p->next = NULL;
            p->bid = bid;
            p->len = (uint32_t)cqe->res;
            p->off = 0;
            if (c->tail) {
                c->tail->next = p;
                c->tail = p;
            }
            else {
                c->head = c->tail = p;
                arm_send(c);
            }
        }
        if (!(cqe->flags & IORING_CQE_F_MORE) && !c->closing) {
            arm_recv(c);
        }
    }
    else if (cqe->res == -ENOBUFS && !c->closing) {
        arm_recv(c);    /* buffers come back as sends complete */
    }
    else if (!(cqe->flags & IORING_CQE_F_MORE)) {
        conn_close(c);
    }
    conn_maybe_free(c);
}

static void
on_send(conn_t *c, struct io_uring_cqe *cqe)
{
    c->inflight--;
    pend_t *p = c->head;
    if (cqe->res < 0) {
        if (cqe->res != -EAGAIN && cqe->res != -EINTR) {
            conn_close(c);
            conn_maybe_free(c);
            return;
        }
    }
    else {
        p->off += (uint32_t)cqe->res;
    }
    if (p->off == p->len) {
        c->head = p->next;
        if (c->head == NULL) {
            c->tail = NULL;
        }
        buf_return(p->bid);
        free(p);
    }
    if (c->head != NULL && !c->closing) {
        arm_send(c);
    }
    conn_maybe_free(c);
}

static void
ring_setup(void)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN
              | IORING_SETUP_CQSIZE;
    p.cq_entries = ENTRIES * 8;
    ring_fd = (int)syscall(__NR_io_uring_setup, ENTRIES, &p);
    if (ring_fd < 0 && errno == EINVAL) {
        memset(&p, 0, sizeof(p));
        p.flags = IORING_SETUP_CQSIZE;
        p.cq_entries = ENTRIES * 8;
        ring_fd = (int)syscall(__NR_io_uring_setup, ENTRIES, &p);
    }
    if (ring_fd < 0) {
        die("io_uring_setup", errno);
    }
    if (!(p.features & IORING_FEAT_SINGLE_MMAP)) {
        die("io_uring: no IORING_FEAT_SINGLE_MMAP", ENOSYS);
    }
    size_t sring = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cring = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    size_t rsz = sring > cring ? sring : cring;
    char *ring = mmap(NULL, rsz, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_POPULATE, ring_fd, IORING_OFF_SQ_RING);
    sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe),
                PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring_fd,
                IORING_OFF_SQES);
    if (ring == MAP_FAILED || sqes == MAP_FAILED) {
        die("mmap", errno);
    }
    sq_head = (unsigned *)(ring + p.sq_off.head);
    sq_tail = (unsigned *)(ring + p.sq_off.tail);
    sq_mask = (unsigned *)(ring + p.sq_off.ring_mask);
    sq_array = (unsigned *)(ring + p.sq_off.array);
    cq_head = (unsigned *)(ring + p.cq_off.head);
    cq_tail = (unsigned *)(ring + p.cq_off.tail);
    cq_mask = (unsigned *)(ring + p.cq_off.ring_mask);
    cqes = (struct io_uring_cqe *)(ring + p.cq_off.cqes);
    sq_local_tail = *sq_tail;

    br = mmap(NULL, BUFS * sizeof(struct io_uring_buf),
              PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (br == MAP_FAILED
        || posix_memalign((void **)&bufs, 4096, (size_t)BUFS * BUF_SIZE)) {
        die("buffers", ENOMEM);
    }
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (uint64_t)(uintptr_t)br;
    reg.ring_entries = BUFS;
    reg.bgid = BGID;
    if (syscall(__NR_io_uring_register, ring_fd, IORING_REGISTER_PBUF_RING,
                &reg, 1) < 0) {
        die("IORING_REGISTER_PBUF_RING", errno);
    }
    br_tail = 0;
    for (uint16_t i = 0; i < BUFS; i++) {
        buf_return(i);
    }
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: echo_floor_uring PORT\n");
        return 2;
    }
    ring_setup();
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)atoi(argv[1])),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t salen = sizeof(sa);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0
        || listen(lfd, 128) < 0
        || getsockname(lfd, (struct sockaddr *)&sa, &salen) < 0) {
        die("listen", errno);
    }
    printf("PORT %d C-io_uring\n", ntohs(sa.sin_port));
    fflush(stdout);
    arm_accept(lfd);
    for (;;) {
        int r = (int)syscall(__NR_io_uring_enter, ring_fd, to_submit, 1,
                             IORING_ENTER_GETEVENTS, NULL, 0);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("io_uring_enter", errno);
        }
        to_submit = 0;
        unsigned head = *cq_head;
        unsigned tail = __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE);
        for (; head != tail; head++) {
            struct io_uring_cqe *cqe = &cqes[head & *cq_mask];
            uint64_t ud = cqe->user_data;
            conn_t *c = (conn_t *)(uintptr_t)(ud & ~(uint64_t)7);
            switch ((int)(ud & 7)) {
            case OP_ACCEPT:
                if (cqe->res >= 0) {
                    c = calloc(1, sizeof(*c));
                    c->fd = cqe->res;
                    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one,
                               sizeof(one));
                    arm_recv(c);
                }
                if (!(cqe->flags & IORING_CQE_F_MORE)) {
                    arm_accept(lfd);
                }
                break;
            case OP_RECV:
                on_recv(c, cqe);
                break;
            case OP_SEND:
                on_send(c, cqe);
                break;
            }
            __atomic_store_n(cq_head, head + 1, __ATOMIC_RELEASE);
        }
    }
}
