/*
 * apply and map, and the result handles they return. A result is freed when
 * nobody needs it any more: the caller released its handle, it is ready and
 * its callbacks ran, and no worker holds one of its chunks (a thread worker
 * may still be reading its argument after a terminate).
 */
#include "callbacks.h"
#include "faillog.h"
#include "progress.h"
#include "registry.h"
#include "scheduler.h"
#include "shm.h"

#include <apr_atomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Live results carry this; a freed one is poisoned, so that freeing a
   result twice is caught while its memory is still the pool's. */
#define RESULT_LIVE 0x52534c54u /* "RSLT" */
#define RESULT_DEAD 0xdeadbeefu

struct wpool_result {
  uint32_t magic;
  wpool_t *pool;
  int user_ref;    /* the caller holds the handle */
  int cancelled;
  int pending_ref; /* not ready yet, or callbacks not yet run */
  int ready;
  int is_map;
  int code, task_code;
  char *msg;
  size_t accounted;  /* items finished or failed */
  size_t fail_index; /* map: lowest failing item so far */
  wpool__faillog_t fails; /* every failed item (sealed when ready) */
  wpool__buf_t *outs; /* capture_output: what item i printed, by item
                         (allocated at the first item that printed) */
  wpool__buf_t tail; /* apply: the record holding the output */
  const uint8_t *data;
  size_t len;
  wpool_callback on_success, on_error;
  void *user;
  wpool__cb_t cb;
  wpool__progress_t progress;
  wpool__cond_t *waker; /* the condition of the one thread waiting for it */
  volatile apr_uint32_t finished; /* ready, for a spinning waiter */
  /* A carried map's copy of the caller's items goes on while its first
     chunks already run: chunks below copied are in the buffer (the others
     may not be sent yet), and copying keeps the result alive until the
     copying thread has let go of it. */
  size_t copied;
  int copying;
  wpool__batch_t batch;
};

#define RESULT_OF(b) WPOOL__QDATA(b, wpool_result_t, batch)

static void maybe_free(wpool_t *p, wpool_result_t *r) {
  if (r->user_ref || r->pending_ref || r->copying || r->batch.inflight ||
      r->batch.queued || !wpool__progress_idle(&r->progress))
    return;
  wpool__buf_free(&r->tail);
  wpool__faillog_free(&r->fails);
  for (size_t i = 0; r->outs && i < r->batch.n; i++)
    wpool__buf_free(&r->outs[i]);
  free(r->outs);
  free(r->msg);
  /* The caller may read a map's outputs through the result until now. A
     buffer that carried an argument may become the pool's spare: no worker
     maps it any more (each unmaps before it answers, or is gone). */
  wpool_shm_t *in = r->batch.shm_in;
  if (r->batch.carried && !p->destroyed)
    in = wpool__shm_keep_spare(p, in);
  wpool__shm_unref(in);
  wpool__shm_unref(r->batch.shm_out);
  r->magic = RESULT_DEAD;
  free(r);
  p->refs--;
}

static void set_failure(wpool_result_t *r, int code, int task_code,
                        const char *msg, size_t msg_len) {
  r->code = code;
  r->task_code = task_code;
  free(r->msg);
  if (!msg) {
    msg = wpool_strerror(code);
    msg_len = strlen(msg);
  }
  r->msg = malloc(msg_len + 1);
  if (r->msg) {
    memcpy(r->msg, msg, msg_len);
    r->msg[msg_len] = '\0';
  }
}

/* A map failure is reported for its lowest item index, as Python raises the
   first failure in input order. */
static void map_failure(wpool_result_t *r, size_t index, size_t count,
                        int code, int task_code, const char *msg,
                        size_t msg_len) {
  if (!msg) {
    msg = wpool_strerror(code);
    msg_len = strlen(msg);
  }
  /* Kept for wpool_result_failed_item(); out of memory, the result itself
     still fails with its first failure. */
  wpool__faillog_add(&r->fails, index, count, code, task_code, msg, msg_len);
  if (index >= r->fail_index)
    return;
  r->fail_index = index;
  size_t cap = msg_len + 48;
  char *text = malloc(cap);
  if (text)
    snprintf(text, cap, "item %zu: %.*s", index, (int)msg_len, msg);
  set_failure(r, code, task_code, text, text ? strlen(text) : 0);
  free(text);
}

