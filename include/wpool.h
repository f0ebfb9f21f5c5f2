/*
 * wpool: a worker pool for C, after Python's multiprocessing.Pool.
 *
 * Hand a registered function and its argument bytes to N workers (processes
 * or threads) and get the result bytes back: blocking (wpool_apply,
 * wpool_map), asynchronously (wpool_apply_async, wpool_map_async and a
 * wpool_result_t), or as an iterator (wpool_imap, wpool_imap_unordered).
 *
 * Conventions that hold for every function below unless its comment says
 * otherwise:
 *
 * - Return codes: 0 on success or a negative WPOOL_E* code. wpool_strerror()
 *   and wpool_err_name() describe a code. Library code never aborts, exits or
 *   prints on a runtime error.
 * - Thread safety: every function may be called from several threads at once
 *   on the same pool. A result or an iterator may be used from several
 *   threads, but freeing it while another thread uses it is the caller's bug.
 * - Timeouts are in milliseconds; WPOOL_FOREVER (-1) waits without a limit
 *   and 0 polls.
 * - Memory that wpool hands to the caller and that the caller must release is
 *   released with wpool_free() (never free(): on Windows the library and the
 *   program may use different C runtimes).
 * - Functions run by workers must be registered (WPOOL_REGISTER or
 *   wpool_register), and programs that use WPOOL_SPAWN workers must call
 *   wpool_bootstrap() as the first line of main().
 * - Scheduling: work is handed out in submission order, to idle workers
 *   first. So that a process worker never waits for a round trip between
 *   tasks, it may also be sent a few tasks ahead (about 2 ms of work at the
 *   pool's measured task time, at most 256 chunks, one while nothing has been
 *   measured); a task sent ahead waits for the worker's current task.
 *
 * This header includes only the C standard library.
 */
#ifndef WPOOL_H
#define WPOOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WPOOL_VERSION_MAJOR 0
#define WPOOL_VERSION_MINOR 1
#define WPOOL_VERSION_PATCH 0

/* Wait without a time limit. */
#define WPOOL_FOREVER (-1L)

/*
 * Error codes. One X-macro generates the enum, wpool_strerror() and
 * wpool_err_name(), so the three can never disagree.
 */
#define WPOOL_ERRNO_MAP(X)                                                     \
  X(EINVAL, -1, "invalid argument")                                            \
  X(ENOMEM, -2, "out of memory")                                               \
  X(ENOFUNC, -3, "function is not registered")                                 \
  X(ECLOSED, -4, "pool is closed to new work")                                 \
  X(ETERMINATED, -5, "pool was terminated before the work finished")           \
  X(ETIMEDOUT, -6, "timed out")                                                \
  X(ENOTREADY, -7, "result is not ready")                                      \
  X(EDONE, -8, "no more results")                                              \
  X(ETASK, -9, "task reported a failure")                                      \
  X(EWORKER, -10, "worker died while running the task")                        \
  X(EPROTO, -11, "protocol error on a worker channel")                         \
  X(E2BIG, -12, "payload exceeds the frame limit")                             \
  X(ERANGE, -13, "task output does not fit the output item")                   \
  X(ESPAWN, -14, "could not start a worker")                                   \
  X(ENOHOOK, -15, "spawned worker did not call wpool_bootstrap()")             \
  X(ESTATE, -16, "operation not allowed in the pool's current state")          \
  X(EDEADLK, -17, "operation would deadlock")                                  \
  X(EPRODUCER, -18, "input producer failed")                                   \
  X(ENOTSUP, -19, "not supported on this platform")                            \
  X(ESYS, -20, "system call failed")

typedef enum wpool_errno {
  WPOOL_OK = 0,
#define WPOOL__ERR_ENUM(name, value, text) WPOOL_##name = (value),
  WPOOL_ERRNO_MAP(WPOOL__ERR_ENUM)
#undef WPOOL__ERR_ENUM
  WPOOL__ERR_LAST = -21
} wpool_errno_t;

/* A static English sentence for code; never NULL, even for unknown codes. */
const char *wpool_strerror(int code);

