/* The floor for the echo benchmarks: a plain-C epoll echo server, the
 * least work any event loop can do for the same load (bench/net.py builds
 * it with cc -O2).
 *
 *     echo_floor PORT
 *
 * Listens on 127.0.0.1:PORT (0: any free port), prints "PORT <n>" and
 * flushes, then serves for ever: level-triggered epoll, non-blocking
 * sockets, TCP_NODELAY (as asyncio's transports set it); on readable, one
 * recv() of up to 256 KiB (asyncio's max_size) and a send() of what came;
 * what send() could not take is queued and flushed on EPOLLOUT, reading
 * stops meanwhile.  This is what an asyncio Protocol echo server asks of
 * its loop, minus Python. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_READ (256 * 1024)

typedef struct {
    int fd;
    char *pending;      /* unsent bytes, or NULL */
    size_t plen, poff;
} conn_t;

/* Page-aligned: the kernel's copy into a buffer whose page offset differs
 * from the skb's by a few bytes is much slower on AMD Zen. */
static char buf[MAX_READ] __attribute__((aligned(4096)));

static void
die(const char *what)
{
    fprintf(stderr, "echo_floor: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void
conn_close(conn_t *c)
{
    close(c->fd);   /* also leaves the epoll set */
    free(c->pending);
    free(c);
}

static void
conn_watch(int ep, conn_t *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
        die("epoll_ctl");
    }
}

/* Send buf[0:len) and queue the rest.  0, or -1 when the peer is gone. */
static int
conn_write(int ep, conn_t *c, const char *data, size_t len)
{
    ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            return -1;
        }
        n = 0;
    }
    if ((size_t)n < len) {
        c->plen = len - (size_t)n;
        c->poff = 0;
        c->pending = malloc(c->plen);
        memcpy(c->pending, data + n, c->plen);
        conn_watch(ep, c, EPOLLOUT);
    }
    return 0;
}

static int
conn_flush(int ep, conn_t *c)
{
    ssize_t n = send(c->fd, c->pending + c->poff, c->plen - c->poff,
                     MSG_NOSIGNAL);
    if (n < 0) {
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    }
    c->poff += (size_t)n;
    if (c->poff == c->plen) {
        free(c->pending);
        c->pending = NULL;
        conn_watch(ep, c, EPOLLIN);
    }
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: echo_floor PORT\n");
        return 2;
    }
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
        die("listen");
    }
    printf("PORT %d\n", ntohs(sa.sin_port));
    fflush(stdout);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
        die("epoll");
    }
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (c == NULL) {
                int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
                if (fd < 0) {
                    continue;
                }
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                c = calloc(1, sizeof(*c));
                c->fd = fd;
                struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
                if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev) < 0) {
                    die("epoll_ctl");
                }
                continue;
            }
            if (c->pending != NULL) {
                if (conn_flush(ep, c) < 0) {
                    conn_close(c);
                }
                continue;
            }
            ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
                continue;
            }
            if (r <= 0 || conn_write(ep, c, buf, (size_t)r) < 0) {
                conn_close(c);
            }
        }
    }
}
