/* See feeder.h. */
#include "feeder.h"
#include "scheduler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A pushed item up to this size is copied with the lock held. */
#define COPY_LOCKED_MAX 4096u

struct wpool__feeder {
  wpool_t *pool;
  wpool__batch_t *batch;
  wpool_producer prod;
  void *user;
  const wpool__feeder_owner_t *ops;
  void *owner;
  size_t window;
  wpool__buf_t *ring; /* chunk k's var input records at k % window */
  uint32_t *counts;
  size_t *firsts; /* chunk k's first item index */
  size_t produced;
  size_t pulled; /* items taken from the producer */
  /* An item that did not fit in the frame limit with the chunk before it:
     it starts the next chunk (a copy: the producer may reuse its buffer). */
  wpool__buf_t carry;
  size_t carry_bytes;
  int carried;
  int stop;
  int refs; /* the thread's and the owner's */
  /* Pushed input (no thread): the chunk being filled is chunk `produced`,
     with bcount items of bbytes bytes so far. busy: a pusher is copying an
     item into it without the lock. */
  int push, busy, ended;
  uint32_t bcount;
  uint64_t bbytes;
};

int wpool__feeder_has(const wpool__feeder_t *fd, size_t k) {
  return k < fd->produced;
}

void wpool__feeder_payload(const wpool__feeder_t *fd, size_t k,
                           const uint8_t **data, size_t *len,
                           uint32_t *count) {
  *data = fd->ring[k % fd->window].data;
  *len = fd->ring[k % fd->window].len;
  *count = fd->counts[k % fd->window];
}

size_t wpool__feeder_first(const wpool__feeder_t *fd, size_t k) {
  return fd->firsts[k % fd->window];
}

void wpool__feeder_consumed(wpool__feeder_t *fd) {
  wpool__cond_broadcast(fd->pool->work_cond);
}

static void feeder_free(wpool__feeder_t *fd) {
  for (size_t i = 0; i < fd->window; i++)
    wpool__buf_free(&fd->ring[i]);
  wpool__buf_free(&fd->carry);
  free(fd->ring);
  free(fd->counts);
  free(fd->firsts);
  free(fd);
}

static void unref(wpool__feeder_t *fd) {
  if (--fd->refs == 0)
    feeder_free(fd);
}

/*
 * Pull up to one chunk of items into buf, without the lock: at most
 * chunksize items, and no more than limit bytes of them (the frame limit
 * applies to the items, not to their record headers). Returns the item
 * count; *end is set at the end of the input, and on failure err holds why.
 */
static uint32_t pull(wpool__feeder_t *fd, wpool__buf_t *buf, size_t chunksize,
                     uint64_t limit, int *end, char *err, size_t cap) {
  uint32_t count = 0;
  uint64_t bytes = 0;
  buf->len = 0;
  if (fd->carried) {
    if (wpool__buf_append(buf, fd->carry.data, fd->carry.len)) {
      snprintf(err, cap, "out of memory at producer item %zu", fd->pulled);
      return 0;
    }
    bytes = fd->carry_bytes;
    fd->carried = 0;
    count = 1;
  }
  while (count < chunksize) {
    const void *item = NULL;
    size_t len = 0;
    int rc = fd->prod(fd->user, &item, &len);
    if (rc == 0) {
      *end = 1;
      break;
    }
    size_t index = fd->pulled + count;
    if (rc < 0) {
      snprintf(err, cap, "producer failed at item %zu with code %d", index,
               rc);
      break;
    }
    if (!item && len) {
      snprintf(err, cap, "producer item %zu has %zu bytes at NULL", index,
               len);
      break;
    }
    if (len > limit || len > UINT32_MAX - 64) {
      snprintf(err, cap,
               "producer item %zu: argument of %zu bytes exceeds the frame "
               "limit of %llu bytes",
               index, len, (unsigned long long)limit);
      break;
    }
    wpool__buf_t *dst = bytes + len > limit ? &fd->carry : buf;
    if (dst == &fd->carry)
      fd->carry.len = 0;
    if (wpool__append_in_rec(dst, item, (uint32_t)len)) {
      snprintf(err, cap, "out of memory at producer item %zu", index);
      break;
    }
    if (dst == &fd->carry) {
      fd->carried = 1; /* starts the next chunk */
      fd->carry_bytes = len;
      break;
    }
    bytes += len;
    count++;
  }
  return count;
}

