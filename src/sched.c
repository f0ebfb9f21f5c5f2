/*
 * The scheduler: which chunk goes to which worker, and what happens to a
 * chunk when its worker answers or dies. Portable and shared by every
 * method; the lock is held throughout.
 */
#include "pool.h"

#include <stdlib.h>
#include <string.h>

/* Keep roughly this much work queued on a process worker. */
#define DEPTH_BUDGET_NS 2000000u
#define DEPTH_MAX 256u

/* Outputs of a map go to the caller's memory: a worker that may still write
   there keeps its chunk until it answers or is reaped. */
static int writes_caller_memory(const wpool__batch_t *b) {
  return b->kind == WPOOL__MAP;
}

void wpool__enqueue(wpool_t *p, wpool__batch_t *b) {
  b->next = NULL;
  b->queued = 1;
  if (p->qtail)
    p->qtail->next = b;
  else
    p->qhead = b;
  p->qtail = b;
  if (b->nchunks != SIZE_MAX)
    p->st_queued += b->n;
  p->be->wake(p);
}

void wpool__dequeue(wpool_t *p, wpool__batch_t *b) {
  if (!b->queued)
    return;
  wpool__batch_t **pp = &p->qhead, *prev = NULL;
  while (*pp && *pp != b) {
    prev = *pp;
    pp = &(*pp)->next;
  }
  if (*pp) {
    *pp = b->next;
    if (p->qtail == b)
      p->qtail = prev;
  }
  b->next = NULL;
  b->queued = 0;
}

size_t wpool__job_first_item(const wpool__job_t *j) {
  return j->chunk * j->batch->chunksize + j->first;
}

static size_t chunk_count(const wpool__batch_t *b, size_t k) {
  if (b->kind == WPOOL__APPLY)
    return 1;
  size_t first = k * b->chunksize;
  size_t left = b->n > first ? b->n - first : 0;
  return left < b->chunksize ? left : b->chunksize;
}

void wpool__chunk_payload(wpool__batch_t *b, size_t k, const uint8_t **data,
                          size_t *len, uint32_t *count) {
  if (b->feeder) {
    wpool__feeder_payload(b->feeder, k, data, len, count);
  } else if (b->kind == WPOOL__APPLY) {
    *data = b->items;
    *len = b->items_len;
    *count = 1;
  } else {
    size_t c = chunk_count(b, k);
    *data = b->items + k * b->chunksize * b->isize;
    *len = c * b->isize;
    *count = (uint32_t)c;
  }
}

/* How many chunks of b may be sent now. */
static size_t sendable(wpool__batch_t *b) {
  size_t k = b->next_chunk;
  if (k >= b->nchunks)
    return 0;
  if (b->feeder && !wpool__feeder_has(b->feeder, k))
    return 0;
  if (b->iter && !wpool__iter_may_send(b->iter, k))
    return 0;
  return 1;
}

static void fifo_push(wpool__worker_t *w, const wpool__job_t *j) {
  w->fifo[(w->head + w->count) % w->fifo_cap] = *j;
  w->count++;
}

int wpool__take(wpool_t *p, wpool__worker_t *w) {
  if (w->count == w->fifo_cap)
    return 0;
  wpool__job_t j;
  memset(&j, 0, sizeof j);
  if (p->retry_len) {
    j = p->retry[0];
    memmove(p->retry, p->retry + 1, --p->retry_len * sizeof *p->retry);
  } else {
    wpool__batch_t *b = p->qhead;
    while (b && !sendable(b))
      b = b->next;
    if (!b)
      return 0;
    j.batch = b;
    j.chunk = b->next_chunk++;
    b->inflight++;
    if (b->next_chunk == b->nchunks)
      wpool__dequeue(p, b);
  }
  wpool__batch_t *b = j.batch;
  uint32_t count;
  wpool__chunk_payload(b, j.chunk, &j.payload, &j.plen, &count);
  if (j.nitems) { /* a part of a fixed-input map chunk */
    j.payload += (size_t)j.first * b->isize;
    j.plen = (size_t)j.nitems * b->isize;
    count = j.nitems;
  }
  j.seq = ++p->next_seq;
  j.cancelled = 0;
  wpool__frame_init(&j.hdr, WPOOL__F_TASK);
  j.hdr.job = j.seq;
  j.hdr.fn = b->fn;
  j.hdr.count = count;
  j.hdr.isize = b->isize;
  j.hdr.osize = b->osize;
  j.hdr.len = (uint32_t)j.plen;
  fifo_push(w, &j);
  w->tasks_sent++;
  p->st_queued -= count < p->st_queued ? count : p->st_queued;
  p->st_running += count;
  return 1;
}

