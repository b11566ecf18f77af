/* The loop's signal handling (signal.c), as asyncio's unix_events: the
 * write end of a non-blocking pipe is the interpreter's signal wake-up fd
 * (signal.set_wakeup_fd(), called by the Python add_signal_handler), so
 * Python's C-level handler writes each signal's number to it; the read end
 * is in the loop's epoll set, and the poll phase reads it here and queues
 * the Handle registered for each signal in loop._signal_handlers.  The
 * argument checks, signal.signal() and set_wakeup_fd() are Python
 * (casyncio._loop). */
#ifndef CX_SIGNAL_H
#define CX_SIGNAL_H

#include "Python.h"
#include "loop.h"

/* The write end of the loop's signal pipe, opened (and its read end added
 * to epoll) on first use.  The fd, or -1 with an exception set. */
int cx_signal_wakeup_fd(LoopObject *lp);
/* The read end is readable: read every signal number and queue the
 * registered Handles (a cancelled one is removed through
 * loop.remove_signal_handler(), as asyncio).  0 or -1. */
int cx_signal_dispatch(LoopObject *lp);
/* Close the pipe (loop close and dealloc); the Handles stay in the dict. */
void cx_signal_close(LoopObject *lp);

#endif /* CX_SIGNAL_H */
