/* Load generator for the echo benchmarks (bench/net.py builds it with
 * cc -O2).
 *
 *     echo_load HOST PORT CONNS SIZE WARMUP_S DURATION_S SERVER_PID
 *
 * CONNS connections, each a ping-pong: send one SIZE-byte message, wait
 * until all SIZE bytes came back (checked byte for byte against what was
 * sent), send the next.  One thread, epoll, non-blocking sockets,
 * TCP_NODELAY.  After WARMUP_S seconds it samples the message count and
 * the server's utime+stime from /proc/SERVER_PID/stat, again DURATION_S
 * seconds later, and prints one JSON line:
 *
 *     {"msgs": N, "secs": S, "server_cpu": C}
 *
 * (N round trips completed in the window, S its length in seconds, C the
 * server's user+sys CPU seconds in the window).  Exit status 1 on any
 * error (connection refused or closed, wrong echo), with a message. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int fd;
    size_t sent;        /* bytes of the current message sent */
    size_t recvd;       /* bytes of the current message echoed back */
    int want_out;       /* EPOLLOUT registered */
    unsigned char *msg; /* the current message */
} conn_t;

static size_t size;
static uint64_t msgs;
static unsigned char scratch[1 << 20] __attribute__((aligned(4096)));

static void
die(const char *what)
{
    fprintf(stderr, "echo_load: %s: %s\n", what, strerror(errno));
    exit(1);
}

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* utime + stime of the process, in seconds. */
static double
server_cpu(const char *path)
{
    char buf[4096];
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        die(path);
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');    /* comm may hold spaces */
    unsigned long ut = 0, st = 0;
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
                            "%*u %*u %lu %lu", &ut, &st) != 2) {
        fprintf(stderr, "echo_load: cannot parse %s\n", path);
        exit(1);
    }
    return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

static int
fcntl_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void
set_out(int ep, conn_t *c, int on)
{
    if (c->want_out == on) {
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0),
                             .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
        die("epoll_ctl");
    }
    c->want_out = on;
}

static void
conn_send(int ep, conn_t *c)
{
    while (c->sent < size) {
        ssize_t n = send(c->fd, c->msg + c->sent, size - c->sent,
                         MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                break;
            }
            die("send");
        }
        c->sent += (size_t)n;
    }
    set_out(ep, c, c->sent < size);
}

/* Start the next message: its first 8 bytes count the messages, so an
 * echo of a stale message is caught. */
static void
conn_next(int ep, conn_t *c)
{
    uint64_t k = msgs;
    memcpy(c->msg, &k, size < 8 ? size : 8);
    c->sent = 0;
    c->recvd = 0;
    conn_send(ep, c);
}

static void
conn_recv(int ep, conn_t *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, scratch, sizeof(scratch), 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                return;
            }
            die("recv");
        }
        if (n == 0) {
            fprintf(stderr, "echo_load: server closed the connection\n");
            exit(1);
        }
        if (c->recvd + (size_t)n > c->sent
            || memcmp(scratch, c->msg + c->recvd, (size_t)n) != 0) {
            fprintf(stderr, "echo_load: wrong echo\n");
            exit(1);
        }
        c->recvd += (size_t)n;
        if (c->recvd == size) {
            msgs++;
            conn_next(ep, c);
            return;
        }
    }
}

int
main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: echo_load HOST PORT CONNS SIZE WARMUP_S "
                        "DURATION_S SERVER_PID\n");
        return 2;
    }
    int nconn = atoi(argv[3]);
    size = (size_t)atol(argv[4]);
    double warmup = atof(argv[5]), duration = atof(argv[6]);
    char stat_path[64];
    snprintf(stat_path, sizeof(stat_path), "/proc/%s/stat", argv[7]);
    if (nconn <= 0 || size == 0 || size > sizeof(scratch)) {
        fprintf(stderr, "echo_load: bad CONNS or SIZE\n");
        return 2;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM}, *ai;
    int rc = getaddrinfo(argv[1], argv[2], &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "echo_load: %s\n", gai_strerror(rc));
        return 1;
    }
    int ep = epoll_create1(0);
    if (ep < 0) {
        die("epoll_create1");
    }
    conn_t *conns = calloc((size_t)nconn, sizeof(conn_t));
    for (int i = 0; i < nconn; i++) {
        conn_t *c = &conns[i];
        c->fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (c->fd < 0) {
            die("socket");
        }
        if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            die("connect");
        }
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (fcntl_nonblock(c->fd) < 0) {
            die("fcntl");
        }
        c->msg = malloc(size);
        for (size_t j = 0; j < size; j++) {
            c->msg[j] = (unsigned char)(j * 31 + i);
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
            die("epoll_ctl");
        }
    }
    freeaddrinfo(ai);
    for (int i = 0; i < nconn; i++) {
        conn_next(ep, &conns[i]);
    }
    double t_start = now(), t0 = 0, cpu0 = 0;
    uint64_t m0 = 0;
    int measuring = 0;
    struct epoll_event evs[256];
    for (;;) {
        double t = now();
        if (!measuring && t >= t_start + warmup) {
            measuring = 1;
            t0 = t;
            m0 = msgs;
            cpu0 = server_cpu(stat_path);
        }
        else if (measuring && t >= t0 + duration) {
            double cpu1 = server_cpu(stat_path);
            printf("{\"msgs\": %llu, \"secs\": %.6f, \"server_cpu\": %.4f}\n",
                   (unsigned long long)(msgs - m0), t - t0, cpu1 - cpu0);
            return 0;
        }
        int n = epoll_wait(ep, evs, 256, 100);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                conn_recv(ep, c);
            }
            if ((evs[i].events & EPOLLOUT) && c->sent < size) {
                conn_send(ep, c);
            }
        }
    }
}
