/* Timer heap: see heap.h. */
#include <stdlib.h>
#include "heap.h"

static inline int
entry_less(const cx_timer_entry *a, const cx_timer_entry *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void
heap_sift_up(cx_timer_heap *h, ptrdiff_t i)
{
    cx_timer_entry e = h->items[i];
    while (i > 0) {
        ptrdiff_t parent = (i - 1) / 2;
        if (!entry_less(&e, &h->items[parent])) {
            break;
        }
        h->items[i] = h->items[parent];
        i = parent;
    }
    h->items[i] = e;
}

static void
heap_sift_down(cx_timer_heap *h, ptrdiff_t i)
{
    cx_timer_entry e = h->items[i];
    for (;;) {
        ptrdiff_t child = 2 * i + 1;
        if (child >= h->len) {
            break;
        }
        if (child + 1 < h->len
            && entry_less(&h->items[child + 1], &h->items[child])) {
            child++;
        }
        if (!entry_less(&h->items[child], &e)) {
            break;
        }
        h->items[i] = h->items[child];
        i = child;
    }
    h->items[i] = e;
}

int
cx_heap_push(cx_timer_heap *h, double when, unsigned long long seq,
             void *data)
{
    if (h->len == h->cap) {
        ptrdiff_t ncap = h->cap ? h->cap * 2 : 64;
        cx_timer_entry *n = realloc(h->items, ncap * sizeof(*n));
        if (n == NULL) {
            return -1;
        }
        h->items = n;
        h->cap = ncap;
    }
    h->items[h->len] = (cx_timer_entry){when, seq, data};
    heap_sift_up(h, h->len++);
    return 0;
}

void *
cx_heap_pop(cx_timer_heap *h)
{
    void *data = h->items[0].data;
    h->items[0] = h->items[--h->len];
    if (h->len > 1) {
        heap_sift_down(h, 0);
    }
    return data;
}

int
cx_heap_filter(cx_timer_heap *h, int (*keep)(void *), void ***dropped,
               ptrdiff_t *ndropped)
{
    void **out = malloc((h->len ? h->len : 1) * sizeof(void *));
    if (out == NULL) {
        return -1;
    }
    ptrdiff_t n = 0, nout = 0;
    for (ptrdiff_t i = 0; i < h->len; i++) {
        if (keep(h->items[i].data)) {
            h->items[n++] = h->items[i];
        }
        else {
            out[nout++] = h->items[i].data;
        }
    }
    h->len = n;
    for (ptrdiff_t i = n / 2 - 1; i >= 0; i--) {
        heap_sift_down(h, i);
    }
    *dropped = out;
    *ndropped = nout;
    return 0;
}

void
cx_heap_free(cx_timer_heap *h)
{
    free(h->items);
    h->items = NULL;
    h->len = h->cap = 0;
}