static void mark_ready(wpool_t *p, wpool_result_t *r) {
  if (r->cancelled)
    set_failure(r, WPOOL_ECANCELED, 0, "cancelled", 9);
  if (!r->is_map && r->code)
    wpool__faillog_add(&r->fails, 0, 1, r->code, r->task_code, r->msg,
                       r->msg ? strlen(r->msg) : 0);
  wpool__faillog_seal(&r->fails);
  r->ready = 1;
  apr_atomic_set32(&r->finished, 1);
  if (r->waker && p->defer_wake && !p->wake_after)
    p->wake_after = r->waker;
  else if (r->waker)
    wpool__cond_signal(r->waker);
  wpool__notify_done(p);
  if (r->on_success || r->on_error) {
    wpool__callbacks_queue(p, &r->cb);
  } else {
    r->pending_ref = 0;
    maybe_free(p, r);
  }
}

/* Items [first, first + count) of r's input finished (f and tail) or failed
   as a whole (code and msg). */
static void result_items(wpool_t *p, wpool_result_t *r, size_t first,
                         size_t count, const wpool__frame_t *f,
                         wpool__buf_t *tail, int code, const char *msg) {
  wpool__batch_t *b = &r->batch;
  if (r->ready) { /* already failed as a whole (terminate) */
    if (tail)
      wpool__buf_free(tail);
    return;
  }
  if (!r->is_map) {
    if (code) {
      set_failure(r, code, 0, msg, msg ? strlen(msg) : 0);
    } else {
      size_t off = 0;
      wpool__rec_t rec;
      if (wpool__rec_next(tail->data, tail->len, &off, &rec) != 1) {
        set_failure(r, WPOOL_EPROTO, 0, NULL, 0);
      } else if (rec.code) {
        set_failure(r, rec.code, rec.task_code, (const char *)rec.data,
                    (size_t)rec.len);
      } else {
        r->tail = *tail; /* the output stays where it arrived */
        tail->data = NULL;
        r->data = rec.data;
        r->len = (size_t)rec.len;
      }
    }
  } else if (code) {
    /* The items failed as a whole (their worker died, or the pool stopped):
       no worker can write their outputs any more, so they read as zero. */
    memset(b->out + first * b->osize, 0, count * b->osize);
    map_failure(r, first, count, code, 0, msg, msg ? strlen(msg) : 0);
  } else if (f->nfail) {
    size_t off = 0;
    wpool__fail_t fl;
    while (wpool__fail_next(tail->data, tail->len, &off, &fl) == 1)
      map_failure(r, first + fl.index, 1, fl.code, fl.task_code, fl.msg,
                  fl.len);
  }
  if (tail)
    wpool__buf_free(tail);
  r->accounted += count;
  wpool__progress_note(&r->progress, r->accounted, b->n);
  if (r->accounted == b->n)
    mark_ready(p, r);
}

/* Where an apply's argument record starts, after its result: aligned, so
   that the argument a thread worker sees is aligned too. */
#define ARG_OFFSET wpool__pad(sizeof(wpool_result_t))

/* The batch operations of apply and map (see core.h). */

static void op_deliver(wpool_t *p, wpool__batch_t *b, size_t k, size_t first,
                       size_t count, const wpool__frame_t *f,
                       wpool__buf_t *tail, int code, const char *msg) {
  result_items(p, RESULT_OF(b), k * b->chunksize + first, count, f, tail,
               code, msg);
}

static void op_abort(wpool_t *p, wpool__batch_t *b, int code,
                     const char *msg) {
  wpool_result_t *r = RESULT_OF(b);
  for (size_t k = b->next_chunk; k < b->nchunks; k++) {
    const uint8_t *data;
    size_t len;
    uint32_t count;
    wpool__array_payload(b, k, &data, &len, &count);
    result_items(p, r, k * b->chunksize, count, NULL, NULL, code, msg);
  }
}

static void op_release(wpool_t *p, wpool__batch_t *b) {
  maybe_free(p, RESULT_OF(b));
}

/* An item that runs again (its chunk's worker died) prints again: the
   last run's output is the one kept. Out of memory, it is dropped. */
static void op_output(wpool_t *p, wpool__batch_t *b, size_t k, size_t item,
                      const uint8_t *data, size_t len) {
  wpool_result_t *r = RESULT_OF(b);
  size_t i = k * b->chunksize + item;
  (void)p;
  if (i >= b->n || r->ready)
    return;
  if (!r->outs && !(r->outs = calloc(b->n, sizeof *r->outs)))
    return;
  r->outs[i].len = 0;
  wpool__buf_append(&r->outs[i], data, len);
}

/* A carried map's chunk goes once its bytes are in the buffer. */
static int op_may_send(wpool__batch_t *b, size_t k) {
  return k < RESULT_OF(b)->copied;
}

static const wpool__batch_ops_t result_ops = {
    wpool__array_payload, NULL, op_deliver, op_abort, op_release, op_output};
