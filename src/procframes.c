/*
 * The protocol on one process worker's slot: the handshake, the layout of
 * what is sent (INIT, TASK frames cut straight from the caller's memory,
 * EXIT), and what to do with each frame the framer assembles. The parent
 * never trusts a worker: every header is checked against what was sent
 * before any of its payload is placed.
 */
#include "procframes.h"
#include "os.h"
#include "registry.h"
#include "scheduler.h"
#include "shm.h"

#include <stdio.h>
#include <string.h>

/* Replacement workers that fail to start in a row before the pool gives up
   instead of respawning forever. */
#define MAX_START_FAILURES 3

int64_t wpool__pp_now(void) { return (int64_t)wpool__mono_ns(); }

int64_t wpool__pp_after(int64_t start, int64_t ms, uint32_t times) {
  if (ms < 0)
    return INT64_MAX;
  uint64_t ns = (uint64_t)ms * 1000000u;
  if ((uint64_t)ms > UINT64_MAX / 1000000u ||
      (times && ns > (uint64_t)(INT64_MAX - start) / times))
    return INT64_MAX;
  return start + (int64_t)(ns * (times ? times : 1));
}

void wpool__pp_start_failed(wpool_t *p, int code, const char *msg) {
  wpool__pp_t *pp = p->pp;
  if (!pp->started) {
    if (!p->start_code) {
      p->start_code = code;
      wpool__set_msg(&p->start_msg, "%s", msg);
    }
    wpool__cond_broadcast(p->state_cond);
  } else if (++pp->start_failures >= MAX_START_FAILURES) {
    wpool__break(p, code, msg);
  }
}


static const wpool__frame_t exit_frame = {
    WPOOL__MAGIC, WPOOL__F_EXIT, 0, 0, 0, 0, 0, 0, 0, 0, 0};

void wpool__pp_protocol_error(wpool__pslot_t *s, const char *what) {
  if (!s->err_code) {
    s->err_code = WPOOL_EPROTO;
    snprintf(s->err_msg, sizeof s->err_msg, "sent a malformed frame: %s", what);
  }
  s->dead = 1;
}

static int refuse(wpool__pslot_t *s, const char *what) {
  wpool__pp_protocol_error(s, what);
  return -1;
}

/* ---------------------------------------------------------------------- */
/* Receiving                                                               */

static int on_header(void *ctx, const wpool__frame_t *f, uint8_t **fixed,
                     size_t *fixed_len) {
  wpool__pslot_t *s = ctx;
  wpool_t *p = s->pool;
  wpool__worker_t *w = s->w;
  if (s->hs == 0) {
    if (f->type != WPOOL__F_HELLO || f->len || (long)f->job != s->peer)
      return refuse(s, "expected HELLO");
    if (f->count != WPOOL__PROTO_VERSION || f->fn != wpool__registry_count() ||
        f->nanos != wpool__registry_hash()) {
      wpool__pp_start_failed(
          p, WPOOL_ESPAWN,
          "worker's protocol or function table differs from the parent's "
          "(are both the same build of the program, with the same "
          "registrations?)");
      s->hs = 3;
      s->dead = 1;
      return -1;
    }
    return 0;
  }
  if (s->hs == 1) {
    if (f->type != WPOOL__F_READY ||
        f->len > WPOOL__FAIL_REC_HDR + WPOOL__MSG_MAX)
      return refuse(s, "expected READY");
    return 0;
  }
  if ((f->type != WPOOL__F_RESULT && f->type != WPOOL__F_OUTPUT) ||
      s->sent == 0 || (f->type == WPOOL__F_OUTPUT && !p->opt.capture_output))
    return refuse(s, "unexpected frame");
  const wpool__job_t *j = wpool__ring_at(&w->fifo, 0);
  s->skip = 0;
  if (f->type == WPOOL__F_OUTPUT) {
    if (f->job != j->seq || f->count >= j->hdr.count ||
        f->len > WPOOL__CAPTURE_MAX)
      return refuse(s, "output does not match the task it comes from");
    return 0;
  }
  if (f->job != j->seq || f->count != j->hdr.count || f->osize != j->hdr.osize)
    return refuse(s, "result does not match the task it answers");
  if (f->flags & WPOOL__FL_SHM_RES) {
    /* Only the descriptor is in the frame: the payload is placed once the
       buffer is taken (on_frame). */
    if (!p->pp->ops->take || f->len != WPOOL__RES_DESC_SIZE)
      return refuse(s, "result descriptor is malformed");
    return 0;
  }
  /* Outputs that a worker wrote into a shared buffer are not in the
     frame: only their failure records are. */
  size_t flen = (j->hdr.flags & WPOOL__FL_SHM_OUT)
                    ? 0
                    : (size_t)f->count * f->osize;
  if (f->len < flen)
    return refuse(s, "result shorter than its outputs");
  /* A fixed map's outputs go straight into the caller's array. Those of a
     cancelled job arrive in the tail instead, ahead of the failure records,
     and are skipped when the records are checked. */
  uint8_t *out = wpool__job_out(j);
  s->skip = 0;
  if (flen && out) {
    *fixed = out;
    *fixed_len = flen;
  } else {
    s->skip = flen;
  }
  return 0;
}

