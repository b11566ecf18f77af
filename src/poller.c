/* The poller: epoll plus a table fd -> watcher (reader/writer Handles).
 * The loop asks it to change interest (cx_poller_set) and to wait
 * (cx_poller_wait); dispatching events is the loop's job. */
#include "internal.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

int
cx_poller_init(cx_poller *p)
{
    p->watchers = NULL;
    p->nwatchers = 0;
    p->nregistered = 0;
    p->parked = NULL;
    p->nparked = p->parked_cap = 0;
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    return p->epfd < 0 ? -errno : 0;
}

/* Make the table hold index fd, an open fd (checked first, so a huge
 * number is EBADF rather than a huge table).  0 or -errno. */
static int
poller_reserve(cx_poller *p, int fd)
{
    if (fd < p->nwatchers) {
        return 0;
    }
    if (fcntl(fd, F_GETFD) < 0) {
        return -errno;
    }
    size_t n = p->nwatchers ? (size_t)p->nwatchers : 64;
    while (n <= (size_t)fd) {
        n *= 2;
    }
    if (n > INT_MAX) {
        n = (size_t)INT_MAX;
    }
    cx_watcher *w = PyMem_RawRealloc(p->watchers, n * sizeof(cx_watcher));
    if (w == NULL) {
        return -ENOMEM;
    }
    memset(w + p->nwatchers, 0, (n - p->nwatchers) * sizeof(cx_watcher));
    p->watchers = w;
    p->nwatchers = (int)n;
    return 0;
}

/* Tell epoll the fd's interest is now `events` (0: none).  0 or -errno. */
static int
poller_update(cx_poller *p, int fd, uint32_t old, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    int rc;
    if (events == 0) {
        rc = epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, &ev);
        /* The fd may have been closed already: epoll forgot it then. */
        if (rc < 0 && (errno == ENOENT || errno == EBADF)) {
            rc = 0;
        }
        return rc < 0 ? -errno : 0;
    }
    if (old == 0) {
        rc = epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev);
        if (rc < 0 && errno == EEXIST) {
            rc = epoll_ctl(p->epfd, EPOLL_CTL_MOD, fd, &ev);
        }
    }
    else {
        rc = epoll_ctl(p->epfd, EPOLL_CTL_MOD, fd, &ev);
        /* Closed and reopened under the same number: register anew. */
        if (rc < 0 && errno == ENOENT) {
            rc = epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev);
        }
    }
    return rc < 0 ? -errno : 0;
}

/* cx_watcher.parked: which slots are parked, and whether the fd is in
 * the list cx_poller_flush goes through (once, however often it is
 * parked and put back between two flushes). */
#define PARKED(which) ((which) ? 2 : 1)
#define PARKED_ANY 3
#define PARKED_LISTED 4

/* epoll now has `events` for w's fd: w->registered, and the count of fds
 * epoll has (nregistered), follow. */
static inline void
watcher_registered(cx_poller *p, cx_watcher *w, uint32_t events)
{
    p->nregistered += (events != 0) - (w->registered != 0);
    w->registered = events;
}

/* The events fd's slots ask for (a parked slot still counts). */
static inline uint32_t
watcher_events(const cx_watcher *w)
{
    return (w->reader ? EPOLLIN : 0) | (w->writer ? EPOLLOUT : 0);
}

int
cx_poller_park(cx_poller *p, int fd, int which, PyObject *h)
{
    if (fd < 0 || fd >= p->nwatchers
        || (which ? p->watchers[fd].writer : p->watchers[fd].reader) != h
        || (p->watchers[fd].parked & PARKED(which))) {
        return 0;
    }
    if (!(p->watchers[fd].parked & PARKED_LISTED)) {
        if (p->nparked == p->parked_cap) {
            int cap = p->parked_cap ? p->parked_cap * 2 : 16;
            int *a = PyMem_RawRealloc(p->parked, (size_t)cap * sizeof(int));
            if (a == NULL) {
                return 0;
            }
            p->parked = a;
            p->parked_cap = cap;
        }
        p->parked[p->nparked++] = fd;
    }
    p->watchers[fd].parked |= PARKED(which) | PARKED_LISTED;
    return 1;
}

/* fd's parked slots emptied, epoll told; the Handles they held, to be
 * released by the caller once the table is consistent (new references
 * or NULL). */
static void
poller_unpark(cx_poller *p, int fd, PyObject **reader, PyObject **writer)
{
    cx_watcher *w = &p->watchers[fd];
    *reader = *writer = NULL;
    if (w->parked & PARKED(0)) {
        *reader = w->reader;
        w->reader = NULL;
    }
    if (w->parked & PARKED(1)) {
        *writer = w->writer;
        w->writer = NULL;
    }
    w->parked &= PARKED_LISTED;
    uint32_t events = watcher_events(w);
    if (events != w->registered) {
        (void)poller_update(p, fd, w->registered, events);
        watcher_registered(p, w, events);
    }
    if (w->reader == NULL && w->writer == NULL) {
        PyObject *f = w->fileobj;
        w->fileobj = NULL;
        Py_XDECREF(f);      /* a plain object: add_reader's fd or file */
    }
}

