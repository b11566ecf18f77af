/* Handle and TimerHandle: asyncio.events.Handle / TimerHandle in C.
 *
 * A Handle is what call_soon() returns; the ready queue holds it as a
 * CX_ENTRY_HANDLE entry.  A TimerHandle adds a deadline; the loop's timer
 * heap holds it while th_scheduled (see handle.h). */
#include "internal.h"
#include "structmember.h"

#ifdef CX_DEBUG
Py_ssize_t cx_debug_live_handles = 0;
#endif

/* Is the loop in debug mode?  -1 on error. */
static inline int
handle_loop_debug(cx_state *st, PyObject *loop)
{
    if (cx_loop_is_fast(st, loop)) {
        return ((LoopObject *)loop)->loop_debug;
    }
    PyObject *res = PyObject_CallMethodNoArgs(loop, st->str_get_debug);
    if (res == NULL) {
        return -1;
    }
    int r = PyObject_IsTrue(res);
    Py_DECREF(res);
    return r;
}

/* ---- a handle's context, made when it runs ----
 *
 * asyncio copies the current context for every handle
 * (contextvars.copy_context()): a new Context object around the same
 * variables, an immutable mapping.  A Handle made by call_soon (its fast
 * path, 3.14+) or a timer made by call_later/call_at keeps only that mapping
 * (handle_ctx_vars, handle_context NULL) and gets its Context when it runs or when _context / get_context() asks.  To run,
 * the spare Context of the module state (st->ctx_scratch) is given the
 * mapping and entered; it is visible as the handle's _context during the
 * call, as in asyncio.  When nothing else holds it afterwards, the handle
 * keeps the mapping as the call left it and the Context is spare again:
 * no Context is allocated or collected per callback, and a cancelled
 * handle never makes one.
 *
 * This reads and writes PyContext's fields: private, but laid out the same
 * in CPython 3.11 to 3.15 (Include/internal/pycore_context.h).
 * context_layout_check tests the layout at start-up; if it does not match,
 * timers copy the context as Handles do. */
typedef struct {
    PyObject_HEAD
    PyObject *ctx_prev;
    PyObject *ctx_vars;            /* a hamt */
    PyObject *ctx_weakreflist;
    int ctx_entered;
} cx_context_layout;

#define CX_CTX(o) ((cx_context_layout *)(o))

/* Does PyContext look as cx_context_layout says?  Sets ctx_layout_ok and
 * ctx_empty_vars.  0, or -1 with an exception set. */
static int
context_layout_check(cx_state *st)
{
    PyObject *a = PyContext_New();
    PyObject *b = a ? PyContext_Copy(a) : NULL;
    if (b == NULL) {
        Py_XDECREF(a);
        return -1;
    }
    PyObject *vars = CX_CTX(a)->ctx_vars;
    int ok = vars != NULL && vars == CX_CTX(b)->ctx_vars
             && strcmp(Py_TYPE(vars)->tp_name, "hamt") == 0
             && CX_CTX(a)->ctx_prev == NULL
             && CX_CTX(a)->ctx_weakreflist == NULL
             && CX_CTX(a)->ctx_entered == 0;
    if (ok) {
        if (PyContext_Enter(a) < 0) {
            goto error;
        }
        ok = CX_CTX(a)->ctx_entered == 1
             && PyThreadState_Get()->context == a;
        if (PyContext_Exit(a) < 0) {
            goto error;
        }
        ok = ok && CX_CTX(a)->ctx_entered == 0;
    }
    st->ctx_layout_ok = ok;
    if (ok) {
        st->ctx_empty_vars = Py_NewRef(vars);
    }
    Py_DECREF(a);
    Py_DECREF(b);
    return 0;
error:
    Py_DECREF(a);
    Py_DECREF(b);
    return -1;
}

/* The current context's variables (borrowed), or NULL when the timer must
 * copy the context instead: no context yet in this thread, or an
 * unexpected layout. */
static inline PyObject *
context_current_vars(cx_state *st)
{
    PyObject *ctx = st->ctx_layout_ok ? PyThreadState_Get()->context : NULL;
    return ctx ? CX_CTX(ctx)->ctx_vars : NULL;
}

/* h's context, made from handle_ctx_vars when it has none yet (and kept).
 * Borrowed; NULL when the handle has none (cleared: no exception) or with
 * an exception set. */
static PyObject *
handle_context_get(HandleObject *h)
{
    if (h->handle_context == NULL && h->handle_ctx_vars != NULL) {
        PyObject *ctx = PyContext_New();
        if (ctx == NULL) {
            return NULL;
        }
        Py_SETREF(CX_CTX(ctx)->ctx_vars, h->handle_ctx_vars);
        h->handle_ctx_vars = NULL;
        h->handle_context = ctx;
    }
    return h->handle_context;
}

