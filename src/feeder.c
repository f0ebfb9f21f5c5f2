/*
 * The feeder pulls a lazy input (wpool_producer) on a thread of its own, one
 * chunk at a time, only while the iterator's window has room. The producer
 * never runs under the pool's lock nor on the thread that talks to workers,
 * so a slow producer delays only its own iterator.
 */
#include "os.h"
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wpool__feeder {
  wpool_t *pool;
  wpool_iter_t *it;
  wpool__batch_t *batch;
  wpool_producer prod;
  void *user;
  size_t window;
  apr_pool_t *mem;
  apr_thread_t *thread;
  wpool__buf_t *ring; /* chunk k's var input records at k % window */
  uint32_t *counts;
  size_t produced;
  int stop, done;
};

int wpool__feeder_has(wpool__feeder_t *fd, size_t k) {
  return k < fd->produced;
}

void wpool__feeder_payload(wpool__feeder_t *fd, size_t k, const uint8_t **data,
                           size_t *len, uint32_t *count) {
  *data = fd->ring[k % fd->window].data;
  *len = fd->ring[k % fd->window].len;
  *count = fd->counts[k % fd->window];
}

void wpool__feeder_consumed(wpool__feeder_t *fd) {
  apr_thread_cond_broadcast(fd->pool->work_cond);
}

/*
 * Pull up to one chunk of items into buf, without the lock. Returns the item
 * count; *end is set at the end of the input, and on failure err holds why.
 */
static uint32_t pull(wpool__feeder_t *fd, wpool__buf_t *buf, size_t first,
                     int *end, char *err, size_t cap) {
  uint64_t limit = fd->pool->max_frame;
  uint32_t count = 0;
  buf->len = 0;
  while (count < fd->batch->chunksize) {
    const void *item = NULL;
    size_t len = 0;
    int rc = fd->prod(fd->user, &item, &len);
    if (rc == 0) {
      *end = 1;
      break;
    }
    size_t index = first + count;
    if (rc < 0) {
      snprintf(err, cap, "producer failed at item %zu with code %d", index,
               rc);
      break;
    }
    size_t rec = WPOOL__IN_REC_HDR + wpool__pad(len);
    if ((!item && len) || len > UINT32_MAX - 64 || buf->len + rec > limit) {
      snprintf(err, cap,
               "producer item %zu (%zu bytes) is invalid or makes its chunk "
               "exceed the frame limit",
               index, len);
      break;
    }
    uint8_t hdr[WPOOL__IN_REC_HDR];
    static const uint8_t zeros[WPOOL__ALIGN];
    wpool__put_in_hdr(hdr, (uint32_t)len);
    if (wpool__buf_append(buf, hdr, sizeof hdr) ||
        wpool__buf_append(buf, item, len) ||
        wpool__buf_append(buf, zeros, wpool__pad(len) - len)) {
      snprintf(err, cap, "out of memory at producer item %zu", index);
      break;
    }
    count++;
  }
  return count;
}

static void *APR_THREAD_FUNC feeder_main(apr_thread_t *t, void *arg) {
  wpool__feeder_t *fd = arg;
  wpool_t *p = fd->pool;
  wpool__batch_t *b = fd->batch;
  wpool__os_block_signals();
  char err[256];
  apr_thread_mutex_lock(p->lock);
  for (;;) {
    while (!fd->stop && !wpool__iter_may_send(fd->it, fd->produced))
      apr_thread_cond_wait(p->work_cond, p->lock);
    if (fd->stop)
      break;
    size_t k = fd->produced;
    wpool__buf_t *buf = &fd->ring[k % fd->window];
    apr_thread_mutex_unlock(p->lock);
    int end = 0;
    err[0] = '\0';
    uint32_t count = pull(fd, buf, k * b->chunksize, &end, err, sizeof err);
    apr_thread_mutex_lock(p->lock);
    if (fd->stop)
      break;
    /* A failing item drops its whole chunk: the iterator yields everything
       before that chunk, then the failure. */
    if (count && !end && !err[0]) {
      fd->counts[k % fd->window] = count;
      fd->produced++;
      b->n += count;
      p->st_queued += count;
      p->be->wake(p);
      continue;
    }
    if (count && end) {
      fd->counts[k % fd->window] = count;
      fd->produced++;
      b->n += count;
      p->st_queued += count;
    }
    b->nchunks = fd->produced;
    if (b->next_chunk >= b->nchunks)
      wpool__dequeue(p, b);
    wpool__iter_producer_end(p, fd->it, err[0] ? err : NULL);
    p->be->wake(p);
    wpool__batch_release(p, b);
    break;
  }
  fd->done = 1;
  apr_thread_cond_broadcast(p->state_cond);
  apr_thread_mutex_unlock(p->lock);
  (void)t;
  return NULL;
}

int wpool__feeder_start(wpool_t *p, wpool_iter_t *it, wpool__batch_t *b,
                        wpool_producer prod, void *user) {
  wpool__feeder_t *fd = calloc(1, sizeof *fd);
  if (!fd)
    return WPOOL_ENOMEM;
  fd->pool = p;
  fd->it = it;
  fd->batch = b;
  fd->prod = prod;
  fd->user = user;
  fd->window = wpool__iter_window(it);
  fd->ring = calloc(fd->window, sizeof *fd->ring);
  fd->counts = calloc(fd->window, sizeof *fd->counts);
  apr_threadattr_t *attr;
  if (!fd->ring || !fd->counts ||
      apr_pool_create_unmanaged_ex(&fd->mem, NULL, NULL) != APR_SUCCESS) {
    free(fd->ring);
    free(fd->counts);
    free(fd);
    return WPOOL_ENOMEM;
  }
  b->feeder = fd;
  if (apr_threadattr_create(&attr, fd->mem) != APR_SUCCESS ||
      apr_thread_create(&fd->thread, attr, feeder_main, fd, fd->mem) !=
          APR_SUCCESS) {
    b->feeder = NULL;
    apr_pool_destroy(fd->mem);
    free(fd->ring);
    free(fd->counts);
    free(fd);
    return WPOOL_ESYS;
  }
  return 0;
}

void wpool__feeder_stop(wpool_t *p, wpool__feeder_t *fd, int wait) {
  fd->stop = 1;
  apr_thread_cond_broadcast(p->work_cond);
  if (!wait)
    return;
  /* The producer may be running (without the lock); wait for it to return. */
  while (!fd->done)
    apr_thread_cond_wait(p->state_cond, p->lock);
  apr_status_t st;
  apr_thread_join(&st, fd->thread);
  apr_pool_destroy(fd->mem);
  for (size_t i = 0; i < fd->window; i++)
    wpool__buf_free(&fd->ring[i]);
  free(fd->ring);
  free(fd->counts);
  free(fd);
}
