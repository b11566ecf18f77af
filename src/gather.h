/* The per-child done callback of gather() (gather.c).  gather() itself,
 * argument handling and the outer future stay in Python (_tasks.py); what
 * runs once per child is here. */
#ifndef CX_GATHER_H
#define CX_GATHER_H

#include "Python.h"

int cx_gather_setup(PyObject *module);

#endif /* CX_GATHER_H */
