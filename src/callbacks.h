/*
 * The callback thread: runs queued work (wpool__cb_t) one item at a time,
 * in the order it was queued, never on a thread that reads worker results,
 * so a slow callback delays only the callbacks behind it. It knows nothing
 * of results: each entry brings its own run and done functions.
 */
#ifndef WPOOL_CALLBACKS_H
#define WPOOL_CALLBACKS_H

#include "core.h"

/* Start the thread: 0 or WPOOL_ESYS / WPOOL_ENOMEM. */
int wpool__callbacks_start(wpool_t *p);
/* Queue cb (lock held). */
void wpool__callbacks_queue(wpool_t *p, wpool__cb_t *cb);
/*
 * Let the thread drain its queue and end, and wait for it (lock not held);
 * then return 0. Called on the callback thread itself (wpool_destroy in a
 * callback), it cannot wait for itself: it returns 1 at once, and the
 * thread calls finish(p) once the running callback has returned and the
 * queue is drained, as its last act. The caller then does no more.
 */
int wpool__callbacks_stop(wpool_t *p, void (*finish)(wpool_t *p));
/* Is the calling thread p's callback thread? */
int wpool__in_callback(wpool_t *p);

#endif
