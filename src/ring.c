#include "ring.h"
#include "wpool.h"

#include <stdlib.h>

int wpool__ring_init(wpool__ring_t *r, size_t cap) {
  r->head = r->len = 0;
  r->cap = cap;
  r->slot = cap ? calloc(cap, sizeof *r->slot) : NULL;
  return cap && !r->slot ? WPOOL_ENOMEM : 0;
}

void wpool__ring_free(wpool__ring_t *r) {
  free(r->slot);
  r->slot = NULL;
  r->cap = r->head = r->len = 0;
}

int wpool__ring_reserve(wpool__ring_t *r, size_t extra) {
  if (r->cap - r->len >= extra)
    return 0;
  size_t cap = r->cap ? r->cap : 16;
  while (cap - r->len < extra) {
    if (cap > SIZE_MAX / 2 / sizeof *r->slot)
      return WPOOL_ENOMEM;
    cap *= 2;
  }
  wpool__job_t *s = malloc(cap * sizeof *s);
  if (!s)
    return WPOOL_ENOMEM;
  /* Unwrap into the new array, front first. */
  for (size_t i = 0; i < r->len; i++)
    s[i] = *wpool__ring_at(r, i);
  free(r->slot);
  r->slot = s;
  r->cap = cap;
  r->head = 0;
  return 0;
}

void wpool__ring_push_back(wpool__ring_t *r, const wpool__job_t *j) {
  r->slot[(r->head + r->len) % r->cap] = *j;
  r->len++;
}

void wpool__ring_push_front(wpool__ring_t *r, const wpool__job_t *j) {
  r->head = (r->head + r->cap - 1) % r->cap;
  r->slot[r->head] = *j;
  r->len++;
}

wpool__job_t wpool__ring_pop_front(wpool__ring_t *r) {
  wpool__job_t j = r->slot[r->head];
  r->head = (r->head + 1) % r->cap;
  r->len--;
  return j;
}
