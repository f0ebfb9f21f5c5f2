/*
 * The scheduler: which chunk goes to which worker, and what becomes of a
 * chunk when its worker answers or dies. It knows batches only through
 * their operations table (core.h), and workers only through their FIFOs;
 * backends drive it, and clients (results, iterators) are reached only
 * through the table. Every call is made with the lock held.
 */
#ifndef WPOOL_SCHEDULER_H
#define WPOOL_SCHEDULER_H

#include "core.h"

/* Queue b (it has chunks to send) and wake the backend. */
void wpool__enqueue(wpool_t *p, wpool__batch_t *b);
/* A producer's batch b has count more items to send. */
void wpool__batch_grew(wpool_t *p, wpool__batch_t *b, size_t count);
/* Take b out of the queue, if it is there. */
void wpool__dequeue(wpool_t *p, wpool__batch_t *b);

/* Give worker w its next chunk; 0 when there is none to give now. */
int wpool__take(wpool_t *p, wpool__worker_t *w);
/* How many chunks a process worker should hold at once. */
size_t wpool__depth(wpool_t *p);
/* The head job of w returned: RESULT header f and its tail (whose buffer
   the scheduler takes over). */
void wpool__complete(wpool_t *p, wpool__worker_t *w, const wpool__frame_t *f,
                     wpool__buf_t *tail);
/* Item index (in the chunk) of w's head job printed len bytes. */
void wpool__output(wpool_t *p, wpool__worker_t *w, uint32_t index,
                   const uint8_t *data, size_t len);
/* Fail the head job of w with code and msg (a chunk of several items runs
   again in parts or an item at a time, when the failure is its worker's
   death or time limit); the others are run again elsewhere when
   requeue_rest, else they fail too. culprit: the index in the head job of
   the item that was running, when the backend knows it (a process
   worker's progress line), else -1; the items around it then run again
   as two parts, and it alone fails (or is retried). */
void wpool__fail_held(wpool_t *p, wpool__worker_t *w, int code, const char *msg,
                      int requeue_rest, long culprit);

/*
 * Drop batch b's work: what is not sent fails with code and msg (through
 * its abort operation); held jobs are marked cancelled (their results are
 * discarded) and fail with code now, except where a worker may still write
 * into the caller's memory. With stop_running, a process worker running
 * one of its jobs is killed (kill_code = code).
 */
void wpool__drop_batch(wpool_t *p, wpool__batch_t *b, int code,
                       const char *msg, int stop_running);
/* Is there work that still needs a worker? */
int wpool__has_work(wpool_t *p);
/* Index of job j's first item in its batch's input. */
size_t wpool__job_first_item(const wpool__job_t *j);
/* Where job j's fixed outputs go, or NULL when they are not the caller's
   (var outputs, or a cancelled job whose outputs are discarded). */
uint8_t *wpool__job_out(const wpool__job_t *j);
/* Release b if it is neither queued nor held. */
void wpool__batch_release(wpool_t *p, wpool__batch_t *b);

/* A payload operation for batches whose input is one array: fixed items
   cut in chunks, or (isize 0) a single var record. */
void wpool__array_payload(wpool__batch_t *b, size_t k, const uint8_t **data,
                          size_t *len, uint32_t *count);

/*
 * Stop the pool: every pending chunk fails with code and msg, workers are
 * told to go, waiters wake. For terminate, and for a pool whose workers
 * cannot be kept alive.
 */
void wpool__break(wpool_t *p, int code, const char *msg);

#endif
