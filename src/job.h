/*
 * A job: one chunk of a batch given to a worker, with the TASK header that
 * carries it. Jobs live by value in rings (ring.h), so dispatch allocates
 * nothing.
 */
#ifndef WPOOL_JOB_H
#define WPOOL_JOB_H

#include "proto.h"

#include <stddef.h>
#include <stdint.h>

typedef struct wpool__batch wpool__batch_t;

/* One chunk held by a worker (or waiting to run again). */
typedef struct wpool__job {
  wpool__batch_t *batch;
  size_t chunk;
  /* Items [first, first + nitems) of the chunk; nitems 0 = the whole chunk.
     A chunk whose worker died is re-run in parts or an item at a time
     (split_dead_job in sched.c). */
  uint32_t first, nitems;
  uint64_t seq;
  int cancelled;     /* its result is discarded */
  uint32_t attempts; /* runs of this lone item that its worker died in */
  wpool__frame_t hdr;
  const uint8_t *payload;
  size_t plen;
} wpool__job_t;

#endif