/* Give h (which has handle_ctx_vars, no context) a Context to run in: the
 * spare one when there is one.  New reference, also stored as h's
 * context; NULL with an exception set. */
static PyObject *
handle_context_for_run(cx_state *st, HandleObject *h)
{
    PyObject *ctx = st->ctx_scratch;
    st->ctx_scratch = NULL;
    if (ctx != NULL && (Py_REFCNT(ctx) != 1 || CX_CTX(ctx)->ctx_entered
                        || CX_CTX(ctx)->ctx_weakreflist != NULL)) {
        /* found and kept by other code (gc.get_objects()): not spare */
        Py_CLEAR(ctx);
    }
    if (ctx == NULL && (ctx = PyContext_New()) == NULL) {
        return NULL;
    }
    Py_SETREF(CX_CTX(ctx)->ctx_vars, h->handle_ctx_vars);
    h->handle_ctx_vars = NULL;
    h->handle_context = Py_NewRef(ctx);
    return ctx;
}

/* After the call: if only h and we hold ctx, h goes back to keeping the
 * variables alone and ctx becomes the spare Context.  Steals ctx. */
static void
handle_context_after_run(cx_state *st, HandleObject *h, PyObject *ctx)
{
    if (h->handle_context == ctx && Py_REFCNT(ctx) == 2
        && CX_CTX(ctx)->ctx_weakreflist == NULL
        && !CX_CTX(ctx)->ctx_entered && st->ctx_scratch == NULL
        && st->ctx_empty_vars != NULL
        && h->handle_ctx_vars == NULL) {
        h->handle_ctx_vars = CX_CTX(ctx)->ctx_vars;     /* moved */
        CX_CTX(ctx)->ctx_vars = Py_NewRef(st->ctx_empty_vars);
        h->handle_context = NULL;
        Py_DECREF(ctx);         /* h's reference; ours goes to the state */
        st->ctx_scratch = ctx;
        return;
    }
    Py_DECREF(ctx);
}

/* Make handle_args a tuple again if it holds the one argument inline
 * (handle_arg_inline).  0, or -1 when out of memory. */
static int
handle_args_as_tuple(HandleObject *h)
{
    if (h->handle_arg_inline && h->handle_args != NULL) {
        PyObject *t = PyTuple_Pack(1, h->handle_args);
        if (t == NULL) {
            return -1;
        }
        Py_SETREF(h->handle_args, t);
        h->handle_arg_inline = 0;
    }
    return 0;
}

/* Fill the fields of a fresh handle whose handle_args is set.  Steals
 * nothing.  lazy_ctx: with no context given, keep only the current one's
 * variables (timers, see above).  0 or -1. */
static int
handle_fill(cx_state *st, HandleObject *h, PyObject *callback,
            PyObject *loop, PyObject *context, int lazy_ctx)
{
    PyObject *vars;
    h->handle_callback = Py_NewRef(callback);
    h->handle_loop = Py_NewRef(loop);
    if (context == NULL || context == Py_None) {
        if (lazy_ctx && (vars = context_current_vars(st)) != NULL) {
            h->handle_ctx_vars = Py_NewRef(vars);
        }
        else if ((h->handle_context = PyContext_CopyCurrent()) == NULL) {
            return -1;
        }
    }
    else {
        h->handle_context = Py_NewRef(context);
    }
    int debug = handle_loop_debug(st, loop);
    if (debug < 0) {
        return -1;
    }
    if (debug) {
        /* format_helpers.extract_stack(sys._getframe(1)): our caller's
         * frame is the current Python frame, as we are C. */
        PyObject *frame = (PyObject *)PyEval_GetFrame();
        h->handle_source_traceback = PyObject_CallOneArg(
            st->asyncio_extract_stack, frame ? frame : Py_None);
        if (h->handle_source_traceback == NULL) {
            return -1;
        }
    }
    return 0;
}

static PyObject *
handle_alloc(PyTypeObject *tp)
{
    PyObject *h = tp->tp_alloc(tp, 0);
    if (h != NULL) {
        CX_DEBUG_INC(cx_debug_live_handles);
    }
    return h;
}

/* ---- reuse of freed TimerHandles ----
 *
 * A server keeps timers coming and going (timeouts, sleeps): a freed
 * TimerHandle of our exact type is kept, up to TH_POOL_MAX of them (the
 * size of CPython's tuple free lists), and the next call_later / call_at
 * takes it back: no malloc / free, and, as for CPython's own free lists,
 * no count towards the next garbage collection.  A kept one is untracked,
 * has no references and holds no reference to its type. */
#define TH_POOL_MAX 2000

static TimerHandleObject *
timer_handle_alloc(cx_state *st)
{
    if (st->th_pool_len == 0) {
        return (TimerHandleObject *)handle_alloc(st->TimerHandleType);
    }
    TimerHandleObject *t = st->th_pool[--st->th_pool_len];
    memset((char *)t + sizeof(PyObject), 0,
           sizeof(TimerHandleObject) - sizeof(PyObject));
    PyObject_Init((PyObject *)t, st->TimerHandleType);
    PyObject_GC_Track(t);
    CX_DEBUG_INC(cx_debug_live_handles);
    return t;
}

