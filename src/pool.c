/*
 * Creating, closing, terminating, joining and destroying pools: the top of
 * the core, which starts and stops the layers below (the backend through
 * its table, the callback thread, the scheduler).
 */
#include "shm.h"
#include "callbacks.h"
#include "fault.h"
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
  return wpool__os_bootstrap(argc, argv);
}

static int check_options(const wpool_options_t *o, char **errmsg) {
  if (o->processes < 0 || o->maxtasksperchild < 0 || o->start_timeout_ms < 0 ||
      o->task_timeout_ms < 0 ||
      o->method < WPOOL_DEFAULT || o->method > WPOOL_THREAD ||
      o->max_frame > LIMIT_MAX_FRAME || (o->initargs_len && !o->initargs)) {
    wpool__set_msg(errmsg, "invalid pool options");
    return WPOOL_EINVAL;
  }
  return 0;
}

int wpool_create(wpool_t **pool, const wpool_options_t *opts, char **errmsg) {
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
  wpool__fault_arm();
  wpool_t *p = NULL;
  int method = o.method == WPOOL_DEFAULT ? wpool__default_method
                                         : (int)o.method;
  rc = wpool__core_new(&p, &o, method,
                       o.processes ? o.processes : wpool__os_ncpu());
  if (rc) {
    wpool__set_msg(errmsg, "%s", wpool_strerror(rc));
    return rc;
  }
  p->max_frame = o.max_frame ? o.max_frame : DEFAULT_MAX_FRAME;
  if (!p->opt.start_timeout_ms)
    p->opt.start_timeout_ms = DEFAULT_START_TIMEOUT_MS;
  p->be = method == WPOOL_THREAD ? &wpool__thread_backend
                                 : &wpool__proc_backend;
  p->init_fn = WPOOL__NO_FN;
  if (o.initializer)
    wpool__registry_index(o.initializer, &p->init_fn);
  /* The backend first: a fork server must be forked before this pool has
     any thread of its own. */
  rc = WPOOL__FAULT() ? WPOOL_ESYS : p->be->start(p, errmsg);
  if (rc == 0)
    rc = WPOOL__FAULT() ? WPOOL_ESYS : wpool__callbacks_start(p);
  if (rc) {
    if (errmsg && !*errmsg)
      wpool__set_msg(errmsg, "%s", wpool_strerror(rc));
    wpool_destroy(p);
    return rc;
  }
  *pool = p;
  return 0;
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
  p->be->join(p);
  if (wpool__callbacks_stop(p, finish_destroy) == 0)
    finish_destroy(p);
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
    const wpool__worker_t *w = &p->workers[i];
    if (w->state == WPOOL__W_EMPTY || w->state == WPOOL__W_DEAD)
      continue;
    st->workers++;
    if (pids && n < pids_cap)
      pids[n++] = w->pid;
  }
  st->tasks_queued = p->st_queued;
  st->tasks_running = p->st_running;
  st->tasks_done = p->st_done;
  st->workers_replaced = p->st_replaced;
  wpool__mutex_unlock(p->lock);
  return 0;
}
