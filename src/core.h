/*
 * The core layer: the pool's shared state and the services every layer
 * above needs (the lock, waits against monotonic deadlines, notification,
 * reference counting, messages). It knows the shape of a batch, a job and
 * a worker, but calls nobody above it: a batch reaches its owner (a result,
 * an iterator) only through the operations table the owner gave it, as
 * libuv's thread pool reaches a request only through its `done` callback.
 *
 * One mutex (pool->lock) guards everything here; the lock order is
 * pool->lock before nothing: no code holds it while it calls user code,
 * blocks on I/O, or takes another lock.
 *
 * Layers, from the bottom (each calls only those below it):
 *   codec     proto.c buf.c error.c registry.c run.c worker.c
 *   core      core.c callbacks.c progress.c
 *   scheduler sched.c
 *   backends  thread_backend.c procpool.c (and their OS halves)
 *   clients   result.c, feeder.c, iter.c (iter on feeder)
 *   lifecycle pool.c
 */
#ifndef WPOOL_CORE_H
#define WPOOL_CORE_H

#include "buf.h"
#include "proto.h"
#include "queue.h"
#include "ring.h"
#include "sync.h"
#include "wpool.h"

#include <apr_portable.h>
#include <signal.h> /* sig_atomic_t */

typedef struct wpool__worker wpool__worker_t;
typedef struct wpool__pp wpool__pp_t;

enum wpool__state { WPOOL__RUNNING, WPOOL__CLOSED, WPOOL__TERMINATED };

/*
 * What the scheduler may ask of a batch's owner. Every call is made with
 * the lock held; none may release it.
 */
typedef struct wpool__batch_ops {
  /* Chunk k's payload and item count (k is sendable or was sent). */
  void (*payload)(wpool__batch_t *b, size_t k, const uint8_t **data,
                  size_t *len, uint32_t *count);
  /* May chunk k be sent now? NULL: whenever it exists. */
  int (*may_send)(wpool__batch_t *b, size_t k);
  /* Items [first, first + count) of chunk k (first counts from the chunk's
     start) finished, with RESULT header f and its payload tail (the owner
     may take tail's buffer), or failed as a whole with code and msg. */
  void (*deliver)(wpool_t *p, wpool__batch_t *b, size_t k, size_t first,
                  size_t count, const wpool__frame_t *f, wpool__buf_t *tail,
                  int code, const char *msg);
  /* Chunks from b->next_chunk on will never be sent (terminate, cancel):
     account for them, failing with code and msg. */
  void (*abort)(wpool_t *p, wpool__batch_t *b, int code, const char *msg);
  /* b is neither queued nor held by a worker any more. */
  void (*release)(wpool_t *p, wpool__batch_t *b);
  /* Item `item` of chunk k (counted from the chunk's start) printed len
     bytes (capture_output), before its result comes. NULL: not kept. */
  void (*output)(wpool_t *p, wpool__batch_t *b, size_t k, size_t item,
                 const uint8_t *data, size_t len);
} wpool__batch_ops_t;

/*
 * A submission, split in chunks. It lives inside its owner (a result or an
 * iterator), so submitting allocates nothing more.
 */
struct wpool__batch {
  wpool__qnode_t node; /* in the pool's queue while queued */
  const wpool__batch_ops_t *ops;
  int queued;
  uint32_t fn;
  uint32_t isize;       /* 0: var input records */
  uint32_t osize;       /* 0: var output records */
  const uint8_t *items; /* a fixed array, or one var record */
  size_t items_len;
  size_t n;          /* items; a producer's grows as it produces */
  size_t chunksize;
  size_t nchunks;    /* SIZE_MAX while a producer may still produce */
  size_t next_chunk; /* next never-sent chunk */
  size_t inflight;   /* chunks held by workers: pins the batch's memory */
  size_t unsent;     /* items queued and never sent (wpool_stats) */
  /* Fixed outputs go straight here (the caller's array), so a worker that
     may still write keeps its chunk until it answers or is reaped. */
  uint8_t *out;
  long timeout_ms; /* time limit of one item; 0 = none */
  int retries;     /* runs again of a lone item whose worker died */
  /* Shared buffers holding the items and the outputs (then items and out
     point into this process's mappings), and the TASK flags that say so
     (proto.h): the process backend sends a descriptor instead of the
     bytes. NULL and 0 for everything else. */
  struct wpool_shm *shm_in, *shm_out;
  uint16_t frame_flags;
  int carried; /* shm_in is the pool's copy of the caller's argument */
};

enum wpool__wstate {
  WPOOL__W_EMPTY,    /* no worker in this slot */
  WPOOL__W_STARTING, /* started, handshake not done */
  WPOOL__W_READY,    /* takes work */
  WPOOL__W_RETIRING, /* sent its last task (maxtasksperchild) or EXIT */
  WPOOL__W_DEAD      /* gone, not yet reaped/replaced */
};