size_t wpool__depth(wpool_t *p) {
  if (p->ewma_ns == 0)
    return 1; /* nothing measured yet: do not hoard unknown work */
  uint64_t d = DEPTH_BUDGET_NS / (p->ewma_ns ? p->ewma_ns : 1);
  if (d < 1)
    d = 1;
  return d > DEPTH_MAX ? DEPTH_MAX : (size_t)d;
}

/* Job j (or, with k == SIZE_MAX, the whole iterator) finished or failed. */
static void deliver_job(wpool_t *p, const wpool__job_t *j,
                        const wpool__frame_t *f, wpool__buf_t *tail, int code,
                        const char *msg) {
  wpool__batch_t *b = j->batch;
  if (b->result) {
    uint32_t count;
    const uint8_t *data;
    size_t len;
    wpool__chunk_payload(b, j->chunk, &data, &len, &count);
    wpool__result_items(p, b->result, wpool__job_first_item(j),
                        j->nitems ? j->nitems : count, f, tail, code, msg);
  } else if (b->iter) {
    wpool__iter_chunk(p, b->iter, j->chunk, f, tail, code, msg);
  } else if (tail) {
    wpool__buf_free(tail);
  }
}

static void deliver(wpool_t *p, wpool__batch_t *b, size_t k,
                    const wpool__frame_t *f, wpool__buf_t *tail, int code,
                    const char *msg) {
  wpool__job_t j;
  memset(&j, 0, sizeof j);
  j.batch = b;
  j.chunk = k;
  if (b->result)
    deliver_job(p, &j, f, tail, code, msg);
  else if (b->iter)
    wpool__iter_chunk(p, b->iter, k, f, tail, code, msg);
  else if (tail)
    wpool__buf_free(tail);
}

static wpool__job_t fifo_pop(wpool_t *p, wpool__worker_t *w) {
  wpool__job_t j = w->fifo[w->head];
  w->head = (w->head + 1) % w->fifo_cap;
  w->count--;
  size_t c = j.hdr.count;
  p->st_running -= c < p->st_running ? c : p->st_running;
  return j;
}

void wpool__complete(wpool_t *p, wpool__worker_t *w, const wpool__frame_t *f,
                     wpool__buf_t *tail) {
  wpool__job_t j = fifo_pop(p, w);
  p->st_done += j.hdr.count;
  uint64_t per = f->nanos ? f->nanos : 1;
  p->ewma_ns = p->ewma_ns ? (p->ewma_ns * 7 + per) / 8 : per;
  /* Deliver while the chunk still pins the batch: delivery may make the
     result ready, and only the release below may free it. */
  if (j.cancelled)
    wpool__buf_free(tail);
  else
    deliver_job(p, &j, f, tail, 0, NULL);
  j.batch->inflight--;
  wpool__batch_release(p, j.batch);
}

/* Requeue job j (it never ran, or runs again) at position at of the retry
   queue. It keeps pinning its batch. */
static void retry_insert(wpool_t *p, const wpool__job_t *j, size_t at) {
  if (p->retry_len == p->retry_cap) {
    size_t cap = p->retry_cap ? p->retry_cap * 2 : 16;
    wpool__job_t *r = realloc(p->retry, cap * sizeof *r);
    if (!r) {
      /* Cannot requeue: the job fails rather than vanishing. */
      deliver_job(p, j, NULL, NULL, WPOOL_ENOMEM,
                  "out of memory while requeueing");
      j->batch->inflight--; /* after delivering, as in wpool__complete */
      wpool__batch_release(p, j->batch);
      return;
    }
    p->retry = r;
    p->retry_cap = cap;
  }
  memmove(p->retry + at + 1, p->retry + at,
          (p->retry_len - at) * sizeof *p->retry);
  p->retry[at] = *j;
  p->retry_len++;
  p->st_queued += j->hdr.count;
}

/*
 * The worker running map job j died. Its items' outputs never came back,
 * and which item killed it is unknown: run them again one at a time, first
 * in line, so that only the item that kills a worker fails. (An item before
 * the culprit thus runs twice; chunksize 1 never re-runs anything.)
 */
static int split_dead_job(wpool_t *p, const wpool__job_t *j, int code) {
  if ((code != WPOOL_EWORKER && code != WPOOL_ETIMELIMIT) ||
      j->batch->kind != WPOOL__MAP ||
      j->hdr.count < 2 || j->cancelled || p->state == WPOOL__TERMINATED)
    return 0;
  for (uint32_t i = 0; i < j->hdr.count; i++) {
    wpool__job_t one = *j;
    one.first = j->first + i;
    one.nitems = 1;
    one.hdr.count = 1;
    if (i)
      j->batch->inflight++; /* each part pins the batch */
    retry_insert(p, &one, i);
  }
  return 1;
}

