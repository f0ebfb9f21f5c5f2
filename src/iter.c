/*
 * imap and imap_unordered. Finished chunks wait in a ring of `window` slots;
 * chunk k owns slot k % window, and may be sent (or produced) only while
 * k < base + window, where base is the lowest chunk not yet consumed. That
 * one rule bounds memory for lazy inputs, whatever their length.
 */
#include "pool.h"

#include <stdlib.h>
#include <string.h>

#define ARRAY_WINDOW_MAX 65536u
#define PRODUCER_WINDOW_PER_WORKER 32u

typedef struct slot {
  int ready, consumed;
  int code; /* the whole chunk failed */
  char *msg;
  wpool__buf_t data; /* var output records */
  size_t off;
  uint32_t count, yielded;
} slot_t;

struct wpool_iter {
  wpool_t *pool;
  int ordered;
  int user_ref;
  wpool__batch_t batch;
  size_t window;
  slot_t *slots;
  size_t base;
  size_t *doneq; /* unordered: finished chunks in completion order */
  size_t dq_head, dq_len;
  size_t cur; /* the chunk being yielded, or SIZE_MAX */
  int term_code;
  char *term_msg;
  int prod_code; /* the producer failed: yield it once at the end */
  int prod_told;
  char *prod_msg;
  /* What the last next() returned. */
  size_t last_index;
  int last_task_code;
  char *last_msg;
};

int wpool__iter_may_send(wpool_iter_t *it, size_t k) {
  return !it->term_code && k < it->base + it->window;
}

static void slot_clear(slot_t *s) {
  wpool__buf_free(&s->data);
  free(s->msg);
  memset(s, 0, sizeof *s);
}

void wpool__iter_maybe_free(wpool_t *p, wpool_iter_t *it) {
  if (it->user_ref || it->batch.inflight || it->batch.queued)
    return;
  if (it->batch.feeder)
    return; /* wpool_iter_free stops and frees the feeder first */
  for (size_t i = 0; i < it->window; i++)
    slot_clear(&it->slots[i]);
  free(it->slots);
  free(it->doneq);
  free(it->term_msg);
  free(it->prod_msg);
  free(it->last_msg);
  free(it);
  p->refs--;
}

static char *dup_msg(const char *m, size_t n) {
  char *s = malloc(n + 1);
  if (s) {
    memcpy(s, m, n);
    s[n] = '\0';
  }
  return s;
}

void wpool__iter_chunk(wpool_t *p, wpool_iter_t *it, size_t k,
                       const wpool__frame_t *f, wpool__buf_t *tail, int code,
                       const char *msg) {
  if (k == SIZE_MAX) { /* the pool stopped: the iterator ends here */
    if (!it->term_code) {
      it->term_code = code;
      it->term_msg = msg ? dup_msg(msg, strlen(msg)) : NULL;
    }
    if (it->batch.feeder)
      wpool__feeder_stop(p, it->batch.feeder, 0);
    wpool__notify_done(p);
    return;
  }
  it->batch.accounted++;
  if (!it->user_ref || it->term_code || k < it->base) {
    if (tail)
      wpool__buf_free(tail);
    return;
  }
  slot_t *s = &it->slots[k % it->window];
  const uint8_t *payload;
  size_t len;
  uint32_t count;
  wpool__chunk_payload(&it->batch, k, &payload, &len, &count);
  s->count = f ? f->count : count;
  s->code = code;
  if (code)
    s->msg = msg ? dup_msg(msg, strlen(msg)) : NULL;
  if (tail) {
    s->data = *tail;
    tail->data = NULL;
  }
  s->ready = 1;
  if (!it->ordered)
    it->doneq[(it->dq_head + it->dq_len++) % it->window] = k;
  wpool__notify_done(p);
}

/* Chunk k has been yielded in full: free its slot and slide the window. */
static void consume(wpool_t *p, wpool_iter_t *it, size_t k) {
  slot_t *s = &it->slots[k % it->window];
  slot_clear(s);
  s->consumed = 1;
  while (it->base < it->batch.nchunks) {
    slot_t *b = &it->slots[it->base % it->window];
    if (!b->consumed)
      break;
    b->consumed = 0;
    it->base++;
    if (it->batch.feeder)
      wpool__feeder_consumed(it->batch.feeder);
  }
  p->be->wake(p);
}

