/* Creating, closing, terminating, joining and destroying pools. */
#include "pool.h"
#include "os.h"
#include "registry.h"

#include <apr_general.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_FRAME ((size_t)64 << 20)
#define DEFAULT_START_TIMEOUT_MS 10000L
/* The frame header's length field is 32 bits. */
#define LIMIT_MAX_FRAME ((size_t)UINT32_MAX - 4096)

extern const int wpool__default_method;

void wpool__set_msg(char **dst, const char *fmt, ...) {
  if (!dst)
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  *dst = n < 0 ? NULL : malloc((size_t)n + 1);
  if (*dst) {
    va_start(ap, fmt);
    vsnprintf(*dst, (size_t)n + 1, fmt, ap);
    va_end(ap);
  }
}

apr_time_t wpool__deadline(long timeout_ms) {
  if (timeout_ms < 0)
    return -1;
  return apr_time_now() + (apr_time_t)timeout_ms * 1000;
}

int wpool__wait(wpool_t *p, apr_thread_cond_t *c, apr_time_t deadline) {
  p->waiters++;
  if (deadline < 0) {
    apr_thread_cond_wait(c, p->lock);
  } else {
    apr_time_t left = deadline - apr_time_now();
    if (left <= 0) {
      p->waiters--;
      return WPOOL_ETIMEDOUT;
    }
    apr_thread_cond_timedwait(c, p->lock, left);
  }
  p->waiters--;
  /* The caller re-checks its condition; a spurious wake-up just loops. */
  return 0;
}

void wpool__notify_done(wpool_t *p) {
  if (p->waiters)
    apr_thread_cond_broadcast(p->done_cond);
}

static void pool_free(wpool_t *p) {
  free(p->term_msg);
  free(p->start_msg);
  free(p->retry);
  free(p->initargs);
  if (p->workers)
    for (int i = 0; i < p->nworkers; i++)
      free(p->workers[i].fifo);
  free(p->workers);
  apr_pool_destroy(p->mem);
  free(p);
}

void wpool__unlock(wpool_t *p) {
  int last = p->refs == 0;
  apr_thread_mutex_unlock(p->lock);
  if (last)
    pool_free(p);
}

int wpool__submit_check(wpool_t *p, wpool_fn fn, uint32_t *index) {
  if (!p || !fn)
    return WPOOL_EINVAL;
  return wpool__registry_index(fn, index);
}

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

