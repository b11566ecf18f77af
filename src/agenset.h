/* _AsyncGenSet (agenset.c): a loop's live asynchronous generators, what
 * asyncio keeps in loop._asyncgens (a weakref.WeakSet), with the
 * first-iteration hook in C.
 *
 * sys.set_asyncgen_hooks(firstiter=loop._asyncgen_firstiter_hook) makes
 * the interpreter call the hook once per async generator; asyncio's is a
 * Python method adding to a WeakSet, whose weakref callback is a Python
 * function again: two frames per generator.  Here firstiter(agen) adds a
 * weakref whose callback is a C method of the set.  What the loop reads
 * of it is what it reads of a WeakSet: len(), iteration (a snapshot of
 * the live generators), `in`, add(), discard(), clear(). */
#ifndef CX_AGENSET_H
#define CX_AGENSET_H

#include "Python.h"

int cx_agenset_setup(PyObject *module);

#endif /* CX_AGENSET_H */
