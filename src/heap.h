/* The timer heap: a binary min-heap of (when, data) entries, pure C.
 * Keys sit inline in the array, so sifting never touches the timers
 * themselves.  Cancellation is lazy, as in asyncio: the loop skips
 * cancelled entries when they reach the top and compacts the heap when
 * they are more than half of it (cx_heap_filter). */
#ifndef CX_HEAP_H
#define CX_HEAP_H

#include <stddef.h>

typedef struct {
    double when;
    void *data;
} cx_timer_entry;

typedef struct {
    cx_timer_entry *items;
    ptrdiff_t len;
    ptrdiff_t cap;
} cx_timer_heap;

/* 0, or -1 when out of memory (the heap is unchanged). */
int cx_heap_push(cx_timer_heap *h, double when, void *data);
/* The soonest entry, or NULL when empty. */
static inline cx_timer_entry *
cx_heap_peek(const cx_timer_heap *h)
{
    return h->len ? &h->items[0] : NULL;
}
/* Remove the soonest entry (the heap must not be empty); its data. */
void *cx_heap_pop(cx_timer_heap *h);
/* Keep only the entries for which keep(data) is non-zero and restore the
 * heap order, in O(n).  The others' data go to a new array (*dropped, of
 * *ndropped items, to be freed with free()), so the caller may release them
 * after the heap is consistent again.  0, or -1 when out of memory (the
 * heap is unchanged). */
int cx_heap_filter(cx_timer_heap *h, int (*keep)(void *),
                   void ***dropped, ptrdiff_t *ndropped);
void cx_heap_free(cx_timer_heap *h);

#endif /* CX_HEAP_H */
