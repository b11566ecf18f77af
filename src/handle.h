/* Handle and TimerHandle (handle.c): what call_soon / call_later return. */
#ifndef CX_HANDLE_H
#define CX_HANDLE_H

#include "Python.h"
#include "state.h"
#include "heap.h"

typedef struct {
    PyObject_HEAD
    PyObject *handle_callback;     /* NULL once cancelled */
    PyObject *handle_args;         /* tuple, NULL once cancelled; the one
                                      argument itself (no tuple) while
                                      handle_arg_inline */
    PyObject *handle_context;      /* NULL while handle_ctx_vars holds
                                      the context's variables instead
                                      (timers: see handle.c) */
    PyObject *handle_ctx_vars;
    PyObject *handle_loop;
    PyObject *handle_repr;         /* repr cached at cancel in debug mode */
    PyObject *handle_source_traceback; /* or NULL */
    PyObject *weakreflist;
    char handle_cancelled;
    char handle_arg_inline;        /* handle_args is callback's only
                                      argument: call_later(d, cb, arg)
                                      allocates no tuple; one is made when
                                      _args (or a repr) asks for it */
} HandleObject;

/* While th_scheduled, the TimerHandle sits in its loop's timer heap, which
 * owns one reference to it; a cancelled one stays there until it reaches
 * the top or the heap is compacted (see loop.c). */
typedef struct {
    HandleObject base;
    double th_when;
    PyObject *th_when_obj;         /* the deadline as given when it is not
                                      a float (call_at(10**6)): what
                                      when() returns; else NULL */
    char th_scheduled;             /* asyncio's TimerHandle._scheduled */
} TimerHandleObject;

int cx_handle_setup(PyObject *module);
/* Free the Handles and TimerHandles kept for reuse (module clear, before
 * the types). */
void cx_handle_free_state(cx_state *st);

/* A new Handle (TimerHandle when `timer`) for callback(*args) in context
 * (NULL: copy the current one).  args is a tuple.  New reference. */
PyObject *cx_handle_new(cx_state *st, PyObject *callback, PyObject *args,
                        PyObject *loop, PyObject *context);
/* The same with the arguments as argv[0..argc): one argument is kept
 * inline (no tuple until _args or a repr asks for one), as timers keep
 * it. */
PyObject *cx_handle_new_argv(cx_state *st, PyObject *callback,
                             PyObject *const *argv, Py_ssize_t argc,
                             PyObject *loop, PyObject *context);
/* when_obj: the deadline as given to call_at(), kept for when() unless it
 * is a float (or NULL).  The callback's arguments are argv[0..argc). */
PyObject *cx_timer_handle_new(cx_state *st, double when, PyObject *when_obj,
                              PyObject *callback,
                              PyObject *const *argv, Py_ssize_t argc,
                              PyObject *loop, PyObject *context);

/* Run the handle's callback in its context; an exception is reported through
 * the loop's exception handler, except SystemExit and KeyboardInterrupt,
 * which are left set and give -1. */
int cx_handle_run(HandleObject *h);

#endif /* CX_HANDLE_H */
