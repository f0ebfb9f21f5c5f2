/*
 * A ring of jobs: a double-ended queue with O(1) push and pop at both ends.
 * Each worker's in-flight FIFO is one (fixed capacity, allocated with the
 * worker, so dispatch allocates nothing), and so is the scheduler's queue
 * of jobs to run again (it grows: a dead worker's map chunk of N items
 * comes back as N jobs at its front).
 */
#ifndef WPOOL_RING_H
#define WPOOL_RING_H

#include "job.h"

#include <stddef.h>

typedef struct wpool__ring {
  wpool__job_t *slot;
  size_t cap, head, len;
} wpool__ring_t;

/* Allocate room for cap jobs: 0 or WPOOL_ENOMEM. */
int wpool__ring_init(wpool__ring_t *r, size_t cap);
void wpool__ring_free(wpool__ring_t *r);
/* Make room for extra more jobs: 0 or WPOOL_ENOMEM. */
int wpool__ring_reserve(wpool__ring_t *r, size_t extra);

/* The i-th job from the front (i < len). */
static inline wpool__job_t *wpool__ring_at(const wpool__ring_t *r, size_t i) {
  return &r->slot[(r->head + i) % r->cap];
}

/* Push and pop need room or a job: the caller checks len and cap. */
void wpool__ring_push_back(wpool__ring_t *r, const wpool__job_t *j);
void wpool__ring_push_front(wpool__ring_t *r, const wpool__job_t *j);
wpool__job_t wpool__ring_pop_front(wpool__ring_t *r);

#endif
