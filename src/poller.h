/* epoll and the fd -> watcher table (poller.c).
 * A watcher holds the reader and writer Handles registered for one fd;
 * the table is indexed by fd, as libuv's loop->watchers. */
#ifndef CX_POLLER_H
#define CX_POLLER_H

#include "Python.h"
#include <stdint.h>
#include "queue.h"

/* A C watcher: what an fd's reader or writer slot may hold instead of a
 * Handle (sock.c's pending socket operations).  Such an object starts with
 * this head.  When the fd is ready the loop queues cw_ready(self, NULL) as
 * a CFUNC entry -- no Handle is allocated per readiness -- unless
 * cw_cancelled is set, in which case the slot is emptied, as for a
 * cancelled Handle.  Its type has a cancel() method (setting cw_cancelled),
 * which remove_reader() and a replacing add_reader() call as they would a
 * Handle's.  The loop tells the two apart by type: exact Handle or not. */
typedef struct {
    PyObject_HEAD
    cx_cfunc cw_ready;
    int cw_cancelled;
} cx_cwatcher;

typedef struct {
    PyObject *reader;      /* Handle, C watcher (cx_cwatcher) or NULL */
    PyObject *writer;      /* Handle, C watcher (cx_cwatcher) or NULL */
    /* The object add_reader()/add_writer() got when the fd's first
     * registration was made (NULL for an int or a registration made in
     * C), dropped with the last one: selectors' key.fileobj, by which a
     * closed socket's registration is still found (cx_poller_find). */
    PyObject *fileobj;
    uint32_t registered;   /* events epoll currently has for the fd */
    uint8_t parked;        /* 1 reader, 2 writer: a parked slot (below) */
} cx_watcher;

typedef struct {
    int epfd;
    cx_watcher *watchers;
    int nwatchers;          /* size of the table */
    int nregistered;        /* fds of the table epoll has (registered) */
    int *parked;            /* the fds with a parked slot, nparked of them */
    int nparked;
    int parked_cap;
} cx_poller;

/* 0 or -errno. */
int cx_poller_init(cx_poller *p);
/* Set fd's reader (which=0) or writer (which=1) Handle, replacing (and
 * returning through *old, a new reference, or NULL) the previous one; h
 * NULL removes it.  Updates epoll.  0 or -errno; on error nothing changed. */
int cx_poller_set(cx_poller *p, int fd, int which, PyObject *h,
                  PyObject **old);
/* Park fd's reader (which=0) or writer: when its slot holds h, take it
 * out for the loop (cx_poller_get says NULL: an event of it is passed
 * over) and leave epoll as it is until cx_poller_flush, before the next
 * epoll_wait that can sleep (one with timeout 0 may report the fd: it is
 * passed over, and the loop does not sleep on it); a cx_poller_set of the
 * same h before then puts it back without a syscall.  A stream
 * transport's pause_reading() in feed_data and resume_reading() in
 * read() (asyncio's streams, once per read in a bulk transfer, with a
 * timeout-0 poll between them) so cost no epoll_ctl.  1 parked; 0
 * (nothing done: not h, or no memory) for the caller's
 * cx_poller_set(NULL). */
int cx_poller_park(cx_poller *p, int fd, int which, PyObject *h);
/* What was parked taken out of epoll: fd's slots (cx_poller_settle, before
 * the fd closes) or all (cx_poller_flush, before epoll_wait).  epoll_ctl's
 * errors are left: the fd closed (epoll forgot it), or none that DEL or a
 * MOD that drops an event can meet. */
void cx_poller_settle(cx_poller *p, int fd);
void cx_poller_flush(cx_poller *p);
/* Record obj as fd's file object if the fd has none (cx_watcher). */
void cx_poller_set_fileobj(cx_poller *p, int fd, PyObject *obj);
/* The fd registered with the file object obj (identity), or -1. */
int cx_poller_find(cx_poller *p, PyObject *obj);
/* Borrowed reader/writer of fd, or NULL. */
PyObject *cx_poller_get(cx_poller *p, int fd, int which);
/* Close epoll and drop every watcher. */
void cx_poller_close(cx_poller *p);
int cx_poller_traverse(cx_poller *p, visitproc visit, void *arg);

#endif /* CX_POLLER_H */