static const wpool__batch_ops_t carried_map_ops = {
    wpool__array_payload, op_may_send, op_deliver, op_abort, op_release,
    op_output};

/* The callback thread's work: the user's callback, then the release. */
static void cb_run(wpool__cb_t *cb) {
  wpool_result_t *r = WPOOL__QDATA(cb, wpool_result_t, cb);
  wpool__progress_flush(&r->progress); /* the last report comes first */
  wpool_callback fn = r->code == 0 ? r->on_success : r->on_error;
  if (fn)
    fn(r, r->user);
}

static void cb_done(wpool_t *p, wpool__cb_t *cb) {
  wpool_result_t *r = WPOOL__QDATA(cb, wpool_result_t, cb);
  r->pending_ref = 0;
  maybe_free(p, r);
}

static void progress_settled(wpool_t *p, wpool__progress_t *pr) {
  maybe_free(p, WPOOL__QDATA(pr, wpool_result_t, progress));
}

/* A result with room for extra bytes of argument record after it. Only the
   result is zeroed here: the record is written whole by the caller, and a
   calloc of a large argument would clear every page of it first (a pass
   over megabytes that the copy then makes again). */
static wpool_result_t *result_new(wpool_t *p, size_t extra) {
  wpool_result_t *r = malloc(ARG_OFFSET + extra);
  if (!r)
    return NULL;
  memset(r, 0, ARG_OFFSET);
  r->magic = RESULT_LIVE;
  r->pool = p;
  r->pending_ref = 1;
  r->fail_index = SIZE_MAX;
  r->batch.ops = &result_ops;
  r->cb.run = cb_run;
  r->cb.done = cb_done;
  wpool__progress_init(&r->progress, p, progress_settled);
  return r;
}

static int submit(wpool_t *p, wpool_result_t *r, const wpool_call_t *call,
                  wpool_result_t **out) {
  if (call) {
    r->on_success = call->on_success;
    r->on_error = call->on_error;
    r->user = call->user;
  }
  r->user_ref = out != NULL;
  wpool__mutex_lock(p->lock);
  if (p->state != WPOOL__RUNNING) {
    wpool__mutex_unlock(p->lock);
    wpool__shm_unref(r->batch.shm_in);
    wpool__shm_unref(r->batch.shm_out);
    free(r);
    return WPOOL_ECLOSED;
  }
  p->refs++;
  if (r->batch.nchunks == 0) {
    r->data = r->batch.out;
    mark_ready(p, r);
  } else {
    wpool__enqueue(p, &r->batch);
  }
  if (out)
    *out = r;
  wpool__mutex_unlock(p->lock);
  return 0;
}

/* The batch names a buffer: it holds it until the result is freed. */
static void hold(wpool_shm_t **slot, wpool_shm_t *s) {
  wpool__shm_ref(s);
  *slot = s;
}

/* Submit fn over the bytes of slice sl (checked) as one item. With
   carried, sl's buffer is the pool's copy of an argument, whose one
   reference passes to the result (or is dropped on failure). */
static int apply_slice(wpool_t *p, const wpool__call_cfg_t *cfg,
                       const wpool_slice_t *sl, int carried,
                       const wpool_call_t *call, wpool_result_t **result) {
  wpool_result_t *r = result_new(p, 0);
  if (!r) {
    if (carried)
      wpool__shm_unref(sl->shm);
    return WPOOL_ENOMEM;
  }
  wpool__batch_t *b = &r->batch;
  b->fn = cfg->fn;
  /* One item of any length (WHOLE): no frame carries it. */
  b->items = sl->shm->base + sl->offset;
  b->items_len = sl->len;
  b->n = 1;
  b->chunksize = 1;
  b->nchunks = 1;
  b->timeout_ms = cfg->limit_ms;
  b->retries = cfg->retries;
  b->frame_flags = WPOOL__FL_SHM_IN | WPOOL__FL_WHOLE;
  b->carried = carried;
  if (carried)
    b->shm_in = sl->shm;
  else
    hold(&b->shm_in, sl->shm);
  return submit(p, r, call, result);
}

int wpool_apply_async(wpool_t *p, wpool_fn fn, const void *arg,
                      size_t arg_len, wpool_callback on_success,
                      wpool_callback on_error, void *user,
                      wpool_result_t **result) {
  wpool_call_t call = {on_success, on_error, user, 0, 0};
  return wpool_apply_async_ex(p, fn, arg, arg_len, &call, result);
}

