/*
 * imap and imap_unordered. Finished chunks wait in a ring of `window` slots;
 * chunk k owns slot k % window, and may be sent (or produced) only while
 * k < base + window, where base is the lowest chunk not yet consumed. That
 * one rule bounds memory for lazy inputs, whatever their length.
 *
 * A chunk whose worker died or ran out of time comes back an item at a
 * time (the scheduler re-runs its items one by one, so that only the item
 * that kills a worker fails); its slot then collects the items' records in
 * input order before the chunk counts as finished.
 */
#include "callbacks.h"
#include "feeder.h"
#include "progress.h"
#include "scheduler.h"
#include "shm.h"

#include <stdlib.h>
#include <string.h>

#define ARRAY_WINDOW_MAX 65536u
/* A producer's (or pusher's) default window, per worker: 32 chunks, but
   no more than about 4096 items in all, so that large chunks do not hold
   megabytes of input and output while the consumer reads (10,000,000
   items in chunks of 1000: 6.4 MB of peak memory with 64 chunks, 2.9 MB
   with 8, at the same rate); never fewer than 4 chunks, so that a worker
   always has the next one queued. */
#define PRODUCER_WINDOW_PER_WORKER 32u
#define PRODUCER_WINDOW_MIN_PER_WORKER 4u
#define PRODUCER_WINDOW_ITEMS_PER_WORKER 4096u

#define ITER_LIVE 0x49544552u /* "ITER" */
#define ITER_DEAD 0xdeadbeefu

typedef struct slot {
  int ready, consumed;
  int code; /* the whole chunk failed */
  char *msg;
  wpool__buf_t data; /* var output records */
  size_t off;
  size_t first; /* input index of the chunk's first item */
  uint32_t count, yielded;
  uint32_t got;        /* items back so far, when they come one by one */
  wpool__buf_t *parts; /* their records, by item, until all are back */
  wpool__buf_t *outs;  /* capture_output: what each item printed */
  uint32_t nouts;
} slot_t;

struct wpool_iter {
  uint32_t magic;
  wpool_t *pool;
  int ordered;
  int user_ref;
  int push_ref; /* pushed input: the pushing side's handle, until push_end */
  int freeing; /* wpool_iter_free waits for chunks still in workers */
  wpool__batch_t batch;
  wpool__feeder_t *feeder;
  size_t window;
  slot_t *slots;
  size_t base;
  size_t finished; /* items back from workers (wpool_iter_progress) */
  size_t yielded;  /* items returned by wpool_iter_next */
  size_t *doneq; /* unordered: finished chunks in completion order */
  size_t dq_head, dq_len;
  size_t cur; /* the chunk being yielded, or SIZE_MAX */
  int term_code;
  int term_told; /* term_code was returned once: now it is the end */
  char *term_msg;
  int prod_code; /* the producer failed: yield it once at the end */
  int prod_told;
  char *prod_msg;
  /* What the last next() returned. */
  size_t last_index;
  wpool__buf_t last_out; /* what that item printed (capture_output) */
  int last_task_code;
  char *last_msg;
  wpool__progress_t progress;
};

#define ITER_OF(b) WPOOL__QDATA(b, wpool_iter_t, batch)

static char *dup_msg(const char *m, size_t n) {
  char *s = malloc(n + 1);
  if (s) {
    memcpy(s, m, n);
    s[n] = '\0';
  }
  return s;
}

static char *dup_str(const char *m) { return m ? dup_msg(m, strlen(m)) : NULL; }

static void slot_clear(slot_t *s) {
  wpool__buf_free(&s->data);
  if (s->parts)
    for (uint32_t i = 0; i < s->count; i++)
      wpool__buf_free(&s->parts[i]);
  free(s->parts);
  for (uint32_t i = 0; i < s->nouts; i++)
    wpool__buf_free(&s->outs[i]);
  free(s->outs);
  free(s->msg);
  memset(s, 0, sizeof *s);
}

static void maybe_free(wpool_t *p, wpool_iter_t *it) {
  if (it->user_ref || it->push_ref || it->freeing || it->batch.inflight ||
      it->batch.queued || !wpool__progress_idle(&it->progress))
    return;
  if (it->feeder)
    wpool__feeder_release(it->feeder);
  wpool__shm_unref(it->batch.shm_in);
  for (size_t i = 0; i < it->window; i++)
    slot_clear(&it->slots[i]);
  free(it->slots);
  free(it->doneq);
  free(it->term_msg);
  free(it->prod_msg);
  free(it->last_msg);
  wpool__buf_free(&it->last_out);
  it->magic = ITER_DEAD;
  free(it);
  p->refs--;
}