/* The code's name without prefix ("ETIMEDOUT"), or "UNKNOWN". */
const char *wpool_err_name(int code);

/* Release memory returned by wpool (outputs and error messages). NULL is ok. */
void wpool_free(void *ptr);

/* The library's version as "MAJOR.MINOR.PATCH"; a static string. */
const char *wpool_version(void);

/* ------------------------------------------------------------------------ */
/* Task functions and their registration                                    */
/* ------------------------------------------------------------------------ */

/*
 * The output side of one task call. A task function produces its output
 * through these functions; a task that produces nothing has an empty output.
 * The pointer is valid only during the call.
 */
typedef struct wpool_out wpool_out_t;

/*
 * A task (or initializer) function. It runs in a worker, with the argument
 * bytes the caller submitted (for map: one input item). It returns 0 on
 * success; any other value is a failure, reported to the caller as
 * WPOOL_ETASK with this value as the task's code (wpool_result_task_code())
 * and the message given to wpool_out_fail(), if any.
 *
 * For an initializer, arg is the initializer argument and out only carries a
 * failure message.
 */
typedef int (*wpool_fn)(const void *arg, size_t arg_len, wpool_out_t *out);

/*
 * Copy len bytes to the task's output (replacing what was set before).
 * Returns 0, WPOOL_ENOMEM, WPOOL_E2BIG (beyond the pool's frame limit) or
 * WPOOL_ERANGE (a map item whose output is larger than its output size).
 * A task may simply return this function's result.
 */
int wpool_out_set(wpool_out_t *out, const void *data, size_t len);

/*
 * Reserve len bytes of output and return a pointer to write them to, or NULL
 * when wpool_out_set() would have failed. For map items the pointer is the
 * output slot itself: nothing is copied afterwards.
 */
void *wpool_out_reserve(wpool_out_t *out, size_t len);

/*
 * Record a failure message (printf-style) and return code, so that a task can
 * end with "return wpool_out_fail(out, 7, "bad input %d", x);". A code of 0
 * is turned into 1, so that the call always marks a failure.
 */
int wpool_out_fail(wpool_out_t *out, int code, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/*
 * Register fn under name in this process. Every process of the program must
 * register the same set of names (spawned workers rebuild the table by
 * running the same registrations), so call it only before wpool_bootstrap()
 * and before any pool exists, or use WPOOL_REGISTER which does both for you.
 * Registering the same function again under the same name is a no-op.
 * Returns 0, WPOOL_EINVAL (NULL, empty or too long name, or a name already
 * taken by another function), WPOOL_ESTATE (a pool exists already) or
 * WPOOL_ENOMEM.
 */
int wpool_register(const char *name, wpool_fn fn);

/* The registered name of fn, or NULL. The string lives as long as the program. */
const char *wpool_fn_name(wpool_fn fn);

/*
 * WPOOL_REGISTER(fn): register fn under its own name, at file scope, beside
 * the function's definition. The registration lives in the same object file
 * as fn, so any program that passes fn to the pool links it in too, even from
 * a static library. Runs before main() (a constructor).
 */
#if defined(__GNUC__) || defined(__clang__)
#define WPOOL_REGISTER(fn)                                                     \
  __attribute__((constructor)) static void wpool__register_##fn(void) {        \
    wpool__register_static(#fn, fn);                                           \
  }
#else
#error "WPOOL_REGISTER needs GCC or Clang on this platform; call wpool_register()"
#endif

/* Used by WPOOL_REGISTER; not for direct use. */
void wpool__register_static(const char *name, wpool_fn fn);

/*
 * Call as the first line of main(). In a process that a WPOOL_SPAWN pool
 * started as a worker, it serves tasks and then exits the process without
 * returning. Anywhere else it returns 0 at once. Python's freeze_support().
 */
int wpool_bootstrap(int argc, char **argv);

/* ------------------------------------------------------------------------ */
/* Pools                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct wpool wpool_t;

typedef enum wpool_method {
  WPOOL_DEFAULT = 0, /* WPOOL_FORK on Linux, WPOOL_SPAWN elsewhere */
  WPOOL_FORK = 1,    /* processes forked from a copy of the caller */
  WPOOL_SPAWN = 2,   /* fresh starts of the program (see wpool_bootstrap) */
  WPOOL_THREAD = 3   /* threads of the calling process */
} wpool_method_t;

