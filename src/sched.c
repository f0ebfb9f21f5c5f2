/*
 * The scheduler (see sched.h). Portable and shared by every method; the
 * lock is held throughout. Owners of batches are reached only through
 * b->ops, so a new kind of submission needs no change here.
 */
#include "scheduler.h"

#include <stdlib.h>
#include <string.h>

/* Keep roughly this much work queued on a process worker, unless the
   pool's channel kind asks for more (p->ahead_ns). */
#define DEPTH_BUDGET_NS 2000000u
#define DEPTH_MAX 256u
/* Below this mean task length, a worker also holds the task after the one it
   runs, so that it never waits a round trip to the parent between two tasks
   (a round trip is 10-100 us: 1-10% of a 1 ms task). Above it, the round
   trip costs under 1%, and a worker holds only the task it runs: a task
   then never waits behind another on a busy worker while one is idle. */
#define PREFETCH_BELOW_NS 10000000u

void wpool__enqueue(wpool_t *p, wpool__batch_t *b) {
  b->queued = 1;
  wpool__q_insert_tail(&p->queue, &b->node);
  if (b->nchunks != SIZE_MAX)
    wpool__batch_grew(p, b, b->n);
  if (p->be->queued)
    p->be->queued(p);
  else
    p->be->wake(p);
}

void wpool__batch_grew(wpool_t *p, wpool__batch_t *b, size_t count) {
  b->unsent += count;
  p->st_queued += count;
}

/* count items left the queue (sent, or dropped). */
static void unqueued(wpool_t *p, size_t count) {
  p->st_queued -= count < p->st_queued ? count : p->st_queued;
}

void wpool__dequeue(wpool_t *p, wpool__batch_t *b) {
  (void)p;
  if (!b->queued)
    return;
  wpool__q_remove(&b->node);
  b->queued = 0;
}

size_t wpool__job_first_item(const wpool__job_t *j) {
  return j->chunk * j->batch->chunksize + j->first;
}

uint8_t *wpool__job_out(const wpool__job_t *j) {
  const wpool__batch_t *b = j->batch;
  if (j->cancelled || !b->out)
    return NULL;
  return b->out + wpool__job_first_item(j) * b->osize;
}

void wpool__array_payload(wpool__batch_t *b, size_t k, const uint8_t **data,
                          size_t *len, uint32_t *count) {
  if (!b->isize) { /* one var record: an apply's argument */
    *data = b->items;
    *len = b->items_len;
    *count = 1;
    return;
  }
  size_t first = k * b->chunksize;
  size_t left = b->n > first ? b->n - first : 0;
  size_t c = left < b->chunksize ? left : b->chunksize;
  *data = b->items + first * b->isize;
  *len = c * b->isize;
  *count = (uint32_t)c;
}

/* Can chunk k of b go to a worker now? */
static int sendable(wpool__batch_t *b) {
  size_t k = b->next_chunk;
  return k < b->nchunks && (!b->ops->may_send || b->ops->may_send(b, k));
}

/* Narrow job j's payload to its items [first, first + nitems). */
static void narrow(wpool__job_t *j, uint32_t *count) {
  const wpool__batch_t *b = j->batch;
  if (b->isize) {
    j->payload += (size_t)j->first * b->isize;
    j->plen = (size_t)j->nitems * b->isize;
  } else {
    /* Var records: walk to the first one, then past the last. The chunk
       was sent whole before and validated by the worker, so the walk stays
       inside it. */
    size_t off = 0, start = 0;
    const uint8_t *item;
    uint32_t len;
    for (uint32_t i = 0; i < j->first + j->nitems; i++) {
      if (i == j->first)
        start = off;
      if (wpool__in_next(j->payload, j->plen, &off, &item, &len) != 1)
        break;
    }
    j->payload += start;
    j->plen = off - start;
  }
  *count = j->nitems;
}

int wpool__take(wpool_t *p, wpool__worker_t *w) {
  if (w->fifo.len == w->fifo.cap)
    return 0;
  wpool__job_t j;
  int fresh = !p->retry.len;
  if (!fresh) {
    j = wpool__ring_pop_front(&p->retry);
  } else {
    wpool__qnode_t *n = wpool__q_head(&p->queue);
    wpool__batch_t *b = NULL;
    for (; n; n = wpool__q_next(&p->queue, n)) {
      b = WPOOL__QDATA(n, wpool__batch_t, node);
      if (sendable(b))
        break;
    }
    if (!n)
      return 0;
    memset(&j, 0, sizeof j);
    j.batch = b;
    j.chunk = b->next_chunk++;
    b->inflight++;
    if (b->next_chunk == b->nchunks)
      wpool__dequeue(p, b);
  }
  wpool__batch_t *b = j.batch;
  uint32_t count;
  b->ops->payload(b, j.chunk, &j.payload, &j.plen, &count);
  if (j.nitems)
    narrow(&j, &count);
  j.seq = ++p->next_seq;
  j.cancelled = 0;
  wpool__task_frame(&j.hdr, j.seq, b->fn, count, b->isize, b->osize,
                    j.plen);
  j.hdr.flags = b->frame_flags;
  wpool__ring_push_back(&w->fifo, &j);
  w->tasks_sent++;
  if (fresh)
    b->unsent -= count < b->unsent ? count : b->unsent;
  unqueued(p, count);
  p->st_running += count;
  return 1;
}