/* Only a code of the error table may come back from a worker: anything
   else would reach wpool_create's caller as a code no one can name. */
static int known_code(int32_t code) {
  return code < 0 && strcmp(wpool_err_name(code), "UNKNOWN") != 0;
}

static int on_ready(wpool__pslot_t *s, const wpool__frame_t *f,
                    const wpool__buf_t *tail) {
  wpool_t *p = s->pool;
  if (f->nfail) {
    wpool__fail_t fl;
    size_t off = 0;
    if (f->nfail != 1 ||
        wpool__fail_next(tail->data, tail->len, &off, &fl) != 1)
      return refuse(s, "malformed READY");
    if (!known_code(fl.code))
      return refuse(s, "READY with an unknown error code");
    char msg[WPOOL__MSG_MAX + 32];
    snprintf(msg, sizeof msg, "initializer failed: %.*s", (int)fl.len, fl.msg);
    wpool__pp_start_failed(p, fl.code, msg);
    s->hs = 3;
    s->dead = 1;
    return -1;
  }
  s->hs = 2;
  s->w->state = WPOOL__W_READY;
  if (++p->ready_count >= p->nworkers && !p->pp->started) {
    p->pp->started = 1;
    wpool__cond_broadcast(p->state_cond);
  }
  return 0;
}

/* A result that could not be taken for want of resources here: the
   worker did nothing wrong, but its chunk fails with code, and the worker
   goes (the stream cannot skip a result). */
static int lost_result(wpool__pslot_t *s, int code, const char *what) {
  if (!s->err_code) {
    s->err_code = code;
    snprintf(s->err_msg, sizeof s->err_msg, "%s", what);
  }
  s->dead = 1;
  return -1;
}

/*
 * RESULT f of job j came through a buffer: take its handle from the
 * channel, check its size, and copy its payload out into tail, as if the
 * frame had carried it (fixed outputs straight into the caller's array when
 * it has one). 0, or -1 when the worker broke the protocol.
 *
 * Copied, not read in place: a result's memory is then the pool's own
 * heap, freed as every other result's, so that no mapping or handle
 * outlives this call whatever becomes of the result (cancelled, never
 * read, read after wpool_destroy), and a worker that keeps writing into its
 * buffer cannot change a result under the caller.
 */
static int take_result(wpool__pslot_t *s, const wpool__job_t *j,
                       const wpool__frame_t *f, wpool__buf_t *tail) {
  const wpool__chan_ops_t *ops = s->pool->pp->ops;
  wpool__res_desc_t d;
  intptr_t h;
  if (tail->len != sizeof d) {
    refuse(s, "result descriptor is malformed");
    return -1;
  }
  memcpy(&d, tail->data, sizeof d);
  if (ops->take(s->ch, d.h, &h)) {
    refuse(s, "result names a buffer that it did not send");
    return -1;
  }
  size_t flen = (j->hdr.flags & WPOOL__FL_SHM_OUT)
                    ? 0
                    : (size_t)f->count * f->osize;
  const uint8_t *view;
  int rc = d.len < flen ? WPOOL_EPROTO : wpool__shm_os_view(h, d.len, &view);
  wpool__shm_os_close(h);
  if (rc == WPOOL_EPROTO) {
    refuse(s, "result buffer is smaller than it says, or not sealed");
    return -1;
  }
  if (rc)
    return lost_result(s, rc, "could not map the buffer of its result");
  uint8_t *out = wpool__job_out(j);
  size_t from = flen && out ? flen : 0;
  tail->len = 0;
  if (wpool__buf_reserve(tail, (size_t)(d.len - from))) {
    wpool__shm_os_unview(view, d.len);
    return lost_result(s, WPOOL_ENOMEM, "out of memory for its large result");
  }
  if (from)
    memcpy(out, view, from);
  memcpy(tail->data, view + from, (size_t)(d.len - from));
  tail->len = (size_t)(d.len - from);
  wpool__shm_os_unview(view, d.len);
  s->skip = flen - from; /* a cancelled job's outputs lead the records */
  return 0;
}