/* Keep t (being deallocated: untracked, fields cleared) for reuse.  1 if
 * kept, 0 if it is to be freed. */
static int
timer_handle_keep(TimerHandleObject *t)
{
    /* a subclass made in Python has no module: not ours to keep */
    cx_state *st = cx_state_of_own_type(Py_TYPE(t));
    if (st == NULL || Py_TYPE(t) != st->TimerHandleType
        || st->th_pool_len >= TH_POOL_MAX) {
        return 0;
    }
    if (st->th_pool == NULL) {
        st->th_pool = PyMem_RawMalloc(TH_POOL_MAX * sizeof(void *));
        if (st->th_pool == NULL) {
            return 0;
        }
    }
    st->th_pool[st->th_pool_len++] = t;
    return 1;
}

/* call_soon makes and drops a Handle per callback: at most this many
 * dead ones are kept (st->handle_freelist) to be made again without the
 * allocator and the GC's bookkeeping, as CPython's own free lists do. */
#define HANDLE_FREELIST_MAX 64

/* A Handle of exactly HandleType, from the free list when it has one. */
static HandleObject *
handle_alloc_exact(cx_state *st)
{
    HandleObject *h = (HandleObject *)st->handle_freelist;
    if (h == NULL) {
        return (HandleObject *)handle_alloc(st->HandleType);
    }
    st->handle_freelist = h->handle_callback;
    st->handle_nfree--;
    h->handle_callback = NULL;
    /* dead objects' fields are NULL (Handle_clear); the type reference
     * was kept */
    h->handle_cancelled = 0;
    cx_pooled_revive((PyObject *)h);
    PyObject_GC_Track(h);
    CX_DEBUG_INC(cx_debug_live_handles);
    return h;
}

/* Keep a dead Handle of exactly its module's HandleType for reuse.  Non-zero
 * if kept (the caller then frees nothing). */
static int
handle_keep(HandleObject *h, PyTypeObject *tp)
{
    cx_state *st = cx_state_of_own_type(tp);
    if (st == NULL || tp != st->HandleType || h->weakreflist != NULL
        || st->handle_nfree >= HANDLE_FREELIST_MAX) {
        return 0;
    }
    h->handle_callback = st->handle_freelist;
    st->handle_freelist = (PyObject *)h;
    st->handle_nfree++;
    return 1;
}

void
cx_handle_free_state(cx_state *st)
{
    while (st->th_pool_len > 0) {
        PyObject_GC_Del(st->th_pool[--st->th_pool_len]);
    }
    PyMem_RawFree(st->th_pool);
    st->th_pool = NULL;
    while (st->handle_freelist != NULL) {
        HandleObject *h = (HandleObject *)st->handle_freelist;
        PyTypeObject *tp = Py_TYPE(h);
        st->handle_freelist = h->handle_callback;
        st->handle_nfree--;
        tp->tp_free(h);
        Py_DECREF(tp);
    }
}

PyObject *
cx_handle_new(cx_state *st, PyObject *callback, PyObject *args,
              PyObject *loop, PyObject *context)
{
    HandleObject *h = handle_alloc_exact(st);
    if (h == NULL) {
        return NULL;
    }
    h->handle_args = Py_NewRef(args);
    if (handle_fill(st, h, callback, loop, context, 0) < 0) {
        Py_DECREF(h);
        return NULL;
    }
    return (PyObject *)h;
}

PyObject *
cx_handle_new_argv(cx_state *st, PyObject *callback, PyObject *const *argv,
                   Py_ssize_t argc, PyObject *loop, PyObject *context)
{
    HandleObject *h = handle_alloc_exact(st);
    if (h == NULL) {
        return NULL;
    }
    if (argc == 1) {
        h->handle_args = Py_NewRef(argv[0]);
        h->handle_arg_inline = 1;
    }
    else if ((h->handle_args = cx_tuple_from_array(argv, argc)) == NULL) {
        Py_DECREF(h);
        return NULL;
    }
    /* call_soon's: the context's variables kept, as for timers, on 3.14+
     * (future_roundtrip per op: 3.15 4,616 -> 4,554); up to 3.13 a copy
     * from CPython's Context free list is as cheap (3.11: 4,499 -> 4,518) */
    if (handle_fill(st, h, callback, loop, context,
                    PY_VERSION_HEX >= 0x030E0000) < 0) {
        Py_DECREF(h);
        return NULL;
    }
    return (PyObject *)h;
}

/* The deadline: when for the heap and comparisons, and when_obj, the
 * object given, kept for when() unless it is a float (or NULL). */