size_t wpool__depth(wpool_t *p) {
  if (p->ewma_ns == 0)
    return 1; /* nothing measured yet: do not hoard unknown work */
  uint64_t d = (p->ahead_ns ? p->ahead_ns : DEPTH_BUDGET_NS) / p->ewma_ns;
  if (d < 2)
    d = p->ewma_ns < PREFETCH_BELOW_NS ? 2 : 1;
  return d > DEPTH_MAX ? DEPTH_MAX : (size_t)d;
}

/* Job j finished (f and tail) or failed as a whole (code and msg). */
static void deliver(wpool_t *p, const wpool__job_t *j,
                    const wpool__frame_t *f, wpool__buf_t *tail, int code,
                    const char *msg) {
  wpool__batch_t *b = j->batch;
  b->ops->deliver(p, b, j->chunk, j->first, j->hdr.count, f, tail, code, msg);
}

/* Job j no longer pins its batch. */
static void unpin(wpool_t *p, const wpool__job_t *j) {
  j->batch->inflight--;
  wpool__batch_release(p, j->batch);
}

static wpool__job_t fifo_pop(wpool_t *p, wpool__worker_t *w) {
  wpool__job_t j = wpool__ring_pop_front(&w->fifo);
  size_t c = j.hdr.count;
  p->st_running -= c < p->st_running ? c : p->st_running;
  return j;
}

void wpool__output(wpool_t *p, wpool__worker_t *w, uint32_t index,
                   const uint8_t *data, size_t len) {
  const wpool__job_t *j = wpool__ring_at(&w->fifo, 0);
  if (!j->cancelled && j->batch->ops->output)
    j->batch->ops->output(p, j->batch, j->chunk, (size_t)j->first + index,
                          data, len);
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
    deliver(p, &j, f, tail, 0, NULL);
  unpin(p, &j);
}

/* Fail job j, which never ran or must run again, when it cannot be
   requeued: it fails rather than vanishing. */
static void requeue_failed(wpool_t *p, const wpool__job_t *j) {
  if (!j->cancelled)
    deliver(p, j, NULL, NULL, WPOOL_ENOMEM, "out of memory while requeueing");
  unpin(p, j);
}

static void requeue_back(wpool_t *p, const wpool__job_t *j) {
  if (wpool__ring_reserve(&p->retry, 1)) {
    requeue_failed(p, j);
    return;
  }
  wpool__ring_push_back(&p->retry, j);
  p->st_queued += j->hdr.count;
}

/* Below this many items a dead chunk goes straight to single items. Parts
   cost one more worker death (a replacement: about 1 ms with fork, 3 ms
   with spawn on the benchmark's machine) and save the overhead of single
   tasks over chunked ones (under 1 us an item, bench/README.md's scaling
   model): they pay off from about a thousand items. */
#define SPLIT_PARTS_MIN 1024

/* The part size a dead chunk of n items is cut into: about sqrt(n), so that
   the parts (n / s of them) and the single items of the part that dies
   again (s) are both few. */
static uint32_t part_size(uint32_t n) {
  uint32_t s = 1;
  while ((uint64_t)s * s < n)
    s++;
  return s;
}

/*
 * The worker running job j died or ran past its time limit. Its items'
 * outputs never came back and which item was to blame is unknown: run them
 * again, first in line, so that only the item that kills a worker fails.
 * After a time limit, or for a small chunk, an item at a time (in a part, a
 * hung item would cost a limit for each item of the part before it is
 * known). After a death, a whole chunk of n items is first cut
 * into parts of about sqrt(n): the parts without the culprit run as chunks,
 * and only the part that dies again runs an item at a time. A chunk of
 * 10,000 items thus recovers with about 200 tasks instead of 10,000, for
 * one more worker death. (An item before the culprit thus runs two or
 * three times; chunksize 1 never re-runs anything.) O(parts): each goes to
 * the front of the ring.
 */