int wpool_apply_async_ex(wpool_t *p, wpool_fn fn, const void *arg,
                         size_t arg_len, const wpool_call_t *call,
                         wpool_result_t **result) {
  wpool__call_cfg_t cfg;
  int rc = wpool__check_call(p, fn, call, &cfg);
  if (rc)
    return rc;
  if (!arg && arg_len)
    return WPOOL_EINVAL;
  wpool_shm_t *carried = wpool__shm_carry(p, arg, arg_len);
  if (carried) {
    wpool_slice_t all = {carried, 0, arg_len};
    return apply_slice(p, &cfg, &all, 1, call, result);
  }
  if (arg_len > p->max_frame || arg_len > UINT32_MAX - 64)
    return WPOOL_E2BIG;
  size_t rec_len = WPOOL__IN_REC_HDR + (size_t)wpool__pad(arg_len);
  wpool_result_t *r = result_new(p, rec_len);
  if (!r)
    return WPOOL_ENOMEM;
  uint8_t *rec = (uint8_t *)r + ARG_OFFSET;
  wpool__put_in_hdr(rec, (uint32_t)arg_len);
  if (arg_len)
    memcpy(rec + WPOOL__IN_REC_HDR, arg, arg_len);
  /* The padding goes to the worker too: never uninitialised bytes. */
  memset(rec + WPOOL__IN_REC_HDR + arg_len, 0,
         rec_len - WPOOL__IN_REC_HDR - arg_len);
  wpool__batch_t *b = &r->batch;
  b->fn = cfg.fn;
  b->items = rec;
  b->items_len = rec_len;
  b->n = 1;
  b->chunksize = 1;
  b->nchunks = 1;
  b->timeout_ms = cfg.limit_ms;
  b->retries = cfg.retries;
  return submit(p, r, call, result);
}

/*
 * Copy a carried map's items into its buffer a chunk at a time, each
 * published as it lands (may_send), so that workers run the first chunks
 * while the rest are copied instead of waiting for the whole copy. It runs
 * on the submitting thread: the call returns only once the copy is over,
 * and never reads the caller's items afterwards. It stops early when the
 * result is cancelled or ready, or the pool terminated (destroy, interrupt):
 * the abort operation already failed the chunks never copied.
 */
static void copy_in(wpool_t *p, wpool_result_t *r, const uint8_t *items) {
  wpool__batch_t *b = &r->batch;
  /* Fixed since the batch was built: read without the lock. */
  size_t step = b->chunksize * b->isize, total = b->n * b->isize;
  size_t nchunks = b->nchunks;
  uint8_t *dst = b->shm_in->base;
  int stop = 0;
  for (size_t k = 0; k < nchunks && !stop; k++) {
    size_t off = k * step;
    memcpy(dst + off, items + off, total - off < step ? total - off : step);
    wpool__mutex_lock(p->lock);
    r->copied = k + 1;
    stop = r->cancelled || r->ready || p->state == WPOOL__TERMINATED;
    if (!stop)
      p->be->wake(p);
    wpool__mutex_unlock(p->lock);
  }
  wpool__mutex_lock(p->lock);
  r->copying = 0;
  maybe_free(p, r); /* a result nobody holds may be done already */
  wpool__unlock(p);
}

/* Split n items into chunks that respect the frame limit both ways (only
   the outputs' way when the items are in a shared buffer). */
static int map_chunking(wpool_t *p, size_t n, size_t isize, size_t osize,
                        size_t chunksize, long limit_ms, int items_shared,
                        size_t *cs) {
  if (items_shared)
    isize = 1;
  if (isize > p->max_frame || osize > p->max_frame)
    return WPOOL_E2BIG;
  /* A chunk is known to hang only after chunksize x the limit, and only
     then split: with a limit, one item per chunk makes a hung item cost one
     limit. Pipelining (wpool__depth) keeps the round trips cheap. */
  if (chunksize == 0 && limit_ms)
    chunksize = 1;
  if (chunksize == 0) {
    size_t div = 4 * (size_t)p->target;
    chunksize = n / div + (n % div != 0);
  }
  if (chunksize == 0)
    chunksize = 1;
  size_t cap = p->max_frame / isize;
  size_t ocap = p->max_frame / osize;
  if (chunksize > cap)
    chunksize = cap;
  if (chunksize > ocap)
    chunksize = ocap;
  if (chunksize > UINT32_MAX)
    chunksize = UINT32_MAX;
  *cs = chunksize;
  return 0;
}

int wpool_map_async(wpool_t *p, wpool_fn fn, const void *items, size_t n,
                    size_t item_size, void *out, size_t out_size,
                    size_t chunksize, wpool_callback on_success,
                    wpool_callback on_error, void *user,
                    wpool_result_t **result) {
  wpool_call_t call = {on_success, on_error, user, 0, 0};
  return wpool_map_async_ex(p, fn, items, n, item_size, out, out_size,
                            chunksize, &call, result);
}

