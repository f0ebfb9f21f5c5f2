/*
 * The core layer (see core.h): the pool's memory, its lock and conditions,
 * waits against monotonic deadlines, and the last reference's clean-up.
 */
#include "core.h"
#include "fault.h"
#include "registry.h"

#include <apr_general.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longer timeouts than this (about 292 years in nanoseconds) mean never. */
#define TIMEOUT_MAX_MS ((long long)(INT64_MAX / 1000000 / 2))

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

/* In 64 bits whatever the width of long (32 bits on Windows). */
static int64_t deadline_after(int64_t ms) {
  if (ms < 0 || ms > TIMEOUT_MAX_MS)
    return -1;
  return (int64_t)wpool__mono_ns() + ms * 1000000;
}

int64_t wpool__deadline(long timeout_ms) { return deadline_after(timeout_ms); }

int wpool__wait(wpool_t *p, wpool__cond_t *c, int64_t deadline) {
  /* In a forked child nobody would ever signal: the pool's threads were
     not copied. */
  if (p->fork_gen != wpool__fork_generation())
    return WPOOL_EFOREIGN;
  /* Only done_cond's sleepers make wpool__notify_done broadcast. */
  int shared = c == p->done_cond;
  p->waiters += shared;
  if (deadline < 0) {
    wpool__cond_wait(c, p->lock);
  } else {
    int64_t left = deadline - (int64_t)wpool__mono_ns();
    if (left <= 0) {
      p->waiters -= shared;
      return WPOOL_ETIMEDOUT;
    }
    wpool__cond_timedwait(c, p->lock, (uint64_t)left);
  }
  p->waiters -= shared;
  return 0;
}

wpool__cond_t *wpool__own_cond_get(wpool_t *p) {
  wpool__cond_t *c = NULL;
  if (p->own_n)
    return p->own_conds[--p->own_n];
  return wpool__cond_new(&c) ? NULL : c;
}

void wpool__own_cond_put(wpool_t *p, wpool__cond_t *c) {
  if (p->own_n == p->own_cap) {
    int cap = p->own_cap ? 2 * p->own_cap : 4;
    wpool__cond_t **cs = realloc(p->own_conds, (size_t)cap * sizeof *cs);
    if (!cs) {
      wpool__cond_free(c);
      return;
    }
    p->own_conds = cs;
    p->own_cap = cap;
  }
  p->own_conds[p->own_n++] = c;
}

void wpool__notify_done(wpool_t *p) {
  if (p->waiters)
    wpool__cond_broadcast(p->done_cond);
}

int wpool__check_pool(const wpool_t *p) {
  if (!p)
    return WPOOL_EINVAL;
  return p->fork_gen == wpool__fork_generation() ? 0 : WPOOL_EFOREIGN;
}

int wpool__check_call(wpool_t *p, wpool_fn fn, const wpool_call_t *call,
                      wpool__call_cfg_t *cfg) {
  int rc = wpool__check_pool(p);
  if (rc)
    return rc;
  if (!fn)
    return WPOOL_EINVAL;
  rc = wpool__registry_index(fn, &cfg->fn);
  if (rc)
    return rc;
  long t = call ? call->timeout_ms : 0;
  cfg->limit_ms = t == 0 ? p->opt.task_timeout_ms : t < 0 ? 0 : t;
  int r = call ? call->max_retries : 0;
  cfg->retries = r == 0 ? p->opt.max_retries : r < 0 ? 0 : r;
  return cfg->limit_ms && p->method == WPOOL_THREAD ? WPOOL_ENOTSUP : 0;
}

static void pool_free(wpool_t *p) {
  free(p->term_msg);
  free(p->start_msg);
  wpool__ring_free(&p->retry);
  free(p->initargs);
  wpool__buf_free(&p->argv_blob);
  if (p->workers)
    for (int i = 0; i < p->nworkers; i++)
      if (p->workers[i]) {
        wpool__ring_free(&p->workers[i]->fifo);
        free(p->workers[i]);
      }
  free(p->workers);
  for (int i = 0; i < p->own_n; i++)
    wpool__cond_free(p->own_conds[i]);
  free(p->own_conds);
  wpool__cond_free(p->done_cond);
  wpool__cond_free(p->work_cond);
  wpool__cond_free(p->state_cond);
  wpool__mutex_free(p->lock);
  if (p->mem)
    apr_pool_destroy(p->mem);
  free(p);
}

