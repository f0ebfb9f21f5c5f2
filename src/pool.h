/*
 * The pool's shared state. One mutex (pool->lock) guards everything here;
 * the lock order is pool->lock before nothing: no code holds it while it
 * calls user code, blocks on I/O, or takes another lock.
 *
 * Work is a queue of batches. A batch is one submission (apply, map or imap)
 * split into chunks; a chunk is the unit a worker runs and the unit of
 * attribution: every chunk sent to a worker sits in that worker's in-flight
 * FIFO until its result comes back, so a dead worker fails exactly the chunk
 * at the head of its FIFO. Nothing is allocated per chunk: a job (batch,
 * chunk index) lives in the worker's FIFO slot.
 *
 * The pool's threads end by returning from their function, never with
 * apr_thread_exit(): that is pthread_exit(), which unwinds without clearing
 * AddressSanitizer's stack poison and makes every sanitizer run report it.
 */
#ifndef WPOOL_POOL_H
#define WPOOL_POOL_H

#include "buf.h"
#include "proto.h"
#include "wpool.h"

#include <apr_pools.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_portable.h>
#include <apr_thread_proc.h>

typedef struct wpool__batch wpool__batch_t;
typedef struct wpool__worker wpool__worker_t;
typedef struct wpool__feeder wpool__feeder_t;
typedef struct wpool__pp wpool__pp_t;

enum wpool__kind { WPOOL__APPLY, WPOOL__MAP, WPOOL__IMAP };
enum wpool__state { WPOOL__RUNNING, WPOOL__CLOSED, WPOOL__TERMINATED };

struct wpool__batch {
  wpool__batch_t *next; /* in the pool's queue */
  int kind;
  int queued;
  uint32_t fn;
  uint32_t isize; /* 0: var input records */
  uint32_t osize; /* 0: var output records */
  const uint8_t *items; /* fixed array, or apply's one var record */
  size_t items_len;
  size_t n;         /* items; a producer's grows as it produces */
  size_t chunksize;
  size_t nchunks;   /* SIZE_MAX while a producer may still produce */
  size_t next_chunk; /* next never-sent chunk */
  size_t accounted;  /* result batches: items finished or failed */
  size_t inflight;   /* chunks held by workers: pins the batch's memory */
  uint8_t *out;      /* map: the caller's output array */
  long timeout_ms;   /* time limit of one item; 0 = none */
  wpool_result_t *result;
  wpool_iter_t *iter;
  wpool__feeder_t *feeder;
};

/* One chunk held by a worker. */
typedef struct wpool__job {
  wpool__batch_t *batch;
  size_t chunk;
  /* Items [first, first + nitems) of the chunk; nitems 0 = the whole chunk.
     A map chunk whose worker died is re-run an item at a time. */
  uint32_t first, nitems;
  uint64_t seq;
  int cancelled; /* terminated or dropped: its result is discarded */
  wpool__frame_t hdr;
  const uint8_t *payload;
  size_t plen;
} wpool__job_t;

enum wpool__wstate {
  WPOOL__W_EMPTY,    /* no worker in this slot */
  WPOOL__W_STARTING, /* started, handshake not done */
  WPOOL__W_READY,    /* takes work */
  WPOOL__W_RETIRING, /* sent its last task (maxtasksperchild) or EXIT */
  WPOOL__W_DEAD      /* gone, not yet reaped/replaced */
};

struct wpool__worker {
  int index;
  int state;
  long pid;
  long tasks_sent;
  int kill_code; /* a process worker to be killed for its head job: why */
  wpool__job_t *fifo; /* ring of fifo_cap */
  size_t fifo_cap, head, count;
  void *be; /* the backend's own state */
};

typedef struct wpool__backend {
  /* Start the workers; return when all are ready or one failed. */
  int (*start)(wpool_t *p, char **errmsg);
  /* New work, a state change or an exit request: lock held. */
  void (*wake)(wpool_t *p);
  /* Wait until every worker has exited; lock not held. */
  int (*join)(wpool_t *p);
  /* Release backend resources after join; lock not held. */
  void (*destroy)(wpool_t *p);
} wpool__backend_t;

struct wpool {
  apr_pool_t *mem;
  apr_thread_mutex_t *lock;
  apr_thread_cond_t *done_cond;  /* a result or iterator advanced */
  apr_thread_cond_t *work_cond;  /* thread workers and feeders wait here */
  apr_thread_cond_t *state_cond; /* start-up, callbacks drained, join */
  int refs;                      /* the handle + live results and iterators */
  int waiters;                   /* threads waiting on done_cond */
  int state;
  int term_code; /* why pending work fails after terminate */
  char *term_msg;
  int joined, destroyed;
  int method;
  int nworkers;
  wpool_options_t opt;
  uint32_t init_fn;
  uint8_t *initargs;
  /* A secret of this pool that spawned workers must be given twice, in
     their environment and in INIT, so that worker mode cannot be entered
     from a command line alone. */
  char token[WPOOL__TOKEN_LEN + 1];
  uint64_t max_frame;

  wpool__batch_t *qhead, *qtail;
  wpool__job_t *retry; /* chunks given back by dead workers: run first */
  size_t retry_len, retry_cap;
  uint64_t next_seq;
  uint64_t ewma_ns; /* running estimate of a chunk's run time */

  wpool__worker_t *workers;
  const wpool__backend_t *be;
  void *be_state;     /* the OS half's own state */
  wpool__pp_t *pp;    /* process workers: the portable I/O state */

