/*
 * Only the function and its registration: nothing else in this object file
 * would make the linker pull it in, so the registration must ride along with
 * the function itself.
 */
#include "static_tasks.h"

#include <string.h>

int static_triple(const void *arg, size_t len, wpool_out_t *out) {
  int x;
  if (len != sizeof x)
    return wpool_out_fail(out, 2, "expected an int, got %zu bytes", len);
  memcpy(&x, arg, sizeof x);
  x *= 3;
  return wpool_out_set(out, &x, sizeof x);
}
WPOOL_REGISTER(static_triple)
