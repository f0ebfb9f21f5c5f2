#include "buf.h"
#include "wpool.h"

#include <stdlib.h>
#include <string.h>

int wpool__buf_reserve(wpool__buf_t *b, size_t extra) {
  if (extra <= b->cap - b->len)
    return 0;
  if (extra > SIZE_MAX - b->len)
    return WPOOL_ENOMEM;
  size_t need = b->len + extra;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  uint8_t *p = realloc(b->data, cap);
  if (!p)
    return WPOOL_ENOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int wpool__buf_append(wpool__buf_t *b, const void *p, size_t n) {
  int rc = wpool__buf_reserve(b, n);
  if (rc)
    return rc;
  if (n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

void wpool__buf_free(wpool__buf_t *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