void wpool__unlock(wpool_t *p) {
  int last = p->refs == 0;
  wpool__mutex_unlock(p->lock);
  if (last)
    pool_free(p);
}

static int make_token(wpool_t *p) {
  unsigned char rnd[WPOOL__TOKEN_LEN / 2];
  if (WPOOL__FAULT() ||
      apr_generate_random_bytes(rnd, sizeof rnd) != APR_SUCCESS)
    return WPOOL_ESYS;
  for (size_t i = 0; i < sizeof rnd; i++)
    snprintf(p->token + 2 * i, 3, "%02x", rnd[i]);
  return 0;
}

/* Everything but the pool struct itself; pool_free undoes any part. */
static int core_init(wpool_t *p, const wpool_options_t *o) {
  if (WPOOL__FAULT() || apr_pool_create(&p->mem, NULL) != APR_SUCCESS) {
    p->mem = NULL;
    return WPOOL_ENOMEM;
  }
  int rc = WPOOL__FAULT() ? WPOOL_ENOMEM : wpool__mutex_new(&p->lock);
  if (!rc)
    rc = WPOOL__FAULT() ? WPOOL_ENOMEM : wpool__cond_new(&p->done_cond);
  if (!rc)
    rc = WPOOL__FAULT() ? WPOOL_ENOMEM : wpool__cond_new(&p->work_cond);
  if (!rc)
    rc = WPOOL__FAULT() ? WPOOL_ENOMEM : wpool__cond_new(&p->state_cond);
  if (rc)
    return rc;
  if (o->initargs_len) {
    p->initargs = WPOOL__FAULT() ? NULL : malloc(o->initargs_len);
    if (!p->initargs)
      return WPOOL_ENOMEM;
    memcpy(p->initargs, o->initargs, o->initargs_len);
  }
  p->opt.initargs = p->initargs;
  if ((rc = make_token(p)) != 0)
    return rc;
  int n = p->nworkers;
  p->nworkers = 0;
  return WPOOL__FAULT() ? WPOOL_ENOMEM : wpool__core_grow(p, n);
}

int wpool__core_grow(wpool_t *p, int n) {
  if (n <= p->nworkers)
    return 0;
  wpool__worker_t **ws = realloc(p->workers, (size_t)n * sizeof *ws);
  if (!ws)
    return WPOOL_ENOMEM;
  p->workers = ws;
  /* A process worker holds up to 256 jobs (see the depth in sched.c); a
     thread runs one at a time. */
  size_t cap = p->method == WPOOL_THREAD ? 1 : 256;
  int i = p->nworkers;
  for (; i < n; i++) {
    wpool__worker_t *w = calloc(1, sizeof *w);
    if (!w || WPOOL__FAULT() || wpool__ring_init(&w->fifo, cap)) {
      free(w);
      break;
    }
    w->index = i;
    ws[i] = w;
  }
  if (i < n) {
    while (i-- > p->nworkers) {
      wpool__ring_free(&ws[i]->fifo);
      free(ws[i]);
    }
    return WPOOL_ENOMEM;
  }
  p->nworkers = n;
  return 0;
}

int wpool__core_new(wpool_t **out, const wpool_options_t *o, int method,
                    int nworkers) {
  wpool_t *p = WPOOL__FAULT() ? NULL : calloc(1, sizeof *p);
  if (!p)
    return WPOOL_ENOMEM;
  p->opt = *o;
  p->opt.initargs = NULL;
  p->refs = 1;
  p->term_code = WPOOL_ETERMINATED;
  p->method = method;
  p->nworkers = nworkers;
  p->target = nworkers;
  p->fork_gen = wpool__fork_generation();
  wpool__q_init(&p->queue);
  wpool__q_init(&p->cb_queue);
  int rc = core_init(p, o);
  if (rc) {
    pool_free(p);
    return rc;
  }
  *out = p;
  return 0;
}