void wpool__fail_held(wpool_t *p, wpool__worker_t *w, int code,
                      const char *msg, int requeue_rest) {
  int first = 1;
  while (w->count) {
    wpool__job_t j = fifo_pop(p, w);
    if (!first && requeue_rest && !j.cancelled &&
        p->state != WPOOL__TERMINATED) {
      retry_insert(p, &j, p->retry_len); /* never started: runs elsewhere */
      continue;
    }
    if (first && split_dead_job(p, &j, code)) {
      first = 0;
      continue;
    }
    if (!j.cancelled) {
      p->st_done += j.hdr.count;
      deliver_job(p, &j, NULL, NULL,
                  p->state == WPOOL__TERMINATED ? p->term_code : code,
                  p->state == WPOOL__TERMINATED ? p->term_msg : msg);
    }
    j.batch->inflight--;
    wpool__batch_release(p, j.batch);
    first = 0;
  }
}

void wpool__fail_all(wpool_t *p, int code, const char *msg) {
  for (size_t i = 0; i < p->retry_len; i++) {
    wpool__job_t *j = &p->retry[i];
    deliver_job(p, j, NULL, NULL, code, msg);
    j->batch->inflight--;
    wpool__batch_release(p, j->batch);
  }
  p->retry_len = 0;
  for (int i = 0; i < p->nworkers; i++) {
    wpool__worker_t *w = &p->workers[i];
    for (size_t c = 0; c < w->count; c++) {
      wpool__job_t *j = &w->fifo[(w->head + c) % w->fifo_cap];
      if (j->cancelled || writes_caller_memory(j->batch))
        continue;
      j->cancelled = 1;
      deliver_job(p, j, NULL, NULL, code, msg);
    }
  }
  while (p->qhead) {
    wpool__batch_t *b = p->qhead;
    /* Still queued while delivering, so that nothing frees it under us. */
    if (b->iter) {
      deliver(p, b, SIZE_MAX, NULL, NULL, code, msg);
    } else {
      size_t end = b->nchunks;
      for (size_t k = b->next_chunk; k < end; k++)
        deliver(p, b, k, NULL, NULL, code, msg);
      b->next_chunk = end;
    }
    wpool__dequeue(p, b);
    wpool__batch_release(p, b);
  }
  p->st_queued = 0;
}

void wpool__cancel_batch(wpool_t *p, wpool__batch_t *b) {
  static const char msg[] = "cancelled";
  wpool__job_t j;
  memset(&j, 0, sizeof j);
  j.batch = b;
  b->inflight++; /* pinned while it is taken apart */
  for (size_t k = b->next_chunk; k < b->nchunks; k++) {
    j.chunk = k;
    deliver_job(p, &j, NULL, NULL, WPOOL_ECANCELED, msg);
  }
  b->next_chunk = b->nchunks;
  wpool__dequeue(p, b);
  for (size_t i = 0; i < p->retry_len;) {
    wpool__job_t *r = &p->retry[i];
    if (r->batch != b) {
      i++;
      continue;
    }
    deliver_job(p, r, NULL, NULL, WPOOL_ECANCELED, msg);
    b->inflight--;
    memmove(r, r + 1, (--p->retry_len - i) * sizeof *r);
  }
  for (int i = 0; i < p->nworkers; i++) {
    wpool__worker_t *w = &p->workers[i];
    for (size_t c = 0; c < w->count; c++) {
      wpool__job_t *h = &w->fifo[(w->head + c) % w->fifo_cap];
      if (h->batch != b || h->cancelled)
        continue;
      if (c == 0 && p->method != WPOOL_THREAD) {
        w->kill_code = WPOOL_ECANCELED; /* running: its worker goes */
        continue;
      }
      if (c == 0 && writes_caller_memory(b))
        continue; /* a thread is writing into the caller's array */
      h->cancelled = 1;
      deliver_job(p, h, NULL, NULL, WPOOL_ECANCELED, msg);
    }
  }
  b->inflight--;
  p->be->wake(p);
}

int wpool__has_work(wpool_t *p) {
  if (p->retry_len)
    return 1;
  for (wpool__batch_t *b = p->qhead; b; b = b->next)
    if (b->next_chunk < b->nchunks)
      return 1;
  return 0;
}

void wpool__batch_release(wpool_t *p, wpool__batch_t *b) {
  if (b->inflight || b->queued)
    return;
  if (b->result)
    wpool__result_maybe_free(p, b->result);
  else if (b->iter)
    wpool__iter_maybe_free(p, b->iter);
}