typedef struct wpool_options {
  /* Number of workers; 0 = the number of CPUs. Negative: WPOOL_EINVAL. */
  int processes;
  wpool_method_t method;
  /* A registered function run once in every new worker, before its first
     task, with initargs as its argument (copied). NULL for none. */
  wpool_fn initializer;
  const void *initargs;
  size_t initargs_len;
  /* Tasks a worker runs before it is replaced; 0 = no limit. A map or imap
     chunk counts as one task, as in Python. Negative: WPOOL_EINVAL. */
  long maxtasksperchild;
  /* Largest payload of one frame (a task's argument, a chunk of items, a
     result); 0 = 64 MiB. Larger submissions fail with WPOOL_E2BIG. */
  size_t max_frame;
  /* How long a new process worker has to start and report ready;
     0 = 10 s. Not used for threads. */
  long start_timeout_ms;
} wpool_options_t;

/* Fill o with the defaults (all zero: CPU count, default method, ...). */
void wpool_options_init(wpool_options_t *o);

/*
 * Create a pool and start its workers; returns when every worker has started
 * and run the initializer. opts may be NULL for the defaults. On failure
 * *pool is NULL and, when errmsg is not NULL, *errmsg receives a message to
 * release with wpool_free() (or NULL). Errors: WPOOL_EINVAL,
 * WPOOL_ENOFUNC (unregistered initializer), WPOOL_ENOTSUP (method not
 * available here), WPOOL_ESPAWN (a worker failed to start, did not complete
 * the handshake in time, or its function table differs), WPOOL_ETASK (the
 * initializer failed; the message is its own), WPOOL_ENOHOOK (called in a
 * spawned worker whose main() did not call wpool_bootstrap()), WPOOL_ENOMEM,
 * WPOOL_ESYS.
 */
int wpool_create(wpool_t **pool, const wpool_options_t *opts, char **errmsg);

/*
 * No more submissions: later ones fail with WPOOL_ECLOSED. Work already
 * submitted still runs; then workers exit. Idempotent.
 */
int wpool_close(wpool_t *pool);

/*
 * Stop now: kill every worker and fail every pending result, iterator item
 * and map with WPOOL_ETERMINATED. Implies close. Idempotent.
 */
int wpool_terminate(wpool_t *pool);

/*
 * Wait until every worker has exited and every callback has returned; the
 * pool must have been closed or terminated (else WPOOL_ESTATE). Called from a
 * callback of the same pool: WPOOL_EDEADLK.
 */
int wpool_join(wpool_t *pool);

/*
 * Terminate (unless closed and joined already), join and free the pool.
 * Results and iterators still held by the caller stay valid (their pending
 * work failed with WPOOL_ETERMINATED) and must still be freed. NULL is ok.
 * Must not be called from one of the pool's callbacks.
 */
void wpool_destroy(wpool_t *pool);

typedef struct wpool_stats {
  int workers;             /* workers alive now */
  size_t tasks_queued;     /* items submitted and not yet sent to a worker */
  size_t tasks_running;    /* items held by workers (running or sent ahead) */
  size_t tasks_done;       /* items finished (successfully or not) */
  size_t workers_replaced; /* workers that died or were recycled and
                              replaced */
} wpool_stats_t;

/*
 * Snapshot of the pool's counters. When pids is not NULL, up to pids_cap
 * process ids of live workers are stored there (thread workers report the
 * pool's own process id). Returns 0 or WPOOL_EINVAL.
 */
int wpool_stats(wpool_t *pool, wpool_stats_t *stats, long *pids,
                size_t pids_cap);

/* ------------------------------------------------------------------------ */
/* Results                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct wpool_result wpool_result_t;

/*
 * Called once when an asynchronous result is ready: the success callback
 * when it succeeded, else the error callback. Callbacks run one at a time on
 * a thread of the pool dedicated to them, so a slow callback delays other
 * callbacks but never the delivery of results to wpool_result_get(), and
 * never another worker. result is valid during the call (and afterwards while
 * the caller holds it).
 */