/* ---------------------------------------------------------------------- */
/* The batch operations (see core.h)                                       */

static void op_payload(wpool__batch_t *b, size_t k, const uint8_t **data,
                       size_t *len, uint32_t *count) {
  wpool_iter_t *it = ITER_OF(b);
  if (it->feeder)
    wpool__feeder_payload(it->feeder, k, data, len, count);
  else
    wpool__array_payload(b, k, data, len, count);
}

static int in_window(const wpool_iter_t *it, size_t k) {
  return !it->term_code && k < it->base + it->window;
}

static int op_may_send(wpool__batch_t *b, size_t k) {
  wpool_iter_t *it = ITER_OF(b);
  return in_window(it, k) && (!it->feeder || wpool__feeder_has(it->feeder, k));
}

/* Chunk k's item count and first input index. */
static uint32_t chunk_items(wpool_iter_t *it, size_t k, size_t *first) {
  const uint8_t *data;
  size_t len;
  uint32_t count;
  op_payload(&it->batch, k, &data, &len, &count);
  *first = it->feeder ? wpool__feeder_first(it->feeder, k)
                      : k * it->batch.chunksize;
  return count;
}

/* How many items the input holds: SIZE_MAX while a producer produces. */
static size_t input_total(const wpool_iter_t *it) {
  return it->batch.nchunks == SIZE_MAX ? SIZE_MAX : it->batch.n;
}

static void finished(wpool_t *p, wpool_iter_t *it, size_t k, slot_t *s) {
  s->ready = 1;
  if (!it->ordered)
    it->doneq[(it->dq_head + it->dq_len++) % it->window] = k;
  wpool__notify_done(p);
}

/* Items [first, first + count) of chunk k came back on their own. */
static void part_back(wpool_t *p, wpool_iter_t *it, size_t k, slot_t *s,
                      uint32_t total, size_t first, size_t count,
                      wpool__buf_t *tail, int code, const char *msg) {
  if (!s->parts) {
    s->parts = calloc(total, sizeof *s->parts);
    s->count = total;
    if (!s->parts) {
      s->code = WPOOL_ENOMEM;
      s->msg = dup_str("out of memory while collecting a chunk's items");
      s->got = total;
    }
  }
  /* A part of several items (a dead chunk is re-run in parts) brings one
     output record per item, back to back: each goes to its own slot. */
  size_t off = 0;
  for (size_t i = first; s->parts && i < first + count && i < total; i++) {
    if (code) {
      wpool__append_var_rec(&s->parts[i], code, 0, msg,
                            msg ? (uint32_t)strlen(msg) : 0);
    } else if (tail && count == 1) {
      s->parts[i] = *tail;
      tail->data = NULL;
    } else if (tail) {
      size_t start = off;
      wpool__rec_t rec;
      if (wpool__rec_next(tail->data, tail->len, &off, &rec) == 1 &&
          wpool__buf_append(&s->parts[i], tail->data + start, off - start) &&
          !s->code) {
        s->code = WPOOL_ENOMEM;
        s->msg = dup_str("out of memory while collecting a chunk's items");
      }
    }
  }
  s->got += (uint32_t)count;
  if (s->got < total)
    return;
  for (uint32_t i = 0; s->parts && i < total; i++) {
    if (wpool__buf_append(&s->data, s->parts[i].data, s->parts[i].len) &&
        !s->code) {
      s->code = WPOOL_ENOMEM;
      s->msg = dup_str("out of memory while collecting a chunk's items");
    }
    wpool__buf_free(&s->parts[i]);
  }
  free(s->parts);
  s->parts = NULL;
  finished(p, it, k, s);
}

static void op_deliver(wpool_t *p, wpool__batch_t *b, size_t k, size_t first,
                       size_t count, const wpool__frame_t *f,
                       wpool__buf_t *tail, int code, const char *msg) {
  wpool_iter_t *it = ITER_OF(b);
  if (!it->user_ref || it->term_code || k < it->base) {
    if (tail)
      wpool__buf_free(tail);
    return;
  }
  slot_t *s = &it->slots[k % it->window];
  size_t first_index;
  uint32_t total = chunk_items(it, k, &first_index);
  it->finished += count;
  wpool__progress_note(&it->progress, it->finished, input_total(it));
  s->first = first_index;
  if (first == 0 && count == total && !s->parts) {
    s->count = f ? f->count : total;
    s->code = code;
    if (code)
      s->msg = dup_str(msg);
    if (tail) {
      s->data = *tail;
      tail->data = NULL;
    }
    finished(p, it, k, s);
  } else {
    part_back(p, it, k, s, total, first, count, tail, code, msg);
  }
  if (tail)
    wpool__buf_free(tail);
}