static int on_frame(void *ctx, const wpool__frame_t *f, wpool__buf_t *tail) {
  wpool__pslot_t *s = ctx;
  wpool_t *p = s->pool;
  wpool__worker_t *w = s->w;
  if (s->hs == 0) {
    s->hs = 1;
    wpool__pp_queue_init(p, s);
    return s->dead ? -1 : 0;
  }
  if (s->hs == 1)
    return on_ready(s, f, tail);
  if (f->type == WPOOL__F_OUTPUT) {
    wpool__output(p, w, f->count, tail->data, tail->len);
    return 0;
  }
  const wpool__job_t *j = wpool__ring_at(&w->fifo, 0);
  if ((f->flags & WPOOL__FL_SHM_RES) && take_result(s, j, f, tail))
    return -1;
  if (tail->len < s->skip ||
      wpool__result_validate(f, j->hdr.count, j->hdr.osize,
                             s->skip ? tail->data + s->skip : tail->data,
                             tail->len - s->skip))
    return refuse(s, "result records are inconsistent");
  p->pp->start_failures = 0;
  wpool__buf_t mine = *tail; /* the scheduler takes the buffer over */
  *tail = (wpool__buf_t){0};
  s->sent--;
  uint64_t rss = (uint64_t)f->isize * 1024; /* KiB, when asked for */
  wpool__complete(p, w, f, &mine);
  s->head_since = wpool__pp_now(); /* the next job starts now */
  if (p->opt.worker_max_rss && rss > p->opt.worker_max_rss &&
      w->state == WPOOL__W_READY) {
    /* Grown too big: it finishes what it holds, then is replaced. */
    w->state = WPOOL__W_RETIRING;
    s->exit_pending = 1;
  }
  return 0;
}

void wpool__pp_slot_reset(wpool_t *p, wpool__pslot_t *s) {
  wpool__framer_t rx = s->rx;
  wpool__buf_t ctl = s->ctl;
  wpool__worker_t *w = s->w;
  memset(s, 0, sizeof *s);
  s->pool = p;
  s->w = w;
  ctl.len = 0;
  s->ctl = ctl;
  s->rx = rx;
  const wpool__framer_cb_t cb = {on_header, on_frame, s};
  s->rx.cb = cb;
  s->rx.max_frame = p->max_frame;
  wpool__framer_reset(&s->rx);
}

/* ---------------------------------------------------------------------- */
/* Sending                                                                 */

static int progress_desc(wpool_t *p, wpool__pslot_t *s,
                         wpool__progress_desc_t *d);

void wpool__pp_queue_init(wpool_t *p, wpool__pslot_t *s) {
  wpool__frame_t f;
  wpool__frame_init(&f, WPOOL__F_INIT);
  f.fn = p->init_fn;
  f.nanos = p->max_frame;
  f.job = p->opt.worker_memory_limit;
  f.count = (p->opt.worker_max_rss != 0) | /* report resident size */
            (p->opt.capture_output ? 2u : 0u); /* OUTPUT frames */
  /* Results too large for a frame may come back through a buffer. */
  if (p->pp->ops->take && wpool__shm_threshold(p) != SIZE_MAX)
    f.count |= WPOOL__INIT_BIG_RESULTS;
  f.osize = (uint32_t)p->argv_blob.len;
  f.isize = (uint32_t)p->opt.spin_us; /* checked: at most a second */
  f.nfail = p->argc;
  wpool__progress_desc_t pd;
  int page = progress_desc(p, s, &pd);
  if (page)
    f.count |= WPOOL__INIT_PROGRESS;
  f.len = (uint32_t)(WPOOL__TOKEN_LEN + p->opt.initargs_len + p->argv_blob.len +
                     (page ? WPOOL__PROGRESS_DESC_SIZE : 0));
  if (wpool__buf_append(&s->ctl, &f, sizeof f) ||
      wpool__buf_append(&s->ctl, p->token, WPOOL__TOKEN_LEN) ||
      wpool__buf_append(&s->ctl, p->opt.initargs, p->opt.initargs_len) ||
      wpool__buf_append(&s->ctl, p->argv_blob.data, p->argv_blob.len) ||
      (page && wpool__buf_append(&s->ctl, &pd, sizeof pd)))
    s->dead = 1; /* out of memory: a failed start */
  s->page_pending = page && !p->pp->ops->lend;
}

