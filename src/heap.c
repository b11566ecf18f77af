/* Timer heap: see heap.h.
 *
 * The algorithm is heapq's (CPython's Modules/_heapqmodule.c), comparing
 * deadlines only, as asyncio's TimerHandle.__lt__ does: the same pushes,
 * pops and heapify leave entries in the same places as asyncio's
 * loop._scheduled, so timers with equal deadlines run in asyncio's order. */
#include <stdlib.h>
#include "heap.h"

/* heapq's siftdown: move items[pos] up towards startpos. */
static void
heap_siftdown(cx_timer_entry *items, ptrdiff_t startpos, ptrdiff_t pos)
{
    cx_timer_entry e = items[pos];
    while (pos > startpos) {
        ptrdiff_t parentpos = (pos - 1) >> 1;
        if (!(e.when < items[parentpos].when)) {
            break;
        }
        items[pos] = items[parentpos];
        pos = parentpos;
    }
    items[pos] = e;
}

/* heapq's siftup: move the hole at pos down to a leaf along the smaller
 * children (the right one on a tie), then sift items[pos]'s entry up from
 * there (about half the comparisons of a plain sift-down). */
static void
heap_siftup(cx_timer_entry *items, ptrdiff_t endpos, ptrdiff_t pos)
{
    ptrdiff_t startpos = pos;
    ptrdiff_t limit = endpos >> 1;      /* the first position without child */
    cx_timer_entry e = items[pos];
    while (pos < limit) {
        ptrdiff_t childpos = 2 * pos + 1;
        if (childpos + 1 < endpos
            && !(items[childpos].when < items[childpos + 1].when)) {
            childpos++;
        }
        items[pos] = items[childpos];
        pos = childpos;
    }
    items[pos] = e;
    heap_siftdown(items, startpos, pos);
}

/* heapq.heapify.  (For more than 2,500 entries CPython runs the same
 * siftups in a cache-friendlier order, which leaves the same heap.) */
static void
heap_heapify(cx_timer_entry *items, ptrdiff_t n)
{
    for (ptrdiff_t i = (n >> 1) - 1; i >= 0; i--) {
        heap_siftup(items, n, i);
    }
}

int
cx_heap_push(cx_timer_heap *h, double when, void *data)
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
    h->items[h->len] = (cx_timer_entry){when, data};
    h->len++;
    heap_siftdown(h->items, 0, h->len - 1);
    return 0;
}

void *
cx_heap_pop(cx_timer_heap *h)
{
    cx_timer_entry last = h->items[--h->len];
    if (h->len == 0) {
        return last.data;
    }
    void *data = h->items[0].data;
    h->items[0] = last;
    heap_siftup(h->items, h->len, 0);
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
    heap_heapify(h->items, n);
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
