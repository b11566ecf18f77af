/* Handle: placeholder. */
#include "internal.h"
int cx_handle_setup(PyObject *module) { return 0; }
