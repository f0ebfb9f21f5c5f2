/*
 * Thread workers, portable on APR threads. They take chunks from the same
 * scheduler as process workers (wpool__take) and report through the same
 * completion path (wpool__complete), with the RESULT payload built by the
 * same runner; only the transport is missing.
 *
 * maxtasksperchild replaces a thread by a new one: the retiring thread starts
 * its successor and exits, and the successor joins it, so that no handle is
 * left behind however many replacements happen. Each thread lives in its own
 * unmanaged APR pool, destroyed by whoever joins it.
 */
#include "os.h"
#include "pool.h"
#include "registry.h"
#include "run.h"
#include "worker.h"

#include <apr_atomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct tslot {
  apr_thread_t *thread;
  apr_pool_t *mem;
} tslot_t;

typedef struct tstate {
  tslot_t *slots; /* nslots; a slot keeps the handle of its last thread
                     until a successor or tb_join joins it */
  int nslots;
  int alive;
  int joined;
  int started; /* tb_start has returned: later workers are replacements */
  /* Idle workers wait here, and only they: a single new task can then
     wake a single worker (signal), not every idle worker and the feeders
     that wait on work_cond. */
  wpool__cond_t *idle;
  /* Bumped at every wake-up (lock held): what a worker that spins before
     sleeping (spin_us) looks at without the lock. */
  volatile apr_uint32_t kicks;
} tstate_t;

typedef struct targ {
  wpool_t *pool;
  wpool__worker_t *w;
  apr_thread_t *prev;
  apr_pool_t *prev_mem;
} targ_t;

static void *APR_THREAD_FUNC thread_main(apr_thread_t *t, void *arg);

/* Start the thread of worker w, to follow prev (lock held). */
static int spawn_thread(wpool_t *p, wpool__worker_t *w, apr_thread_t *prev,
                        apr_pool_t *prev_mem) {
  tstate_t *ts = p->be_state;
  apr_pool_t *mem;
  if (apr_pool_create_unmanaged_ex(&mem, NULL, NULL) != APR_SUCCESS)
    return WPOOL_ENOMEM;
  targ_t *a = apr_palloc(mem, sizeof *a);
  a->pool = p;
  a->w = w;
  a->prev = prev;
  a->prev_mem = prev_mem;
  apr_threadattr_t *attr;
  apr_thread_t *t;
  if (apr_threadattr_create(&attr, mem) != APR_SUCCESS ||
      apr_thread_create(&t, attr, thread_main, a, mem) != APR_SUCCESS) {
    apr_pool_destroy(mem);
    return WPOOL_ESYS;
  }
  ts->slots[w->index].thread = t;
  ts->slots[w->index].mem = mem;
  ts->alive++;
  w->state = WPOOL__W_STARTING;
  w->pid = wpool__os_getpid();
  w->id = ++p->next_worker_id;
  w->thread_id = 0; /* the thread sets it as it starts */
  w->tasks_sent = 0;
  return 0;
}

static int run_initializer(wpool_t *p, char *msg, size_t cap) {
  if (p->init_fn == WPOOL__NO_FN)
    return 0;
  int task_code;
  return wpool__run_init(p->opt.initializer, p->opt.initargs,
                         p->opt.initargs_len, &task_code, msg, cap);
}

/* Run the head job of w with the lock released; returns with it held. */
static void run_job(wpool_t *p, wpool__worker_t *w, wpool__buf_t *tail) {
  wpool__job_t *j = wpool__ring_at(&w->fifo, 0);
  wpool__chunk_in_t in = {wpool__registry_at(j->hdr.fn), j->hdr.count,
                          j->hdr.isize, j->hdr.osize, j->payload, j->plen,
                          wpool__output_limit(p, 1), NULL, NULL, NULL,
                          (j->hdr.flags & WPOOL__FL_WHOLE) != 0, NULL};
  /* A map's chunk writes straight into the caller's array: the scheduler
     does not report the map until this chunk is back. A shared buffer's
     items and outputs are the caller's own mapping here: a thread needs
     no descriptor. */
  uint8_t *fixed = j->hdr.osize ? wpool__job_out(j) : NULL;
  wpool__frame_t task = j->hdr;
  wpool__mutex_unlock(p->lock);
  wpool__chunk_out_t out = {fixed, tail, 0, 0, 0};
  uint64_t start = wpool__mono_ns();
  int rc = wpool__run_chunk(&in, &out);
  out.nanos = wpool__mono_ns() - start;
  /* The same rule as a process worker's (worker.c). */
  if (rc == 0 && out.bytes > in.max_frame)
    rc = wpool__chunk_too_big(&out, task.count, in.max_frame);
  wpool__frame_t f;
  wpool__result_frame(&f, &task, out.nfail, out.nanos);
  wpool__mutex_lock(p->lock);
  if (rc) {
    wpool__buf_free(tail);
    wpool__fail_held(p, w, rc, "could not run the chunk (out of memory)", 0,
                     -1);
  } else {
    p->defer_wake = 1;
    wpool__complete(p, w, &f, tail);
    p->defer_wake = 0;
  }
  *tail = (wpool__buf_t){0};
}