/* Publish count items of chunk k (lock held). */
static void publish(wpool_t *p, wpool__feeder_t *fd, size_t k,
                    uint32_t count) {
  fd->counts[k % fd->window] = count;
  fd->firsts[k % fd->window] = fd->pulled;
  fd->pulled += count;
  fd->produced++;
  fd->batch->n += count;
  wpool__batch_grew(p, fd->batch, count);
}

/* The input ended after the chunks published so far (lock held): msg is
   NULL at a clean end, else why it failed. */
static void input_end(wpool_t *p, wpool__feeder_t *fd, const char *msg) {
  wpool__batch_t *b = fd->batch;
  fd->ended = 1;
  b->nchunks = fd->produced;
  if (b->next_chunk >= b->nchunks)
    wpool__dequeue(p, b);
  fd->ops->ended(p, fd->owner, msg);
  p->be->wake(p);
  wpool__batch_release(p, b);
}

static void feeder_main(void *arg) {
  wpool__feeder_t *fd = arg;
  wpool_t *p = fd->pool;
  char err[256];
  wpool__mutex_lock(p->lock);
  for (;;) {
    while (!fd->stop && !fd->ops->room(fd->owner, fd->produced))
      wpool__cond_wait(p->work_cond, p->lock);
    if (fd->stop)
      break;
    size_t k = fd->produced;
    wpool__batch_t *b = fd->batch;
    wpool__buf_t *buf = &fd->ring[k % fd->window];
    size_t chunksize = b->chunksize;
    uint64_t limit = p->max_frame;
    wpool__mutex_unlock(p->lock);
    int end = 0;
    err[0] = '\0';
    uint32_t count = pull(fd, buf, chunksize, limit, &end, err, sizeof err);
    wpool__mutex_lock(p->lock);
    if (fd->stop)
      break; /* the owner is gone or stopped: discard what came */
    /* A failing item drops its whole chunk: the iterator yields everything
       before that chunk, then the failure. */
    if (count && !err[0])
      publish(p, fd, k, count);
    if (!end && !err[0]) {
      p->be->wake(p);
      continue;
    }
    input_end(p, fd, err[0] ? err : NULL);
    break;
  }
  unref(fd);
  p->refs--;
  wpool__unlock(p);
}

static wpool__feeder_t *feeder_new(wpool__batch_t *b, size_t window,
                                   const wpool__feeder_owner_t *ops,
                                   void *owner) {
  wpool__feeder_t *fd = calloc(1, sizeof *fd);
  if (!fd)
    return NULL;
  fd->batch = b;
  fd->ops = ops;
  fd->owner = owner;
  fd->window = window;
  fd->ring = calloc(window, sizeof *fd->ring);
  fd->counts = calloc(window, sizeof *fd->counts);
  fd->firsts = calloc(window, sizeof *fd->firsts);
  if (!fd->ring || !fd->counts || !fd->firsts) {
    feeder_free(fd);
    return NULL;
  }
  return fd;
}

int wpool__feeder_start(wpool_t *p, wpool__batch_t *b, size_t window,
                        wpool_producer prod, void *user,
                        const wpool__feeder_owner_t *ops, void *owner,
                        wpool__feeder_t **out) {
  wpool__feeder_t *fd = feeder_new(b, window, ops, owner);
  if (!fd)
    return WPOOL_ENOMEM;
  fd->pool = p;
  fd->prod = prod;
  fd->user = user;
  fd->refs = 2;
  int rc = wpool__thread_detached(feeder_main, fd);
  if (rc) {
    feeder_free(fd);
    return rc;
  }
  p->refs++; /* the thread's: the pool outlives a blocked producer */
  *out = fd;
  return 0;
}