/* The rest of the iterator will never be sent: it ends here. */
static void op_abort(wpool_t *p, wpool__batch_t *b, int code,
                     const char *msg) {
  wpool_iter_t *it = ITER_OF(b);
  if (!it->term_code) {
    it->term_code = code;
    it->term_msg = dup_str(msg);
  }
  if (it->feeder)
    wpool__feeder_stop(it->feeder);
  wpool__notify_done(p);
}

static void op_release(wpool_t *p, wpool__batch_t *b) {
  wpool_iter_t *it = ITER_OF(b);
  if (it->freeing)
    wpool__notify_done(p); /* wpool_iter_free waits for this */
  else
    maybe_free(p, it);
}

/* Kept in chunk k's slot until its item is yielded; an item that runs
   again prints again, and the last run's output is the one kept. */
static void op_output(wpool_t *p, wpool__batch_t *b, size_t k, size_t item,
                      const uint8_t *data, size_t len) {
  wpool_iter_t *it = ITER_OF(b);
  (void)p;
  if (!it->user_ref || it->term_code || k < it->base)
    return;
  slot_t *s = &it->slots[k % it->window];
  size_t first;
  uint32_t total = chunk_items(it, k, &first);
  if (item >= total || s->ready)
    return;
  if (!s->outs) {
    s->outs = calloc(total, sizeof *s->outs);
    if (!s->outs)
      return;
    s->nouts = total;
  }
  s->outs[item].len = 0;
  wpool__buf_append(&s->outs[item], data, len);
}

static const wpool__batch_ops_t iter_ops = {
    op_payload, op_may_send, op_deliver, op_abort, op_release, op_output};

/* What the feeder asks of its owner. */
static int feeder_room(void *owner, size_t k) {
  return in_window(owner, k);
}

static void feeder_ended(wpool_t *p, void *owner, const char *msg) {
  wpool_iter_t *it = owner;
  if (msg) {
    it->prod_code = WPOOL_EPRODUCER;
    it->prod_msg = dup_str(msg);
  }
  /* The total is known now; every item may even be back already. */
  wpool__progress_note(&it->progress, it->finished, input_total(it));
  wpool__notify_done(p);
}

static const wpool__feeder_owner_t feeder_owner = {feeder_room,
                                                   feeder_ended};

/* ---------------------------------------------------------------------- */
/* Consuming                                                               */

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
    if (it->feeder)
      wpool__feeder_consumed(it->feeder);
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

static void set_last_msg(wpool_iter_t *it, const char *m, size_t n) {
  free(it->last_msg);
  it->last_msg = m ? dup_msg(m, n) : NULL;
}

/* Yield the next item of chunk it->cur (lock held). */
static int yield(wpool_iter_t *it, const void **data, size_t *len) {
  slot_t *s = &it->slots[it->cur % it->window];
  it->last_index = s->first + s->yielded;
  it->last_task_code = 0;
  wpool__buf_free(&it->last_out);
  if (s->outs && s->yielded < s->nouts) {
    it->last_out = s->outs[s->yielded];
    s->outs[s->yielded] = (wpool__buf_t){0};
  }
  s->yielded++;
  it->yielded++;
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
    set_last_msg(it, (const char *)rec.data, (size_t)rec.len);
    return rec.code;
  }
  set_last_msg(it, NULL, 0);
  if (data)
    *data = rec.data;
  if (len)
    *len = (size_t)rec.len;
  return 0;
}

static int usable(const wpool_iter_t *it) {
  return it && it->magic == ITER_LIVE && it->user_ref;
}

int wpool_iter_next(wpool_iter_t *it, long timeout_ms, const void **data,
                    size_t *len) {
  if (!usable(it))
    return WPOOL_EINVAL;
  wpool_t *p = it->pool;
  int64_t deadline = wpool__deadline(timeout_ms);
  wpool__mutex_lock(p->lock);
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
      rc = it->term_told ? WPOOL_EDONE : it->term_code;
      if (!it->term_told)
        set_last_msg(it, it->term_msg,
                     it->term_msg ? strlen(it->term_msg) : 0);
      it->term_told = 1;
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
  wpool__mutex_unlock(p->lock);
  return rc;
}

