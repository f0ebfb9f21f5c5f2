/*
 * The process backend's portable half: one I/O thread per pool ("the
 * loop") drives every worker through the OS half (procpool.h). It starts
 * workers and checks their handshake; hands out chunks; lays out TASK frames
 * as pieces to write straight from the caller's memory; assembles RESULT
 * frames, reading a fixed map's outputs straight into the caller's output
 * array; notices deaths, fails the chunk a dead worker held, and replaces it.
 * Per-worker I/O state belongs to the loop alone; the scheduler's state, and
 * everything here, is touched with the pool's lock held.
 */
#include "procpool.h"
#include "os.h"
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STAGE_SIZE 65536u
/* Replacement workers that fail to start in a row before the pool gives up
   instead of respawning forever. */
#define MAX_START_FAILURES 3
/* How soon a slot left empty by a failed start is tried again. */
#define START_RETRY_MS 200

typedef struct pw {
  int live;            /* has a process */
  int hs;              /* handshake: 0 awaiting HELLO, 1 READY, 2 done, 3
                          failed and already reported */
  apr_time_t deadline; /* for the handshake */
  apr_time_t head_since; /* when the head job (probably) started running */
  int dead;            /* end of input, or a protocol error */
  int wbroken;         /* writing failed: the worker is going; its results
                          still in the pipe are read before it is declared
                          dead, so that a finished task is never blamed */
  int err_code;        /* why its held chunk fails, when not a plain death */
  char err_msg[160];
  /* Sending: FIFO entries [0, sent) from its head are written, and off
     bytes of entry `sent`. ctl holds INIT, written before any task. */
  size_t sent, off;
  wpool__buf_t ctl;
  size_t ctl_off;
  int exit_pending;
  size_t exit_off;
  /* Receiving. */
  wpool__frame_t hdr;
  size_t hdr_got;
  uint8_t *fixed;
  size_t fixed_len, fixed_got;
  wpool__buf_t tail;
  size_t tail_len;
  uint8_t *stage;
  int direct; /* the last read target: 0 stage, 1 fixed, 2 tail */
} pw_t;

struct wpool__pp {
  apr_thread_t *thread;
  int loop_done, thread_joined;
  int started;        /* every first worker reported ready */
  int start_failures; /* in a row, after start-up */
  int killed;         /* terminate: workers were sent SIGKILL */
  pw_t *pw;
};

static pw_t *slot(wpool_t *p, int i) { return &p->pp->pw[i]; }

/* ---------------------------------------------------------------------- */
/* Starting, failing to start, dying                                       */

static void start_failed(wpool_t *p, int code, const char *msg) {
  wpool__pp_t *pp = p->pp;
  if (!pp->started) {
    if (!p->start_code) {
      p->start_code = code;
      wpool__set_msg(&p->start_msg, "%s", msg);
    }
    apr_thread_cond_broadcast(p->state_cond);
  } else if (++pp->start_failures >= MAX_START_FAILURES) {
    wpool__break(p, code, msg);
  }
}

/* Does the pool still need a worker in an empty slot? */
static int needs_worker(wpool_t *p) {
  if (p->state == WPOOL__TERMINATED || p->start_code)
    return 0;
  return p->state == WPOOL__RUNNING || !p->pp->started || wpool__has_work(p);
}

/* Start a process for slot w. Starting takes a while, so the lock is
   released meanwhile; the slot's fields are published once it is back. */
static int spawn_one(wpool_t *p, wpool__worker_t *w, char **errmsg) {
  long pid = 0;
  apr_thread_mutex_unlock(p->lock);
  int rc = wpool__pos_start(p, w->index, &pid, errmsg);
  apr_thread_mutex_lock(p->lock);
  if (rc)
    return rc;
  pw_t *pw = slot(p, w->index);
  uint8_t *stage = pw->stage;
  memset(pw, 0, sizeof *pw);
  pw->stage = stage;
  pw->live = 1;
  pw->deadline = apr_time_now() + (apr_time_t)p->opt.start_timeout_ms * 1000;
  w->pid = pid;
  w->kill_code = 0;
  w->state = WPOOL__W_STARTING;
  w->tasks_sent = 0;
  w->head = w->count = 0;
  return 0;
}

