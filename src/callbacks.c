/*
 * User callbacks run here, on one thread per pool, never on the thread that
 * reads worker results: a slow callback delays only the callbacks behind it,
 * and results keep reaching wpool_result_get() and iterators meanwhile.
 */
#include "pool.h"

static void *APR_THREAD_FUNC cb_main(apr_thread_t *t, void *arg) {
  wpool_t *p = arg;
  apr_thread_mutex_lock(p->lock);
  /* Taken here, by the thread itself: apr_os_thread_get() hands out the
     wrong type on Windows (the handle where a pointer to it belongs). */
  p->cb_os_thread = apr_os_thread_current();
  for (;;) {
    while (!p->cb_head && !p->cb_stop)
      apr_thread_cond_wait(p->state_cond, p->lock);
    wpool_result_t *r = p->cb_head;
    if (!r)
      break;
    p->cb_head = r->cb_next;
    if (!p->cb_head)
      p->cb_tail = NULL;
    p->cb_running = 1;
    wpool_callback cb = r->code == 0 ? r->on_success : r->on_error;
    apr_thread_mutex_unlock(p->lock);
    if (cb)
      cb(r, r->user);
    apr_thread_mutex_lock(p->lock);
    p->cb_running = 0;
    r->pending_ref = 0;
    wpool__result_maybe_free(p, r);
    apr_thread_cond_broadcast(p->state_cond);
  }
  apr_thread_mutex_unlock(p->lock);
  (void)t;
  return NULL;
}

int wpool__callbacks_start(wpool_t *p) {
  apr_threadattr_t *attr;
  if (apr_threadattr_create(&attr, p->mem) != APR_SUCCESS ||
      apr_thread_create(&p->cb_thread, attr, cb_main, p, p->mem) !=
          APR_SUCCESS)
    return WPOOL_ESYS;
  return 0;
}

void wpool__callbacks_queue(wpool_t *p, wpool_result_t *r) {
  r->cb_next = NULL;
  if (p->cb_tail)
    p->cb_tail->cb_next = r;
  else
    p->cb_head = r;
  p->cb_tail = r;
  apr_thread_cond_broadcast(p->state_cond);
}

void wpool__callbacks_stop(wpool_t *p) {
  if (!p->cb_thread)
    return;
  apr_thread_mutex_lock(p->lock);
  p->cb_stop = 1;
  apr_thread_cond_broadcast(p->state_cond);
  apr_thread_mutex_unlock(p->lock);
  apr_status_t st;
  apr_thread_join(&st, p->cb_thread);
  p->cb_thread = NULL;
}

int wpool__in_callback(wpool_t *p) {
  /* Under the lock: the callback thread sets cb_os_thread as it starts.
     A callback runs without the lock held, so this cannot deadlock. */
  apr_thread_mutex_lock(p->lock);
  int in = p->cb_thread &&
           apr_os_thread_equal(p->cb_os_thread, apr_os_thread_current());
  apr_thread_mutex_unlock(p->lock);
  return in;
}