int wpool_iter_progress(wpool_iter_t *it, size_t *yielded, size_t *done,
                        size_t *total) {
  if (!usable(it))
    return WPOOL_EINVAL;
  wpool_t *p = it->pool;
  wpool__mutex_lock(p->lock);
  if (yielded)
    *yielded = it->yielded;
  if (done)
    *done = it->finished;
  if (total)
    *total = it->batch.nchunks == SIZE_MAX ? SIZE_MAX : it->batch.n;
  wpool__mutex_unlock(p->lock);
  return 0;
}

size_t wpool_iter_index(wpool_iter_t *it) {
  return usable(it) ? it->last_index : 0;
}

const char *wpool_iter_message(wpool_iter_t *it) {
  return usable(it) ? it->last_msg : NULL;
}

int wpool_iter_output(wpool_iter_t *it, const char **data, size_t *len) {
  if (!usable(it))
    return WPOOL_EINVAL;
  if (data)
    *data = it->last_out.len ? (const char *)it->last_out.data : "";
  if (len)
    *len = it->last_out.len;
  return 0;
}

int wpool_iter_task_code(wpool_iter_t *it) {
  return usable(it) ? it->last_task_code : 0;
}

void wpool_iter_free(wpool_iter_t *it) {
  if (!usable(it))
    return;
  wpool_t *p = it->pool;
  int in_callback = wpool__in_callback(p);
  wpool__mutex_lock(p->lock);
  it->user_ref = 0;
  it->freeing = 1;
  wpool__progress_stop(&it->progress, in_callback);
  /* A producer is stopped, never waited for: it may block for ever. */
  if (it->feeder)
    wpool__feeder_stop(it->feeder);
  wpool__drop_batch(p, &it->batch, WPOOL_ECANCELED, "the iterator was freed",
                    0);
  /* Chunks already in workers may still read the caller's array: the
     header promises that it may go once this returns. (A producer's items
     are the iterator's own copies, freed with it.) */
  while (!it->feeder && it->batch.inflight &&
         wpool__wait(p, p->done_cond, -1) == 0) {
  }
  it->freeing = 0;
  maybe_free(p, it);
  wpool__unlock(p);
}

/* ---------------------------------------------------------------------- */
/* Pushing                                                                 */

static int pushable(const wpool_iter_t *it) {
  return it && it->magic == ITER_LIVE && it->push_ref;
}

/* Why a stopped iterator takes no more items. */
static int stopped_code(const wpool_iter_t *it) {
  if (!it->user_ref)
    return WPOOL_ECANCELED;
  return it->term_code ? it->term_code : WPOOL_ETERMINATED;
}

/* Checks a push call's iterator and its pool; on 0 the pool is locked. */
static int push_begin(wpool_iter_t *it) {
  if (!pushable(it))
    return WPOOL_EINVAL;
  int rc = wpool__check_pool(it->pool);
  if (rc)
    return rc;
  wpool__mutex_lock(it->pool->lock);
  return 0;
}

/* A push call's answer: one refused because the iterator stopped says why. */
static int push_answer(const wpool_iter_t *it, int rc) {
  return rc == WPOOL_ETERMINATED ? stopped_code(it) : rc;
}

int wpool_iter_push(wpool_iter_t *it, const void *item, size_t len,
                    long timeout_ms) {
  if (!item && len)
    return WPOOL_EINVAL;
  int64_t deadline = wpool__deadline(timeout_ms);
  int rc = push_begin(it);
  if (rc)
    return rc;
  rc = it->term_code || !it->user_ref
           ? WPOOL_ETERMINATED
           : wpool__feeder_push(it->feeder, item, len, deadline);
  rc = push_answer(it, rc);
  wpool__mutex_unlock(it->pool->lock);
  return rc;
}

int wpool_iter_flush(wpool_iter_t *it) {
  int rc = push_begin(it);
  if (rc)
    return rc;
  rc = push_answer(it, wpool__feeder_flush(it->feeder));
  wpool__mutex_unlock(it->pool->lock);
  return rc;
}

