/* asyncio.StreamReaderProtocol.data_received in C: see readerproto.h.
 *
 * What it replaces (asyncio/streams.py, 3.11):
 *
 *     StreamReaderProtocol.data_received(data):
 *         reader = self._stream_reader        # property: the weakref's target
 *         if reader is not None:
 *             reader.feed_data(data)
 *
 *     StreamReader.feed_data(data):
 *         assert not self._eof, 'feed_data after feed_eof'
 *         if not data: return
 *         self._buffer.extend(data)
 *         self._wakeup_waiter()               # waiter.set_result(None)
 *         if (self._transport is not None and not self._paused and
 *                 len(self._buffer) > 2 * self._limit):
 *             try: self._transport.pause_reading()
 *             except NotImplementedError: self._transport = None
 *             else: self._paused = True
 *
 * When it is taken: no tracer or profiler is set (they see the Python
 * frames); the protocol and the reader are exactly those classes, with
 * the generic attribute lookup, asyncio's functions (checked once per
 * class version tag) and their code objects (checked every time: a
 * function's __code__ can be replaced in place), and no class attribute
 * named as the instance attributes we read; the instances override none
 * of the methods; `_eof` is False and `_buffer` a bytearray.
 *
 * The checks, and the reads of `_eof` and `_buffer`, happen before the
 * transport's recv() into its shared buffer (cx_readerproto_prepare): they
 * read plain instance attributes without raising or allocating, but a
 * contrived object (a key whose hash collides in an instance dict) could
 * still run Python code there, which must never happen between the recv()
 * and the copy.  After the copy the steps are asyncio's, attribute reads
 * in its order, global names (len, NotImplementedError) resolved as
 * feed_data's code does, with the same generic calls wherever an object
 * is not the expected one (a foreign waiter, a non-int limit). */
#include "internal.h"

/* The class attributes a fed protocol or reader must have unchanged. */
#define SRP_METHODS(X) X(data_received) X(_stream_reader)
#define SR_METHODS(X) X(feed_data) X(_wakeup_waiter)
/* Instance attributes read: no class attribute of these names. */
#define SRP_ATTRS(X) X(_stream_reader_wr)
#define SR_ATTRS(X) \
    X(_eof) X(_buffer) X(_waiter) X(_transport) X(_paused) X(_limit)

/* ---- the classes ---- */

/* tp's version tag, 0 when it has none valid (a change to the class or a
 * base resets it; the next lookup assigns a new one).  Up to 3.12 a flag
 * says whether it is valid; from 3.13 the flag is no longer set and a
 * non-zero tag is valid. */
static unsigned int
version_tag(PyTypeObject *tp)
{
#if PY_VERSION_HEX >= 0x030D0000
    return tp->tp_version_tag;
#else
    return tp->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG
           ? tp->tp_version_tag : 0;
#endif
}

/* `tp` as asyncio defines it, by the version tag validated last (*tag; 0:
 * none).  Else check it again and remember the tag: the generic attribute
 * lookup, each method name resolving to the original, and no class
 * attribute of the instance attributes' names. */
static int
class_unchanged(PyTypeObject *tp, unsigned int *tag,
                PyObject *const *names, PyObject *const *originals,
                int nmethods, PyObject *const *attrs, int nattrs)
{
    if (*tag != 0 && version_tag(tp) == *tag) {
        return 1;
    }
    *tag = 0;
    if (tp->tp_getattro != PyObject_GenericGetAttr) {
        return 0;       /* __getattribute__ or __getattr__: Python code */
    }
    for (int i = 0; i < nmethods; i++) {
        if (_PyType_Lookup(tp, names[i]) != originals[i]) {
            return 0;
        }
    }
    for (int i = 0; i < nattrs; i++) {
        /* none at all: a plain value's type could gain a __get__ later,
         * which the class's version tag would not see */
        if (_PyType_Lookup(tp, attrs[i]) != NULL) {
            return 0;
        }
    }
    /* _PyType_Lookup assigned a tag if it could; without one, check every
     * time. */
    *tag = version_tag(tp);
    return 1;
}