static void fill_slots(wpool_t *p) {
  for (int i = 0; i < p->nworkers; i++) {
    wpool__worker_t *w = &p->workers[i];
    if (slot(p, i)->live)
      continue;
    if (!needs_worker(p)) {
      w->state = WPOOL__W_EMPTY; /* no replacement after all */
      continue;
    }
    char *em = NULL;
    int rc = spawn_one(p, w, &em);
    if (rc) {
      w->state = WPOOL__W_EMPTY;
      start_failed(p, rc, em ? em : "could not start a worker");
    }
    else if (p->pp->started)
      p->st_replaced++;
    free(em);
  }
}

/* Worker w is gone (end of input, broken channel, protocol error, or a
   handshake that took too long). */
static void on_death(wpool_t *p, wpool__worker_t *w, int timed_out) {
  pw_t *pw = slot(p, w->index);
  int hs = pw->hs;
  long pid = w->pid;
  char why[160], msg[WPOOL__MSG_MAX + 256];
  apr_thread_mutex_unlock(p->lock);
  wpool__pos_reap(p, w->index, why, sizeof why);
  apr_thread_mutex_lock(p->lock);
  pw->live = 0;
  wpool__buf_free(&pw->ctl);
  wpool__buf_free(&pw->tail);
  /* A slot about to be refilled counts as a worker starting from now on,
     so that whoever sees this death's failure also sees the pool whole. */
  w->state = needs_worker(p) ? WPOOL__W_STARTING : WPOOL__W_EMPTY;
  w->pid = 0;
  if (hs < 2 && !p->pp->killed) {
    if (timed_out)
      snprintf(msg, sizeof msg,
               "worker did not complete the handshake within %ld ms: does "
               "main() call wpool_bootstrap(argc, argv) first?",
               p->opt.start_timeout_ms);
    else
      snprintf(msg, sizeof msg, "worker %s before the handshake%s", why,
               p->method == WPOOL_SPAWN
                   ? ": does main() call wpool_bootstrap(argc, argv) first?"
                   : "");
    start_failed(p, WPOOL_ESPAWN, msg);
  } else if (hs == 2 && w->count) {
    if (pw->err_code)
      snprintf(msg, sizeof msg, "worker %ld %s (%s)", pid, pw->err_msg, why);
    else
      snprintf(msg, sizeof msg, "worker %ld %s", pid, why);
    wpool__fail_held(p, w, pw->err_code ? pw->err_code : WPOOL_EWORKER, msg, 1);
  }
  w->count = w->head = 0;
  apr_thread_cond_broadcast(p->state_cond);
}

/* ---------------------------------------------------------------------- */
/* Sending                                                                 */

static void queue_init(wpool_t *p, pw_t *pw) {
  wpool__frame_t f;
  wpool__frame_init(&f, WPOOL__F_INIT);
  f.fn = p->init_fn;
  f.nanos = p->max_frame;
  f.job = p->opt.worker_memory_limit;
  f.count = p->opt.worker_max_rss != 0; /* report resident size */
  f.len = (uint32_t)(WPOOL__TOKEN_LEN + p->opt.initargs_len);
  if (wpool__buf_append(&pw->ctl, &f, sizeof f) ||
      wpool__buf_append(&pw->ctl, p->token, WPOOL__TOKEN_LEN) ||
      wpool__buf_append(&pw->ctl, p->opt.initargs, p->opt.initargs_len))
    pw->dead = 1; /* out of memory: a failed start */
}

static const wpool__frame_t exit_frame = {WPOOL__MAGIC, WPOOL__F_EXIT, 0, 0,
                                          0, 0, 0, 0, 0, 0, 0};

