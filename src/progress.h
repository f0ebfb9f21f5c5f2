/*
 * Throttled progress reports of a result or an iterator, run on the
 * callback thread (callbacks.h). The owner embeds one, tells it how far its
 * work has come on every delivery, and asks it before freeing itself
 * whether a report is still queued. It knows nothing of its owner but the
 * settled() hook, called when a queued report has run.
 */
#ifndef WPOOL_PROGRESS_H
#define WPOOL_PROGRESS_H

#include "core.h"

typedef struct wpool__progress {
  wpool__cb_t cb;
  wpool_t *pool;
  wpool_progress_fn fn; /* NULL: no reports (never set, or stopped) */
  void *user;
  size_t every;       /* items between reports, at least 1 */
  uint64_t every_ns;  /* time between reports */
  size_t done, total; /* what the queued report will say */
  size_t told;        /* done, as the last report said it */
  uint64_t told_ns;
  int queued;  /* cb is queued or running */
  int running; /* fn is being called */
  int final;   /* done == total has been told */
  /* The owner: a queued report has run (lock held; may free the owner). */
  void (*settled)(wpool_t *p, struct wpool__progress *pr);
} wpool__progress_t;

/* Set up pr for pool p with the owner's hook (once, before use). */
void wpool__progress_init(wpool__progress_t *pr, wpool_t *p,
                          void (*settled)(wpool_t *, wpool__progress_t *));
/* Start reporting with cfg (NULL, or a NULL fn, stops); done and total as
   now. 0 or WPOOL_EINVAL. Lock held. */
int wpool__progress_set(wpool__progress_t *pr, const wpool_progress_t *cfg,
                        size_t done, size_t total);
/* The owner's work came to done of total items (lock held): queue a report
   when one is due. total SIZE_MAX: not known yet. */
void wpool__progress_note(wpool__progress_t *pr, size_t done, size_t total);
/* Tell the final report now, on the callback thread, before the owner's
   own callback runs (lock not held). */
void wpool__progress_flush(wpool__progress_t *pr);
/* No report starts after this returns, and none is running unless the
   caller is the callback thread itself; the last report of finished work
   is waited for first (lock held; it is released while waiting). */
void wpool__progress_stop(wpool__progress_t *pr, int in_callback);
/* May the owner be freed? (No report queued.) */
int wpool__progress_idle(const wpool__progress_t *pr);

#endif