static void
timer_set_when(TimerHandleObject *t, double when, PyObject *when_obj)
{
    t->th_when = when;
    if (when_obj != NULL && !PyFloat_CheckExact(when_obj)) {
        t->th_when_obj = Py_NewRef(when_obj);
    }
}

PyObject *
cx_timer_handle_new(cx_state *st, double when, PyObject *when_obj,
                    PyObject *callback, PyObject *const *argv,
                    Py_ssize_t argc, PyObject *loop, PyObject *context)
{
    TimerHandleObject *t = timer_handle_alloc(st);
    if (t == NULL) {
        return NULL;
    }
    timer_set_when(t, when, when_obj);
    if (argc == 1) {
        t->base.handle_args = Py_NewRef(argv[0]);
        t->base.handle_arg_inline = 1;
    }
    else if ((t->base.handle_args = cx_tuple_from_array(argv, argc))
             == NULL) {
        Py_DECREF(t);
        return NULL;
    }
    if (handle_fill(st, &t->base, callback, loop, context, 1) < 0) {
        Py_DECREF(t);
        return NULL;
    }
    return (PyObject *)t;
}

/* Handle(callback, args, loop, context=None), as asyncio.Handle. */
static PyObject *
Handle_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"callback", "args", "loop", "context", NULL};
    PyObject *callback, *cbargs, *loop, *context = Py_None;
    cx_state *st = cx_state_from_type(tp);
    if (st == NULL || !PyArg_ParseTupleAndKeywords(
            args, kwds, "OOO|O:Handle", kwlist,
            &callback, &cbargs, &loop, &context)) {
        return NULL;
    }
    PyObject *tuple = PySequence_Tuple(cbargs);
    if (tuple == NULL) {
        return NULL;
    }
    HandleObject *h = (HandleObject *)handle_alloc(tp);
    if (h == NULL) {
        Py_DECREF(tuple);
        return NULL;
    }
    h->handle_args = tuple;
    if (handle_fill(st, h, callback, loop, context, 0) < 0) {
        Py_DECREF(h);
        return NULL;
    }
    return (PyObject *)h;
}

/* TimerHandle(when, callback, args, loop, context=None). */
static PyObject *
TimerHandle_new(PyTypeObject *tp, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"when", "callback", "args", "loop", "context",
                             NULL};
    PyObject *when_obj, *callback, *cbargs, *loop, *context = Py_None;
    cx_state *st = cx_state_from_type(tp);
    if (st == NULL || !PyArg_ParseTupleAndKeywords(
            args, kwds, "OOOO|O:TimerHandle", kwlist,
            &when_obj, &callback, &cbargs, &loop, &context)) {
        return NULL;
    }
    double when = PyFloat_AsDouble(when_obj);
    if (when == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *tuple = PySequence_Tuple(cbargs);
    if (tuple == NULL) {
        return NULL;
    }
    TimerHandleObject *t = (TimerHandleObject *)handle_alloc(tp);
    if (t == NULL) {
        Py_DECREF(tuple);
        return NULL;
    }
    timer_set_when(t, when, when_obj);
    t->base.handle_args = tuple;
    if (handle_fill(st, &t->base, callback, loop, context, 0) < 0) {
        Py_DECREF(t);
        return NULL;
    }
    return (PyObject *)t;
}

static int
Handle_traverse(HandleObject *h, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(h));
    Py_VISIT(h->handle_callback);
    Py_VISIT(h->handle_args);
    Py_VISIT(h->handle_context);
    Py_VISIT(h->handle_ctx_vars);
    Py_VISIT(h->handle_loop);
    Py_VISIT(h->handle_repr);
    Py_VISIT(h->handle_source_traceback);
    return 0;
}

static int
Handle_clear(HandleObject *h)
{
    Py_CLEAR(h->handle_callback);
    Py_CLEAR(h->handle_args);
    h->handle_arg_inline = 0;
    Py_CLEAR(h->handle_context);
    Py_CLEAR(h->handle_ctx_vars);
    Py_CLEAR(h->handle_loop);
    Py_CLEAR(h->handle_repr);
    Py_CLEAR(h->handle_source_traceback);
    return 0;
}

static void
Handle_dealloc(HandleObject *h)
{
    PyTypeObject *tp = Py_TYPE(h);
    PyObject_GC_UnTrack(h);
    if (h->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)h);
    }
    Handle_clear(h);
    CX_DEBUG_DEC(cx_debug_live_handles);
    if (handle_keep(h, tp)) {
        return;
    }
    tp->tp_free(h);
    Py_DECREF(tp);
}

/* ---- repr (cold) ---- */

