/* Timer heap: see heap.h. */
#include <stdlib.h>
#include "heap.h"

static inline int
node_less(const cx_timer_node *a, const cx_timer_node *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static inline void
heap_place(cx_timer_heap *h, ptrdiff_t i, cx_timer_node *n)
{
    h->nodes[i] = n;
    n->index = i;
}

static void
heap_sift_up(cx_timer_heap *h, ptrdiff_t i)
{
    cx_timer_node *n = h->nodes[i];
    while (i > 0) {
        ptrdiff_t parent = (i - 1) / 2;
        if (!node_less(n, h->nodes[parent])) {
            break;
        }
        heap_place(h, i, h->nodes[parent]);
        i = parent;
    }
    heap_place(h, i, n);
}

static void
heap_sift_down(cx_timer_heap *h, ptrdiff_t i)
{
    cx_timer_node *n = h->nodes[i];
    for (;;) {
        ptrdiff_t child = 2 * i + 1;
        if (child >= h->len) {
            break;
        }
        if (child + 1 < h->len
            && node_less(h->nodes[child + 1], h->nodes[child])) {
            child++;
        }
        if (!node_less(h->nodes[child], n)) {
            break;
        }
        heap_place(h, i, h->nodes[child]);
        i = child;
    }
    heap_place(h, i, n);
}

int
cx_heap_push(cx_timer_heap *h, cx_timer_node *n)
{
    if (h->len == h->cap) {
        ptrdiff_t ncap = h->cap ? h->cap * 2 : 64;
        cx_timer_node **nn = realloc(h->nodes, ncap * sizeof(*nn));
        if (nn == NULL) {
            return -1;
        }
        h->nodes = nn;
        h->cap = ncap;
    }
    h->nodes[h->len] = n;
    n->index = h->len;
    h->len++;
    heap_sift_up(h, n->index);
    return 0;
}

void
cx_heap_remove(cx_timer_heap *h, cx_timer_node *n)
{
    ptrdiff_t i = n->index;
    cx_timer_node *last = h->nodes[--h->len];
    n->index = -1;
    if (i == h->len) {
        return;             /* n was the last node */
    }
    heap_place(h, i, last);
    if (i > 0 && node_less(last, h->nodes[(i - 1) / 2])) {
        heap_sift_up(h, i);
    }
    else {
        heap_sift_down(h, i);
    }
}

void
cx_heap_free(cx_timer_heap *h)
{
    free(h->nodes);
    h->nodes = NULL;
    h->len = h->cap = 0;
}