static int
srp_class_unchanged(cx_state *st)
{
#define NAME(n) st->rp_str_##n,
#define ORIG(n) st->rp_orig_##n,
    PyObject *names[] = {SRP_METHODS(NAME)};
    PyObject *originals[] = {SRP_METHODS(ORIG)};
    PyObject *attrs[] = {SRP_ATTRS(NAME)};
    return class_unchanged((PyTypeObject *)st->asyncio_SRProtocol,
                           &st->rp_srp_tag, names, originals, 2, attrs, 1);
}

static int
sr_class_unchanged(cx_state *st)
{
    PyObject *names[] = {SR_METHODS(NAME)};
    PyObject *originals[] = {SR_METHODS(ORIG)};
    PyObject *attrs[] = {SR_ATTRS(NAME)};
#undef NAME
#undef ORIG
    return class_unchanged((PyTypeObject *)st->asyncio_SReader,
                           &st->rp_sr_tag, names, originals, 2, attrs, 6);
}

/* The originals' code objects are still those asyncio's module made (the
 * version tag does not see `f.__code__ = ...`, nor a property's getter
 * replaced by calling its __init__ again).  0/1, no exception. */
static int
code_unchanged(cx_state *st)
{
    if (PyFunction_GET_CODE(st->rp_orig_data_received)
            != st->rp_code_data_received
        || PyFunction_GET_CODE(st->rp_orig_feed_data)
           != st->rp_code_feed_data
        || PyFunction_GET_CODE(st->rp_orig__wakeup_waiter)
           != st->rp_code__wakeup_waiter) {
        return 0;
    }
    /* property.fget: a member, read without allocating */
    PyObject *fget = PyObject_GetAttr(st->rp_orig__stream_reader,
                                      st->rp_str_fget);
    if (fget == NULL) {
        PyErr_Clear();
        return 0;
    }
    int same = fget == st->rp_fget__stream_reader
               && PyFunction_GET_CODE(fget) == st->rp_code__stream_reader;
    Py_DECREF(fget);
    return same;
}

/* obj.<name> without raising: a new reference, or NULL when missing (or on
 * an error, cleared: the generic call will meet it again). */
static PyObject *
attr_or_null(PyObject *obj, PyObject *name)
{
    PyObject *v;
#if PY_VERSION_HEX >= 0x030D0000
    int found = PyObject_GetOptionalAttr(obj, name, &v);
#else
    int found = _PyObject_LookupAttr(obj, name, &v);
#endif
    if (found < 0) {
        PyErr_Clear();
    }
    return found > 0 ? v : NULL;
}

/* Is a tracer, profiler or sys.monitoring tool watching (monitor.h),
 * with local events on the functions we stand in for?  Then the Python
 * methods run, for it to see them. */
static int
being_traced(cx_state *st)
{
    PyObject *codes[] = {st->rp_code_data_received,
                         st->rp_code__stream_reader, st->rp_code_feed_data,
                         st->rp_code__wakeup_waiter};
    return cx_monitor_watching(&st->rp_monitor, codes, 4);
}

/* Is obj.<name> the class's function `original`, not replaced on the
 * instance (mock.patch.object)?  No Python code runs for our exact,
 * unchanged classes.  0/1, no exception. */
static int
method_not_overridden(PyObject *obj, PyObject *name, PyObject *original)
{
#if PY_VERSION_HEX >= 0x030D0000
    /* _PyObject_GetMethod is internal from 3.13.  The class's attribute
     * is `original` (checked by the caller), a function: the instance's
     * own entry of that name is all that can replace it. */
    (void)original;
    PyObject *dict = PyObject_GenericGetDict(obj, NULL);
    PyObject *meth = NULL;
    int same = dict != NULL
               && PyDict_GetItemRef(dict, name, &meth) == 0;
    Py_XDECREF(dict);
    PyErr_Clear();
#else
    PyObject *meth = NULL;
    int same = _PyObject_GetMethod(obj, name, &meth) && meth == original;
    if (meth == NULL) {
        PyErr_Clear();
    }
#endif
    Py_XDECREF(meth);
    return same;
}

/* A weakref's target or NULL (dead, or not a plain weakref).  New
 * reference; no exception. */
static PyObject *
weakref_target(PyObject *wr)
{
    if (!PyWeakref_CheckRefExact(wr)) {
        return NULL;
    }
#if PY_VERSION_HEX >= 0x030D0000
    PyObject *obj;
    if (PyWeakref_GetRef(wr, &obj) < 0) {
        PyErr_Clear();
        return NULL;
    }
    return obj;
#else
    PyObject *obj = PyWeakref_GetObject(wr);
    return obj == Py_None ? NULL : Py_NewRef(obj);
#endif
}

