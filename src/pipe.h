/* ReadPipeTransport and WritePipeTransport (pipe.c): asyncio's Unix pipe
 * transports in C, subclasses of _Transport (transport.h); the write pipe
 * uses the stream's write queue (stream.h).  Their cold paths (mode
 * checks, repr, __del__, set_write_buffer_limits, writelines) are
 * casyncio._unix's subclasses. */
#ifndef CX_PIPE_H
#define CX_PIPE_H

#include "Python.h"

/* Build both types (base: _Transport). */
int cx_pipe_setup(PyObject *module);

#endif /* CX_PIPE_H */
