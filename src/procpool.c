/*
 * The process backend's loop: one I/O thread per pool drives every worker's
 * channel through a channel kind (chan.h). It starts workers, hands out
 * chunks, sends what procframes.c lays out, feeds what it receives to each
 * slot's framer, notices deaths, fails the chunk a dead worker held, and
 * replaces it.
 *
 * The loop holds the pool's lock except while a channel waits, opens or
 * closes: the channel operations it calls with the lock held (send, recv,
 * want, stop) never block. The channel kind never sees the lock.
 *
 * A worker's death is a GONE event from its channel, learnt from the process
 * itself. When the loop decides a worker must go (a protocol error, end of
 * input, a time limit), it asks the channel to stop it and goes on serving
 * the others; the slot is cleared and refilled only when GONE arrives, so
 * that nothing ever waits for a process to end.
 */
#include "procframes.h"
#include "os.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEG_BATCH 128
#define EVENTS 64

/* ---------------------------------------------------------------------- */
/* Starting, failing to start, dying                                       */

/* Does the pool still need a worker in empty slot s? Not beyond its size
   (wpool_resize). */
static int needs_worker(wpool_t *p, const wpool__pslot_t *s) {
  if (p->state == WPOOL__TERMINATED || p->start_code ||
      s->w->index >= p->target)
    return 0;
  return p->state == WPOOL__RUNNING || !p->pp->started || wpool__has_work(p);
}

/* Start a worker in slot s. Starting takes a while, so the lock is released
   meanwhile; the slot is published once it is back. */
static int spawn_one(wpool_t *p, wpool__pslot_t *s, char **errmsg) {
  wpool__pp_t *pp = p->pp;
  wpool__chan_t *ch = NULL;
  long peer = 0;
  wpool__mutex_unlock(p->lock);
  int rc = pp->ops->open(pp->x, s, &ch, &peer, errmsg);
  wpool__mutex_lock(p->lock);
  if (rc)
    return rc;
  wpool__pp_slot_reset(p, s);
  s->ch = ch;
  s->peer = peer;
  s->deadline = wpool__pp_after(wpool__pp_now(), p->opt.start_timeout_ms, 1);
  wpool__worker_t *w = s->w;
  w->pid = peer;
  w->id = ++p->next_worker_id;
  w->kill_code = 0;
  w->state = WPOOL__W_STARTING;
  w->tasks_sent = 0;
  w->fifo.head = w->fifo.len = 0;
  return 0;
}

static void fill_slots(wpool_t *p) {
  for (int i = 0; i < p->pp->nslots; i++) {
    wpool__pslot_t *s = p->pp->slots[i];
    if (s->ch)
      continue;
    if (!needs_worker(p, s)) {
      s->w->state = WPOOL__W_EMPTY; /* no replacement after all */
      continue;
    }
    char *em = NULL;
    int fresh = s->fresh; /* the start resets the slot */
    int rc = spawn_one(p, s, &em);
    if (rc) {
      s->w->state = WPOOL__W_EMPTY;
      s->fresh = fresh;
      wpool__pp_start_failed(p, rc, em ? em : "could not start a worker");
    } else if (p->pp->started && !fresh) {
      p->st_replaced++;
    }
    free(em);
  }
}

/* Slot s's worker has ended (GONE) and everything it sent has been read:
   close its channel, fail what it held, and let the slot be refilled. */
static void on_death(wpool_t *p, wpool__pslot_t *s) {
  wpool__worker_t *w = s->w;
  wpool__chan_t *ch = s->ch;
  char why[160], msg[WPOOL__MSG_MAX + 256];
  wpool__mutex_unlock(p->lock);
  p->pp->ops->close(ch, why, sizeof why);
  wpool__mutex_lock(p->lock);
  s->ch = NULL;
  wpool__buf_free(&s->ctl);
  wpool__buf_free(&s->rx.tail);
  /* A slot about to be refilled counts as a worker starting from now on,
     so that whoever sees this death's failure also sees the pool whole. */
  w->state = needs_worker(p, s) ? WPOOL__W_STARTING : WPOOL__W_EMPTY;
  w->pid = 0;
  w->id = 0;
  if (s->hs < 2 && !p->pp->killed) {
    if (s->timed_out)
      snprintf(msg, sizeof msg,
               "worker did not complete the handshake within %ld ms: does "
               "main() call wpool_bootstrap(argc, argv) first?",
               p->opt.start_timeout_ms);
    else if (s->err_code)
      snprintf(msg, sizeof msg, "worker %ld %s (%s)", s->peer, s->err_msg, why);
    else
      snprintf(msg, sizeof msg, "worker %s before the handshake%s", why,
               p->method == WPOOL_SPAWN
                   ? ": does main() call wpool_bootstrap(argc, argv) first?"
                   : "");
    wpool__pp_start_failed(p, s->err_code ? s->err_code : WPOOL_ESPAWN, msg);
  } else if (s->hs == 2 && w->fifo.len) {
    if (s->err_code)
      snprintf(msg, sizeof msg, "worker %ld %s (%s)", s->peer, s->err_msg, why);
    else
      snprintf(msg, sizeof msg, "worker %ld %s", s->peer, why);
    /* Read before the slot's next worker can write the line. */
    long culprit = wpool__pp_culprit(p, s, wpool__ring_at(&w->fifo, 0));
    wpool__fail_held(p, w, s->err_code ? s->err_code : WPOOL_EWORKER, msg, 1,
                     culprit);
  }
  w->fifo.head = w->fifo.len = 0;
  wpool__cond_broadcast(p->state_cond);
}