/* ---- before the read ---- */

int
cx_readerproto_prepare(cx_state *st, PyObject *protocol,
                       cx_readerproto_dest *feed)
{
    feed->reader = feed->buffer = NULL;
    if (!cx_readerproto_check(st, protocol) || being_traced(st)
        || !srp_class_unchanged(st) || !code_unchanged(st)
        || !method_not_overridden(protocol, st->rp_str_data_received,
                                  st->rp_orig_data_received)) {
        return 0;
    }
    /* self._stream_reader */
    PyObject *wr = attr_or_null(protocol, st->rp_str__stream_reader_wr);
    if (wr == NULL) {
        return 0;
    }
    PyObject *reader = weakref_target(wr);   /* NULL: None or dead */
    Py_DECREF(wr);
    if (reader == NULL) {
        return 0;   /* the generic call does nothing: cheap enough */
    }
    if (!Py_IS_TYPE(reader, (PyTypeObject *)st->asyncio_SReader)
        || !sr_class_unchanged(st)
        || !method_not_overridden(reader, st->rp_str_feed_data,
                                  st->rp_orig_feed_data)
        || !method_not_overridden(reader, st->rp_str__wakeup_waiter,
                                  st->rp_orig__wakeup_waiter)) {
        Py_DECREF(reader);
        return 0;
    }
    /* assert not self._eof: the generic call raises (or, under -O, goes
     * on); only the plain case is ours */
    PyObject *eof = attr_or_null(reader, st->rp_str__eof);
    Py_XDECREF(eof);
    PyObject *buffer = eof == Py_False
                       ? attr_or_null(reader, st->rp_str__buffer) : NULL;
    if (buffer == NULL || !PyByteArray_CheckExact(buffer)) {
        Py_XDECREF(buffer);
        Py_DECREF(reader);
        return 0;
    }
    feed->reader = reader;
    feed->buffer = buffer;
    return 1;
}

/* ---- StreamReader.feed_data's steps ---- */

/* self._wakeup_waiter().  0 or -1. */
static int
reader_wakeup_waiter(cx_state *st, PyObject *reader)
{
    PyObject *waiter = PyObject_GetAttr(reader, st->rp_str__waiter);
    if (waiter == NULL) {
        return -1;
    }
    int rc = 0;
    if (waiter == Py_None) {
        goto done;
    }
    if (PyObject_SetAttr(reader, st->rp_str__waiter, Py_None) < 0) {
        goto error;
    }
    PyObject *r;
    FutureObject *fut = (FutureObject *)waiter;
    if (Py_IS_TYPE(waiter, st->FutureType)
        && (fut->fut_dict == NULL || PyDict_GET_SIZE(fut->fut_dict) == 0)) {
        /* loop.create_future(): our Future (an immutable type), no
         * instance attribute that could replace its methods: C */
        if (fut->fut_state == CX_FUT_CANCELLED) {
            goto done;
        }
        r = cx_future_set_result(fut, Py_None);
    }
    else {
        r = PyObject_CallMethodNoArgs(waiter, st->rp_str_cancelled);
        int cancelled = r ? PyObject_IsTrue(r) : -1;
        Py_XDECREF(r);
        if (cancelled != 0) {
            rc = cancelled < 0 ? -1 : 0;
            goto done;
        }
        r = PyObject_CallMethodOneArg(waiter, st->rp_str_set_result,
                                      Py_None);
    }
    if (r == NULL) {
        goto error;
    }
    Py_DECREF(r);
    goto done;
error:
    rc = -1;
done:
    Py_DECREF(waiter);
    return rc;
}

/* A global name as feed_data's code finds it: its module's globals, then
 * its builtins.  Borrowed; NULL with NameError set when neither has it. */
static PyObject *
feed_data_global(cx_state *st, PyObject *name)
{
    PyFunctionObject *f = (PyFunctionObject *)st->rp_orig_feed_data;
    PyObject *v = PyDict_GetItemWithError(f->func_globals, name);
    if (v == NULL && !PyErr_Occurred() && PyDict_Check(f->func_builtins)) {
        v = PyDict_GetItemWithError(f->func_builtins, name);
    }
    if (v == NULL && !PyErr_Occurred()) {
        PyErr_Format(PyExc_NameError, "name '%U' is not defined", name);
    }
    return v;
}

