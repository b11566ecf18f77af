/* How a copy's cost depends on where its destination sits in a page: the
 * measurement behind src/copy.h.
 *
 *     cc -O2 -o /tmp/recv_align bench/recv_align.c && taskset -c 0 /tmp/recv_align
 *
 * For each destination offset past a page boundary, the time per 100 KiB
 * of: recv() from loopback TCP straight into the destination (the kernel's
 * copy_to_user), recv() into a page-aligned buffer and then memcpy() into
 * the destination, the same with 16-byte vector stores (copy.h's cx_copy),
 * and memcpy() alone from a page-aligned source.  On AMD Zen, rep movsb
 * (used by the kernel and by glibc's memcpy for large sizes) is several
 * times slower when the destination is 1-31 bytes past the source modulo
 * 4 KiB. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <emmintrin.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SIZE (100 * 1024)
#define ITERS 4000

static double
cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void
copy_vec(char *d, const char *s, size_t n)
{
    size_t head = (16 - ((uintptr_t)d & 15)) & 15;
    memcpy(d, s, head);
    d += head, s += head, n -= head;
    for (; n >= 64; n -= 64, d += 64, s += 64) {
        for (int i = 0; i < 64; i += 16) {
            _mm_store_si128((__m128i *)(d + i),
                            _mm_loadu_si128((const __m128i *)(s + i)));
        }
    }
    memcpy(d, s, n);
}

static int rx, tx;
static char *src, *bounce;

/* us of CPU per SIZE bytes received into dst; mode 0 direct, 1 bounce +
 * memcpy, 2 bounce + copy_vec, 3 memcpy only. */
static double
measure(char *dst, int mode)
{
    double used = 0;
    for (int i = 0; i < ITERS; i++) {
        if (mode == 3) {
            double t0 = cpu_now();
            memcpy(dst, bounce, SIZE);
            __asm__ volatile("" ::: "memory");
            used += cpu_now() - t0;
            continue;
        }
        for (size_t sent = 0; sent < SIZE;) {
            sent += (size_t)send(tx, src + sent, SIZE - sent, 0);
        }
        double t0 = cpu_now();
        for (size_t got = 0; got < SIZE;) {
            ssize_t k = recv(rx, mode ? bounce : dst + got, SIZE - got, 0);
            if (k <= 0) {
                perror("recv");
                exit(1);
            }
            if (mode == 1) {
                memcpy(dst + got, bounce, (size_t)k);
            }
            else if (mode == 2) {
                copy_vec(dst + got, bounce, (size_t)k);
            }
            got += (size_t)k;
        }
        used += cpu_now() - t0;
    }
    return used / ITERS * 1e6;
}

int
main(void)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0
        || getsockname(l, (struct sockaddr *)&a, &alen) < 0) {
        perror("listen");
        return 1;
    }
    tx = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(tx, (struct sockaddr *)&a, sizeof a) < 0
        || (rx = accept(l, NULL, NULL)) < 0) {
        perror("connect");
        return 1;
    }
    src = aligned_alloc(4096, SIZE);
    bounce = aligned_alloc(4096, SIZE + 4096);
    char *page = aligned_alloc(4096, SIZE + 8192);
    memset(src, 'x', SIZE);
    memset(bounce, 'y', SIZE + 4096);
    memset(page, 'z', SIZE + 8192);
    printf("us per 100 KiB   recv direct   recv+memcpy   recv+vector"
           "   memcpy only\n");
    static const int offsets[] = {0, 8, 16, 31, 32, 48, 64, 4080};
    for (size_t i = 0; i < sizeof offsets / sizeof *offsets; i++) {
        char *dst = page + offsets[i];
        printf("page + %-4d %15.1f %13.1f %13.1f %13.1f\n", offsets[i],
               measure(dst, 0), measure(dst, 1), measure(dst, 2),
               measure(dst, 3));
    }
    return 0;
}