/* ---------------------------------------------------------------------- */
/* Moving bytes                                                            */

/* Send what waits for slot s, straight from the jobs' memory. */
static void flush(wpool_t *p, wpool__pslot_t *s) {
  wpool__seg_t seg[SEG_BATCH];
  intptr_t handles[2];
  size_t n, nh;
  while ((n = wpool__pp_segments(s, seg, SEG_BATCH, handles, &nh)) > 0) {
    long wr = p->pp->ops->send(s->ch, seg, n, handles, nh);
    if (wr < 0)
      s->wbroken = 1;
    if (wr <= 0)
      return;
    wpool__pp_wrote(s, (size_t)wr);
  }
}

/* What a worker can have left in its channel when it ends is what the
   channel buffers (a pipe holds at most 1 MiB on Linux): past this, the
   bytes come from someone else (a process its task started), and reading
   them must not keep the loop from its other workers. */
#define DRAIN_MAX ((size_t)4 << 20)

/* Read what slot s's channel has into its framer; with all, until the
   channel has nothing left (its peer is gone: nothing more will come). */
static void drain(wpool_t *p, wpool__pslot_t *s, int all) {
  uint8_t *dst;
  size_t room, total = 0;
  while (!s->dead && total < DRAIN_MAX) {
    if (wpool__framer_target(&s->rx, &dst, &room)) {
      wpool__pp_protocol_error(s, s->rx.error ? s->rx.error : "refused");
      return;
    }
    long n = p->pp->ops->recv(s->ch, dst, room);
    if (n == 0)
      return;
    if (n < 0) {
      s->dead = 1; /* end of input: the worker is going, or has gone */
      return;
    }
    total += (size_t)n;
    if (wpool__framer_done(&s->rx, (size_t)n)) {
      if (s->rx.error)
        wpool__pp_protocol_error(s, s->rx.error);
      return;
    }
    if (!all && (size_t)n < room)
      return; /* drained for now: the wait says when there is more */
  }
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
    for (int i = 0; i < p->pp->nslots; i++) {
      wpool__pslot_t *s = p->pp->slots[i];
      wpool__worker_t *w = s->w;
      if (w->state != WPOOL__W_READY || w->fifo.len > level || s->dead)
        continue;
      if (!wpool__take(p, w))
        return;
      if (w->fifo.len == 1)
        s->head_since = wpool__pp_now();
      if (max && w->tasks_sent >= max) {
        w->state = WPOOL__W_RETIRING;
        s->exit_pending = 1;
      }
    }
  }
}

/* Workers beyond the pool's size (wpool_resize) take no more work: each
   exits after the tasks it holds, which it runs first (EXIT follows them
   on its channel), so that no task is lost. */
static void retire_extra(wpool_t *p) {
  for (int i = p->target; i < p->pp->nslots; i++) {
    wpool__pslot_t *s = p->pp->slots[i];
    if (s->ch && s->w->state == WPOOL__W_READY) {
      s->w->state = WPOOL__W_RETIRING;
      s->exit_pending = 1;
    }
  }
}

static void retire_idle(wpool_t *p) {
  if (p->state != WPOOL__CLOSED || wpool__has_work(p))
    return;
  for (int i = 0; i < p->pp->nslots; i++) {
    wpool__pslot_t *s = p->pp->slots[i];
    if (s->w->state == WPOOL__W_READY && s->w->fifo.len == 0) {
      s->w->state = WPOOL__W_RETIRING;
      s->exit_pending = 1;
    }
  }
}

