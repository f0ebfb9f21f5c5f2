/*
 * Creating, closing, terminating, joining and destroying pools: the top of
 * the core, which starts and stops the layers below (the backend through
 * its table, the callback thread, the scheduler).
 */
#include "argv.h"
#include "shm.h"
#include "callbacks.h"
#include "chan.h"
#include "fault.h"
#include "interrupt.h"
#include "os.h"
#include "registry.h"
#include "scheduler.h"

#include <apr_general.h>

#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_FRAME ((size_t)64 << 20)
#define DEFAULT_START_TIMEOUT_MS 10000L
/* The frame header's length field is 32 bits. */
#define LIMIT_MAX_FRAME ((size_t)UINT32_MAX - 4096)
/* wpool_options_t.spin_us: a second of spinning is already far past use. */
#define SPIN_MAX_US 1000000L

extern const int wpool__default_method;

static void global_init(void) {
  apr_initialize();
  wpool__registry_freeze();
}

void wpool_options_init(wpool_options_t *o) {
  if (o)
    memset(o, 0, sizeof *o);
}

int wpool_bootstrap(int argc, char **argv) {
  if (argc < 0 || (argc > 0 && !argv))
    return WPOOL_EINVAL;
  int rc = wpool__os_bootstrap(argc, argv);
  /* Not a worker (a worker never returns): this is the program's own
     command line, for wpool_argv() here and in every worker. */
  if (rc == 0)
    wpool__argv_record(argc, argv);
  return rc;
}

static int check_options(const wpool_options_t *o, char **errmsg) {
  if (o->processes < 0 || o->maxtasksperchild < 0 || o->start_timeout_ms < 0 ||
      o->task_timeout_ms < 0 || o->max_retries < 0 || o->spin_us < 0 ||
      o->spin_us > SPIN_MAX_US ||
      o->method < WPOOL_DEFAULT || o->method > WPOOL_THREAD ||
      o->max_frame > LIMIT_MAX_FRAME || (o->initargs_len && !o->initargs)) {
    wpool__set_msg(errmsg, "invalid pool options");
    return WPOOL_EINVAL;
  }
  return 0;
}