/* The scheduler's view of a worker; the backend hangs its own state on be. */
struct wpool__worker {
  int index;
  int state;
  long pid;
  uint64_t id;        /* unique in the pool: a replacement gets a new one */
  uint64_t thread_id; /* a thread worker's OS thread id, once it runs */
  long tasks_sent;
  int kill_code;       /* a process worker to be killed for its head job */
  wpool__ring_t fifo;  /* jobs sent, in order; the head is running */
  void *be;
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
  /* p->nworkers grew to n slots (the new workers are allocated) and
     p->target moved: make the backend's slots match and start or retire
     workers. Lock held. 0 or WPOOL_ENOMEM (nothing changed). */
  int (*resize)(wpool_t *p, int n);
  /* (optional: NULL means wake) A batch was just queued, and nothing else
     changed: lock held. The backend may start it on the caller's thread
     instead of waking its own (see procpool.c's send_here). Only for this:
     a cancellation or a state change must reach the backend's thread. */
  void (*queued)(wpool_t *p);
} wpool__backend_t;

/* The two backends; pool.c picks one per pool. */
extern const wpool__backend_t wpool__thread_backend;
extern const wpool__backend_t wpool__proc_backend;

/* Work for the callback thread: run() without the lock, then done() with
   it. */
typedef struct wpool__cb {
  wpool__qnode_t node;
  void (*run)(struct wpool__cb *cb);
  void (*done)(wpool_t *p, struct wpool__cb *cb);
} wpool__cb_t;

struct wpool {
  apr_pool_t *mem; /* for APR objects that live as long as the pool */
  wpool__mutex_t *lock;
  wpool__cond_t *done_cond;  /* a result or iterator advanced */
  wpool__cond_t *work_cond;  /* thread workers and feeders wait here */
  wpool__cond_t *state_cond; /* start-up, callbacks drained, join */
  int refs;    /* the handle, live results and iterators, feeder threads */
  int waiters; /* threads waiting on done_cond */
  /* Condition variables of single waiters (wpool__own_cond_get), kept for
     the next one: a result wakes the one thread that waits for it. */
  wpool__cond_t **own_conds;
  int own_n, own_cap;
  /* A thread worker completing a job sets defer_wake: the waiter's
     condition is then left in wake_after, for the worker to signal once
     it has released the lock (a waiter woken under the lock would only
     sleep again on it). Conditions live as long as the pool's core, so a
     late signal is at worst a spurious wake-up. */
  int defer_wake;
  wpool__cond_t *wake_after;
  int state;
  int term_code; /* why pending work fails after terminate */
  char *term_msg;
  int joined, destroyed;
  unsigned fork_gen; /* the process's fork generation at creation */
  int method;
  /* Worker slots: nworkers exist (each wpool__worker_t is allocated on
     its own, so that a backend's pointer to one survives growth); the
     pool wants target workers. wpool_resize() moves target: slots from
     target on retire after the tasks they hold and stay empty. */
  int nworkers;
  int target;
  wpool_options_t opt;
  uint32_t init_fn;
  uint8_t *initargs;
  wpool__buf_t argv_blob; /* the command line, for INIT (argv.h) */
  uint32_t argc;
  /* A secret of this pool that spawned workers must be given twice, in
     their environment and in INIT, so that worker mode cannot be entered
     from a command line alone. */
  char token[WPOOL__TOKEN_LEN + 1];
  uint64_t max_frame;
  uint64_t ahead_ns; /* work kept queued per process worker; 0: default */

  wpool__qnode_t queue; /* batches with chunks never sent */
  wpool__ring_t retry;  /* jobs given back by dead workers: run first */
  uint64_t next_seq;
  uint64_t next_worker_id;
  uint64_t ewma_ns; /* running estimate of a chunk's run time */

  wpool__worker_t **workers;
  const wpool__backend_t *be;
  /* Process workers: the channel kind (NULL: the platform's process
     channel); wpool_create_with() sets it. */
  const struct wpool_chan_ops *kind;
  int no_shm; /* its workers share no memory with this process (MPI) */
  void *be_state;  /* the OS half's own state */
  wpool__pp_t *pp; /* process workers: the portable I/O state */

  /* Callbacks run on their own thread, in completion order. */
  wpool__qnode_t cb_queue;
  wpool__thread_t *cb_thread;
  int cb_started, cb_alive, cb_running, cb_stop, cb_exited;
  apr_os_thread_t cb_os_thread;
  /* wpool_destroy() was called from a callback: the callback thread
     finishes it once that callback has returned. */
  void (*cb_finish)(wpool_t *p);

