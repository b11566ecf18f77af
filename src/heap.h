/* The timer heap: a binary min-heap of nodes ordered by (when, seq), pure C.
 * A node lives inside its TimerHandle and remembers its index, so a
 * cancelled timer leaves the heap at once in O(log n). */
#ifndef CX_HEAP_H
#define CX_HEAP_H

#include <stddef.h>

typedef struct {
    double when;
    unsigned long long seq;     /* insertion order: FIFO among equal `when` */
    ptrdiff_t index;            /* position in the heap, -1 when not in one */
} cx_timer_node;

typedef struct {
    cx_timer_node **nodes;
    ptrdiff_t len;
    ptrdiff_t cap;
} cx_timer_heap;

/* 0, or -1 when out of memory (the heap is unchanged). */
int cx_heap_push(cx_timer_heap *h, cx_timer_node *n);
/* The soonest node, or NULL when empty. */
static inline cx_timer_node *
cx_heap_peek(const cx_timer_heap *h)
{
    return h->len ? h->nodes[0] : NULL;
}
/* Take node n (which must be in h) out of the heap. */
void cx_heap_remove(cx_timer_heap *h, cx_timer_node *n);
void cx_heap_free(cx_timer_heap *h);

#endif /* CX_HEAP_H */