  /* Callbacks run on their own thread, in completion order. */
  wpool_result_t *cb_head, *cb_tail;
  int cb_running, cb_stop;
  apr_thread_t *cb_thread;
  apr_os_thread_t cb_os_thread;

  /* Counters for wpool_stats (items). */
  size_t st_queued, st_running, st_done, st_replaced;

  /* Start-up: workers ready so far, or the first failure. */
  int ready_count;
  int start_code;
  char *start_msg;
  int idle; /* thread workers waiting for work */
};

struct wpool_result {
  wpool_t *pool;
  int user_ref;    /* the caller holds the handle */
  int cancelled;
  int pending_ref; /* not ready yet, or callbacks not yet run */
  int ready;
  int code, task_code;
  char *msg;
  size_t fail_index; /* map: lowest failing item so far */
  wpool__buf_t tail; /* apply: the record holding the output */
  const uint8_t *data;
  size_t len;
  wpool_callback on_success, on_error;
  void *user;
  wpool_result_t *cb_next;
  wpool__batch_t batch;
};

/* pool.c */
/* Unlock; the thread that dropped the last reference frees the pool. */
void wpool__unlock(wpool_t *p);
int wpool__wait(wpool_t *p, apr_thread_cond_t *c, apr_time_t deadline);
apr_time_t wpool__deadline(long timeout_ms);
int wpool__submit_check(wpool_t *p, wpool_fn fn, uint32_t *index);
void wpool__notify_done(wpool_t *p);

/* sched.c: all with the lock held. */
void wpool__enqueue(wpool_t *p, wpool__batch_t *b);
void wpool__dequeue(wpool_t *p, wpool__batch_t *b);
/* Give worker w its next chunk; 0 when there is none to give now. */
int wpool__take(wpool_t *p, wpool__worker_t *w);
/* How many chunks a process worker should hold at once. */
size_t wpool__depth(wpool_t *p);
/* The head job of w returned: RESULT header f and its tail (whose buffer
   the scheduler takes over). */
void wpool__complete(wpool_t *p, wpool__worker_t *w, const wpool__frame_t *f,
                     wpool__buf_t *tail);
/* Fail the head job of w (or every job, with requeue_rest == 0), requeue
   the others. */
void wpool__fail_held(wpool_t *p, wpool__worker_t *w, int code,
                      const char *msg, int requeue_rest);

/* Cancel batch b: drop what is not running, stop what is (see
   wpool_result_cancel). */
void wpool__cancel_batch(wpool_t *p, wpool__batch_t *b);
/* Fail all queued and held work with code and msg (terminate, broken). */
void wpool__fail_all(wpool_t *p, int code, const char *msg);
/* Is there work that still needs a worker? */
int wpool__has_work(wpool_t *p);
/* Chunk k of b: payload and item count. */
void wpool__chunk_payload(wpool__batch_t *b, size_t k, const uint8_t **data,
                          size_t *len, uint32_t *count);
/* Index of job j's first item in its batch's input. */
size_t wpool__job_first_item(const wpool__job_t *j);
/* A batch's memory may go once it is no longer queued nor held. */
void wpool__batch_release(wpool_t *p, wpool__batch_t *b);

/* result.c */
/* Items [first, first + count) of r's input finished (f and tail) or
   failed as a whole (code and msg). */
void wpool__result_items(wpool_t *p, wpool_result_t *r, size_t first,
                         size_t count, const wpool__frame_t *f,
                         wpool__buf_t *tail, int code, const char *msg);
void wpool__result_maybe_free(wpool_t *p, wpool_result_t *r);

/* iter.c */
void wpool__iter_chunk(wpool_t *p, wpool_iter_t *it, size_t k,
                       const wpool__frame_t *f, wpool__buf_t *tail, int code,
                       const char *msg);
int wpool__iter_may_send(wpool_iter_t *it, size_t k);
size_t wpool__iter_window(wpool_iter_t *it);
/* The producer ended; msg is NULL at a clean end, else why it failed. */
void wpool__iter_producer_end(wpool_t *p, wpool_iter_t *it, const char *msg);
void wpool__iter_maybe_free(wpool_t *p, wpool_iter_t *it);

/* callbacks.c */
int wpool__callbacks_start(wpool_t *p);
void wpool__callbacks_queue(wpool_t *p, wpool_result_t *r);
void wpool__callbacks_stop(wpool_t *p); /* lock not held */
int wpool__in_callback(wpool_t *p);

/* feeder.c */
int wpool__feeder_start(wpool_t *p, wpool_iter_t *it, wpool__batch_t *b,
                        wpool_producer prod, void *user);
/* The producer's chunk k is available (or the input ended before it). */
int wpool__feeder_has(wpool__feeder_t *fd, size_t k);
void wpool__feeder_payload(wpool__feeder_t *fd, size_t k, const uint8_t **data,
                           size_t *len, uint32_t *count);
/* Stop calling the producer (lock held). With wait, also wait for the
   feeder thread to finish and free it. */
void wpool__feeder_stop(wpool_t *p, wpool__feeder_t *fd, int wait);
/* The consumer freed chunk slots: the feeder may produce more. */
void wpool__feeder_consumed(wpool__feeder_t *fd);

/* Backends. */
extern const wpool__backend_t wpool__thread_backend;
extern const wpool__backend_t wpool__proc_backend;

/* pool.c: stop the pool, failing pending work with code and msg (lock
   held). Used for terminate and for a pool whose workers cannot start. */
void wpool__break(wpool_t *p, int code, const char *msg);

/* Printf into a malloc'd string for *errmsg; NULL dst is ignored. */
void wpool__set_msg(char **dst, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