  /* wpool_interrupt (interrupt.c): the flag a signal handler sets, the
     wake-up it posts, and the thread that terminates the pool for it. */
  volatile sig_atomic_t intr_flag;
  wpool__sigwake_t *intr_wake;
  wpool__thread_t *intr_thread;
  int intr_alive, intr_quit;
  int intr_done; /* an interrupt terminated the pool (wpool_join says so) */

  /* Counters for wpool_stats (items). */
  size_t st_queued, st_running, st_done, st_replaced, st_rerun;

  /* Start-up: workers ready so far, or the first failure. */
  int ready_count;
  int start_code;
  char *start_msg;
  int idle; /* thread workers waiting for work */
  /* A shared buffer that carried a large argument and is free again: the
     next one reuses it while it fits, so that its pages are not made and
     zeroed anew for every call (result.c). Released by wpool_destroy,
     after which none is kept. */
  struct wpool_shm *shm_spare;
};

/* Allocate a pool with options o checked (lock and conditions made, workers
   and their FIFOs allocated, refs = 1). 0 or a WPOOL_E* code; *out is set
   only on success. */
int wpool__core_new(wpool_t **out, const wpool_options_t *o, int method,
                    int nworkers);
/* Grow the worker slots to n (lock held): 0 or WPOOL_ENOMEM, with nothing
   changed. */
int wpool__core_grow(wpool_t *p, int n);
/* Unlock; the thread that dropped the last reference frees the pool. */
void wpool__unlock(wpool_t *p);

/* Monotonic deadlines in nanoseconds; -1 is "never". A timeout too large
   to represent means never, not an overflow. */
int64_t wpool__deadline(long timeout_ms);
/* Wait on c (lock held) until signalled or deadline: 0 (the caller
   re-checks its condition) or WPOOL_ETIMEDOUT. */
int wpool__wait(wpool_t *p, wpool__cond_t *c, int64_t deadline);
/* A result or an iterator advanced: wake whoever waits for one. */
void wpool__notify_done(wpool_t *p);
/* A condition variable for one waiter alone, so that what it waits for can
   wake it, and only it, with a signal; NULL when none can be had (it then
   waits on done_cond). Given back with wpool__own_cond_put. Lock held. */
wpool__cond_t *wpool__own_cond_get(wpool_t *p);
void wpool__own_cond_put(wpool_t *p, wpool__cond_t *c);

/* Is p a pool this process may use? WPOOL_EINVAL for NULL, WPOOL_EFOREIGN
   in a forked child of the process that created it (the pool's threads
   were not copied into the child). */
int wpool__check_pool(const wpool_t *p);

/* What a call's settings come to for one submission. */
typedef struct wpool__call_cfg {
  uint32_t fn;     /* the function's index */
  long limit_ms;   /* time limit of one item; 0 = none */
  int retries;     /* see wpool_options_t.max_retries */
} wpool__call_cfg_t;

/* Check a submission's pool, function and call settings (call may be
   NULL) and resolve them against the pool's into *cfg. 0 or WPOOL_EINVAL,
   WPOOL_EFOREIGN, WPOOL_ENOFUNC, WPOOL_ENOTSUP (a time limit on
   threads). */
int wpool__check_call(wpool_t *p, wpool_fn fn, const wpool_call_t *call,
                      wpool__call_cfg_t *cfg);

/* Printf into a malloc'd string for *errmsg; NULL dst is ignored. */
void wpool__set_msg(char **dst, const char *fmt, ...)
#if defined(__MINGW32__)
    /* As wpool_out_fail in wpool.h: mingw-w64's vsnprintf is C99's. */
    __attribute__((format(gnu_printf, 2, 3)))
#elif defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* wpool_options_t.shm_threshold's default. */
#define WPOOL__DEFAULT_SHM_THRESHOLD ((size_t)1 << 20)

/* wpool_options_t.shm_threshold, resolved: arguments and results of at
   least this many bytes go around the channel; SIZE_MAX = never (so also
   where the workers share no memory with this process). */
static inline size_t wpool__shm_threshold(const wpool_t *p) {
  if (p->no_shm)
    return SIZE_MAX;
  return p->opt.shm_threshold ? p->opt.shm_threshold
                              : WPOOL__DEFAULT_SHM_THRESHOLD;
}

/* The largest output a task may return: the frame limit, unless large
   results go around the channel (thread workers hand them over in place;
   process workers through a buffer, where the channel kind can take one
   back, see wpool__chan_ops_t.take). */
static inline uint64_t wpool__output_limit(const wpool_t *p, int can_take) {
  return wpool__shm_threshold(p) != SIZE_MAX && can_take ? UINT64_MAX
                                                         : p->max_frame;
}

#endif