/* The line of slot s, or NULL. */
static wpool__progress_line_t *progress_line(wpool_t *p,
                                             const wpool__pslot_t *s) {
  size_t k = (size_t)s->w->index;
  if (!p->pp->page || k >= WPOOL__PROGRESS_LINES)
    return NULL;
  return (wpool__progress_line_t *)(p->pp->page + k * WPOOL__PROGRESS_LINE);
}

/* What INIT tells slot s's new worker about its line: 1, or 0 for
   nothing (no line, or the handle could not be lent). */
static int progress_desc(wpool_t *p, wpool__pslot_t *s,
                         wpool__progress_desc_t *d) {
  wpool__progress_line_t *line = progress_line(p, s);
  const wpool__chan_ops_t *ops = p->pp->ops;
  if (!line)
    return 0;
  line->seq = 0; /* no job has that id */
  d->line = (uint64_t)s->w->index;
  d->handle = (uint64_t)p->pp->page_h;
  return !ops->lend || ops->lend(s->ch, p->pp->page_h, 1, &d->handle) == 0;
}

long wpool__pp_culprit(wpool_t *p, wpool__pslot_t *s, const wpool__job_t *j) {
  wpool__progress_line_t *line = progress_line(p, s);
  if (!line)
    return -1;
  uint64_t seq = line->seq, index = line->index;
  line->seq = 0;
  return seq == j->seq && index < j->hdr.count ? (long)index : -1;
}

static int shm_job(const wpool__job_t *j) {
  return (j->hdr.flags & (WPOOL__FL_SHM_IN | WPOOL__FL_SHM_OUT)) != 0;
}

/* The bytes of job j's frame after its header. */
static size_t wire_len(const wpool__job_t *j) {
  return shm_job(j) ? WPOOL__SHM_DESC_SIZE : j->plen;
}

/* Lay out shared-memory job j's frame in s->shm_wire and give the handles
   that must travel with it (none where the channel lends them instead);
   -1 when a handle could not be lent. Offsets into the buffers are where
   the scheduler cut its items and where its first item's output slot is. */
static int shm_frame(wpool__pslot_t *s, const wpool__job_t *j,
                     intptr_t *handles, size_t *nh) {
  const wpool__batch_t *b = j->batch;
  const wpool__chan_ops_t *ops = s->pool->pp->ops;
  wpool__shm_desc_t *d = &s->shm_wire.desc;
  intptr_t h[2];
  int writable[2];
  size_t n = 0;
  s->shm_wire.hdr = j->hdr;
  s->shm_wire.hdr.len = WPOOL__SHM_DESC_SIZE;
  memset(d, 0, sizeof *d);
  if (j->hdr.flags & WPOOL__FL_SHM_IN) {
    d->in_off = (uint64_t)(j->payload - b->shm_in->base);
    d->in_len = j->plen;
    writable[n] = 0;
    h[n++] = b->shm_in->handle;
  }
  if (j->hdr.flags & WPOOL__FL_SHM_OUT) {
    const uint8_t *out = b->out + wpool__job_first_item(j) * b->osize;
    d->out_off = (uint64_t)(out - b->shm_out->base);
    d->out_len = (uint64_t)j->hdr.count * b->osize;
    writable[n] = 1;
    h[n++] = b->shm_out->handle;
  }
  *nh = 0;
  if (ops->lend) {
    if (s->lent_seq != j->seq) {
      for (size_t k = 0; k < n; k++)
        if (ops->lend(s->ch, h[k], writable[k], &s->lent[k]))
          return -1;
      s->lent_seq = j->seq;
    }
  } else {
    for (size_t k = 0; k < n; k++) {
      handles[k] = h[k];
      s->lent[k] = (uint64_t)h[k];
    }
    *nh = n;
  }
  size_t k = 0;
  if (j->hdr.flags & WPOOL__FL_SHM_IN)
    d->in_h = s->lent[k++];
  if (j->hdr.flags & WPOOL__FL_SHM_OUT)
    d->out_h = s->lent[k];
  return 0;
}

/* Shared-memory tasks sent to one worker and not yet answered, at most:
   each has its handles in flight or open in the worker, and the system
   bounds the descriptors in flight per user (about RLIMIT_NOFILE), past
   which a send fails. Four keep a worker busy while it answers. */