static int split_dead_job(wpool_t *p, const wpool__job_t *j, int code) {
  uint32_t n = j->hdr.count;
  if ((code != WPOOL_EWORKER && code != WPOOL_ETIMELIMIT) || n < 2 ||
      j->cancelled || p->state == WPOOL__TERMINATED)
    return 0;
  /* Only a whole chunk is cut into parts: a part that dies goes to single
     items, so that a culprit costs at most three deaths. */
  int whole = j->nitems == 0;
  uint32_t size = code == WPOOL_EWORKER && whole && n >= SPLIT_PARTS_MIN
                      ? part_size(n)
                      : 1;
  uint32_t parts = n / size + (n % size != 0);
  if (wpool__ring_reserve(&p->retry, parts))
    return 0;
  for (uint32_t k = parts; k-- > 0;) {
    wpool__job_t part = *j;
    part.first = j->first + k * size;
    part.nitems = k + 1 < parts ? size : n - k * size;
    part.hdr.count = part.nitems;
    wpool__ring_push_front(&p->retry, &part);
  }
  j->batch->inflight += parts - 1; /* each part pins the batch */
  p->st_queued += n;
  p->st_rerun += n;
  return 1;
}

/* Codes that mean the worker went, not the task's own failure: the task
   may well succeed on another worker. */
static int worker_lost(int code) {
  return code == WPOOL_EWORKER || code == WPOOL_ETIMELIMIT;
}

/*
 * Job j, a lone item, died with its worker: run it again, first in line,
 * if its batch allows another attempt. Only a lone item's deaths count:
 * in a chunk, the item to blame is unknown (split_dead_job).
 */
static int retry_dead_job(wpool_t *p, wpool__job_t *j, int code) {
  if (!worker_lost(code) || j->hdr.count != 1 || j->cancelled ||
      p->state == WPOOL__TERMINATED ||
      j->attempts >= (uint32_t)j->batch->retries ||
      wpool__ring_reserve(&p->retry, 1))
    return 0;
  j->attempts++;
  wpool__ring_push_front(&p->retry, j);
  p->st_queued++;
  p->st_rerun++;
  return 1;
}

/* Deliver job j's failure; a retried one's message says how often it ran. */
static void deliver_failure(wpool_t *p, const wpool__job_t *j, int code,
                            const char *msg) {
  char *text = NULL;
  if (j->attempts && worker_lost(code))
    wpool__set_msg(&text, "%s (failed on all %u attempts)",
                   msg ? msg : wpool_strerror(code), j->attempts + 1);
  deliver(p, j, NULL, NULL, code, text ? text : msg);
  free(text);
}

/* Job j's items [from, from + count) of its own, as a part of it. */
static wpool__job_t part_of(const wpool__job_t *j, uint32_t from,
                            uint32_t count) {
  wpool__job_t part = *j;
  part.first = j->first + from;
  part.nitems = count;
  part.hdr.count = count;
  return part;
}

/* Queue part first in line, pinning its batch, as a re-run. */
static void rerun_part(wpool_t *p, const wpool__job_t *part) {
  wpool__ring_push_front(&p->retry, part);
  part->batch->inflight++;
  p->st_queued += part->hdr.count;
  p->st_rerun += part->hdr.count;
}

/*
 * The worker running chunk j died or ran past its time limit in item c
 * (its progress line says so): the items before c run again as one part,
 * those after it as another, and item c alone fails, or goes back first in
 * line if its batch allows another attempt, as a lone item would. No item
 * is blamed but the one that was running, and no second death is needed to
 * find it. The parts run first, in the chunk's order.
 */
static int split_at_culprit(wpool_t *p, const wpool__job_t *j, int code,
                            const char *msg, long c) {
  uint32_t n = j->hdr.count;
  if (!worker_lost(code) || c < 0 || (uint64_t)c >= n || n < 2 ||
      j->cancelled || p->state == WPOOL__TERMINATED ||
      wpool__ring_reserve(&p->retry, 3))
    return 0;
  uint32_t at = (uint32_t)c;
  if (at + 1 < n) {
    wpool__job_t after = part_of(j, at + 1, n - at - 1);
    rerun_part(p, &after);
  }
  wpool__job_t one = part_of(j, at, 1);
  one.batch->inflight++;
  if (!retry_dead_job(p, &one, code)) {
    p->st_done++;
    deliver_failure(p, &one, code, msg);
    unpin(p, &one);
  }
  if (at > 0) {
    wpool__job_t before = part_of(j, 0, at);
    rerun_part(p, &before);
  }
  unpin(p, j); /* its parts hold the batch now */
  return 1;
}

void wpool__fail_held(wpool_t *p, wpool__worker_t *w, int code, const char *msg,
                      int requeue_rest, long culprit) {
  int first = 1;
  int stopped = p->state == WPOOL__TERMINATED;
  while (w->fifo.len) {
    wpool__job_t j = fifo_pop(p, w);
    if (!first && requeue_rest && !j.cancelled && !stopped) {
      requeue_back(p, &j); /* never started: runs elsewhere */
      continue;
    }
    if (first && (split_at_culprit(p, &j, code, msg, culprit) ||
                  split_dead_job(p, &j, code) || retry_dead_job(p, &j, code))) {
      first = 0;
      continue;
    }
    first = 0;
    if (!j.cancelled) {
      p->st_done += j.hdr.count;
      if (stopped)
        deliver(p, &j, NULL, NULL, p->term_code, p->term_msg);
      else
        deliver_failure(p, &j, code, msg);
    }
    unpin(p, &j);
  }
}