typedef void (*wpool_callback)(wpool_result_t *result, void *user);

/*
 * Run fn(arg) in a worker and wait for it. arg is copied. On success, when
 * out is not NULL, *out receives the output (release with wpool_free(); NULL
 * when the output is empty) and *out_len its length. On a task failure
 * returns WPOOL_ETASK (or WPOOL_EWORKER and so on) and, when errmsg is not
 * NULL, *errmsg receives the message (release with wpool_free()).
 * Errors: WPOOL_EINVAL, WPOOL_ENOFUNC, WPOOL_ECLOSED, WPOOL_E2BIG,
 * WPOOL_ENOMEM, WPOOL_ETASK, WPOOL_EWORKER, WPOOL_EPROTO, WPOOL_ETERMINATED.
 */
int wpool_apply(wpool_t *pool, wpool_fn fn, const void *arg, size_t arg_len,
                void **out, size_t *out_len, char **errmsg);

/*
 * Submit fn(arg) and return at once. arg is copied. on_success and on_error
 * may be NULL. When result is not NULL, *result receives a handle the caller
 * must release with wpool_result_free(); when it is NULL the result is
 * released by the pool after the callbacks. Errors (nothing was submitted):
 * WPOOL_EINVAL, WPOOL_ENOFUNC, WPOOL_ECLOSED, WPOOL_E2BIG, WPOOL_ENOMEM.
 */
int wpool_apply_async(wpool_t *pool, wpool_fn fn, const void *arg,
                      size_t arg_len, wpool_callback on_success,
                      wpool_callback on_error, void *user,
                      wpool_result_t **result);

/*
 * Map fn over n items of item_size bytes each, stored back to back at items
 * (a struct item passes several arguments: this is starmap), into n output
 * slots of out_size bytes at out. An output shorter than out_size is
 * zero-filled; a longer one fails that item with WPOOL_ERANGE. chunksize 0
 * is Python's default, ceil(n / (4 x workers)); chunks are also capped so
 * that one fits the frame limit. n == 0 succeeds at once. If items fail, the
 * others still run; the call returns the first failure's code (in input
 * order) and its message, prefixed with the item index, in *errmsg.
 * Errors: as wpool_apply(), plus WPOOL_E2BIG when one item exceeds the limit.
 */
int wpool_map(wpool_t *pool, wpool_fn fn, const void *items, size_t n,
              size_t item_size, void *out, size_t out_size, size_t chunksize,
              char **errmsg);

/*
 * Asynchronous wpool_map. items and out are not copied: both must stay valid
 * (and out untouched) until the result is ready. wpool_result_get() then
 * yields out and n x out_size. Callbacks and result ownership as in
 * wpool_apply_async().
 */
int wpool_map_async(wpool_t *pool, wpool_fn fn, const void *items, size_t n,
                    size_t item_size, void *out, size_t out_size,
                    size_t chunksize, wpool_callback on_success,
                    wpool_callback on_error, void *user,
                    wpool_result_t **result);

/*
 * Wait up to timeout_ms for the result. Returns 0 when it succeeded (then,
 * when data and len are not NULL, *data points at the output, owned by the
 * result and valid until wpool_result_free(), and *len is its length),
 * WPOOL_ETIMEDOUT when it is not ready yet (the task goes on), or the
 * failure's code (WPOOL_ETASK, WPOOL_EWORKER, WPOOL_EPROTO,
 * WPOOL_ETERMINATED, WPOOL_ERANGE, ...), described by wpool_result_message().
 */
int wpool_result_get(wpool_result_t *result, long timeout_ms,
                     const void **data, size_t *len);

/* Wait up to timeout_ms: 0 when ready, else WPOOL_ETIMEDOUT (or EINVAL). */
int wpool_result_wait(wpool_result_t *result, long timeout_ms);

/* 1 when ready, 0 when not (or result is NULL). Never blocks. */
int wpool_result_ready(wpool_result_t *result);

/*
 * 1 when ready and successful, 0 when ready and failed, WPOOL_ENOTREADY when
 * not ready (Python raises ValueError there), WPOOL_EINVAL for NULL.
 */