int wpool__pp_live(wpool_t *p, int i) {
  pw_t *pw = slot(p, i);
  return pw->live && !pw->dead;
}

size_t wpool__pp_segments(wpool_t *p, int i, wpool__seg_t *seg, size_t max) {
  wpool__worker_t *w = &p->workers[i];
  pw_t *pw = slot(p, i);
  size_t n = 0;
  if (!wpool__pp_live(p, i) || pw->wbroken)
    return 0;
  if (pw->ctl_off < pw->ctl.len && n < max) {
    seg[n].base = pw->ctl.data + pw->ctl_off;
    seg[n++].len = pw->ctl.len - pw->ctl_off;
  }
  size_t off = pw->off;
  for (size_t k = pw->sent; k < w->count && n + 2 <= max; k++) {
    const wpool__job_t *j = &w->fifo[(w->head + k) % w->fifo_cap];
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
  if (pw->exit_pending && pw->sent == w->count && n < max &&
      pw->exit_off < WPOOL__FRAME_SIZE) {
    seg[n].base = (const uint8_t *)&exit_frame + pw->exit_off;
    seg[n++].len = WPOOL__FRAME_SIZE - pw->exit_off;
  }
  return n;
}

int wpool__pp_wants_write(wpool_t *p, int i) {
  const wpool__worker_t *w = &p->workers[i];
  const pw_t *pw = slot(p, i);
  return wpool__pp_live(p, i) && !pw->wbroken &&
         (pw->ctl_off < pw->ctl.len || pw->sent < w->count ||
          (pw->exit_pending && pw->exit_off < WPOOL__FRAME_SIZE));
}

void wpool__pp_wrote(wpool_t *p, int i, size_t n) {
  wpool__worker_t *w = &p->workers[i];
  pw_t *pw = slot(p, i);
  if (pw->ctl_off < pw->ctl.len) {
    size_t c = pw->ctl.len - pw->ctl_off;
    c = c < n ? c : n;
    pw->ctl_off += c;
    n -= c;
  }
  int exit_next = pw->sent == w->count;
  while (n && pw->sent < w->count) {
    const wpool__job_t *j = &w->fifo[(w->head + pw->sent) % w->fifo_cap];
    size_t rest = WPOOL__FRAME_SIZE + j->plen - pw->off;
    if (n >= rest) {
      n -= rest;
      pw->sent++;
      pw->off = 0;
    } else {
      pw->off += n;
      n = 0;
    }
  }
  if (exit_next)
    pw->exit_off += n;
}

void wpool__pp_broken(wpool_t *p, int i) { slot(p, i)->wbroken = 1; }

/* ---------------------------------------------------------------------- */
/* Receiving                                                               */

/* The worker broke the protocol: it is killed and its chunk fails. */
static int protocol_error(pw_t *pw, const char *what) {
  if (!pw->err_code) {
    pw->err_code = WPOOL_EPROTO;
    snprintf(pw->err_msg, sizeof pw->err_msg, "sent a malformed frame: %s",
             what);
  }
  pw->dead = 1;
  return -1;
}

/* A whole header arrived: check it and say where its payload goes. */
static int on_header(wpool_t *p, wpool__worker_t *w, pw_t *pw) {
  const wpool__frame_t *f = &pw->hdr;
  int rc = wpool__frame_check(f, p->max_frame);
  if (rc)
    return protocol_error(pw, rc == WPOOL_E2BIG ? "length over the limit"
                                                : "bad magic or type");
  pw->fixed = NULL;
  pw->fixed_len = pw->fixed_got = 0;
  pw->tail.len = 0;
  pw->tail_len = f->len;
  if (pw->hs == 0) {
    if (f->type != WPOOL__F_HELLO || f->len || (long)f->job != w->pid)
      return protocol_error(pw, "expected HELLO");
    if (f->count != WPOOL__PROTO_VERSION || f->fn != wpool__registry_count() ||
        f->nanos != wpool__registry_hash()) {
      start_failed(p, WPOOL_ESPAWN,
                   "worker's protocol or function table differs from the "
                   "parent's (are both the same build of the program, with "
                   "the same registrations?)");
      pw->hs = 3;
      pw->dead = 1;
      return -1;
    }
    return 0;
  }
  if (pw->hs == 1) {
    if (f->type != WPOOL__F_READY ||
        f->len > WPOOL__FAIL_REC_HDR + WPOOL__MSG_MAX)
      return protocol_error(pw, "expected READY");
    return 0;
  }
  if (f->type != WPOOL__F_RESULT || pw->sent == 0)
    return protocol_error(pw, "unexpected frame");
  const wpool__job_t *j = &w->fifo[w->head];
  if (f->job != j->seq || f->count != j->hdr.count || f->osize != j->hdr.osize)
    return protocol_error(pw, "result does not match the task it answers");
  size_t fixed_len = (size_t)f->count * f->osize;
  if (f->len < fixed_len)
    return protocol_error(pw, "result shorter than its outputs");
  if (fixed_len && !j->cancelled) {
    wpool__batch_t *b = j->batch;
    pw->fixed = b->out + wpool__job_first_item(j) * b->osize;
    pw->fixed_len = fixed_len;
    pw->tail_len = f->len - fixed_len;
  }
  return 0;
}

static void on_ready(wpool_t *p, wpool__worker_t *w, pw_t *pw) {
  const wpool__frame_t *f = &pw->hdr;
  if (f->nfail) {
    wpool__fail_t fl;
    size_t off = 0;
    if (wpool__fail_next(pw->tail.data, pw->tail.len, &off, &fl) != 1) {
      protocol_error(pw, "malformed READY");
      return;
    }
    char msg[WPOOL__MSG_MAX + 32];
    snprintf(msg, sizeof msg, "initializer failed: %.*s", (int)fl.len, fl.msg);
    start_failed(p, fl.code, msg);
    pw->hs = 3;
    pw->dead = 1;
    return;
  }
  pw->hs = 2;
  w->state = WPOOL__W_READY;
  if (++p->ready_count >= p->nworkers && !p->pp->started) {
    p->pp->started = 1;
    apr_thread_cond_broadcast(p->state_cond);
  }
}

/* A whole frame (header and payload) arrived. */
static void on_frame(wpool_t *p, wpool__worker_t *w, pw_t *pw) {
  const wpool__frame_t *f = &pw->hdr;
  pw->hdr_got = 0;
  if (pw->hs == 0) {
    pw->hs = 1;
    queue_init(p, pw);
    return;
  }
  if (pw->hs == 1) {
    on_ready(p, w, pw);
    return;
  }
  const wpool__job_t *j = &w->fifo[w->head];
  if (wpool__result_validate(f, j->hdr.count, j->hdr.osize, pw->tail.data,
                             pw->tail.len)) {
    protocol_error(pw, "result records are inconsistent");
    return;
  }
  p->pp->start_failures = 0;
  wpool__buf_t tail = pw->tail;
  pw->tail = (wpool__buf_t){0};
  pw->sent--;
  uint64_t rss = (uint64_t)f->isize * 1024; /* KiB, when asked for */
  wpool__complete(p, w, f, &tail);
  pw->head_since = apr_time_now(); /* the next job starts now */
  if (p->opt.worker_max_rss && rss > p->opt.worker_max_rss &&
      w->state == WPOOL__W_READY) {
    /* Grown too big: it finishes what it holds, then is replaced. */
    w->state = WPOOL__W_RETIRING;
    pw->exit_pending = 1;
  }
}

static int payload_done(const pw_t *pw) {
  return pw->fixed_got == pw->fixed_len && pw->tail.len == pw->tail_len;
}

/* Take n bytes from src into the frame being assembled. */
static void feed_bytes(wpool_t *p, wpool__worker_t *w, pw_t *pw,
                       const uint8_t *src, size_t n) {
  while (n && !pw->dead) {
    if (pw->hdr_got < WPOOL__FRAME_SIZE) {
      size_t c = WPOOL__FRAME_SIZE - pw->hdr_got;
      c = c < n ? c : n;
      memcpy((uint8_t *)&pw->hdr + pw->hdr_got, src, c);
      pw->hdr_got += c;
      src += c;
      n -= c;
      if (pw->hdr_got < WPOOL__FRAME_SIZE || on_header(p, w, pw))
        continue;
      if (wpool__buf_reserve(&pw->tail, pw->tail_len)) {
        protocol_error(pw, "out of memory for a result");
        return;
      }
    } else if (pw->fixed_got < pw->fixed_len) {
      size_t c = pw->fixed_len - pw->fixed_got;
      c = c < n ? c : n;
      memcpy(pw->fixed + pw->fixed_got, src, c);
      pw->fixed_got += c;
      src += c;
      n -= c;
    } else {
      size_t c = pw->tail_len - pw->tail.len;
      c = c < n ? c : n;
      memcpy(pw->tail.data + pw->tail.len, src, c);
      pw->tail.len += c;
      src += c;
      n -= c;
    }
    if (pw->hdr_got == WPOOL__FRAME_SIZE && !pw->dead && payload_done(pw))
      on_frame(p, w, pw);
  }
}

int wpool__pp_read_target(wpool_t *p, int i, uint8_t **dst, size_t *room) {
  pw_t *pw = slot(p, i);
  if (!wpool__pp_live(p, i))
    return -1;
  if (!pw->stage && !(pw->stage = malloc(STAGE_SIZE))) {
    protocol_error(pw, "out of memory for a read buffer");
    return -1;
  }
  pw->direct = 0;
  *dst = pw->stage;
  *room = STAGE_SIZE;
  /* A large payload is read in place, not through the staging buffer. */
  if (pw->hdr_got == WPOOL__FRAME_SIZE) {
    if (pw->fixed_len - pw->fixed_got >= STAGE_SIZE / 2) {
      pw->direct = 1;
      *dst = pw->fixed + pw->fixed_got;
      *room = pw->fixed_len - pw->fixed_got;
    } else if (pw->fixed_got == pw->fixed_len &&
               pw->tail_len - pw->tail.len >= STAGE_SIZE / 2) {
      pw->direct = 2;
      *dst = pw->tail.data + pw->tail.len;
      *room = pw->tail_len - pw->tail.len;
    }
  }
  return 0;
}

void wpool__pp_read_done(wpool_t *p, int i, size_t n) {
  wpool__worker_t *w = &p->workers[i];
  pw_t *pw = slot(p, i);
  if (n == 0) {
    pw->dead = 1;
    return;
  }
  if (pw->direct == 0) {
    feed_bytes(p, w, pw, pw->stage, n);
    return;
  }
  if (pw->direct == 1)
    pw->fixed_got += n;
  else
    pw->tail.len += n;
  if (payload_done(pw))
    on_frame(p, w, pw);
}

/* ---------------------------------------------------------------------- */
/* The loop                                                                */

/*
 * Hand out chunks least-loaded worker first, one level at a time: a new task
 * goes to an idle worker before it queues behind another worker's running
 * task, and deep pipelines only build up when there is work for every
 * worker.
 */
static void feed_workers(wpool_t *p) {
  size_t depth = wpool__depth(p);
  long max = p->opt.maxtasksperchild;
  for (size_t level = 0; level < depth; level++) {
    for (int i = 0; i < p->nworkers; i++) {
      wpool__worker_t *w = &p->workers[i];
      if (w->state != WPOOL__W_READY || w->count > level)
        continue;
      if (!wpool__take(p, w))
        return;
      if (w->count == 1)
        slot(p, i)->head_since = apr_time_now();
      if (max && w->tasks_sent >= max) {
        w->state = WPOOL__W_RETIRING;
        slot(p, i)->exit_pending = 1;
      }
    }
  }
}

static void retire_idle(wpool_t *p) {
  if (p->state != WPOOL__CLOSED || wpool__has_work(p))
    return;
  for (int i = 0; i < p->nworkers; i++) {
    wpool__worker_t *w = &p->workers[i];
    if (w->state == WPOOL__W_READY && w->count == 0) {
      w->state = WPOOL__W_RETIRING;
      slot(p, i)->exit_pending = 1;
    }
  }
}

static int all_gone(wpool_t *p) {
  for (int i = 0; i < p->nworkers; i++)
    if (slot(p, i)->live)
      return 0;
  return p->state == WPOOL__TERMINATED ||
         (p->state == WPOOL__CLOSED && !wpool__has_work(p));
}

/* When slot i's head job passes its time limit, or -1. */
static apr_time_t head_deadline(wpool_t *p, int i) {
  const wpool__worker_t *w = &p->workers[i];
  const pw_t *pw = slot(p, i);
  if (pw->hs != 2 || !w->count)
    return -1;
  const wpool__job_t *j = &w->fifo[w->head];
  if (!j->batch->timeout_ms)
    return -1;
  return pw->head_since +
         (apr_time_t)j->batch->timeout_ms * 1000 * (apr_time_t)j->hdr.count;
}

/* The earlier of a and b, where -1 is "never". */
static apr_time_t earlier(apr_time_t a, apr_time_t b) {
  return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

/* Milliseconds until the nearest handshake or task deadline, or -1. */
static int next_timeout(wpool_t *p) {
  apr_time_t now = apr_time_now(), first = -1;
  for (int i = 0; i < p->nworkers; i++) {
    pw_t *pw = slot(p, i);
    if (!pw->live)
      continue;
    if (pw->hs < 2)
      first = earlier(first, pw->deadline);
    first = earlier(first, head_deadline(p, i));
  }
  if (first < 0)
    return -1;
  return first <= now ? 0 : (int)((first - now) / 1000 + 1);
}

/* Kill slot i's worker when its head job passed its time limit or was
   cancelled: its held job then fails with that reason. */
static void stop_if_asked(wpool_t *p, int i, apr_time_t now) {
  wpool__worker_t *w = &p->workers[i];
  pw_t *pw = slot(p, i);
  if (pw->dead)
    return;
  apr_time_t due = head_deadline(p, i);
  if (w->kill_code) {
    pw->err_code = w->kill_code;
    snprintf(pw->err_msg, sizeof pw->err_msg,
             "was stopped because its task was cancelled");
  } else if (due >= 0 && now >= due) {
    pw->err_code = WPOOL_ETIMELIMIT;
    snprintf(pw->err_msg, sizeof pw->err_msg,
             "ran a task past its time limit of %ld ms",
             w->fifo[w->head].batch->timeout_ms);
  } else {
    return;
  }
  w->kill_code = 0;
  pw->dead = 1;
}

static int any_dead(wpool_t *p) {
  for (int i = 0; i < p->nworkers; i++)
    if (slot(p, i)->live && (slot(p, i)->dead || p->workers[i].kill_code))
      return 1;
  return 0;
}

/* How long the loop may wait: until the next deadline, or until a slot
   whose worker could not be started (fill_slots left it empty) is tried
   again; nothing else would wake the loop for that slot, and work queued
   for it would wait forever. */
static int wait_ms(wpool_t *p) {
  if (any_dead(p))
    return 0;
  int ms = next_timeout(p);
  for (int i = 0; i < p->nworkers; i++)
    if (!slot(p, i)->live && needs_worker(p))
      return ms >= 0 && ms < START_RETRY_MS ? ms : START_RETRY_MS;
  return ms;
}

static void *APR_THREAD_FUNC loop_main(apr_thread_t *t, void *arg) {
  wpool_t *p = arg;
  wpool__pp_t *pp = p->pp;
  wpool__os_block_signals();
  apr_thread_mutex_lock(p->lock);
  for (;;) {
    fill_slots(p);
    if (p->state == WPOOL__TERMINATED && !pp->killed) {
      pp->killed = 1;
      for (int i = 0; i < p->nworkers; i++)
        if (slot(p, i)->live)
          wpool__pos_kill(p, i);
    }
    feed_workers(p);
    retire_idle(p);
    if (all_gone(p))
      break;
    wpool__pos_wait(p, wait_ms(p));
    apr_time_t now = apr_time_now();
    for (int i = 0; i < p->nworkers; i++) {
      pw_t *pw = slot(p, i);
      if (!pw->live)
        continue;
      stop_if_asked(p, i, now);
      int late = pw->hs < 2 && now >= pw->deadline;
      if (pw->dead || late)
        on_death(p, &p->workers[i], late && !pw->dead);
    }
  }
  pp->loop_done = 1;
  apr_thread_cond_broadcast(p->state_cond);
  apr_thread_mutex_unlock(p->lock);
  (void)t;
  return NULL;
}

/* ---------------------------------------------------------------------- */
/* The backend contract                                                    */

static void pb_wake(wpool_t *p) {
  if (p->pp && !p->pp->loop_done)
    wpool__pos_wake(p);
}

static int pb_start(wpool_t *p, char **errmsg) {
  wpool__pp_t *pp = calloc(1, sizeof *pp);
  if (!pp)
    return WPOOL_ENOMEM;
  pp->loop_done = 1; /* until the thread runs */
  p->pp = pp;
  pp->pw = calloc((size_t)p->nworkers, sizeof *pp->pw);
  if (!pp->pw)
    return WPOOL_ENOMEM;
  /* The OS half first: a fork server must be forked before this pool has a
     thread of its own. */
  int rc = wpool__pos_init(p, errmsg);
  if (rc)
    return rc;
  apr_threadattr_t *attr;
  pp->loop_done = 0;
  if (apr_threadattr_create(&attr, p->mem) != APR_SUCCESS ||
      apr_thread_create(&pp->thread, attr, loop_main, p, p->mem) !=
          APR_SUCCESS) {
    pp->loop_done = 1;
    return WPOOL_ESYS;
  }
  apr_thread_mutex_lock(p->lock);
  while (!pp->started && !p->start_code)
    apr_thread_cond_wait(p->state_cond, p->lock);
  rc = pp->started ? 0 : p->start_code;
  if (rc && errmsg && p->start_msg)
    wpool__set_msg(errmsg, "%s", p->start_msg);
  apr_thread_mutex_unlock(p->lock);
  return rc;
}

static int pb_join(wpool_t *p) {
  wpool__pp_t *pp = p->pp;
  if (!pp)
    return 0;
  apr_thread_mutex_lock(p->lock);
  pb_wake(p);
  while (!pp->loop_done)
    apr_thread_cond_wait(p->state_cond, p->lock);
  int mine = pp->thread && !pp->thread_joined;
  pp->thread_joined = 1;
  apr_thread_mutex_unlock(p->lock);
  if (mine) {
    apr_status_t st;
    apr_thread_join(&st, pp->thread);
  }
  return 0;
}

static void pb_destroy(wpool_t *p) {
  wpool__pp_t *pp = p->pp;
  if (!pp)
    return;
  wpool__pos_free(p);
  for (int i = 0; pp->pw && i < p->nworkers; i++) {
    free(pp->pw[i].stage);
    wpool__buf_free(&pp->pw[i].ctl);
    wpool__buf_free(&pp->pw[i].tail);
  }
  free(pp->pw);
  free(pp);
  p->pp = NULL;
}

const wpool__backend_t wpool__proc_backend = {pb_start, pb_wake, pb_join,
                                              pb_destroy};