/* asyncio's Handle._repr_info() as a list of str.  New reference. */
static PyObject *
handle_repr_info(HandleObject *h)
{
    cx_state *st = cx_state_from_type(Py_TYPE(h));
    if (st == NULL) {
        return NULL;
    }
    PyObject *info = Py_BuildValue("[s]", cx_type_short_name(Py_TYPE(h)));
    if (info == NULL) {
        return NULL;
    }
    if (h->handle_cancelled) {
        PyObject *c = PyUnicode_FromString("cancelled");
        if (c == NULL || PyList_Append(info, c) < 0) {
            Py_XDECREF(c);
            goto error;
        }
        Py_DECREF(c);
    }
    if (h->handle_callback != NULL && h->handle_callback != Py_None) {
        if (handle_args_as_tuple(h) < 0) {
            goto error;
        }
        PyObject *src = cx_format_callback_source(
            st, h->handle_callback, h->handle_args, h->handle_loop);
        if (src == NULL || PyList_Append(info, src) < 0) {
            Py_XDECREF(src);
            goto error;
        }
        Py_DECREF(src);
    }
    if (h->handle_source_traceback != NULL
        && PyObject_IsTrue(h->handle_source_traceback) == 1) {
        PyObject *s;
        PyObject *frame = PySequence_GetItem(h->handle_source_traceback, -1);
        if (frame == NULL) {
            goto error;
        }
        PyObject *fn = PySequence_GetItem(frame, 0);
        PyObject *ln = PySequence_GetItem(frame, 1);
        Py_DECREF(frame);
        s = (fn && ln) ? PyUnicode_FromFormat("created at %S:%S", fn, ln)
                       : NULL;
        Py_XDECREF(fn);
        Py_XDECREF(ln);
        if (s == NULL || PyList_Append(info, s) < 0) {
            Py_XDECREF(s);
            goto error;
        }
        Py_DECREF(s);
    }
    return info;
error:
    Py_DECREF(info);
    return NULL;
}

static PyObject *timer_when(TimerHandleObject *t);

static PyObject *
TimerHandle_repr_info(HandleObject *h)
{
    TimerHandleObject *t = (TimerHandleObject *)h;
    PyObject *info = handle_repr_info(h);
    if (info == NULL) {
        return NULL;
    }
    PyObject *when = timer_when(t);
    PyObject *s = when ? PyUnicode_FromFormat("when=%S", when) : NULL;
    Py_XDECREF(when);
    if (s == NULL || PyList_Insert(info, h->handle_cancelled ? 2 : 1, s) < 0) {
        Py_XDECREF(s);
        Py_DECREF(info);
        return NULL;
    }
    Py_DECREF(s);
    return info;
}

static PyObject *
Handle__repr_info(HandleObject *h, PyObject *Py_UNUSED(ignored))
{
    cx_state *st = cx_state_from_type(Py_TYPE(h));
    if (st == NULL) {
        return NULL;
    }
    if (PyObject_TypeCheck(h, st->TimerHandleType)) {
        return TimerHandle_repr_info(h);
    }
    return handle_repr_info(h);
}

static PyObject *
Handle_repr(HandleObject *h)
{
    if (h->handle_repr != NULL) {
        return Py_NewRef(h->handle_repr);
    }
    /* A Python subclass may override _repr_info, as asyncio allows. */
    PyObject *info = PyObject_CallMethod((PyObject *)h, "_repr_info", NULL);
    if (info == NULL) {
        return NULL;
    }
    PyObject *sep = PyUnicode_FromString(" ");
    PyObject *joined = sep ? PyUnicode_Join(sep, info) : NULL;
    Py_XDECREF(sep);
    Py_DECREF(info);
    if (joined == NULL) {
        return NULL;
    }
    PyObject *res = PyUnicode_FromFormat("<%U>", joined);
    Py_DECREF(joined);
    return res;
}

/* ---- behaviour ---- */

static PyObject *
Handle_cancel(HandleObject *h, PyObject *Py_UNUSED(ignored))
{
    if (h->handle_cancelled) {
        Py_RETURN_NONE;
    }
    cx_state *st = cx_state_from_type(Py_TYPE(h));
    if (st == NULL) {
        return NULL;
    }
    PyObject *loop = h->handle_loop;
    if (PyObject_TypeCheck(h, st->TimerHandleType) && loop != NULL) {
        /* asyncio's TimerHandle.cancel() tells the loop first. */
        TimerHandleObject *t = (TimerHandleObject *)h;
        if (cx_loop_check(st, loop)) {
            if (t->th_scheduled) {
                cx_loop_timer_cancelled((LoopObject *)loop);
            }
        }
        else {
            PyObject *r = PyObject_CallMethod(
                loop, "_timer_handle_cancelled", "O", h);
            if (r == NULL) {
                return NULL;
            }
            Py_DECREF(r);
        }
    }
    h->handle_cancelled = 1;
    int debug = loop ? handle_loop_debug(st, loop) : 0;
    if (debug < 0) {
        return NULL;
    }
    if (debug) {
        /* Keep a representation, to log "Executing <Handle ...> took". */
        PyObject *r = Handle_repr(h);
        if (r == NULL) {
            return NULL;
        }
        Py_XSETREF(h->handle_repr, r);
    }
    Py_CLEAR(h->handle_callback);
    Py_CLEAR(h->handle_args);
    h->handle_arg_inline = 0;
    Py_RETURN_NONE;
}

