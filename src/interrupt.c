/* See interrupt.h. */
#include "interrupt.h"
#include "os.h"
#include "scheduler.h"


static void intr_main(void *arg) {
  wpool_t *p = arg;
  wpool__os_block_signals();
  wpool__mutex_lock(p->lock);
  p->intr_alive = 1;
  wpool__cond_broadcast(p->state_cond);
  while (!p->intr_quit) {
    wpool__mutex_unlock(p->lock);
    wpool__sigwake_wait(p->intr_wake);
    wpool__mutex_lock(p->lock);
    if (p->intr_flag) {
      p->intr_flag = 0;
      if (p->state != WPOOL__TERMINATED)
        p->intr_done = 1;
      wpool__break(p, WPOOL_ETERMINATED,
                   "the pool was interrupted (wpool_interrupt)");
    }
  }
  wpool__mutex_unlock(p->lock);
}

int wpool__interrupt_start(wpool_t *p) {
  int rc = wpool__sigwake_new(&p->intr_wake);
  if (rc)
    return rc;
  wpool__mutex_lock(p->lock);
  rc = wpool__thread_start(&p->intr_thread, intr_main, p);
  if (rc) {
    p->intr_thread = NULL;
    wpool__mutex_unlock(p->lock);
    return rc;
  }
  /* Running before wpool_create returns, as the callback thread: nothing
     of its start is in flight if the program forks right after. */
  while (!p->intr_alive)
    wpool__cond_wait(p->state_cond, p->lock);
  wpool__mutex_unlock(p->lock);
  return 0;
}

void wpool__interrupt_stop(wpool_t *p) {
  if (p->intr_thread) {
    wpool__mutex_lock(p->lock);
    p->intr_quit = 1;
    wpool__mutex_unlock(p->lock);
    wpool__sigwake_post(p->intr_wake);
    wpool__thread_join(p->intr_thread);
    p->intr_thread = NULL;
  }
  wpool__sigwake_free(p->intr_wake);
  p->intr_wake = NULL;
}

int wpool__interrupted(const wpool_t *p) { return p->intr_done; }

int wpool_interrupt(wpool_t *p) {
  /* Async-signal-safe: reads of fields fixed at creation, a store to a
     sig_atomic_t and a write to a pipe; no lock, no allocation. The
     thread that reads the flag does so after the wake-up, which orders
     the two. */
  int rc = wpool__check_pool(p);
  if (rc)
    return rc;
  p->intr_flag = 1;
  wpool__sigwake_post(p->intr_wake);
  return 0;
}