int wpool__feeder_new_push(wpool_t *p, wpool__batch_t *b, size_t window,
                           const wpool__feeder_owner_t *ops, void *owner,
                           wpool__feeder_t **out) {
  wpool__feeder_t *fd = feeder_new(b, window, ops, owner);
  if (!fd)
    return WPOOL_ENOMEM;
  fd->pool = p;
  fd->push = 1;
  fd->refs = 1;
  *out = fd;
  return 0;
}

/* Send the chunk being filled, if it holds anything (lock held). */
static void push_publish(wpool_t *p, wpool__feeder_t *fd) {
  if (!fd->bcount)
    return;
  publish(p, fd, fd->produced, fd->bcount);
  fd->bcount = 0;
  fd->bbytes = 0;
  p->be->wake(p);
}

int wpool__feeder_push(wpool__feeder_t *fd, const void *item, size_t len,
                       int64_t deadline) {
  wpool_t *p = fd->pool;
  uint64_t limit = p->max_frame;
  if (len > limit || len > UINT32_MAX - 64)
    return WPOOL_E2BIG;
  for (;;) {
    if (fd->stop)
      return WPOOL_ETERMINATED;
    if (fd->ended)
      return WPOOL_ESTATE;
    if (!fd->busy && fd->ops->room(fd->owner, fd->produced)) {
      /* As the producer's feeder cuts chunks: an item that would take the
         chunk past the frame limit starts the next one. */
      if (fd->bcount == 0 || fd->bbytes + len <= limit)
        break;
      push_publish(p, fd);
      continue;
    }
    int rc = wpool__wait(p, p->work_cond, deadline);
    if (rc)
      return rc;
  }
  wpool__buf_t *buf = &fd->ring[fd->produced % fd->window];
  if (fd->bcount == 0)
    buf->len = 0;
  int rc;
  if (len <= COPY_LOCKED_MAX) {
    /* Cheaper than giving the lock up and taking it back. */
    rc = wpool__append_in_rec(buf, item, (uint32_t)len);
  } else {
    /* The chunk is not published, so nobody else reads its buffer: copy
       without the lock, which the I/O loop needs meanwhile. */
    fd->busy = 1;
    wpool__mutex_unlock(p->lock);
    rc = wpool__append_in_rec(buf, item, (uint32_t)len);
    wpool__mutex_lock(p->lock);
    fd->busy = 0;
    wpool__cond_broadcast(p->work_cond); /* pushers waiting for busy */
    if (fd->stop)
      return WPOOL_ETERMINATED;
  }
  if (rc)
    return rc;
  fd->bcount++;
  fd->bbytes += len;
  if (fd->bcount >= fd->batch->chunksize)
    push_publish(p, fd);
  return 0;
}

/* Wait until no pusher is copying (lock held), stopped or not: the copy
   writes into the ring, and takes no longer than a memcpy of one item. */
static void push_settle(wpool__feeder_t *fd) {
  while (fd->busy)
    wpool__cond_wait(fd->pool->work_cond, fd->pool->lock);
}

int wpool__feeder_flush(wpool__feeder_t *fd) {
  push_settle(fd);
  if (fd->stop)
    return WPOOL_ETERMINATED;
  if (fd->ended)
    return WPOOL_ESTATE;
  push_publish(fd->pool, fd);
  return 0;
}

int wpool__feeder_push_end(wpool__feeder_t *fd) {
  int rc = wpool__feeder_flush(fd);
  if (rc == 0)
    input_end(fd->pool, fd, NULL);
  return rc;
}

void wpool__feeder_stop(wpool__feeder_t *fd) {
  fd->stop = 1;
  wpool__cond_broadcast(fd->pool->work_cond);
}

void wpool__feeder_release(wpool__feeder_t *fd) {
  wpool__feeder_stop(fd);
  unref(fd);
}