static int all_gone(wpool_t *p) {
  for (int i = 0; i < p->pp->nslots; i++)
    if (p->pp->slots[i]->ch)
      return 0;
  return p->state == WPOOL__TERMINATED ||
         (p->state == WPOOL__CLOSED && !wpool__has_work(p));
}

/* When slot s's head job passes its time limit, or -1. */
static int64_t head_deadline(const wpool__pslot_t *s) {
  const wpool__worker_t *w = s->w;
  if (s->hs != 2 || !w->fifo.len)
    return -1;
  const wpool__job_t *j = wpool__ring_at(&w->fifo, 0);
  if (!j->batch->timeout_ms)
    return -1;
  return wpool__pp_after(s->head_since, j->batch->timeout_ms, j->hdr.count);
}

/* The earlier of a and b, where -1 is "never". */
static int64_t earlier(int64_t a, int64_t b) {
  return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

/* Milliseconds until the nearest handshake or task deadline, or -1. */
static int next_timeout(wpool_t *p) {
  int64_t now = wpool__pp_now(), first = -1;
  for (int i = 0; i < p->pp->nslots; i++) {
    const wpool__pslot_t *s = p->pp->slots[i];
    if (!s->ch || s->dead)
      continue;
    if (s->hs < 2)
      first = earlier(first, s->deadline);
    first = earlier(first, head_deadline(s));
  }
  if (first < 0)
    return -1;
  if (first <= now)
    return 0;
  int64_t ms = (first - now) / 1000000 + 1;
  return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Decide whether slot s's worker must go now: its head job passed its time
   limit or was cancelled (the held job then fails with that reason), or
   its handshake is late. */
static void judge(wpool_t *p, wpool__pslot_t *s, int64_t now) {
  wpool__worker_t *w = s->w;
  if (s->dead)
    return;
  int64_t due = head_deadline(s);
  if (s->hs < 2 && now >= s->deadline) {
    s->timed_out = 1;
  } else if (w->kill_code) {
    s->err_code = w->kill_code;
    snprintf(s->err_msg, sizeof s->err_msg,
             "was stopped because its task was cancelled");
  } else if (due >= 0 && now >= due) {
    s->err_code = WPOOL_ETIMELIMIT;
    snprintf(s->err_msg, sizeof s->err_msg,
             "ran a task past its time limit of %ld ms",
             wpool__ring_at(&w->fifo, 0)->batch->timeout_ms);
  } else {
    return;
  }
  w->kill_code = 0;
  s->dead = 1;
  (void)p;
}

/* Before waiting: send what can be sent, and say what to wait for. */
static void arm(wpool_t *p) {
  const wpool__chan_ops_t *ops = p->pp->ops;
  for (int i = 0; i < p->pp->nslots; i++) {
    wpool__pslot_t *s = p->pp->slots[i];
    if (!s->ch)
      continue;
    if (!s->dead)
      flush(p, s);
    ops->want(s->ch, (s->dead ? 0 : WPOOL__CH_READ) |
                         (wpool__pp_wants_write(s) ? WPOOL__CH_WRITE : 0));
  }
}

/* After waiting: act on what the channels reported. */
static void settle(wpool_t *p, const wpool__chan_ev_t *ev, int n) {
  for (int k = 0; k < n; k++) {
    wpool__pslot_t *s = ev[k].data;
    if (!s->ch)
      continue;
    if ((ev[k].what & WPOOL__CH_READ) && !s->dead)
      drain(p, s, 0);
    if ((ev[k].what & WPOOL__CH_WRITE) && !s->dead)
      flush(p, s);
    if (ev[k].what & WPOOL__CH_GONE)
      s->gone = 1;
  }
  int64_t now = wpool__pp_now();
  for (int i = 0; i < p->pp->nslots; i++) {
    wpool__pslot_t *s = p->pp->slots[i];
    if (!s->ch)
      continue;
    judge(p, s, now);
    if (s->gone) {
      /* The worker has ended: what it wrote before is all there, and a
         task it finished must be delivered, not blamed for its death. */
      drain(p, s, 1);
      on_death(p, s);
    } else if (s->dead && !s->stopped) {
      s->stopped = 1;
      p->pp->ops->stop(s->ch);
    }
  }
}

/* How soon a slot left empty by a failed start is tried again. */
#define START_RETRY_MS 200

/* How long the loop may wait: until the next deadline, or until a slot
   whose worker could not be started (fill_slots left it empty) is tried
   again; nothing else would wake the loop for that slot, and work queued
   for it would wait forever. */
static int wait_ms(wpool_t *p) {
  int ms = next_timeout(p);
  for (int i = 0; i < p->pp->nslots; i++)
    if (!p->pp->slots[i]->ch && needs_worker(p, p->pp->slots[i]))
      return ms >= 0 && ms < START_RETRY_MS ? ms : START_RETRY_MS;
  return ms;
}

/* The low-latency mode (spin_us): for that long after its last event the
   loop looks at its channels without sleeping, so that a result written by
   a worker is read without a wake-up across CPUs (the next task may
   have been written by its caller: send_here). A pool idle for longer
   sleeps. */
static int spinning(wpool_t *p) {
  return p->opt.spin_us && p->state == WPOOL__RUNNING && p->pp->started &&
         wpool__pp_now() - p->pp->last_event <=
             (int64_t)p->opt.spin_us * 1000;
}

static void *APR_THREAD_FUNC loop_main(apr_thread_t *t, void *arg) {
  wpool_t *p = arg;
  wpool__pp_t *pp = p->pp;
  wpool__chan_ev_t ev[EVENTS];
  wpool__os_block_signals();
  wpool__mutex_lock(p->lock);
  for (;;) {
    fill_slots(p);
    if (p->state == WPOOL__TERMINATED && !pp->killed) {
      pp->killed = 1;
      for (int i = 0; i < p->pp->nslots; i++) {
        wpool__pslot_t *s = pp->slots[i];
        if (s->ch && !s->stopped) {
          s->stopped = 1;
          pp->ops->stop(s->ch);
        }
      }
    }
    retire_extra(p);
    feed_workers(p);
    retire_idle(p);
    if (all_gone(p))
      break;
    arm(p);
    int timeout = wait_ms(p);
    int spin = spinning(p);
    if (spin)
      timeout = 0;
    wpool__mutex_unlock(p->lock);
    int n = pp->ops->wait(pp->x, timeout, ev, EVENTS);
    if (spin && n == 0)
      wpool__yield();
    wpool__mutex_lock(p->lock);
    if (n > 0 && p->opt.spin_us)
      pp->last_event = wpool__pp_now();
    settle(p, ev, n);
  }
  pp->loop_done = 1;
  wpool__cond_broadcast(p->state_cond);
  wpool__mutex_unlock(p->lock);
  (void)t;
  return NULL;
}

/* ---------------------------------------------------------------------- */
/* The backend contract                                                    */

/*
 * The caller's own send (design.md, "An apply that skips the loop"): when
 * the one thing queued is a single chunk and a worker is idle with nothing
 * left to write, the submitting thread takes the chunk and writes its frame
 * itself, under the lock, as the loop would have done after a wake-up. The
 * loop, asleep in wait(), is already watching that worker's results; it
 * learns of the job from the FIFO when the result arrives. Only for a
 * channel whose send may run on any thread while the loop waits
 * (wpool__proc_chan_any_thread), and only where nothing needs the loop to
 * re-arm: no time limit to time, no EXIT to queue, nothing left unwritten.
 * 1: sent, the loop need not wake.
 */
static int send_here(wpool_t *p) {
  wpool__pp_t *pp = p->pp;
  if (pp->ops != &wpool__proc_chan || !wpool__proc_chan_any_thread ||
      !pp->started || pp->killed || p->state != WPOOL__RUNNING ||
      p->opt.maxtasksperchild || p->retry.len)
    return 0;
  wpool__qnode_t *n = wpool__q_head(&p->queue);
  if (!n || wpool__q_next(&p->queue, n))
    return 0;
  const wpool__batch_t *b = WPOOL__QDATA(n, wpool__batch_t, node);
  if (b->nchunks != 1 || b->next_chunk != 0 || b->timeout_ms)
    return 0;
  for (int i = 0; i < pp->nslots && i < p->target; i++) {
    wpool__pslot_t *s = pp->slots[i];
    wpool__worker_t *w = s->w;
    if (!s->ch || w->state != WPOOL__W_READY || w->fifo.len || s->dead ||
        s->gone || s->wbroken || s->exit_pending ||
        wpool__pp_wants_write(s))
      continue;
    if (!wpool__take(p, w))
      return 0;
    s->head_since = wpool__pp_now();
    flush(p, s);
    /* A partial write or a broken channel: the loop must watch for room,
       or see the worker go. */
    return !wpool__pp_wants_write(s) && !s->wbroken;
  }
  return 0;
}

static void pb_wake(wpool_t *p) {
  if (p->pp && !p->pp->loop_done)
    p->pp->ops->wake(p->pp->x);
}

static void pb_queued(wpool_t *p) {
  if (p->pp && !p->pp->loop_done && !send_here(p))
    p->pp->ops->wake(p->pp->x);
}

/* Slots for workers [pp->nslots, n), each allocated on its own: a channel
   holds its slot's address. Lock held or not started yet. */
static int add_slots(wpool_t *p, int n) {
  wpool__pp_t *pp = p->pp;
  if (n <= pp->nslots)
    return 0;
  wpool__pslot_t **ss = realloc(pp->slots, (size_t)n * sizeof *ss);
  if (!ss)
    return WPOOL_ENOMEM;
  pp->slots = ss;
  for (; pp->nslots < n; pp->nslots++) {
    wpool__pslot_t *s = calloc(1, sizeof *s);
    if (!s)
      return WPOOL_ENOMEM; /* the slots made so far stay, unused */
    s->pool = p;
    s->w = p->workers[pp->nslots];
    ss[pp->nslots] = s;
  }
  return 0;
}

static int pb_resize(wpool_t *p, int n) {
  if (n > p->pp->nslots_init && !p->pp->ops->grows)
    return WPOOL_ENOTSUP;
  int rc = add_slots(p, p->nworkers);
  if (rc)
    return rc;
  /* Workers that start for the new size are not replacements. */
  for (int i = p->target; i < n; i++)
    if (!p->pp->slots[i]->ch)
      p->pp->slots[i]->fresh = 1;
  p->target = n;
  pb_wake(p);
  return 0;
}

static int pb_start(wpool_t *p, char **errmsg) {
  wpool__pp_t *pp = calloc(1, sizeof *pp);
  if (!pp)
    return WPOOL_ENOMEM;
  pp->loop_done = 1; /* until the thread runs */
  pp->ops = p->kind ? p->kind : &wpool__proc_chan;
  p->pp = pp;
  int rc = add_slots(p, p->nworkers);
  if (rc)
    return rc;
  /* The channels first: a fork server must be forked before this pool has
     a thread of its own. */
  const wpool__xport_cfg_t cfg = {p->method, p->nworkers, p->token};
  pp->nslots_init = p->nworkers;
  rc = pp->ops->init(&pp->x, &cfg, errmsg);
  if (rc)
    return rc;
  /* Made after the channels, so that a fork server never holds it. Best
     effort: without it, deaths are attributed as before. */
  if (!p->no_shm &&
      wpool__shm_os_create_named("wpool-progress",
                                 WPOOL__PROGRESS_LINES * WPOOL__PROGRESS_LINE,
                                 &pp->page_h, &pp->page))
    pp->page = NULL;
  apr_threadattr_t *attr;
  pp->loop_done = 0;
  if (apr_threadattr_create(&attr, p->mem) != APR_SUCCESS ||
      apr_thread_create(&pp->thread, attr, loop_main, p, p->mem) !=
          APR_SUCCESS) {
    pp->loop_done = 1;
    return WPOOL_ESYS;
  }
  wpool__mutex_lock(p->lock);
  while (!pp->started && !p->start_code)
    wpool__cond_wait(p->state_cond, p->lock);
  rc = pp->started ? 0 : p->start_code;
  if (rc && errmsg && p->start_msg)
    wpool__set_msg(errmsg, "%s", p->start_msg);
  wpool__mutex_unlock(p->lock);
  return rc;
}

static int pb_join(wpool_t *p) {
  wpool__pp_t *pp = p->pp;
  if (!pp)
    return 0;
  wpool__mutex_lock(p->lock);
  pb_wake(p);
  while (!pp->loop_done)
    wpool__cond_wait(p->state_cond, p->lock);
  int mine = pp->thread && !pp->thread_joined;
  pp->thread_joined = 1;
  wpool__mutex_unlock(p->lock);
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
  if (pp->x)
    pp->ops->fini(pp->x);
  if (pp->page)
    wpool__shm_os_destroy(pp->page_h, pp->page,
                          WPOOL__PROGRESS_LINES * WPOOL__PROGRESS_LINE);
  for (int i = 0; pp->slots && i < pp->nslots; i++) {
    wpool__framer_free(&pp->slots[i]->rx);
    wpool__buf_free(&pp->slots[i]->ctl);
    free(pp->slots[i]);
  }
  free(pp->slots);
  free(pp);
  p->pp = NULL;
}

const wpool__backend_t wpool__proc_backend = {
    pb_start, pb_wake, pb_join, pb_destroy, pb_resize, pb_queued};