static int create(wpool_t **pool, const wpool_options_t *opts,
                  const wpool_chan_ops_t *kind, char **errmsg) {
  if (errmsg)
    *errmsg = NULL;
  if (!pool)
    return WPOOL_EINVAL;
  *pool = NULL;
  wpool_options_t o;
  wpool_options_init(&o);
  if (opts)
    o = *opts;
  int rc = check_options(&o, errmsg);
  if (rc)
    return rc;
  if (kind && o.method == WPOOL_THREAD) {
    wpool__set_msg(errmsg, "a channel kind needs process workers, not "
                           "threads");
    return WPOOL_EINVAL;
  }
  if (o.capture_output &&
      (o.method == WPOOL_THREAD || !wpool__os_can_capture())) {
    wpool__set_msg(errmsg, "%s", o.method == WPOOL_THREAD
                                     ? "thread workers share the process's "
                                       "standard streams: capture_output "
                                       "needs process workers"
                                     : "capture_output is not supported on "
                                       "this platform");
    return WPOOL_ENOTSUP;
  }
  if (o.task_timeout_ms && o.method == WPOOL_THREAD) {
    wpool__set_msg(errmsg, "thread workers cannot be stopped: a task time "
                           "limit needs process workers");
    return WPOOL_ENOTSUP;
  }
  wpool__os_once(global_init);
  if (wpool__os_spawned_without_hook()) {
    /* Creating a pool here would spawn workers that do the same: a storm. */
    wpool__set_msg(errmsg, "this process was started as a wpool worker but "
                           "main() did not call wpool_bootstrap() first");
    return WPOOL_ENOHOOK;
  }
  if (o.initializer && wpool__registry_index(o.initializer, &(uint32_t){0})) {
    wpool__set_msg(errmsg, "the initializer is not a registered function");
    return WPOOL_ENOFUNC;
  }
  /* The command line as it is now, for the INIT of every process worker
     (wpool_argv); a frame's length is 32 bits. */
  wpool__buf_t argv_blob = {0};
  uint32_t argc = 0;
  rc = wpool__argv_encode(&argv_blob, &argc);
  if (rc == 0 &&
      argv_blob.len + o.initargs_len > UINT32_MAX - WPOOL__TOKEN_LEN)
    rc = WPOOL_E2BIG;
  if (rc) {
    wpool__buf_free(&argv_blob);
    wpool__set_msg(errmsg, "%s", rc == WPOOL_ENOMEM
                                     ? "out of memory"
                                     : "the command line and the "
                                       "initializer argument exceed 4 GiB");
    return rc;
  }
  wpool__fault_arm();
  wpool_t *p = NULL;
  int method = o.method == WPOOL_DEFAULT ? wpool__default_method
                                         : (int)o.method;
  rc = wpool__core_new(&p, &o, method,
                       o.processes ? o.processes : wpool__os_ncpu());
  if (rc) {
    wpool__buf_free(&argv_blob);
    wpool__set_msg(errmsg, "%s", wpool_strerror(rc));
    return rc;
  }
  p->argv_blob = argv_blob;
  p->argc = argc;
  p->max_frame = o.max_frame ? o.max_frame : DEFAULT_MAX_FRAME;
  if (!p->opt.start_timeout_ms)
    p->opt.start_timeout_ms = DEFAULT_START_TIMEOUT_MS;
  p->be = method == WPOOL_THREAD ? &wpool__thread_backend
                                 : &wpool__proc_backend;
  p->kind = kind;
  p->no_shm = kind && !kind->shares_memory;
  if (kind && kind->ahead_us > 0)
    p->ahead_ns = (uint64_t)kind->ahead_us * 1000;
  p->init_fn = WPOOL__NO_FN;
  if (o.initializer)
    wpool__registry_index(o.initializer, &p->init_fn);
  /* The backend first: a fork server must be forked before this pool has
     any thread of its own. */
  rc = WPOOL__FAULT() ? WPOOL_ESYS : p->be->start(p, errmsg);
  if (rc == 0)
    rc = WPOOL__FAULT() ? WPOOL_ESYS : wpool__callbacks_start(p);
  if (rc == 0)
    rc = WPOOL__FAULT() ? WPOOL_ESYS : wpool__interrupt_start(p);
  if (rc) {
    if (errmsg && !*errmsg)
      wpool__set_msg(errmsg, "%s", wpool_strerror(rc));
    wpool_destroy(p);
    return rc;
  }
  *pool = p;
  return 0;
}

int wpool_create(wpool_t **pool, const wpool_options_t *opts, char **errmsg) {
  return create(pool, opts, NULL, errmsg);
}

int wpool_create_with(wpool_t **pool, const wpool_options_t *opts,
                      const wpool_chan_ops_t *kind, char **errmsg) {
  if (!kind) {
    if (errmsg)
      *errmsg = NULL;
    if (pool)
      *pool = NULL;
    return WPOOL_EINVAL;
  }
  return create(pool, opts, kind, errmsg);
}

const wpool_chan_ops_t *wpool_process_channel(void) {
  /* A transport's serving end may use it without ever creating a pool. */
  wpool__os_once(global_init);
  return &wpool__proc_chan;
}

uint64_t wpool_registry_fingerprint(uint32_t *count) {
  wpool__os_once(global_init);
  if (count)
    *count = wpool__registry_count();
  return wpool__registry_hash();
}

int wpool_close(wpool_t *p) {
  int rc = wpool__check_pool(p);
  if (rc)
    return rc;
  wpool__mutex_lock(p->lock);
  if (p->state == WPOOL__RUNNING) {
    p->state = WPOOL__CLOSED;
    p->be->wake(p);
  }
  wpool__mutex_unlock(p->lock);
  return 0;
}

int wpool_terminate(wpool_t *p) {
  int rc = wpool__check_pool(p);
  if (rc)
    return rc;
  wpool__mutex_lock(p->lock);
  wpool__break(p, WPOOL_ETERMINATED, "the pool was terminated");
  wpool__mutex_unlock(p->lock);
  return 0;
}

