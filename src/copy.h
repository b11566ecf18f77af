/* Copies on the data path (pure C, no Python API).
 *
 * Why not plain memcpy: on AMD Zen (this project's machines), a copy by
 * `rep movsb` -- glibc's memcpy above ~2 KiB, and the kernel's
 * copy_to_user() inside recv() -- runs about 4x slower when the
 * destination sits 1 to 31 bytes past the source modulo 4 KiB.  A large
 * bytearray is a malloc'd block at page + 16, so a recv() of 100 KiB into
 * it took ~50-70 us instead of ~12.  The kernel copies
 * fast into the page-aligned receive buffer (transport.c); cx_copy then
 * moves the bytes with 16-byte vector stores, which have no such case.
 * Measured on the same machine: 100 KiB to page + 16 in ~3 us, where
 * memcpy took ~60 us; equal to memcpy everywhere else.  bench/recv_align.c
 * measures all of this. */
#ifndef CX_COPY_H
#define CX_COPY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Below this glibc copies with vector loops, not rep movsb. */
#define CX_COPY_LOOP_MIN 2048

/* memcpy(dst, src, n) for non-overlapping buffers. */
static inline void
cx_copy(void *dst, const void *src, size_t n)
{
#if defined(__SSE2__)
    if (n >= CX_COPY_LOOP_MIN) {
        char *d = dst;
        const char *s = src;
        size_t head = (16 - ((uintptr_t)d & 15)) & 15;
        memcpy(d, s, head);
        d += head;
        s += head;
        n -= head;
        for (; n >= 64; n -= 64, d += 64, s += 64) {
            __m128i a = _mm_loadu_si128((const __m128i *)s);
            __m128i b = _mm_loadu_si128((const __m128i *)(s + 16));
            __m128i c = _mm_loadu_si128((const __m128i *)(s + 32));
            __m128i e = _mm_loadu_si128((const __m128i *)(s + 48));
            _mm_store_si128((__m128i *)d, a);
            _mm_store_si128((__m128i *)(d + 16), b);
            _mm_store_si128((__m128i *)(d + 32), c);
            _mm_store_si128((__m128i *)(d + 48), e);
        }
        memcpy(d, s, n);
        return;
    }
#endif
    memcpy(dst, src, n);
}

/* Would the kernel's copy into dst (len bytes) hit the slow case above?
 * Its source, a socket buffer's pages, starts at a page boundary for bulk
 * data: a destination 1 to 31 bytes past one is slow (~60 us per 100 KiB
 * against ~12 for the detour's recv plus ~4 for cx_copy).  Worth the
 * detour through the receive buffer only for large reads. */
static inline int
cx_copy_recv_is_slow(const void *dst, size_t len)
{
#if defined(__x86_64__) && defined(__SSE2__)
    size_t in_page = (uintptr_t)dst & 4095;
    return len >= CX_COPY_LOOP_MIN && in_page != 0 && in_page < 32;
#else
    (void)dst;
    (void)len;
    return 0;
#endif
}

#endif /* CX_COPY_H */