/* The waiter of the result just completed, left for this worker to wake
   once it has released the lock (core.h, defer_wake); NULL when none. */
static wpool__cond_t *take_waiter(wpool_t *p) {
  wpool__cond_t *c = p->wake_after;
  p->wake_after = NULL;
  return c;
}

/* The low-latency mode: before it sleeps, an idle worker looks (lock
   released, yielding between looks) for spin_us or until the backend is
   woken. It then takes again under the lock: a wake-up meanwhile signalled
   nobody, since this worker did not count as idle. */
static void spin_for_work(wpool_t *p, tstate_t *ts) {
  apr_uint32_t seen = apr_atomic_read32(&ts->kicks);
  uint64_t end = wpool__mono_ns() + (uint64_t)p->opt.spin_us * 1000;
  wpool__mutex_unlock(p->lock);
  while (apr_atomic_read32(&ts->kicks) == seen && wpool__mono_ns() < end)
    wpool__yield();
  wpool__mutex_lock(p->lock);
}

static void *APR_THREAD_FUNC thread_main(apr_thread_t *t, void *arg) {
  targ_t *a = arg;
  wpool_t *p = a->pool;
  wpool__worker_t *w = a->w;
  tstate_t *ts = p->be_state;
  wpool__os_block_signals();
  if (a->prev) {
    apr_status_t st;
    apr_thread_join(&st, a->prev);
    apr_pool_destroy(a->prev_mem);
  }
  char msg[WPOOL__MSG_MAX];
  uint64_t tid = wpool__os_thread_id();
  int init_rc = run_initializer(p, msg, sizeof msg);
  wpool__mutex_lock(p->lock);
  w->thread_id = tid;
  if (init_rc) {
    if (!p->start_code && !ts->started) {
      p->start_code = init_rc;
      wpool__set_msg(&p->start_msg, "initializer failed: %s", msg);
    } else {
      wpool__break(p, WPOOL_ESPAWN, "initializer failed in a new worker");
    }
    goto out;
  }
  w->state = WPOOL__W_READY;
  p->ready_count++;
  wpool__cond_broadcast(p->state_cond);
  wpool__buf_t tail = {0};
  int spun = 0; /* spun since the last task: sleep the next time */
  for (;;) {
    /* Beyond the pool's size (wpool_resize): go, after the task run last.
       The slot keeps this thread's handle for whoever joins it. */
    if (p->state == WPOOL__TERMINATED || w->index >= p->target)
      break;
    if (!wpool__take(p, w)) {
      if (p->state == WPOOL__CLOSED && !wpool__has_work(p))
        break;
      if (p->opt.spin_us && !spun && p->state == WPOOL__RUNNING) {
        spun = 1;
        spin_for_work(p, ts);
        continue;
      }
      p->idle++;
      wpool__cond_wait(ts->idle, p->lock);
      p->idle--;
      continue;
    }
    spun = 0;
    run_job(p, w, &tail);
    /* The waiter wakes only after the successor below has started, so that
       whoever sees a last task's result also sees its worker replaced. */
    wpool__cond_t *waiter = take_waiter(p);
    if (p->opt.maxtasksperchild && w->tasks_sent >= p->opt.maxtasksperchild &&
        p->state != WPOOL__TERMINATED && w->index < p->target) {
      p->st_replaced++;
      tslot_t me = ts->slots[w->index];
      ts->alive--;
      if (spawn_thread(p, w, me.thread, me.mem) == 0) {
        wpool__cond_broadcast(p->state_cond);
        wpool__mutex_unlock(p->lock);
        if (waiter)
          wpool__cond_signal(waiter);
        (void)t;
        return NULL;
      }
      ts->alive++;
      wpool__break(p, WPOOL_ESPAWN, "could not start a replacement thread");
      if (waiter)
        wpool__cond_signal(waiter);
      break;
    }
    if (waiter) {
      wpool__mutex_unlock(p->lock);
      wpool__cond_signal(waiter);
      wpool__mutex_lock(p->lock);
    }
  }
  wpool__buf_free(&tail);
out:
  w->state = WPOOL__W_EMPTY;
  ts->alive--;
  wpool__cond_broadcast(p->state_cond);
  wpool__cond_broadcast(p->work_cond);
  wpool__cond_broadcast(ts->idle); /* after the last task of a closed pool */
  wpool__mutex_unlock(p->lock);
  (void)t;
  return NULL;
}

