/* See callbacks.h. */
#include "callbacks.h"
#include "os.h"

static void cb_main(void *arg) {
  wpool_t *p = arg;
  wpool__os_block_signals();
  wpool__mutex_lock(p->lock);
  /* Taken here, by the thread itself: apr_os_thread_get() hands out the
     wrong type on Windows (the handle where a pointer to it belongs). */
  p->cb_os_thread = apr_os_thread_current();
  p->cb_alive = 1;
  wpool__cond_broadcast(p->state_cond);
  for (;;) {
    while (wpool__q_empty(&p->cb_queue) && !p->cb_stop)
      wpool__cond_wait(p->state_cond, p->lock);
    wpool__qnode_t *n = wpool__q_head(&p->cb_queue);
    if (!n)
      break;
    wpool__q_remove(n);
    wpool__cb_t *cb = WPOOL__QDATA(n, wpool__cb_t, node);
    p->cb_running = 1;
    wpool__mutex_unlock(p->lock);
    cb->run(cb);
    wpool__mutex_lock(p->lock);
    p->cb_running = 0;
    cb->done(p, cb);
    wpool__cond_broadcast(p->state_cond);
  }
  void (*finish)(wpool_t *) = p->cb_finish;
  wpool__thread_t *me = p->cb_thread;
  p->cb_exited = 1;
  wpool__cond_broadcast(p->state_cond);
  wpool__mutex_unlock(p->lock);
  /* Nobody joins this thread when it finishes a destroy itself. */
  if (finish) {
    wpool__thread_detach_self(me);
    finish(p);
  }
}

int wpool__callbacks_start(wpool_t *p) {
  p->cb_started = 1;
  /* Published before the thread can read it (it takes the lock first). */
  wpool__mutex_lock(p->lock);
  int rc = wpool__thread_start(&p->cb_thread, cb_main, p);
  wpool__mutex_unlock(p->lock);
  if (rc) {
    p->cb_started = 0;
    return rc;
  }
  /* Running before wpool_create returns: the thread knows its own id (for
     wpool__in_callback), and nothing of its start is still in flight when
     the program forks (a forked child would count it as lost memory). */
  wpool__mutex_lock(p->lock);
  while (!p->cb_alive)
    wpool__cond_wait(p->state_cond, p->lock);
  wpool__mutex_unlock(p->lock);
  return 0;
}

void wpool__callbacks_queue(wpool_t *p, wpool__cb_t *cb) {
  wpool__q_insert_tail(&p->cb_queue, &cb->node);
  wpool__cond_broadcast(p->state_cond);
}

int wpool__callbacks_stop(wpool_t *p, void (*finish)(wpool_t *p)) {
  if (!p->cb_started)
    return 0;
  int self = wpool__in_callback(p);
  wpool__mutex_lock(p->lock);
  p->cb_stop = 1;
  wpool__cond_broadcast(p->state_cond);
  if (self) {
    p->cb_finish = finish;
    wpool__mutex_unlock(p->lock);
    return 1;
  }
  wpool__mutex_unlock(p->lock);
  /* Joined, not only waited for: no thread of the pool is left when
     wpool_destroy returns (a program may fork right after). */
  wpool__thread_join(p->cb_thread);
  p->cb_thread = NULL;
  return 0;
}

int wpool__in_callback(wpool_t *p) {
  /* Under the lock: the callback thread sets cb_os_thread as it starts.
     A callback runs without the lock held, so this cannot deadlock. */
  wpool__mutex_lock(p->lock);
  int in = p->cb_started && !p->cb_exited &&
           apr_os_thread_equal(p->cb_os_thread, apr_os_thread_current());
  wpool__mutex_unlock(p->lock);
  return in;
}