int wpool_join(wpool_t *p) {
  int rc = wpool__check_pool(p);
  if (rc)
    return rc;
  if (wpool__in_callback(p))
    return WPOOL_EDEADLK;
  wpool__mutex_lock(p->lock);
  int state = p->state;
  wpool__mutex_unlock(p->lock);
  if (state == WPOOL__RUNNING)
    return WPOOL_ESTATE;
  rc = p->be->join(p);
  wpool__mutex_lock(p->lock);
  while (!wpool__q_empty(&p->cb_queue) || p->cb_running)
    wpool__cond_wait(p->state_cond, p->lock);
  p->joined = 1;
  /* The work it waited for was cut short (wpool_interrupt). */
  if (rc == 0 && wpool__interrupted(p))
    rc = WPOOL_ETERMINATED;
  wpool__mutex_unlock(p->lock);
  return rc;
}

/* The end of wpool_destroy, once the callback thread is gone: on the
   caller's thread, or on the callback thread itself when a callback
   destroyed the pool. */
static void finish_destroy(wpool_t *p) {
  p->be->destroy(p);
  wpool__mutex_lock(p->lock);
  p->destroyed = 1;
  /* Results may outlive the pool; its spare buffer need not. */
  wpool_shm_t *spare = p->shm_spare;
  p->shm_spare = NULL;
  wpool__mutex_unlock(p->lock);
  wpool__shm_unref(spare);
  wpool__mutex_lock(p->lock);
  p->refs--;
  wpool__unlock(p);
}

void wpool_destroy(wpool_t *p) {
  /* In a forked child the pool's threads do not exist: nothing can be
     stopped or joined, and its memory is the child's copy of the parent's.
     It is left alone. */
  if (wpool__check_pool(p))
    return;
  wpool__mutex_lock(p->lock);
  if (!p->joined)
    wpool__break(p, WPOOL_ETERMINATED, "the pool was terminated");
  wpool__mutex_unlock(p->lock);
  wpool__interrupt_stop(p);
  p->be->join(p);
  if (wpool__callbacks_stop(p, finish_destroy) == 0)
    finish_destroy(p);
}

int wpool_resize(wpool_t *p, int n) {
  int rc = wpool__check_pool(p);
  if (rc)
    return rc;
  if (n <= 0)
    return WPOOL_EINVAL;
  wpool__mutex_lock(p->lock);
  if (p->state != WPOOL__RUNNING)
    rc = WPOOL_ESTATE;
  else if (n != p->target) {
    rc = wpool__core_grow(p, n);
    if (rc == 0)
      rc = p->be->resize(p, n);
  }
  wpool__mutex_unlock(p->lock);
  return rc;
}

int wpool_stats(wpool_t *p, wpool_stats_t *st, long *pids, size_t pids_cap) {
  int rc = wpool__check_pool(p);
  if (rc)
    return rc;
  if (!st || (!pids && pids_cap))
    return WPOOL_EINVAL;
  wpool__mutex_lock(p->lock);
  memset(st, 0, sizeof *st);
  size_t n = 0;
  for (int i = 0; i < p->nworkers; i++) {
    const wpool__worker_t *w = p->workers[i];
    if (w->state == WPOOL__W_EMPTY || w->state == WPOOL__W_DEAD)
      continue;
    st->workers++;
    if (w->index >= p->target)
      st->retiring++;
    if (pids && n < pids_cap)
      pids[n++] = w->pid;
  }
  st->tasks_queued = p->st_queued;
  st->tasks_running = p->st_running;
  st->tasks_done = p->st_done;
  st->workers_replaced = p->st_replaced;
  st->tasks_rerun = p->st_rerun;
  st->size = p->target;
  wpool__mutex_unlock(p->lock);
  return 0;
}

int wpool_workers(wpool_t *p, wpool_worker_info_t *info, size_t cap,
                  size_t *count) {
  int rc = wpool__check_pool(p);
  if (rc)
    return rc;
  if (!info && cap)
    return WPOOL_EINVAL;
  wpool__mutex_lock(p->lock);
  size_t n = 0;
  for (int i = 0; i < p->nworkers; i++) {
    const wpool__worker_t *w = p->workers[i];
    if (w->state == WPOOL__W_EMPTY || w->state == WPOOL__W_DEAD)
      continue;
    if (n < cap)
      info[n] = (wpool_worker_info_t){w->id, w->pid, w->thread_id};
    n++;
  }
  wpool__mutex_unlock(p->lock);
  if (count)
    *count = n;
  return 0;
}