void
cx_poller_settle(cx_poller *p, int fd)
{
    if (fd >= 0 && fd < p->nwatchers
        && (p->watchers[fd].parked & PARKED_ANY)) {
        PyObject *r, *w;
        poller_unpark(p, fd, &r, &w);
        Py_XDECREF(r);
        Py_XDECREF(w);
    }
}

void
cx_poller_flush(cx_poller *p)
{
    /* one at a time: releasing a Handle can run code that parks again */
    while (p->nparked > 0) {
        int fd = p->parked[--p->nparked];
        p->watchers[fd].parked &= (uint8_t)~PARKED_LISTED;
        cx_poller_settle(p, fd);
    }
}

int
cx_poller_set(cx_poller *p, int fd, int which, PyObject *h, PyObject **old)
{
    *old = NULL;
    if (h == NULL && fd >= p->nwatchers) {
        return 0;
    }
    if (fd >= 0 && fd < p->nwatchers
        && (p->watchers[fd].parked & PARKED_ANY)) {
        cx_watcher *w = &p->watchers[fd];
        PyObject **slot = which ? &w->writer : &w->reader;
        if ((w->parked & PARKED(which)) && h != NULL && *slot == h) {
            /* back before epoll heard of the removal */
            w->parked &= (uint8_t)~PARKED(which);
            *old = Py_NewRef(h);
            return 0;
        }
        /* anything else: the removal done first, as it would have been */
        PyObject *pr, *pw;
        poller_unpark(p, fd, &pr, &pw);
        int rc = cx_poller_set(p, fd, which, h, old);
        Py_XDECREF(pr);
        Py_XDECREF(pw);
        return rc;
    }
    int rc = poller_reserve(p, fd);
    if (rc < 0) {
        return rc;
    }
    cx_watcher *w = &p->watchers[fd];
    PyObject **slot = which ? &w->writer : &w->reader;
    PyObject *reader = which ? w->reader : h;
    PyObject *writer = which ? h : w->writer;
    uint32_t events = (reader ? EPOLLIN : 0) | (writer ? EPOLLOUT : 0);
    if (events != w->registered) {
        rc = poller_update(p, fd, w->registered, events);
        if (rc < 0) {
            return rc;
        }
        watcher_registered(p, w, events);
    }
    *old = *slot;
    *slot = Py_XNewRef(h);
    if (w->reader == NULL && w->writer == NULL) {
        Py_CLEAR(w->fileobj);
    }
    return 0;
}

void
cx_poller_set_fileobj(cx_poller *p, int fd, PyObject *obj)
{
    if (fd >= 0 && fd < p->nwatchers && p->watchers[fd].fileobj == NULL
        && (p->watchers[fd].reader || p->watchers[fd].writer)) {
        p->watchers[fd].fileobj = Py_NewRef(obj);
    }
}

int
cx_poller_find(cx_poller *p, PyObject *obj)
{
    for (int fd = 0; fd < p->nwatchers; fd++) {
        if (p->watchers[fd].fileobj == obj) {
            return fd;
        }
    }
    return -1;
}

PyObject *
cx_poller_get(cx_poller *p, int fd, int which)
{
    if (fd < 0 || fd >= p->nwatchers
        || (p->watchers[fd].parked & PARKED(which))) {
        return NULL;
    }
    return which ? p->watchers[fd].writer : p->watchers[fd].reader;
}

void
cx_poller_close(cx_poller *p)
{
    for (int fd = 0; fd < p->nwatchers; fd++) {
        Py_CLEAR(p->watchers[fd].reader);
        Py_CLEAR(p->watchers[fd].writer);
        Py_CLEAR(p->watchers[fd].fileobj);
    }
    PyMem_RawFree(p->watchers);
    p->watchers = NULL;
    p->nwatchers = 0;
    p->nregistered = 0;
    PyMem_RawFree(p->parked);
    p->parked = NULL;
    p->nparked = p->parked_cap = 0;
    if (p->epfd >= 0) {
        close(p->epfd);
        p->epfd = -1;
    }
}

int
cx_poller_traverse(cx_poller *p, visitproc visit, void *arg)
{
    for (int fd = 0; fd < p->nwatchers; fd++) {
        Py_VISIT(p->watchers[fd].reader);
        Py_VISIT(p->watchers[fd].writer);
        Py_VISIT(p->watchers[fd].fileobj);
    }
    return 0;
}