/* len(self._buffer), with `len` as feed_data finds it.  -1 on error. */
static Py_ssize_t
reader_buffer_len(cx_state *st, PyObject *reader)
{
    PyObject *len = feed_data_global(st, st->rp_str_len);
    PyObject *buffer = len ? PyObject_GetAttr(reader, st->rp_str__buffer)
                           : NULL;
    if (buffer == NULL) {
        return -1;
    }
    Py_ssize_t n;
    if (len == st->rp_builtin_len) {
        n = PyObject_Size(buffer);
    }
    else {
        PyObject *r = PyObject_CallOneArg(len, buffer);
        n = r ? PyNumber_AsSsize_t(r, PyExc_OverflowError) : -1;
        if (n < 0 && r != NULL && !PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "len() should return >= 0");
        }
        Py_XDECREF(r);
    }
    Py_DECREF(buffer);
    return n;
}

/* len(self._buffer) > 2 * self._limit.  0/1, or -1. */
static int
reader_over_limit(cx_state *st, PyObject *reader)
{
    Py_ssize_t len = reader_buffer_len(st, reader);
    if (len < 0) {
        return -1;
    }
    PyObject *limit = PyObject_GetAttr(reader, st->rp_str__limit);
    if (limit == NULL) {
        return -1;
    }
    int over = -1;
    if (PyLong_CheckExact(limit)) {
        int overflow;
        long long l = PyLong_AsLongLongAndOverflow(limit, &overflow);
        if (l == -1 && PyErr_Occurred()) {
            goto done;
        }
        if (!overflow && l > LLONG_MIN / 2 && l < LLONG_MAX / 2) {
            over = (long long)len > 2 * l;
            goto done;
        }
    }
    /* the generic expression */
    PyObject *two = PyLong_FromLong(2);
    PyObject *bound = two ? PyNumber_Multiply(two, limit) : NULL;
    PyObject *lenobj = bound ? PyLong_FromSsize_t(len) : NULL;
    over = lenobj ? PyObject_RichCompareBool(lenobj, bound, Py_GT) : -1;
    Py_XDECREF(two);
    Py_XDECREF(bound);
    Py_XDECREF(lenobj);
done:
    Py_DECREF(limit);
    return over;
}

/* feed_data's last statement: pause the transport over 2 * limit.  0 or
 * -1. */
static int
reader_maybe_pause(cx_state *st, PyObject *reader)
{
    PyObject *transport = PyObject_GetAttr(reader, st->rp_str__transport);
    if (transport == NULL) {
        return -1;
    }
    int rc = 0;
    if (transport == Py_None) {
        goto done;
    }
    PyObject *paused = PyObject_GetAttr(reader, st->rp_str__paused);
    int truth = paused ? PyObject_IsTrue(paused) : -1;
    Py_XDECREF(paused);
    int over = truth == 0 ? reader_over_limit(st, reader) : 0;
    if (truth < 0 || over < 0) {
        rc = -1;
        goto done;
    }
    if (truth || !over) {
        goto done;
    }
    /* feed_data reads self._transport again for the call */
    Py_SETREF(transport, PyObject_GetAttr(reader, st->rp_str__transport));
    if (transport == NULL) {
        return -1;
    }
    PyObject *r = PyObject_CallMethodNoArgs(transport, st->str_pause_reading);
    if (r != NULL) {
        Py_DECREF(r);
        rc = PyObject_SetAttr(reader, st->rp_str__paused, Py_True);
    }
    else {
        /* except NotImplementedError: the name as feed_data finds it */
        PyObject *exc = cx_err_fetch();
        PyObject *nie = feed_data_global(st, st->rp_str_NotImplementedError);
        int match = nie ? PyErr_GivenExceptionMatches(exc, nie) : -1;
        if (match > 0) {
            Py_DECREF(exc);
            rc = PyObject_SetAttr(reader, st->rp_str__transport, Py_None);
        }
        else {
            rc = -1;
            if (match == 0) {
                cx_err_restore(exc);
            }
            else {
                Py_XDECREF(exc);        /* the NameError instead */
            }
        }
    }
done:
    Py_DECREF(transport);
    return rc;
}