static int pool_new(wpool_t **out, const wpool_options_t *o) {
  wpool_t *p = calloc(1, sizeof *p);
  if (!p)
    return WPOOL_ENOMEM;
  p->opt = *o;
  p->refs = 1;
  p->term_code = WPOOL_ETERMINATED;
  p->method = o->method == WPOOL_DEFAULT ? wpool__default_method : (int)o->method;
  p->nworkers = o->processes ? o->processes : wpool__os_ncpu();
  p->max_frame = o->max_frame ? o->max_frame : DEFAULT_MAX_FRAME;
  if (!p->opt.start_timeout_ms)
    p->opt.start_timeout_ms = DEFAULT_START_TIMEOUT_MS;
  p->be = p->method == WPOOL_THREAD ? &wpool__thread_backend
                                    : &wpool__proc_backend;
  *out = p;
  if (apr_pool_create(&p->mem, NULL) != APR_SUCCESS) {
    free(p);
    return WPOOL_ENOMEM;
  }
  if (apr_thread_mutex_create(&p->lock, APR_THREAD_MUTEX_DEFAULT, p->mem) ||
      apr_thread_cond_create(&p->done_cond, p->mem) ||
      apr_thread_cond_create(&p->work_cond, p->mem) ||
      apr_thread_cond_create(&p->state_cond, p->mem))
    return WPOOL_ESYS;
  if (o->initargs_len) {
    p->initargs = malloc(o->initargs_len);
    if (!p->initargs)
      return WPOOL_ENOMEM;
    memcpy(p->initargs, o->initargs, o->initargs_len);
  }
  p->opt.initargs = p->initargs;
  unsigned char rnd[WPOOL__TOKEN_LEN / 2];
  if (apr_generate_random_bytes(rnd, sizeof rnd) != APR_SUCCESS)
    return WPOOL_ESYS;
  for (size_t i = 0; i < sizeof rnd; i++)
    snprintf(p->token + 2 * i, 3, "%02x", rnd[i]);
  p->workers = calloc((size_t)p->nworkers, sizeof *p->workers);
  if (!p->workers)
    return WPOOL_ENOMEM;
  size_t cap = p->method == WPOOL_THREAD ? 1 : 256;
  for (int i = 0; i < p->nworkers; i++) {
    p->workers[i].index = i;
    p->workers[i].fifo_cap = cap;
    p->workers[i].fifo = calloc(cap, sizeof *p->workers[i].fifo);
    if (!p->workers[i].fifo)
      return WPOOL_ENOMEM;
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
  wpool_t *p = NULL;
  rc = pool_new(&p, &o);
  if (rc == 0 && o.initializer)
    wpool__registry_index(o.initializer, &p->init_fn);
  else if (p)
    p->init_fn = WPOOL__NO_FN;
  /* The backend first: a fork server must be forked before this pool has
     any thread of its own. */
  if (rc == 0)
    rc = p->be->start(p, errmsg);
  if (rc == 0)
    rc = wpool__callbacks_start(p);
  if (rc) {
    if (errmsg && !*errmsg)
      wpool__set_msg(errmsg, "%s", wpool_strerror(rc));
    if (p && p->mem)
      wpool_destroy(p);
    else
      free(p);
    return rc;
  }
  *pool = p;
  return 0;
}

int wpool_close(wpool_t *p) {
  if (!p)
    return WPOOL_EINVAL;
  apr_thread_mutex_lock(p->lock);
  if (p->state == WPOOL__RUNNING) {
    p->state = WPOOL__CLOSED;
    p->be->wake(p);
  }
  apr_thread_mutex_unlock(p->lock);
  return 0;
}

/* Stop the pool with code and msg as the reason pending work fails. */
static void stop_all(wpool_t *p, int code, const char *msg) {
  if (p->state == WPOOL__TERMINATED)
    return;
  p->state = WPOOL__TERMINATED;
  p->term_code = code;
  free(p->term_msg);
  p->term_msg = NULL;
  wpool__set_msg(&p->term_msg, "%s", msg);
  wpool__fail_all(p, code, p->term_msg);
  wpool__notify_done(p);
  apr_thread_cond_broadcast(p->work_cond);
  p->be->wake(p);
}

int wpool_terminate(wpool_t *p) {
  if (!p)
    return WPOOL_EINVAL;
  apr_thread_mutex_lock(p->lock);
  stop_all(p, WPOOL_ETERMINATED, "the pool was terminated");
  apr_thread_mutex_unlock(p->lock);
  return 0;
}

int wpool_join(wpool_t *p) {
  if (!p)
    return WPOOL_EINVAL;
  if (wpool__in_callback(p))
    return WPOOL_EDEADLK;
  apr_thread_mutex_lock(p->lock);
  int state = p->state;
  apr_thread_mutex_unlock(p->lock);
  if (state == WPOOL__RUNNING)
    return WPOOL_ESTATE;
  int rc = p->be->join(p);
  apr_thread_mutex_lock(p->lock);
  while (p->cb_head || p->cb_running)
    apr_thread_cond_wait(p->state_cond, p->lock);
  p->joined = 1;
  apr_thread_mutex_unlock(p->lock);
  return rc;
}

void wpool_destroy(wpool_t *p) {
  if (!p)
    return;
  apr_thread_mutex_lock(p->lock);
  if (!p->joined)
    stop_all(p, WPOOL_ETERMINATED, "the pool was terminated");
  apr_thread_mutex_unlock(p->lock);
  p->be->join(p);
  wpool__callbacks_stop(p);
  p->be->destroy(p);
  apr_thread_mutex_lock(p->lock);
  p->destroyed = 1;
  p->refs--;
  wpool__unlock(p);
}

int wpool_stats(wpool_t *p, wpool_stats_t *st, long *pids, size_t pids_cap) {
  if (!p || !st || (!pids && pids_cap))
    return WPOOL_EINVAL;
  apr_thread_mutex_lock(p->lock);
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
  apr_thread_mutex_unlock(p->lock);
  return 0;
}

/* Used by backends when workers cannot be kept alive (see loop.c). */
void wpool__break(wpool_t *p, int code, const char *msg) {
  stop_all(p, code, msg);
}