/* The next finished chunk to yield from, or SIZE_MAX. */
static size_t next_chunk(wpool_iter_t *it) {
  if (it->ordered) {
    slot_t *s = &it->slots[it->base % it->window];
    return it->base < it->batch.nchunks && s->ready ? it->base : SIZE_MAX;
  }
  if (!it->dq_len)
    return SIZE_MAX;
  size_t k = it->doneq[it->dq_head];
  it->dq_head = (it->dq_head + 1) % it->window;
  it->dq_len--;
  return k;
}

static int set_last_msg(wpool_iter_t *it, const char *m, size_t n) {
  free(it->last_msg);
  it->last_msg = m ? dup_msg(m, n) : NULL;
  return 0;
}

/* Yield the next item of chunk it->cur (lock held). */
static int yield(wpool_iter_t *it, const void **data, size_t *len) {
  slot_t *s = &it->slots[it->cur % it->window];
  it->last_index = it->cur * it->batch.chunksize + s->yielded;
  it->last_task_code = 0;
  s->yielded++;
  if (s->code) {
    set_last_msg(it, s->msg, s->msg ? strlen(s->msg) : 0);
    return s->code;
  }
  wpool__rec_t rec;
  if (wpool__rec_next(s->data.data, s->data.len, &s->off, &rec) != 1) {
    set_last_msg(it, "malformed result records", 24);
    return WPOOL_EPROTO;
  }
  if (rec.code) {
    it->last_task_code = rec.task_code;
    set_last_msg(it, (const char *)rec.data, rec.len);
    return rec.code;
  }
  set_last_msg(it, NULL, 0);
  if (data)
    *data = rec.data;
  if (len)
    *len = rec.len;
  return 0;
}

int wpool_iter_next(wpool_iter_t *it, long timeout_ms, const void **data,
                    size_t *len) {
  if (!it)
    return WPOOL_EINVAL;
  wpool_t *p = it->pool;
  apr_time_t deadline = wpool__deadline(timeout_ms);
  apr_thread_mutex_lock(p->lock);
  int rc;
  for (;;) {
    if (it->cur != SIZE_MAX) {
      slot_t *s = &it->slots[it->cur % it->window];
      if (s->yielded < s->count) {
        rc = yield(it, data, len);
        break;
      }
      consume(p, it, it->cur);
      it->cur = SIZE_MAX;
    }
    if (it->term_code) {
      set_last_msg(it, it->term_msg, it->term_msg ? strlen(it->term_msg) : 0);
      rc = it->term_code;
      break;
    }
    size_t k = next_chunk(it);
    if (k != SIZE_MAX) {
      it->cur = k;
      continue;
    }
    if (it->base >= it->batch.nchunks) {
      rc = WPOOL_EDONE;
      if (it->prod_code && !it->prod_told) {
        it->prod_told = 1;
        rc = WPOOL_EPRODUCER;
        set_last_msg(it, it->prod_msg,
                     it->prod_msg ? strlen(it->prod_msg) : 0);
      }
      break;
    }
    rc = wpool__wait(p, p->done_cond, deadline);
    if (rc)
      break;
  }
  apr_thread_mutex_unlock(p->lock);
  return rc;
}

size_t wpool_iter_index(wpool_iter_t *it) { return it ? it->last_index : 0; }

const char *wpool_iter_message(wpool_iter_t *it) {
  return it ? it->last_msg : NULL;
}

int wpool_iter_task_code(wpool_iter_t *it) {
  return it ? it->last_task_code : 0;
}

void wpool_iter_free(wpool_iter_t *it) {
  if (!it)
    return;
  wpool_t *p = it->pool;
  apr_thread_mutex_lock(p->lock);
  it->user_ref = 0;
  wpool__dequeue(p, &it->batch); /* work not yet sent is dropped */
  if (it->batch.feeder) {
    wpool__feeder_stop(p, it->batch.feeder, 1);
    it->batch.feeder = NULL;
  }
  wpool__iter_maybe_free(p, it);
  wpool__unlock(p);
}