/* ---- the entry points ---- */

void
cx_readerproto_release(cx_readerproto_dest *feed)
{
    Py_CLEAR(feed->reader);
    Py_CLEAR(feed->buffer);
}

/* feed_data's steps after its extend().  Releases *feed.  1 or -1. */
static int
feed_rest(cx_state *st, cx_readerproto_dest *feed)
{
    st->rp_feeds++;
    int rc = reader_wakeup_waiter(st, feed->reader) < 0
             || reader_maybe_pause(st, feed->reader) < 0 ? -1 : 1;
    cx_readerproto_release(feed);
    return rc;
}

int
cx_readerproto_feed(cx_state *st, cx_readerproto_dest *feed,
                    const char *buf, Py_ssize_t n)
{
    assert(n > 0 && feed->reader != NULL);
    /* self._buffer.extend(data): bytearray's resize (BufferError while a
     * memoryview holds it, as extend) and copy */
    PyObject *buffer = feed->buffer;
    Py_ssize_t size = PyByteArray_GET_SIZE(buffer);
    if (n > PY_SSIZE_T_MAX - size) {
        PyErr_NoMemory();
        goto error;
    }
    if (PyByteArray_Resize(buffer, size + n) < 0) {
        goto error;
    }
    cx_copy(PyByteArray_AS_STRING(buffer) + size, buf, (size_t)n);
    return feed_rest(st, feed);
error:
    cx_readerproto_release(feed);
    return -1;
}

/* A bytearray without exports made `size` bytes long, size no more than
 * its length: as PyByteArray_Resize's minor downsize, which keeps the
 * allocation (cannot fail; the next resize gives the memory back). */
static void
buffer_shrink(PyByteArrayObject *buffer, Py_ssize_t size)
{
    assert(size <= Py_SIZE(buffer) && buffer->ob_exports == 0);
    Py_SET_SIZE(buffer, size);
    buffer->ob_start[size] = '\0';
}

char *
cx_readerproto_reserve(cx_readerproto_dest *feed, Py_ssize_t room)
{
    PyByteArrayObject *buffer = (PyByteArrayObject *)feed->buffer;
    Py_ssize_t size = Py_SIZE(buffer);
    if (buffer->ob_exports > 0 || room > PY_SSIZE_T_MAX - size) {
        return NULL;
    }
    feed->size = size;
    if (PyByteArray_Resize((PyObject *)buffer, size + room) < 0) {
        PyErr_Clear();      /* MemoryError: extend() will meet it */
        return NULL;
    }
    char *tail = PyByteArray_AS_STRING(buffer) + size;
    if (cx_copy_recv_is_slow(tail, (size_t)room)) {
        buffer_shrink(buffer, size);
        return NULL;
    }
    return tail;
}

char *
cx_readerproto_regrow(cx_readerproto_dest *feed, Py_ssize_t room)
{
    if (PyByteArray_Resize(feed->buffer, feed->size + room) < 0) {
        return NULL;
    }
    return PyByteArray_AS_STRING(feed->buffer) + feed->size;
}

int
cx_readerproto_commit(cx_state *st, cx_readerproto_dest *feed, Py_ssize_t n)
{
    buffer_shrink((PyByteArrayObject *)feed->buffer,
                  feed->size + (n > 0 ? n : 0));
    if (n <= 0) {
        cx_readerproto_release(feed);
        return 0;
    }
    st->rp_direct++;
    return feed_rest(st, feed);
}

/* ---- setup ---- */

/* cls.__dict__[name] if it is asyncio's own: a function (or, for a
 * property, its getter) whose __qualname__ is "<cls>.<name>", whose code
 * was compiled from asyncio/streams.py (`file`) and that wraps nothing
 * (functools.wraps copies the names, not the code), so a class patched
 * before we were imported never takes the fast path.  New reference, with
 * *code (and *fget, if not NULL) new references to the function's code
 * object (and the function); NULL (no exception) when it is not. */