int wpool_map_async_ex(wpool_t *p, wpool_fn fn, const void *items, size_t n,
                       size_t item_size, void *out, size_t out_size,
                       size_t chunksize, const wpool_call_t *call,
                       wpool_result_t **result) {
  wpool__call_cfg_t cfg;
  int rc = wpool__check_call(p, fn, call, &cfg);
  if (rc)
    return rc;
  if (item_size == 0 || out_size == 0 || item_size > UINT32_MAX ||
      out_size > UINT32_MAX || (n && (!items || !out)))
    return WPOOL_EINVAL;
  if (n > SIZE_MAX / item_size || n > SIZE_MAX / out_size)
    return WPOOL_EINVAL;
  /* A shared buffer pays a descriptor and a mapping per chunk: only
     chunks of at least the threshold go that way, not many small ones.
     Thread workers read the caller's items where they are: for them no
     copy is needed to get past the frame limit. */
  size_t cs;
  wpool_shm_t *carried = NULL;
  int large = map_chunking(p, n, item_size, out_size, chunksize, cfg.limit_ms, 1,
                           &cs) ==
                  0 &&
              (uint64_t)cs * item_size >= wpool__shm_threshold(p);
  if (large && p->method != WPOOL_THREAD)
    carried = wpool__shm_carrier(p, n * item_size);
  if (!carried && !(large && p->method == WPOOL_THREAD))
    rc = map_chunking(p, n, item_size, out_size, chunksize, cfg.limit_ms, 0,
                      &cs);
  wpool_result_t *r = rc ? NULL : result_new(p, 0);
  if (!r) {
    wpool__shm_unref(carried);
    return rc ? rc : WPOOL_ENOMEM;
  }
  r->is_map = 1;
  wpool__batch_t *b = &r->batch;
  b->fn = cfg.fn;
  b->isize = (uint32_t)item_size;
  b->osize = (uint32_t)out_size;
  b->items = items;
  if (carried) { /* its one reference passes to the result */
    b->ops = &carried_map_ops;
    b->items = carried->base;
    b->frame_flags = WPOOL__FL_SHM_IN;
    b->shm_in = carried;
    b->carried = 1;
    r->copying = 1;
  }
  b->n = n;
  b->chunksize = cs;
  b->nchunks = n / cs + (n % cs != 0);
  b->out = out;
  b->timeout_ms = cfg.limit_ms;
  b->retries = cfg.retries;
  r->len = n * out_size;
  r->data = out;
  rc = submit(p, r, call, result);
  if (rc == 0 && carried)
    copy_in(p, r, items);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Shared buffers: the same results, with items and outputs in a buffer    */

static int shm_usable(const wpool_t *p, char **errmsg) {
  if (!p->no_shm)
    return 0;
  wpool__set_msg(errmsg, "this pool's workers share no memory with this "
                         "process (another machine): pass the data itself");
  return WPOOL_ENOTSUP;
}

static int apply_shm(wpool_t *p, wpool_fn fn, const wpool_slice_t *arg,
                     const wpool_call_t *call, wpool_result_t **result,
                     char **errmsg) {
  wpool__call_cfg_t cfg;
  int rc = wpool__check_call(p, fn, call, &cfg);
  if (rc == 0)
    rc = shm_usable(p, errmsg);
  if (rc == 0)
    rc = wpool__slice_check(arg, "argument", errmsg);
  if (rc)
    return rc;
  return apply_slice(p, &cfg, arg, 0, call, result);
}

int wpool_apply_shm_async(wpool_t *p, wpool_fn fn, const wpool_slice_t *arg,
                          const wpool_call_t *call, wpool_result_t **result) {
  return apply_shm(p, fn, arg, call, result, NULL);
}

static int map_shm(wpool_t *p, wpool_fn fn, const wpool_slice_t *in,
                   size_t item_size, const wpool_slice_t *out,
                   size_t out_size, size_t chunksize, const wpool_call_t *call,
                   wpool_result_t **result, char **errmsg) {
  wpool__call_cfg_t cfg;
  int rc = wpool__check_call(p, fn, call, &cfg);
  if (rc == 0)
    rc = shm_usable(p, errmsg);
  if (rc == 0)
    rc = wpool__slice_check(in, "input", errmsg);
  if (rc == 0)
    rc = wpool__slice_check(out, "output", errmsg);
  if (rc)
    return rc;
  if (item_size == 0 || out_size == 0 || item_size > UINT32_MAX ||
      out_size > UINT32_MAX) {
    wpool__set_msg(errmsg, "item and output sizes must be 1 byte to 4 GiB");
    return WPOOL_EINVAL;
  }
  size_t n = in->len / item_size;
  if (in->len % item_size) {
    wpool__set_msg(errmsg,
                   "the input slice's %zu bytes are not a whole number of "
                   "%zu-byte items",
                   in->len, item_size);
    return WPOOL_EINVAL;
  }
  if (n > out->len / out_size) {
    wpool__set_msg(errmsg,
                   "the output slice's %zu bytes cannot hold %zu outputs of "
                   "%zu bytes",
                   out->len, n, out_size);
    return WPOOL_EINVAL;
  }
  /* Workers write outputs while other workers read items: the two ranges
     must not share a byte. */
  if (in->shm == out->shm && n &&
      in->offset < out->offset + n * out_size &&
      out->offset < in->offset + in->len) {
    wpool__set_msg(errmsg, "the input and output slices overlap");
    return WPOOL_EINVAL;
  }
  /* No frame carries the items or the outputs: only the chunk's count is
     limited (a 32-bit field). */
  size_t cs = chunksize;
  if (cs == 0 && cfg.limit_ms)
    cs = 1; /* as map_chunking() says */
  if (cs == 0) {
    size_t div = 4 * (size_t)p->target;
    cs = n / div + (n % div != 0);
  }
  if (cs == 0)
    cs = 1;
  if (cs > UINT32_MAX)
    cs = UINT32_MAX;
  wpool_result_t *r = result_new(p, 0);
  if (!r)
    return WPOOL_ENOMEM;
  r->is_map = 1;
  wpool__batch_t *b = &r->batch;
  b->fn = cfg.fn;
  b->isize = (uint32_t)item_size;
  b->osize = (uint32_t)out_size;
  b->items = in->shm->base + in->offset;
  b->n = n;
  b->chunksize = cs;
  b->nchunks = n / cs + (n % cs != 0);
  b->out = out->shm->base + out->offset;
  b->timeout_ms = cfg.limit_ms;
  b->retries = cfg.retries;
  b->frame_flags = WPOOL__FL_SHM_IN | WPOOL__FL_SHM_OUT;
  hold(&b->shm_in, in->shm);
  hold(&b->shm_out, out->shm);
  r->len = n * out_size;
  r->data = b->out;
  return submit(p, r, call, result);
}

int wpool_map_shm_async(wpool_t *p, wpool_fn fn, const wpool_slice_t *in,
                        size_t item_size, const wpool_slice_t *out,
                        size_t out_size, size_t chunksize,
                        const wpool_call_t *call, wpool_result_t **result) {
  return map_shm(p, fn, in, item_size, out, out_size, chunksize, call, result,
                 NULL);
}

/* A handle the caller may still use: not NULL, not freed. */
static int usable(const wpool_result_t *r) {
  return r && r->magic == RESULT_LIVE;
}

int wpool_result_cancel(wpool_result_t *r) {
  if (!usable(r))
    return WPOOL_EINVAL;
  wpool_t *p = r->pool;
  wpool__mutex_lock(p->lock);
  int rc = WPOOL_ESTATE;
  if (!r->ready) {
    r->cancelled = 1;
    wpool__drop_batch(p, &r->batch, WPOOL_ECANCELED, "cancelled", 1);
    rc = 0;
  }
  wpool__mutex_unlock(p->lock);
  return rc;
}

int wpool_result_wait(wpool_result_t *r, long timeout_ms) {
  if (!usable(r))
    return WPOOL_EINVAL;
  wpool_t *p = r->pool;
  int64_t deadline = wpool__deadline(timeout_ms);
  int rc = 0;
  /* The low-latency mode: look before sleeping (the options never change
     after wpool_create). */
  if (p->opt.spin_us && timeout_ms != 0) {
    uint64_t ns = (uint64_t)p->opt.spin_us * 1000;
    if (timeout_ms > 0 && (uint64_t)timeout_ms * 1000000 < ns)
      ns = (uint64_t)timeout_ms * 1000000;
    uint64_t end = wpool__mono_ns() + ns;
    while (!apr_atomic_read32(&r->finished) && wpool__mono_ns() < end)
      wpool__yield();
  }
  wpool__mutex_lock(p->lock);
  /* The first thread to wait for r sleeps on a condition of its own, which
     r's completion signals: no broadcast wakes the pool's other waiters.
     Another thread waiting for r at the same time waits on done_cond. */
  wpool__cond_t *own = NULL;
  if (!r->ready && !r->waker)
    own = r->waker = wpool__own_cond_get(p);
  while (!r->ready && rc == 0)
    rc = wpool__wait(p, own ? own : p->done_cond, deadline);
  if (own) {
    r->waker = NULL;
    wpool__own_cond_put(p, own);
  }
  wpool__mutex_unlock(p->lock);
  return rc;
}

int wpool_result_get(wpool_result_t *r, long timeout_ms, const void **data,
                     size_t *len) {
  int rc = wpool_result_wait(r, timeout_ms);
  if (rc)
    return rc;
  /* Ready results never change again: no lock needed to read them. */
  if (r->code == 0) {
    if (data)
      *data = r->data;
    if (len)
      *len = r->len;
  }
  return r->code;
}

int wpool_result_ready(wpool_result_t *r) {
  if (!usable(r))
    return 0;
  wpool__mutex_lock(r->pool->lock);
  int ready = r->ready;
  wpool__mutex_unlock(r->pool->lock);
  return ready;
}

int wpool_result_successful(wpool_result_t *r) {
  return usable(r) && wpool_result_ready(r) && r->code == 0;
}

const char *wpool_result_message(wpool_result_t *r) {
  return r && wpool_result_ready(r) && r->code ? r->msg : NULL;
}

int wpool_result_task_code(wpool_result_t *r) {
  return r && wpool_result_ready(r) ? r->task_code : 0;
}

int wpool_result_progress(wpool_result_t *r, size_t *done, size_t *total) {
  if (!usable(r))
    return WPOOL_EINVAL;
  wpool__mutex_lock(r->pool->lock);
  if (done)
    *done = r->accounted;
  if (total)
    *total = r->batch.n;
  wpool__mutex_unlock(r->pool->lock);
  return 0;
}

int wpool_result_on_progress(wpool_result_t *r, const wpool_progress_t *cfg) {
  if (!usable(r))
    return WPOOL_EINVAL;
  wpool__mutex_lock(r->pool->lock);
  int rc = wpool__progress_set(&r->progress, cfg, r->accounted, r->batch.n);
  wpool__mutex_unlock(r->pool->lock);
  return rc;
}

size_t wpool_result_failed_count(wpool_result_t *r) {
  return usable(r) && wpool_result_ready(r) ? r->fails.items : 0;
}

int wpool_result_failed_item(wpool_result_t *r, size_t k, size_t *index,
                             int *code, int *task_code, const char **message) {
  if (!usable(r))
    return WPOOL_EINVAL;
  if (!wpool_result_ready(r))
    return WPOOL_ENOTREADY;
  /* Ready results never change again: no lock needed to read them. */
  const wpool__fail_range_t *f = wpool__faillog_nth(&r->fails, k);
  if (!f)
    return WPOOL_EINVAL;
  if (index)
    *index = f->first + (k - f->before);
  if (code)
    *code = f->code;
  if (task_code)
    *task_code = f->task_code;
  if (message)
    *message = f->msg;
  return 0;
}

int wpool_result_item_code(wpool_result_t *r, size_t i) {
  if (!usable(r))
    return WPOOL_EINVAL;
  if (!wpool_result_ready(r))
    return WPOOL_ENOTREADY;
  if (i >= r->batch.n)
    return WPOOL_EINVAL;
  const wpool__fail_range_t *f = wpool__faillog_find(&r->fails, i);
  return f ? f->code : 0;
}

int wpool_result_output(wpool_result_t *r, size_t i, const char **data,
                        size_t *len) {
  if (!usable(r))
    return WPOOL_EINVAL;
  if (!wpool_result_ready(r))
    return WPOOL_ENOTREADY;
  if (i >= r->batch.n)
    return WPOOL_EINVAL;
  /* Ready: nothing writes outs any more. */
  const wpool__buf_t *o = r->outs ? &r->outs[i] : NULL;
  if (data)
    *data = o && o->len ? (const char *)o->data : "";
  if (len)
    *len = o ? o->len : 0;
  return 0;
}

void wpool_result_free(wpool_result_t *r) {
  /* A second free is ignored while the pool still holds the result (it is
     pending, or its callbacks have not run); after that its memory is gone
     and the magic is all that may catch it. */
  if (!r || r->magic != RESULT_LIVE)
    return;
  wpool_t *p = r->pool;
  int in_callback = wpool__in_callback(p);
  wpool__mutex_lock(p->lock);
  if (r->user_ref) {
    /* Before the handle goes: the wait may release the lock, and nothing
       may free the result meanwhile. */
    wpool__progress_stop(&r->progress, in_callback);
    r->user_ref = 0;
    maybe_free(p, r);
  }
  wpool__unlock(p);
}

/* Why a submission was refused, for the calls that have an errmsg. */
static void refusal_message(wpool_t *p, int rc, char **errmsg, size_t arg,
                            size_t out) {
  if (rc == WPOOL_ENOFUNC)
    wpool__set_msg(errmsg,
                   "the function is not registered: put WPOOL_REGISTER(fn) "
                   "beside its definition, or call wpool_register() before "
                   "the first pool is created");
  else if (rc == WPOOL_E2BIG && out)
    wpool__set_msg(errmsg,
                   "an item of %zu bytes or an output of %zu bytes exceeds "
                   "the frame limit of %llu bytes",
                   arg, out, (unsigned long long)p->max_frame);
  else if (rc == WPOOL_E2BIG)
    wpool__set_msg(errmsg,
                   "argument of %zu bytes exceeds the frame limit of %llu "
                   "bytes",
                   arg, (unsigned long long)p->max_frame);
  else if (rc == WPOOL_ECLOSED)
    wpool__set_msg(errmsg, "the pool is closed (wpool_close or "
                           "wpool_terminate was called): create another");
}

static int finish_apply(wpool_result_t *r, void **out, size_t *out_len,
                        char **errmsg);

static void take_message(wpool_result_t *r, char **errmsg) {
  if (!errmsg)
    return;
  *errmsg = NULL;
  if (r->code && r->msg) {
    size_t n = strlen(r->msg) + 1;
    *errmsg = malloc(n);
    if (*errmsg)
      memcpy(*errmsg, r->msg, n);
  }
}

int wpool_apply(wpool_t *p, wpool_fn fn, const void *arg, size_t arg_len,
                void **out, size_t *out_len, char **errmsg) {
  if (out)
    *out = NULL;
  if (out_len)
    *out_len = 0;
  if (errmsg)
    *errmsg = NULL;
  wpool_result_t *r;
  int rc = wpool_apply_async(p, fn, arg, arg_len, NULL, NULL, NULL, &r);
  if (rc) {
    refusal_message(p, rc, errmsg, arg_len, 0);
    return rc;
  }
  return finish_apply(r, out, out_len, errmsg);
}

/* Wait for a map's result r, hand its message over, free r. */
static int finish_map(wpool_result_t *r, char **errmsg) {
  int rc = wpool_result_get(r, WPOOL_FOREVER, NULL, NULL);
  take_message(r, errmsg);
  wpool_result_free(r);
  return rc;
}

/* Wait for an apply's result r, hand its output and message over, free
   it. */
static int finish_apply(wpool_result_t *r, void **out, size_t *out_len,
                        char **errmsg) {
  const void *data;
  size_t len;
  int rc = wpool_result_get(r, WPOOL_FOREVER, &data, &len);
  if (rc == 0 && out && len) {
    *out = malloc(len);
    if (*out)
      memcpy(*out, data, len);
    else
      rc = WPOOL_ENOMEM;
  }
  if (rc == 0 && out_len)
    *out_len = len;
  take_message(r, errmsg);
  wpool_result_free(r);
  return rc;
}

int wpool_map(wpool_t *p, wpool_fn fn, const void *items, size_t n,
              size_t item_size, void *out, size_t out_size, size_t chunksize,
              char **errmsg) {
  if (errmsg)
    *errmsg = NULL;
  wpool_result_t *r;
  int rc = wpool_map_async(p, fn, items, n, item_size, out, out_size,
                           chunksize, NULL, NULL, NULL, &r);
  if (rc) {
    refusal_message(p, rc, errmsg, item_size, out_size);
    return rc;
  }
  return finish_map(r, errmsg);
}

int wpool_apply_shm(wpool_t *p, wpool_fn fn, const wpool_slice_t *arg,
                    void **out, size_t *out_len, char **errmsg) {
  if (out)
    *out = NULL;
  if (out_len)
    *out_len = 0;
  if (errmsg)
    *errmsg = NULL;
  wpool_result_t *r;
  int rc = apply_shm(p, fn, arg, NULL, &r, errmsg);
  if (rc) {
    if (errmsg && !*errmsg)
      refusal_message(p, rc, errmsg, arg ? arg->len : 0, 0);
    return rc;
  }
  return finish_apply(r, out, out_len, errmsg);
}

int wpool_map_shm(wpool_t *p, wpool_fn fn, const wpool_slice_t *in,
                  size_t item_size, const wpool_slice_t *out,
                  size_t out_size, size_t chunksize, char **errmsg) {
  if (errmsg)
    *errmsg = NULL;
  wpool_result_t *r;
  int rc = map_shm(p, fn, in, item_size, out, out_size, chunksize, NULL, &r,
                   errmsg);
  if (rc) {
    if (errmsg && !*errmsg)
      refusal_message(p, rc, errmsg, item_size, out_size);
    return rc;
  }
  return finish_map(r, errmsg);
}