void wpool__iter_producer_end(wpool_t *p, wpool_iter_t *it, const char *msg) {
  if (msg) {
    it->prod_code = WPOOL_EPRODUCER;
    it->prod_msg = dup_msg(msg, strlen(msg));
  }
  wpool__notify_done(p);
}

size_t wpool__iter_window(wpool_iter_t *it) { return it->window; }

wpool_source_t wpool_source_array(const void *items, size_t count,
                                  size_t item_size) {
  wpool_source_t s;
  memset(&s, 0, sizeof s);
  s.items = items;
  s.count = count;
  s.item_size = item_size;
  return s;
}

wpool_source_t wpool_source_producer(wpool_producer producer, void *user) {
  wpool_source_t s;
  memset(&s, 0, sizeof s);
  s.producer = producer;
  s.producer_user = user;
  return s;
}

static int imap(wpool_t *p, wpool_fn fn, const wpool_source_t *src,
                size_t chunksize, int ordered, wpool_iter_t **out) {
  if (out)
    *out = NULL;
  uint32_t fi;
  int rc = wpool__submit_check(p, fn, &fi);
  if (rc)
    return rc;
  if (!src || !out)
    return WPOOL_EINVAL;
  if (!src->producer && (src->item_size == 0 || src->item_size > UINT32_MAX ||
                         (src->count && !src->items)))
    return WPOOL_EINVAL;
  if (chunksize == 0)
    chunksize = 1;
  if (chunksize > UINT32_MAX)
    return WPOOL_EINVAL;
  if (!src->producer && src->item_size > p->max_frame)
    return WPOOL_E2BIG;
  /* As map does: a chunk is cut to fit the frame limit. */
  if (!src->producer && chunksize > p->max_frame / src->item_size)
    chunksize = p->max_frame / src->item_size;
  wpool_iter_t *it = calloc(1, sizeof *it);
  if (!it)
    return WPOOL_ENOMEM;
  it->pool = p;
  it->ordered = ordered;
  it->user_ref = 1;
  it->cur = SIZE_MAX;
  wpool__batch_t *b = &it->batch;
  b->kind = WPOOL__IMAP;
  b->iter = it;
  b->fn = fi;
  b->chunksize = chunksize;
  if (src->producer) {
    b->nchunks = SIZE_MAX;
    it->window = src->window ? src->window
                             : PRODUCER_WINDOW_PER_WORKER * (size_t)p->nworkers;
  } else {
    b->isize = (uint32_t)src->item_size;
    b->items = src->items;
    b->n = src->count;
    b->nchunks = b->n / chunksize + (b->n % chunksize != 0);
    it->window = b->nchunks < ARRAY_WINDOW_MAX ? b->nchunks : ARRAY_WINDOW_MAX;
    if (src->window && src->window < it->window)
      it->window = src->window;
  }
  if (it->window == 0)
    it->window = 1;
  it->slots = calloc(it->window, sizeof *it->slots);
  it->doneq = ordered ? NULL : calloc(it->window, sizeof *it->doneq);
  if (!it->slots || (!ordered && !it->doneq)) {
    free(it->slots);
    free(it->doneq);
    free(it);
    return WPOOL_ENOMEM;
  }
  apr_thread_mutex_lock(p->lock);
  if (p->state != WPOOL__RUNNING) {
    apr_thread_mutex_unlock(p->lock);
    free(it->slots);
    free(it->doneq);
    free(it);
    return WPOOL_ECLOSED;
  }
  p->refs++;
  if (src->producer) {
    rc = wpool__feeder_start(p, it, b, src->producer, src->producer_user);
    if (rc) {
      it->user_ref = 0;
      wpool__iter_maybe_free(p, it);
      wpool__unlock(p);
      return rc;
    }
  }
  if (b->nchunks)
    wpool__enqueue(p, b);
  *out = it;
  apr_thread_mutex_unlock(p->lock);
  return 0;
}

int wpool_imap(wpool_t *p, wpool_fn fn, const wpool_source_t *src,
               size_t chunksize, wpool_iter_t **iter) {
  return imap(p, fn, src, chunksize, 1, iter);
}

int wpool_imap_unordered(wpool_t *p, wpool_fn fn, const wpool_source_t *src,
                         size_t chunksize, wpool_iter_t **iter) {
  return imap(p, fn, src, chunksize, 0, iter);
}
