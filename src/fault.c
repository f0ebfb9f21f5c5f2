/* See fault.h. Only wpool_create's own thread reaches a fault point. */
#include "fault.h"

#ifdef WPOOL_FAULT_INJECTION
#include <stdlib.h>

static long countdown;

void wpool__fault_arm(void) {
  const char *at = getenv("WPOOL_FAULT_AT");
  countdown = at ? atol(at) : 0;
}

int wpool__fault(void) { return countdown > 0 && --countdown == 0; }
#else
/* ISO C wants a translation unit to declare something. */
typedef int wpool__fault_unused;
#endif