static PyObject *
Handle_cancelled(HandleObject *h, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(h->handle_cancelled);
}

static PyObject *
Handle_get_context(HandleObject *h, PyObject *Py_UNUSED(ignored))
{
    PyObject *ctx = handle_context_get(h);
    if (ctx == NULL && PyErr_Occurred()) {
        return NULL;
    }
    return Py_NewRef(ctx ? ctx : Py_None);
}

static PyObject *
Handle_get_context_attr(HandleObject *h, void *c)
{
    return Handle_get_context(h, NULL);
}

/* callback(*args).  A C method taking no arguments (a transport's
 * _read_ready and _write_ready, bound once per transport: the reader and
 * writer Handles) is called directly, as cfunction_vectorcall_NOARGS would
 * but without its dispatch through PyObject_Call and the vectorcall. */
static inline PyObject *
handle_call(PyObject *cb, PyObject *args)
{
    if (!Py_IS_TYPE(cb, &PyCFunction_Type)
        || PyCFunction_GET_FLAGS(cb) != METH_NOARGS
        || PyTuple_GET_SIZE(args) != 0) {
        /* What PyObject_Call(cb, args, NULL) does for a callable with
         * vectorcall (a function, a bound method), without its layers. */
        if (PyVectorcall_Function(cb) != NULL) {
            return PyObject_Vectorcall(cb, &PyTuple_GET_ITEM(args, 0),
                                       PyTuple_GET_SIZE(args), NULL);
        }
        return PyObject_Call(cb, args, NULL);
    }
    PyObject *res = PyCFunction_GET_FUNCTION(cb)(PyCFunction_GET_SELF(cb),
                                                 NULL);
    if (res == NULL && !PyErr_Occurred()) {
        PyErr_Format(PyExc_SystemError,
                     "%R returned NULL without setting an exception", cb);
    }
    return res;
}

int
cx_handle_run(HandleObject *h)
{
    /* The callback may cancel (and so clear) this handle: hold what we
     * need, and the handle itself, across the call. */
    PyObject *cb = Py_XNewRef(h->handle_callback);
    PyObject *args = Py_XNewRef(h->handle_args);
    PyObject *ctx = Py_XNewRef(h->handle_context);
    int inline_arg = h->handle_arg_inline;
    cx_state *lazy_st = NULL;       /* set when ctx is made for this run */
    PyObject *res = NULL;
    int rc = 0;
    Py_INCREF(h);
    if (ctx == NULL && h->handle_ctx_vars != NULL && cb != NULL) {
        lazy_st = cx_state_of_own_type(Py_TYPE(h));
        if (lazy_st == NULL) {
            lazy_st = cx_state_from_type(Py_TYPE(h));   /* a subclass */
        }
        ctx = lazy_st ? handle_context_for_run(lazy_st, h) : NULL;
        if (ctx == NULL) {
            lazy_st = NULL;
            goto call_failed;
        }
    }
    if (cb == NULL || args == NULL || ctx == NULL) {
        PyErr_SetString(PyExc_TypeError, "'NoneType' object is not callable");
    }
    else if (PyContext_Enter(ctx) == 0) {
        res = inline_arg ? PyObject_Vectorcall(cb, &args, 1, NULL)
                         : handle_call(cb, args);
        PyContext_Exit(ctx);
    }
    if (lazy_st != NULL) {
        handle_context_after_run(lazy_st, h, ctx);
        ctx = NULL;
    }
call_failed:
    if (res == NULL) {
        if (cx_is_exit_exception()) {
            rc = -1;
        }
        else {
            cx_state *st = cx_state_from_type(Py_TYPE(h));
            PyObject *msg = NULL;
            if (st != NULL && inline_arg && args != NULL) {
                /* the message shows the arguments as a tuple */
                PyObject *exc = cx_err_fetch();
                Py_SETREF(args, PyTuple_Pack(1, args));
                cx_err_restore(exc);
            }
            if (st != NULL) {
                msg = cx_callback_error_message(st, cb, args,
                                                h->handle_loop);
            }
            rc = msg ? cx_loop_report_exception(h->handle_loop, msg,
                                                st->str_handle,
                                                (PyObject *)h)
                     : -1;
            Py_XDECREF(msg);
        }
    }
    Py_XDECREF(res);
    Py_XDECREF(cb);
    Py_XDECREF(args);
    Py_XDECREF(ctx);
    Py_DECREF(h);
    return rc;
}