static PyObject *
original_attr(PyTypeObject *cls, PyObject *name, PyObject *file,
              PyObject **fget, PyObject **code)
{
    PyObject *attr = PyDict_GetItemWithError(cls->tp_dict, name);
    if (attr == NULL) {
        return NULL;
    }
    PyObject *f = PyObject_TypeCheck(attr, &PyProperty_Type)
                  ? PyObject_GetAttrString(attr, "fget")
                  : Py_NewRef(attr);
    if (f == NULL || !PyFunction_Check(f)) {
        Py_XDECREF(f);
        PyErr_Clear();
        return NULL;
    }
    PyCodeObject *co = (PyCodeObject *)PyFunction_GET_CODE(f);
    PyObject *qualname = PyObject_GetAttrString(f, "__qualname__");
    PyObject *want = PyUnicode_FromFormat("%s.%U", cls->tp_name, name);
    int ok = qualname && want && PyUnicode_Check(qualname)
             && PyUnicode_Compare(qualname, want) == 0
             && PyUnicode_Compare(co->co_filename, file) == 0
             && !PyObject_HasAttrString(f, "__wrapped__");
    Py_XDECREF(qualname);
    Py_XDECREF(want);
    PyErr_Clear();
    if (!ok) {
        Py_DECREF(f);
        return NULL;
    }
    *code = Py_NewRef(co);
    if (fget != NULL) {
        *fget = f;
    }
    else {
        Py_DECREF(f);
    }
    return Py_NewRef(attr);
}

int
cx_readerproto_setup(PyObject *module)
{
    cx_state *st = PyModule_GetState(module);
#define INTERN(n) \
    if ((st->rp_str_##n = PyUnicode_InternFromString(#n)) == NULL) { \
        return -1; \
    }
    SRP_METHODS(INTERN) SRP_ATTRS(INTERN) SR_METHODS(INTERN) SR_ATTRS(INTERN)
    INTERN(cancelled) INTERN(set_result) INTERN(fget) INTERN(len)
    INTERN(NotImplementedError)
#undef INTERN
    st->rp_builtin_len = PyDict_GetItemWithError(PyEval_GetBuiltins(),
                                                 st->rp_str_len);
    if (st->rp_builtin_len == NULL) {
        return -1;
    }
    Py_INCREF(st->rp_builtin_len);
    PyObject *streams = PyImport_ImportModule("asyncio.streams");
    if (streams == NULL) {
        return -1;
    }
    st->asyncio_SRProtocol = PyObject_GetAttrString(streams,
                                                    "StreamReaderProtocol");
    st->asyncio_SReader = st->asyncio_SRProtocol
        ? PyObject_GetAttrString(streams, "StreamReader") : NULL;
    PyObject *file = st->asyncio_SReader
        ? PyObject_GetAttrString(streams, "__file__") : NULL;
    Py_DECREF(streams);
    if (file == NULL) {
        return -1;
    }
    if (!PyType_Check(st->asyncio_SRProtocol)
        || !PyType_Check(st->asyncio_SReader)) {
        PyErr_SetString(PyExc_TypeError, "asyncio.streams: not classes");
        return -1;
    }
    PyTypeObject *srp = (PyTypeObject *)st->asyncio_SRProtocol;
    PyTypeObject *sr = (PyTypeObject *)st->asyncio_SReader;
    st->rp_orig_data_received = original_attr(
        srp, st->rp_str_data_received, file, NULL,
        &st->rp_code_data_received);
    st->rp_orig__stream_reader = original_attr(
        srp, st->rp_str__stream_reader, file, &st->rp_fget__stream_reader,
        &st->rp_code__stream_reader);
    st->rp_orig_feed_data = original_attr(
        sr, st->rp_str_feed_data, file, NULL, &st->rp_code_feed_data);
    st->rp_orig__wakeup_waiter = original_attr(
        sr, st->rp_str__wakeup_waiter, file, NULL,
        &st->rp_code__wakeup_waiter);
    Py_DECREF(file);
    /* Any of them not asyncio's: never taken. */
    st->rp_enabled = st->rp_orig_data_received && st->rp_orig__stream_reader
                     && st->rp_orig_feed_data && st->rp_orig__wakeup_waiter;
    cx_monitor_init(&st->rp_monitor);
    st->rp_srp_tag = st->rp_sr_tag = 0;
    st->rp_feeds = 0;
    st->rp_direct = 0;
    return PyErr_Occurred() ? -1 : 0;
}