#define SHM_AHEAD_MAX 4

/* May the next unsent job of s go? A shared-memory one waits while
   SHM_AHEAD_MAX others are unanswered; one partly sent always may. */
static int next_may_go(const wpool__pslot_t *s) {
  const wpool__worker_t *w = s->w;
  if (s->sent >= w->fifo.len)
    return 0;
  if (s->off || !shm_job(wpool__ring_at(&w->fifo, s->sent)))
    return 1;
  size_t held = 0;
  for (size_t k = 0; k < s->sent; k++)
    held += shm_job(wpool__ring_at(&w->fifo, k));
  return held < SHM_AHEAD_MAX;
}

size_t wpool__pp_segments(wpool__pslot_t *s, wpool__seg_t *seg, size_t max,
                          intptr_t *handles, size_t *nh) {
  const wpool__worker_t *w = s->w;
  size_t n = 0;
  *nh = 0;
  if (!s->ch || s->dead || s->wbroken)
    return 0;
  if (s->ctl_off < s->ctl.len && n < max) {
    seg[n].base = s->ctl.data + s->ctl_off;
    seg[n++].len = s->ctl.len - s->ctl_off;
    if (s->page_pending && s->ctl_off == 0) {
      handles[0] = s->pool->pp->page_h;
      *nh = 1;
    }
  }
  size_t off = s->off;
  for (size_t k = s->sent; k < w->fifo.len && n + 2 <= max; k++) {
    const wpool__job_t *j = wpool__ring_at(&w->fifo, k);
    if (shm_job(j)) {
      /* Its handles go with its first byte, and s->shm_wire holds one
         frame: it leads a send of its own. */
      if ((n > 0 && (off == 0 || k != s->sent)) || !next_may_go(s))
        break;
      intptr_t mine[2];
      size_t c;
      if (shm_frame(s, j, mine, &c)) {
        if (!s->err_code) {
          s->err_code = WPOOL_ESYS;
          snprintf(s->err_msg, sizeof s->err_msg,
                   "could not be lent a shared buffer");
        }
        s->dead = 1;
        return 0;
      }
      if (off == 0) {
        memcpy(handles, mine, c * sizeof *mine);
        *nh = c;
      }
      seg[n].base = (const uint8_t *)&s->shm_wire + off;
      seg[n++].len = WPOOL__FRAME_SIZE + WPOOL__SHM_DESC_SIZE - off;
      off = 0;
      /* One descriptor at a time: the next one goes in the next send. */
      break;
    }
    if (off < WPOOL__FRAME_SIZE) {
      seg[n].base = (const uint8_t *)&j->hdr + off;
      seg[n++].len = WPOOL__FRAME_SIZE - off;
      off = 0;
    } else {
      off -= WPOOL__FRAME_SIZE;
    }
    if (j->plen > off) {
      seg[n].base = j->payload + off;
      seg[n++].len = j->plen - off;
    }
    off = 0;
  }
  /* EXIT goes only after the last task: the worker must run them all. */
  if (s->exit_pending && s->sent == w->fifo.len && n < max &&
      s->exit_off < WPOOL__FRAME_SIZE) {
    seg[n].base = (const uint8_t *)&exit_frame + s->exit_off;
    seg[n++].len = WPOOL__FRAME_SIZE - s->exit_off;
  }
  return n;
}

int wpool__pp_wants_write(const wpool__pslot_t *s) {
  return s->ch && !s->dead && !s->wbroken &&
         (s->ctl_off < s->ctl.len || next_may_go(s) ||
          (s->exit_pending && s->exit_off < WPOOL__FRAME_SIZE));
}

void wpool__pp_wrote(wpool__pslot_t *s, size_t n) {
  const wpool__worker_t *w = s->w;
  if (s->ctl_off < s->ctl.len) {
    size_t c = s->ctl.len - s->ctl_off;
    c = c < n ? c : n;
    s->ctl_off += c;
    if (c)
      s->page_pending = 0; /* the handle went with the first byte */
    n -= c;
  }
  int exit_next = s->sent == w->fifo.len;
  while (n && s->sent < w->fifo.len) {
    const wpool__job_t *j = wpool__ring_at(&w->fifo, s->sent);
    size_t rest = WPOOL__FRAME_SIZE + wire_len(j) - s->off;
    if (n >= rest) {
      n -= rest;
      s->sent++;
      s->off = 0;
    } else {
      s->off += n;
      n = 0;
    }
  }
  if (exit_next)
    s->exit_off += n;
}