static PyObject *
Handle__run(HandleObject *h, PyObject *Py_UNUSED(ignored))
{
    if (cx_handle_run(h) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ---- attributes ---- */

static PyObject *
Handle_get_callback(HandleObject *h, void *c)
{
    return Py_NewRef(h->handle_callback ? h->handle_callback : Py_None);
}

static PyObject *
Handle_get_args(HandleObject *h, void *c)
{
    if (handle_args_as_tuple(h) < 0) {
        return NULL;
    }
    return Py_NewRef(h->handle_args ? h->handle_args : Py_None);
}

static PyObject *
Handle_get_source_traceback(HandleObject *h, void *c)
{
    PyObject *tb = h->handle_source_traceback;
    return Py_NewRef(tb ? tb : Py_None);
}

static PyObject *
Handle_get_cancelled_attr(HandleObject *h, void *c)
{
    return PyBool_FromLong(h->handle_cancelled);
}

static PyObject *
Handle_get_repr_attr(HandleObject *h, void *c)
{
    return Py_NewRef(h->handle_repr ? h->handle_repr : Py_None);
}

static PyMethodDef Handle_methods[] = {
    /* asyncio's Handle methods have no docstrings: signatures only */
    {"cancel", (PyCFunction)Handle_cancel, METH_NOARGS,
     CX_DOC_SIG("cancel($self, /)", "")},
    {"cancelled", (PyCFunction)Handle_cancelled, METH_NOARGS,
     CX_DOC_SIG("cancelled($self, /)", "")},
    {"get_context", (PyCFunction)Handle_get_context, METH_NOARGS,
     CX_DOC_SIG("get_context($self, /)", "")},
    {"_run", (PyCFunction)Handle__run, METH_NOARGS,
     CX_DOC_SIG("_run($self, /)", "")},
    {"_repr_info", (PyCFunction)Handle__repr_info, METH_NOARGS,
     CX_DOC_SIG("_repr_info($self, /)", "")},
    {NULL, NULL},
};

static PyGetSetDef Handle_getset[] = {
    {"_callback", (getter)Handle_get_callback, NULL, NULL, NULL},
    {"_args", (getter)Handle_get_args, NULL, NULL, NULL},
    {"_source_traceback", (getter)Handle_get_source_traceback, NULL, NULL,
     NULL},
    {"_cancelled", (getter)Handle_get_cancelled_attr, NULL, NULL, NULL},
    {"_repr", (getter)Handle_get_repr_attr, NULL, NULL, NULL},
    {"_context", (getter)Handle_get_context_attr, NULL, NULL, NULL},
    {NULL},
};

static PyMemberDef Handle_members[] = {
    {"_loop", T_OBJECT, offsetof(HandleObject, handle_loop), READONLY, NULL},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(HandleObject, weakreflist),
     READONLY, NULL},
    {NULL},
};

static PyType_Slot Handle_slots[] = {
    {Py_tp_new, Handle_new},
    {Py_tp_dealloc, Handle_dealloc},
    {Py_tp_traverse, Handle_traverse},
    {Py_tp_clear, Handle_clear},
    {Py_tp_repr, Handle_repr},
    {Py_tp_methods, Handle_methods},
    {Py_tp_getset, Handle_getset},
    {Py_tp_members, Handle_members},
    {Py_tp_doc, CX_DOC_SIG("Handle(callback, args, loop, context=None)",
                           "Object returned by callback registration "
                           "methods.")},
    {0, NULL},
};

static PyType_Spec Handle_spec = {
    .name = "casyncio._core.Handle",
    .basicsize = sizeof(HandleObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = Handle_slots,
};

/* ---- TimerHandle ---- */

/* The deadline as asyncio's TimerHandle keeps it: as given to call_at(). */
static PyObject *
timer_when(TimerHandleObject *t)
{
    if (t->th_when_obj != NULL) {
        return Py_NewRef(t->th_when_obj);
    }
    return PyFloat_FromDouble(t->th_when);
}

static PyObject *
TimerHandle_when(TimerHandleObject *t, PyObject *Py_UNUSED(ignored))
{
    return timer_when(t);
}

static Py_hash_t
TimerHandle_hash(TimerHandleObject *t)
{
    PyObject *w = timer_when(t);
    if (w == NULL) {
        return -1;
    }
    Py_hash_t hash = PyObject_Hash(w);
    Py_DECREF(w);
    return hash;
}

static PyObject *
TimerHandle_richcompare(TimerHandleObject *a, PyObject *other, int op)
{
    cx_state *st = cx_state_from_type(Py_TYPE(a));
    if (st == NULL) {
        return NULL;
    }
    if (!PyObject_TypeCheck(other, st->TimerHandleType)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    TimerHandleObject *b = (TimerHandleObject *)other;
    double x = a->th_when, y = b->th_when;
    switch (op) {
    case Py_LT: return PyBool_FromLong(x < y);
    case Py_GT: return PyBool_FromLong(x > y);
    case Py_LE:
    case Py_GE:
    case Py_EQ:
    case Py_NE: {
        /* asyncio: <= and >= are "< or ==", where == also compares the
         * callback, args and cancelled state. */
        int eq = 0;
        if (x == y
            && a->base.handle_cancelled == b->base.handle_cancelled) {
            if (handle_args_as_tuple(&a->base) < 0
                || handle_args_as_tuple(&b->base) < 0) {
                return NULL;
            }
            /* Owned: a comparison may run code that cancels (and so
             * clears) either handle. */
            PyObject *ca = Py_NewRef(a->base.handle_callback
                                     ? a->base.handle_callback : Py_None);
            PyObject *cb = Py_NewRef(b->base.handle_callback
                                     ? b->base.handle_callback : Py_None);
            PyObject *aa = Py_NewRef(a->base.handle_args
                                     ? a->base.handle_args : Py_None);
            PyObject *ab = Py_NewRef(b->base.handle_args
                                     ? b->base.handle_args : Py_None);
            int r = PyObject_RichCompareBool(ca, cb, Py_EQ);
            if (r > 0) {
                r = PyObject_RichCompareBool(aa, ab, Py_EQ);
            }
            Py_DECREF(ca);
            Py_DECREF(cb);
            Py_DECREF(aa);
            Py_DECREF(ab);
            if (r < 0) {
                return NULL;
            }
            eq = r && a->base.handle_cancelled == b->base.handle_cancelled;
        }
        if (op == Py_EQ) return PyBool_FromLong(eq);
        if (op == Py_NE) return PyBool_FromLong(!eq);
        if (op == Py_LE) return PyBool_FromLong(x < y || eq);
        return PyBool_FromLong(x > y || eq);
    }
    }
    Py_RETURN_NOTIMPLEMENTED;
}

static PyObject *
TimerHandle_get_when_attr(TimerHandleObject *t, void *c)
{
    return timer_when(t);
}

static int
TimerHandle_traverse(TimerHandleObject *t, visitproc visit, void *arg)
{
    Py_VISIT(t->th_when_obj);
    return Handle_traverse(&t->base, visit, arg);
}

static int
TimerHandle_clear(TimerHandleObject *t)
{
    Py_CLEAR(t->th_when_obj);
    return Handle_clear(&t->base);
}

static void
TimerHandle_dealloc(TimerHandleObject *t)
{
    PyTypeObject *tp = Py_TYPE(t);
    PyObject_GC_UnTrack(t);
    if (t->base.weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)t);
    }
    Py_CLEAR(t->th_when_obj);
    Handle_clear(&t->base);
    CX_DEBUG_DEC(cx_debug_live_handles);
    if (!timer_handle_keep(t)) {
        tp->tp_free(t);
    }
    Py_DECREF(tp);
}

static PyObject *
TimerHandle_get_scheduled(TimerHandleObject *t, void *c)
{
    return PyBool_FromLong(t->th_scheduled);
}

static PyMethodDef TimerHandle_methods[] = {
    {"when", (PyCFunction)TimerHandle_when, METH_NOARGS,
     CX_DOC_SIG("when($self, /)", "Return a scheduled callback time.")},
    {NULL, NULL},
};

static PyGetSetDef TimerHandle_getset[] = {
    {"_when", (getter)TimerHandle_get_when_attr, NULL, NULL, NULL},
    {"_scheduled", (getter)TimerHandle_get_scheduled, NULL, NULL, NULL},
    {NULL},
};

static PyType_Slot TimerHandle_slots[] = {
    {Py_tp_new, TimerHandle_new},
    {Py_tp_dealloc, TimerHandle_dealloc},
    {Py_tp_traverse, TimerHandle_traverse},
    {Py_tp_clear, TimerHandle_clear},
    {Py_tp_hash, TimerHandle_hash},
    {Py_tp_richcompare, TimerHandle_richcompare},
    {Py_tp_methods, TimerHandle_methods},
    {Py_tp_getset, TimerHandle_getset},
    {Py_tp_doc, CX_DOC_SIG("TimerHandle(when, callback, args, loop, "
                           "context=None)",
                           "Object returned by timed callback registration "
                           "methods.")},
    {0, NULL},
};

static PyType_Spec TimerHandle_spec = {
    .name = "casyncio._core.TimerHandle",
    .basicsize = sizeof(TimerHandleObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = TimerHandle_slots,
};

int
cx_handle_setup(PyObject *module)
{
    cx_state *st = PyModule_GetState(module);
    if (context_layout_check(st) < 0) {
        return -1;
    }
    st->HandleType = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &Handle_spec, NULL);
    if (st->HandleType == NULL
        || PyModule_AddType(module, st->HandleType) < 0) {
        return -1;
    }
    st->TimerHandleType = (PyTypeObject *)PyType_FromModuleAndSpec(
        module, &TimerHandle_spec, (PyObject *)st->HandleType);
    if (st->TimerHandleType == NULL
        || PyModule_AddType(module, st->TimerHandleType) < 0) {
        return -1;
    }
    return 0;
}
