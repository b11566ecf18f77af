/* poller: placeholder. */
#include "internal.h"