/* Account for b's chunks never sent: they fail with code and msg. */
static void abort_unsent(wpool_t *p, wpool__batch_t *b, int code,
                         const char *msg) {
  b->ops->abort(p, b, code, msg);
  b->next_chunk = b->nchunks;
  unqueued(p, b->unsent);
  b->unsent = 0;
  wpool__dequeue(p, b);
}

/* Fail held job j now (its result will be discarded), unless a worker may
   still be writing into the caller's memory for it (the head job of w). */
static void drop_held(wpool_t *p, wpool__job_t *j, int head, int code,
                      const char *msg) {
  if (j->cancelled || (head && j->batch->out))
    return;
  j->cancelled = 1;
  deliver(p, j, NULL, NULL, code, msg);
}

static void fail_all(wpool_t *p, int code, const char *msg) {
  while (p->retry.len) {
    wpool__job_t j = wpool__ring_pop_front(&p->retry);
    if (!j.cancelled)
      deliver(p, &j, NULL, NULL, code, msg);
    unpin(p, &j);
  }
  for (int i = 0; i < p->nworkers; i++) {
    wpool__worker_t *w = p->workers[i];
    for (size_t c = 0; c < w->fifo.len; c++) {
      wpool__job_t *j = wpool__ring_at(&w->fifo, c);
      /* A process worker's map chunk is reported when its worker is
         reaped, a thread's when it returns: until then it may write. */
      if (!j->batch->out)
        drop_held(p, j, 0, code, msg);
    }
  }
  wpool__qnode_t *n;
  while ((n = wpool__q_head(&p->queue)) != NULL) {
    wpool__batch_t *b = WPOOL__QDATA(n, wpool__batch_t, node);
    b->inflight++; /* pinned while it is taken apart */
    abort_unsent(p, b, code, msg);
    b->inflight--;
    wpool__batch_release(p, b);
  }
  p->st_queued = 0;
}

void wpool__drop_batch(wpool_t *p, wpool__batch_t *b, int code,
                       const char *msg, int stop_running) {
  b->inflight++; /* pinned while it is taken apart */
  if (b->queued || b->next_chunk < b->nchunks)
    abort_unsent(p, b, code, msg);
  /* Its jobs waiting to run again: one pass, the others keep their order. */
  for (size_t i = 0, len = p->retry.len; i < len; i++) {
    wpool__job_t j = wpool__ring_pop_front(&p->retry);
    if (j.batch != b) {
      wpool__ring_push_back(&p->retry, &j);
      continue;
    }
    unqueued(p, j.hdr.count);
    if (!j.cancelled)
      deliver(p, &j, NULL, NULL, code, msg);
    b->inflight--;
  }
  for (int i = 0; i < p->nworkers; i++) {
    wpool__worker_t *w = p->workers[i];
    for (size_t c = 0; c < w->fifo.len; c++) {
      wpool__job_t *h = wpool__ring_at(&w->fifo, c);
      if (h->batch != b || h->cancelled)
        continue;
      if (c == 0 && stop_running && p->method != WPOOL_THREAD) {
        w->kill_code = code; /* running: its worker goes, and the death
                                fails it with this code */
        continue;
      }
      drop_held(p, h, c == 0, code, msg);
    }
  }
  b->inflight--;
  wpool__batch_release(p, b);
  p->be->wake(p);
}

int wpool__has_work(wpool_t *p) {
  if (p->retry.len)
    return 1;
  for (wpool__qnode_t *n = wpool__q_head(&p->queue); n;
       n = wpool__q_next(&p->queue, n)) {
    const wpool__batch_t *b = WPOOL__QDATA(n, wpool__batch_t, node);
    if (b->next_chunk < b->nchunks)
      return 1;
  }
  return 0;
}

void wpool__batch_release(wpool_t *p, wpool__batch_t *b) {
  if (b->inflight || b->queued)
    return;
  b->ops->release(p, b);
}

void wpool__break(wpool_t *p, int code, const char *msg) {
  if (p->state == WPOOL__TERMINATED)
    return;
  p->state = WPOOL__TERMINATED;
  p->term_code = code;
  free(p->term_msg);
  p->term_msg = NULL;
  wpool__set_msg(&p->term_msg, "%s", msg);
  fail_all(p, code, p->term_msg);
  wpool__notify_done(p);
  wpool__cond_broadcast(p->work_cond);
  p->be->wake(p);
}