int wpool_result_successful(wpool_result_t *result);

/*
 * The failure message of a ready, failed result ("item 3: worker 1234 killed
 * by signal 11 (SIGSEGV)"), owned by the result; NULL otherwise.
 */
const char *wpool_result_message(wpool_result_t *result);

/*
 * The value the task function returned when the failure is WPOOL_ETASK;
 * 0 otherwise.
 */
int wpool_result_task_code(wpool_result_t *result);

/*
 * Release the handle. The work it stands for goes on; its callbacks still
 * run. NULL is ok.
 */
void wpool_result_free(wpool_result_t *result);

/* ------------------------------------------------------------------------ */
/* Iterators                                                                */
/* ------------------------------------------------------------------------ */

typedef struct wpool_iter wpool_iter_t;

/*
 * A lazy input: called on a thread of the pool (one call at a time) to
 * produce the next item. Return 1 with *item and *len set (the bytes are
 * copied before the next call, so one buffer may be reused), 0 at the end of
 * the input, or a negative value on failure.
 */
typedef int (*wpool_producer)(void *user, const void **item, size_t *len);

typedef struct wpool_source {
  /* Either an array of count items of item_size bytes each ... */
  const void *items;
  size_t count;
  size_t item_size;
  /* ... or, when producer is not NULL, a lazy producer. */
  wpool_producer producer;
  void *producer_user;
  /* Producer input only: how many chunks may be pulled ahead of the
     consumer (submitted, running, or finished but not yet consumed); 0 = 32 x
     workers. Memory use is bounded by this window, not by the input. */
  size_t window;
} wpool_source_t;

/* Convenience initialisers for wpool_source_t. */
wpool_source_t wpool_source_array(const void *items, size_t count,
                                  size_t item_size);
wpool_source_t wpool_source_producer(wpool_producer producer, void *user);

/*
 * Start mapping fn over the source and return an iterator over the results
 * in input order (wpool_imap) or in completion order
 * (wpool_imap_unordered). chunksize 0 means 1. An array source must stay
 * valid until the iterator is freed or exhausted. Each output may have any
 * size. Errors: WPOOL_EINVAL, WPOOL_ENOFUNC, WPOOL_ECLOSED, WPOOL_E2BIG,
 * WPOOL_ENOMEM, WPOOL_ESYS.
 */
int wpool_imap(wpool_t *pool, wpool_fn fn, const wpool_source_t *source,
               size_t chunksize, wpool_iter_t **iter);
int wpool_imap_unordered(wpool_t *pool, wpool_fn fn,
                         const wpool_source_t *source, size_t chunksize,
                         wpool_iter_t **iter);

/*
 * The next result, waiting up to timeout_ms. Returns:
 * - 0: *data and *len hold the output (owned by the iterator, valid until the
 *   next call on it or its release);
 * - a failure code for this item (WPOOL_ETASK, WPOOL_EWORKER, ...), with
 *   wpool_iter_message(); the iteration goes on past it;
 * - WPOOL_EPRODUCER once when the producer failed (the items before the
 *   failing item's chunk have all been yielded), then WPOOL_EDONE;
 * - WPOOL_ETIMEDOUT: nothing yet; call again;
 * - WPOOL_ETERMINATED: the pool was terminated; further calls say so too;
 * - WPOOL_EDONE: every result has been yielded.
 */
int wpool_iter_next(wpool_iter_t *iter, long timeout_ms, const void **data,
                    size_t *len);

/* Input index of the item last yielded by wpool_iter_next(). */
size_t wpool_iter_index(wpool_iter_t *iter);

/* Message of the failure last returned by wpool_iter_next(), or NULL. */
const char *wpool_iter_message(wpool_iter_t *iter);

/* The task's own code of the last WPOOL_ETASK, else 0. */
int wpool_iter_task_code(wpool_iter_t *iter);

/*
 * Release the iterator. Work not yet started is dropped; a producer stops
 * being called. NULL is ok.
 */
void wpool_iter_free(wpool_iter_t *iter);

#ifdef __cplusplus
}
#endif

#endif /* WPOOL_H */