static int tb_start(wpool_t *p, char **errmsg) {
  tstate_t *ts = calloc(1, sizeof *ts);
  if (!ts)
    return WPOOL_ENOMEM;
  ts->slots = calloc((size_t)p->nworkers, sizeof *ts->slots);
  if (!ts->slots) {
    free(ts);
    return WPOOL_ENOMEM;
  }
  ts->nslots = p->nworkers;
  if (wpool__cond_new(&ts->idle)) {
    free(ts->slots);
    free(ts);
    return WPOOL_ENOMEM;
  }
  p->be_state = ts;
  int rc = 0;
  wpool__mutex_lock(p->lock);
  for (int i = 0; i < p->nworkers && rc == 0; i++)
    rc = spawn_thread(p, p->workers[i], NULL, NULL);
  if (rc == 0) {
    while (p->ready_count < p->nworkers && !p->start_code)
      wpool__cond_wait(p->state_cond, p->lock);
    rc = p->start_code;
  }
  if (rc && errmsg && p->start_msg)
    wpool__set_msg(errmsg, "%s", p->start_msg);
  ts->started = 1;
  wpool__mutex_unlock(p->lock);
  return rc;
}

/* Grow: a slot whose thread is still running (retiring after a shrink)
   keeps it, as it now sees it is within the size again; an empty slot
   gets a new thread, which joins the slot's last one. Shrink: threads
   beyond the size see it when they wake or finish their task. */
static int tb_resize(wpool_t *p, int n) {
  tstate_t *ts = p->be_state;
  if (p->nworkers > ts->nslots) {
    tslot_t *ss = realloc(ts->slots, (size_t)p->nworkers * sizeof *ss);
    if (!ss)
      return WPOOL_ENOMEM;
    memset(ss + ts->nslots, 0,
           (size_t)(p->nworkers - ts->nslots) * sizeof *ss);
    ts->slots = ss;
    ts->nslots = p->nworkers;
  }
  int old = p->target;
  p->target = n;
  for (int i = old; i < n; i++) {
    wpool__worker_t *w = p->workers[i];
    if (w->state != WPOOL__W_EMPTY)
      continue;
    tslot_t prev = ts->slots[i];
    int rc = spawn_thread(p, w, prev.thread, prev.mem);
    if (rc) {
      /* The slots that have no thread stay beyond the size. */
      p->target = i > old ? i : old;
      wpool__cond_broadcast(p->work_cond);
      wpool__cond_broadcast(ts->idle);
      return rc;
    }
  }
  wpool__cond_broadcast(p->work_cond);
  wpool__cond_broadcast(ts->idle);
  return 0;
}

static void tb_wake(wpool_t *p) {
  tstate_t *ts = p->be_state;
  if (ts)
    apr_atomic_inc32(&ts->kicks);
  /* Feeders waiting for room in their window are woken as before. */
  if (p->idle || p->state != WPOOL__RUNNING)
    wpool__cond_broadcast(p->work_cond);
  if (!ts || !p->idle) {
    if (ts && p->state != WPOOL__RUNNING)
      wpool__cond_broadcast(ts->idle);
    return;
  }
  /* One queued item (an apply) needs one worker: waking them all would
     have the others wake, find nothing and sleep again, on the CPUs that
     the caller and the chosen worker need. A signal wakes a worker still
     asleep, so two applies in a row wake two. */
  if (p->state == WPOOL__RUNNING && p->st_queued <= 1)
    wpool__cond_signal(ts->idle);
  else
    wpool__cond_broadcast(ts->idle);
}

static int tb_join(wpool_t *p) {
  tstate_t *ts = p->be_state;
  if (!ts)
    return 0;
  wpool__mutex_lock(p->lock);
  wpool__cond_broadcast(p->work_cond);
  wpool__cond_broadcast(ts->idle);
  while (ts->alive)
    wpool__cond_wait(p->state_cond, p->lock);
  int first = !ts->joined;
  ts->joined = 1;
  wpool__mutex_unlock(p->lock);
  if (!first)
    return 0;
  for (int i = 0; i < ts->nslots; i++) {
    if (!ts->slots[i].thread)
      continue;
    apr_status_t st;
    apr_thread_join(&st, ts->slots[i].thread);
    apr_pool_destroy(ts->slots[i].mem);
    ts->slots[i].thread = NULL;
  }
  return 0;
}

static void tb_destroy(wpool_t *p) {
  tstate_t *ts = p->be_state;
  if (!ts)
    return;
  wpool__cond_free(ts->idle);
  free(ts->slots);
  free(ts);
  p->be_state = NULL;
}

const wpool__backend_t wpool__thread_backend = {
    tb_start, tb_wake, tb_join, tb_destroy, tb_resize, NULL};
