/*
 * wpool_interrupt(): a stop that a signal handler may ask for. The handler
 * only sets a flag and posts a wake-up (both async-signal-safe); a thread
 * of the pool's own, which does nothing else, wakes and terminates the
 * pool with the lock held, as wpool_terminate would.
 */
#ifndef WPOOL_INTERRUPT_H
#define WPOOL_INTERRUPT_H

#include "core.h"

/* Start the pool's interrupt thread; returns once it runs (lock not held).
   0 or WPOOL_ENOMEM / WPOOL_ESYS. */
int wpool__interrupt_start(wpool_t *p);
/* End and join it, if it was started (lock not held). */
void wpool__interrupt_stop(wpool_t *p);
/* Did an interrupt terminate the pool? (lock held) */
int wpool__interrupted(const wpool_t *p);

#endif
