/* The ready queue: a growable ring of entries, pure C (no Python API calls
 * beyond reference counting of what the entries hold).
 *
 * An entry is one of
 *   CX_ENTRY_HANDLE  obj = a Handle (call_soon and friends), run unless cancelled
 *   CX_ENTRY_CALL1   obj(arg) in context ctx: a future's done callback;
 *                    with fn set, fn(obj, arg) in ctx instead, a failure
 *                    still reported as obj(arg)'s (stdtask.c)
 *   CX_ENTRY_CFUNC   fn(obj, arg): an internal wake-up, e.g. a task step
 * The queue owns one reference to each non-NULL obj, arg and ctx. */
#ifndef CX_QUEUE_H
#define CX_QUEUE_H

#include "Python.h"

typedef int (*cx_cfunc)(PyObject *arg1, PyObject *arg2);

enum { CX_ENTRY_HANDLE = 1, CX_ENTRY_CALL1, CX_ENTRY_CFUNC };

typedef struct {
    int kind;
    PyObject *obj;
    PyObject *arg;
    PyObject *ctx;
    cx_cfunc fn;
} cx_entry;

typedef struct {
    cx_entry *items;
    Py_ssize_t cap;      /* a power of two, or 0 */
    Py_ssize_t head;     /* index of the first entry */
    Py_ssize_t len;
} cx_ready_queue;

static inline Py_ssize_t
cx_queue_len(const cx_ready_queue *q)
{
    return q->len;
}

/* Grow to twice the size.  0, or -1 when out of memory. */
static inline int
cx_queue_grow(cx_ready_queue *q)
{
    Py_ssize_t ncap = q->cap ? q->cap * 2 : 64;
    cx_entry *n = PyMem_RawMalloc(ncap * sizeof(cx_entry));
    if (n == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < q->len; i++) {
        n[i] = q->items[(q->head + i) & (q->cap - 1)];
    }
    PyMem_RawFree(q->items);
    q->items = n;
    q->cap = ncap;
    q->head = 0;
    return 0;
}

/* Append an entry; the queue steals the references in *e.  0 or -1
 * (memory: the caller still owns the references then). */
static inline int
cx_queue_push(cx_ready_queue *q, const cx_entry *e)
{
    if (q->len == q->cap && cx_queue_grow(q) < 0) {
        return -1;
    }
    q->items[(q->head + q->len) & (q->cap - 1)] = *e;
    q->len++;
    return 0;
}

/* Take the first entry; the caller now owns its references. */
static inline void
cx_queue_pop(cx_ready_queue *q, cx_entry *out)
{
    *out = q->items[q->head];
    q->head = (q->head + 1) & (q->cap - 1);
    q->len--;
}

static inline cx_entry *
cx_queue_at(cx_ready_queue *q, Py_ssize_t i)
{
    return &q->items[(q->head + i) & (q->cap - 1)];
}

static inline void
cx_entry_clear(cx_entry *e)
{
    Py_CLEAR(e->obj);
    Py_CLEAR(e->arg);
    Py_CLEAR(e->ctx);
}

/* Drop every entry and free the storage. */
static inline void
cx_queue_free(cx_ready_queue *q)
{
    while (q->len) {
        cx_entry e;
        cx_queue_pop(q, &e);
        cx_entry_clear(&e);
    }
    PyMem_RawFree(q->items);
    q->items = NULL;
    q->cap = 0;
    q->head = 0;
}

#endif /* CX_QUEUE_H */