int wpool_iter_push_end(wpool_iter_t *it) {
  int rc = push_begin(it);
  if (rc)
    return rc;
  wpool_t *p = it->pool;
  rc = push_answer(it, wpool__feeder_push_end(it->feeder));
  it->push_ref = 0;
  maybe_free(p, it);
  wpool__unlock(p);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Starting                                                                */

wpool_source_t wpool_source_array(const void *items, size_t count,
                                  size_t item_size) {
  wpool_source_t s;
  memset(&s, 0, sizeof s);
  s.items = items;
  s.count = count;
  s.item_size = item_size;
  return s;
}

wpool_source_t wpool_source_push(size_t window) {
  wpool_source_t s;
  memset(&s, 0, sizeof s);
  s.push = 1;
  s.window = window;
  return s;
}

wpool_source_t wpool_source_shm(const wpool_slice_t *items,
                                size_t item_size) {
  wpool_source_t s;
  memset(&s, 0, sizeof s);
  if (items)
    s.shm_items = *items;
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

/* An array source whose chunks hold at least the pool's threshold of
   items: they go around the channel, as a map's do (see wpool_map_async),
   copied once into a buffer for process workers, read in place by
   threads. */
static int large_items(const wpool_t *p, const wpool_source_t *src,
                       size_t chunksize) {
  size_t per = chunksize < src->count ? chunksize : src->count;
  return src->count && wpool__shm_threshold(p) != SIZE_MAX &&
         (uint64_t)per * src->item_size >= wpool__shm_threshold(p);
}

static int check_source(wpool_t *p, const wpool_source_t *src,
                        size_t *chunksize, int around) {
  if (*chunksize == 0)
    *chunksize = 1;
  if (*chunksize > UINT32_MAX)
    return WPOOL_EINVAL;
  if ((src->producer && src->push) ||
      ((src->producer || src->push) && src->shm_items.shm))
    return WPOOL_EINVAL;
  if (src->producer || src->push)
    return 0;
  if (src->shm_items.shm) {
    if (p->no_shm)
      return WPOOL_ENOTSUP; /* its workers share no memory with us */
    /* No frame carries the items: only their size (a 32-bit field) and
       the outputs (checked by the worker) are limited. */
    int rc = wpool__slice_check(&src->shm_items, "input", NULL);
    if (rc == 0 && (src->item_size == 0 || src->item_size > UINT32_MAX ||
                    src->shm_items.len % src->item_size))
      rc = WPOOL_EINVAL;
    return rc;
  }
  if (src->item_size == 0 || src->item_size > UINT32_MAX ||
      (src->count && !src->items) || src->count > SIZE_MAX / src->item_size)
    return WPOOL_EINVAL;
  if (around)
    return 0; /* no frame carries the items */
  if (src->item_size > p->max_frame)
    return WPOOL_E2BIG;
  /* As map does: a chunk is cut to fit the frame limit. */
  if (*chunksize > p->max_frame / src->item_size)
    *chunksize = p->max_frame / src->item_size;
  return 0;
}

static size_t producer_window(size_t chunksize, size_t workers) {
  size_t per = PRODUCER_WINDOW_ITEMS_PER_WORKER / (chunksize ? chunksize : 1);
  if (per > PRODUCER_WINDOW_PER_WORKER)
    per = PRODUCER_WINDOW_PER_WORKER;
  if (per < PRODUCER_WINDOW_MIN_PER_WORKER)
    per = PRODUCER_WINDOW_MIN_PER_WORKER;
  return per * workers;
}

static void progress_settled(wpool_t *p, wpool__progress_t *pr) {
  maybe_free(p, WPOOL__QDATA(pr, wpool_iter_t, progress));
}

static wpool_iter_t *iter_new(wpool_t *p, const wpool_source_t *src,
                              size_t chunksize, int ordered) {
  wpool_iter_t *it = calloc(1, sizeof *it);
  if (!it)
    return NULL;
  it->magic = ITER_LIVE;
  it->pool = p;
  it->ordered = ordered;
  it->user_ref = 1;
  it->cur = SIZE_MAX;
  wpool__progress_init(&it->progress, p, progress_settled);
  wpool__batch_t *b = &it->batch;
  b->ops = &iter_ops;
  b->chunksize = chunksize;
  if (src->producer || src->push) {
    b->nchunks = SIZE_MAX;
    it->window = src->window ? src->window
                             : producer_window(chunksize, (size_t)p->target);
  } else {
    b->isize = (uint32_t)src->item_size;
    b->items = src->items;
    b->n = src->count;
    if (src->shm_items.shm) {
      const wpool_slice_t *sl = &src->shm_items;
      b->items = sl->shm->base + sl->offset;
      b->n = sl->len / src->item_size;
      b->frame_flags = WPOOL__FL_SHM_IN;
    }
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
    return NULL;
  }
  return it;
}

static int imap(wpool_t *p, wpool_fn fn, const wpool_source_t *src,
                size_t chunksize, int ordered, const wpool_call_t *call,
                wpool_iter_t **out) {
  if (out)
    *out = NULL;
  wpool__call_cfg_t cfg;
  int rc = wpool__check_call(p, fn, call, &cfg);
  if (rc)
    return rc;
  if (!src || !out || (call && (call->on_success || call->on_error)))
    return WPOOL_EINVAL;
  wpool_source_t arr; /* an array source, changed into a shared one */
  wpool_shm_t *carried = NULL;
  int around = !src->producer && !src->push && !src->shm_items.shm &&
               src->items && src->item_size &&
               src->count <= SIZE_MAX / src->item_size &&
               large_items(p, src, chunksize ? chunksize : 1);
  if (around && p->method != WPOOL_THREAD) {
    carried = wpool__shm_carry(p, src->items, src->count * src->item_size);
    around = carried != NULL;
  }
  if ((rc = check_source(p, src, &chunksize, around)) != 0) {
    wpool__shm_unref(carried);
    return rc;
  }
  if (carried) {
    arr = wpool_source_shm(NULL, src->item_size);
    arr.shm_items = wpool_slice(carried, 0, src->count * src->item_size);
    arr.window = src->window;
    src = &arr;
  }
  wpool_iter_t *it = iter_new(p, src, chunksize, ordered);
  if (!it) {
    wpool__shm_unref(carried);
    return WPOOL_ENOMEM;
  }
  wpool__batch_t *b = &it->batch;
  b->fn = cfg.fn;
  b->timeout_ms = cfg.limit_ms;
  b->retries = cfg.retries;
  if (carried) {
    b->shm_in = carried; /* its one reference passes to the iterator */
  } else if (src->shm_items.shm) {
    wpool__shm_ref(src->shm_items.shm);
    b->shm_in = src->shm_items.shm;
  }
  wpool__mutex_lock(p->lock);
  if (p->state != WPOOL__RUNNING) {
    wpool__mutex_unlock(p->lock);
    wpool__shm_unref(b->shm_in);
    free(it->slots);
    free(it->doneq);
    free(it);
    return WPOOL_ECLOSED;
  }
  p->refs++;
  if (src->producer || src->push) {
    it->push_ref = src->push;
    rc = src->push ? wpool__feeder_new_push(p, b, it->window, &feeder_owner,
                                            it, &it->feeder)
                   : wpool__feeder_start(p, b, it->window, src->producer,
                                         src->producer_user, &feeder_owner,
                                         it, &it->feeder);
    if (rc) {
      it->push_ref = 0;
      it->user_ref = 0;
      maybe_free(p, it);
      wpool__unlock(p);
      return rc;
    }
  }
  if (b->nchunks)
    wpool__enqueue(p, b);
  *out = it;
  wpool__mutex_unlock(p->lock);
  return 0;
}

int wpool_imap(wpool_t *p, wpool_fn fn, const wpool_source_t *src,
               size_t chunksize, wpool_iter_t **iter) {
  return imap(p, fn, src, chunksize, 1, NULL, iter);
}

int wpool_imap_unordered(wpool_t *p, wpool_fn fn, const wpool_source_t *src,
                         size_t chunksize, wpool_iter_t **iter) {
  return imap(p, fn, src, chunksize, 0, NULL, iter);
}

int wpool_imap_ex(wpool_t *p, wpool_fn fn, const wpool_source_t *src,
                  size_t chunksize, const wpool_call_t *call,
                  wpool_iter_t **iter) {
  return imap(p, fn, src, chunksize, 1, call, iter);
}

int wpool_imap_unordered_ex(wpool_t *p, wpool_fn fn,
                            const wpool_source_t *src, size_t chunksize,
                            const wpool_call_t *call, wpool_iter_t **iter) {
  return imap(p, fn, src, chunksize, 0, call, iter);
}

int wpool_iter_on_progress(wpool_iter_t *it, const wpool_progress_t *cfg) {
  if (!usable(it))
    return WPOOL_EINVAL;
  wpool_t *p = it->pool;
  wpool__mutex_lock(p->lock);
  int rc = wpool__progress_set(&it->progress, cfg, it->finished,
                               input_total(it));
  wpool__mutex_unlock(p->lock);
  return rc;
}
