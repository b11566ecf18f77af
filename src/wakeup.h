/* The loop's wake-up: an eventfd registered in its epoll set, written by
 * call_soon_threadsafe() from any thread (wakeup.c).  Pure C. */
#ifndef CX_WAKEUP_H
#define CX_WAKEUP_H

/* A new non-blocking eventfd, added to epfd for reading.  The fd, or
 * -errno (nothing left open). */
int cx_wakeup_open(int epfd);
/* Make the next (or current) epoll_wait return.  Safe without the GIL. */
void cx_wakeup_signal(int fd);
/* Reset after epoll reported it readable. */
void cx_wakeup_drain(int fd);

#endif /* CX_WAKEUP_H */
