/*
 * See fault.h. The countdown is atomic: pools may be created on several
 * threads at once (nested pools on thread workers), and a test that arms a
 * fault creates one pool at a time, so which create meets it is still
 * deterministic there.
 */
#include "fault.h"

#ifdef WPOOL_FAULT_INJECTION
#include <stdatomic.h>
#include <stdlib.h>

static atomic_long countdown;

void wpool__fault_arm(void) {
  const char *at = getenv("WPOOL_FAULT_AT");
  atomic_store(&countdown, at ? atol(at) : 0);
}

int wpool__fault(void) {
  long left = atomic_load(&countdown);
  while (left > 0 &&
         !atomic_compare_exchange_weak(&countdown, &left, left - 1)) {
  }
  return left == 1;
}
#else
/* ISO C wants a translation unit to declare something. */
typedef int wpool__fault_unused;
#endif
