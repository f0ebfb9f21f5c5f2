/*
 * The feeder cuts a lazy input in chunks inside a window of its owner's:
 * a producer's items (pulled on a thread of the feeder's own) or items that
 * the caller's threads push. Both fill the same ring, cut chunks by the
 * same rule (chunksize items, and no more than the frame limit in bytes)
 * and wait for room in the same window.
 *
 * The feeder pulls a lazy input (wpool_producer) on a thread of its own, one
 * chunk at a time, while its owner says there is room. The producer never
 * runs under the pool's lock nor on the thread that talks to workers, so a
 * slow producer delays only its own iterator.
 *
 * Nobody ever waits for the feeder thread: a producer may block for ever,
 * and freeing its iterator or destroying its pool must still return. When
 * it is stopped, the producer's call in progress is left to return on its
 * own; what it then produced is discarded, and it is not called again. The
 * thread holds a reference on the pool and on the feeder until then.
 */
#ifndef WPOOL_FEEDER_H
#define WPOOL_FEEDER_H

#include "core.h"

typedef struct wpool__feeder wpool__feeder_t;

/* What the feeder asks of its owner (lock held). */
typedef struct wpool__feeder_owner {
  /* May chunk k be produced now (is there room in the window)? */
  int (*room)(void *owner, size_t k);
  /* The input ended: msg is NULL at a clean end, else why it failed. */
  void (*ended)(wpool_t *p, void *owner, const char *msg);
} wpool__feeder_owner_t;

/* Start pulling into chunks of batch b (its n and nchunks grow), keeping at
   most window chunks. Lock held. 0 or WPOOL_ENOMEM / WPOOL_ESYS. */
int wpool__feeder_start(wpool_t *p, wpool__batch_t *b, size_t window,
                        wpool_producer prod, void *user,
                        const wpool__feeder_owner_t *ops, void *owner,
                        wpool__feeder_t **out);
/* A feeder for pushed input (no thread): items come from
   wpool__feeder_push. Lock held. 0 or WPOOL_ENOMEM. */
int wpool__feeder_new_push(wpool_t *p, wpool__batch_t *b, size_t window,
                           const wpool__feeder_owner_t *ops, void *owner,
                           wpool__feeder_t **out);
/* Copy one item into the chunk being filled, waiting until deadline for
   room in the window; the chunk goes once it holds chunksize items. Lock
   held (released while waiting and copying). 0, WPOOL_ETIMEDOUT (the item
   was not taken), WPOOL_ETERMINATED (stopped: the owner says why),
   WPOOL_ESTATE (after the end), WPOOL_E2BIG, WPOOL_ENOMEM,
   WPOOL_EFOREIGN. */
int wpool__feeder_push(wpool__feeder_t *fd, const void *item, size_t len,
                       int64_t deadline);
/* Send the chunk being filled now, however few items it holds. Lock held.
   0, WPOOL_ETERMINATED or WPOOL_ESTATE, as above. */
int wpool__feeder_flush(wpool__feeder_t *fd);
/* The pushed input ends: flush, then tell the owner (ended). Lock held. */
int wpool__feeder_push_end(wpool__feeder_t *fd);
/* Has chunk k been produced? */
int wpool__feeder_has(const wpool__feeder_t *fd, size_t k);
/* Chunk k's var input records (valid until the owner releases the feeder,
   and while k is inside the window). */
void wpool__feeder_payload(const wpool__feeder_t *fd, size_t k,
                           const uint8_t **data, size_t *len,
                           uint32_t *count);
/* The input index of chunk k's first item (chunks can be shorter than
   chunksize: a chunk ends where the next item would pass the frame
   limit). */
size_t wpool__feeder_first(const wpool__feeder_t *fd, size_t k);
/* The owner consumed chunks: there may be room to produce more. */
void wpool__feeder_consumed(wpool__feeder_t *fd);
/* Stop calling the producer (lock held). Never waits. */
void wpool__feeder_stop(wpool__feeder_t *fd);
/* The owner is done with the feeder's chunks (lock held): stops it and
   drops the owner's reference. */
void wpool__feeder_release(wpool__feeder_t *fd);

#endif
