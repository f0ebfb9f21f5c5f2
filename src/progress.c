/* See progress.h. */
#include "progress.h"
#include "callbacks.h"

#include <string.h>

static void run(wpool__cb_t *cb);
static void done(wpool_t *p, wpool__cb_t *cb);

void wpool__progress_init(wpool__progress_t *pr, wpool_t *p,
                          void (*settled)(wpool_t *, wpool__progress_t *)) {
  memset(pr, 0, sizeof *pr);
  pr->pool = p;
  pr->settled = settled;
  pr->cb.run = run;
  pr->cb.done = done;
}

/* Is a report due for what pr holds now? */
static int due(const wpool__progress_t *pr) {
  if (!pr->fn || pr->final)
    return 0;
  if (pr->total != SIZE_MAX && pr->done >= pr->total)
    return 1; /* the last one is always told */
  if (pr->done < pr->told + pr->every)
    return 0;
  return !pr->every_ns || wpool__mono_ns() - pr->told_ns >= pr->every_ns;
}

static void queue_if_due(wpool__progress_t *pr) {
  /* A callback thread that has ended (the pool was destroyed; results
     outlive it) would never run the entry, and its owner would wait. */
  if (pr->queued || pr->pool->cb_exited || !due(pr))
    return;
  pr->queued = 1;
  wpool__callbacks_queue(pr->pool, &pr->cb);
}

int wpool__progress_set(wpool__progress_t *pr, const wpool_progress_t *cfg,
                        size_t done, size_t total) {
  if (cfg && cfg->every_ms < 0)
    return WPOOL_EINVAL;
  pr->fn = cfg ? cfg->fn : NULL;
  if (!pr->fn)
    return 0;
  pr->user = cfg->user;
  pr->every = cfg->every_items ? cfg->every_items : 1;
  pr->every_ns = (uint64_t)cfg->every_ms * 1000000u;
  pr->told = 0;
  pr->told_ns = wpool__mono_ns();
  pr->final = 0;
  wpool__progress_note(pr, done, total);
  return 0;
}

void wpool__progress_note(wpool__progress_t *pr, size_t done, size_t total) {
  /* A queued report says the latest: the gap since the last one only
     grows, so the throttle still holds. */
  pr->done = done;
  pr->total = total;
  queue_if_due(pr);
}

/* Take what the next report says, if anything new (lock held). */
static int take(wpool__progress_t *pr, size_t *d, size_t *t) {
  int last = pr->total != SIZE_MAX && pr->done >= pr->total;
  if (!pr->fn || pr->final || (!last && pr->done == pr->told))
    return 0; /* nothing new (the last report always is: total is known) */
  *d = pr->done;
  *t = pr->total;
  pr->told = pr->done;
  pr->told_ns = wpool__mono_ns();
  pr->final = last;
  pr->running = 1;
  return 1;
}

static void call(wpool__progress_t *pr, wpool_progress_fn fn, void *user,
                 size_t d, size_t t) {
  fn(d, t, user);
  wpool__mutex_lock(pr->pool->lock);
  pr->running = 0;
  wpool__cond_broadcast(pr->pool->state_cond);
  wpool__mutex_unlock(pr->pool->lock);
}

static void run(wpool__cb_t *cb) {
  wpool__progress_t *pr = WPOOL__QDATA(cb, wpool__progress_t, cb);
  size_t d = 0, t = 0;
  wpool__mutex_lock(pr->pool->lock);
  int go = take(pr, &d, &t);
  wpool_progress_fn fn = pr->fn;
  void *user = pr->user;
  wpool__mutex_unlock(pr->pool->lock);
  if (go)
    call(pr, fn, user, d, t);
}

static void done(wpool_t *p, wpool__cb_t *cb) {
  wpool__progress_t *pr = WPOOL__QDATA(cb, wpool__progress_t, cb);
  pr->queued = 0;
  queue_if_due(pr); /* what came in while the report ran */
  if (!pr->queued)
    pr->settled(p, pr);
}

void wpool__progress_flush(wpool__progress_t *pr) {
  size_t d = 0, t = 0;
  wpool__mutex_lock(pr->pool->lock);
  int go = pr->total != SIZE_MAX && pr->done >= pr->total && take(pr, &d, &t);
  wpool_progress_fn fn = pr->fn;
  void *user = pr->user;
  wpool__mutex_unlock(pr->pool->lock);
  if (go)
    call(pr, fn, user, d, t);
}

void wpool__progress_stop(wpool__progress_t *pr, int in_callback) {
  /* The last report of finished work is owed: a program that frees its
     handle once the work is done expects its bar complete. The callback
     thread cannot wait for a report it would run itself. */
  while (!in_callback && pr->fn && !pr->final && pr->queued &&
         pr->total != SIZE_MAX && pr->done >= pr->total)
    wpool__cond_wait(pr->pool->state_cond, pr->pool->lock);
  pr->fn = NULL;
  while (pr->running && !in_callback)
    wpool__cond_wait(pr->pool->state_cond, pr->pool->lock);
}

int wpool__progress_idle(const wpool__progress_t *pr) { return !pr->queued; }
