/*
 * Locks, condition variables, a monotonic clock and detached threads: the
 * pieces of the core that must not follow the wall clock. APR's condition
 * variable times its waits against the wall clock, so a clock step would
 * stretch or cut them; these measure every timeout on a monotonic clock.
 * One implementation per platform (src/posix/sync.c, src/win32/sync.c).
 */
#ifndef WPOOL_SYNC_H
#define WPOOL_SYNC_H

#include <stdint.h>

typedef struct wpool__mutex wpool__mutex_t;
typedef struct wpool__cond wpool__cond_t;

/* 0, or WPOOL_ENOMEM / WPOOL_ESYS. */
int wpool__mutex_new(wpool__mutex_t **m);
void wpool__mutex_free(wpool__mutex_t *m); /* NULL is ignored */
void wpool__mutex_lock(wpool__mutex_t *m);
void wpool__mutex_unlock(wpool__mutex_t *m);

int wpool__cond_new(wpool__cond_t **c);
void wpool__cond_free(wpool__cond_t *c); /* NULL is ignored */
void wpool__cond_wait(wpool__cond_t *c, wpool__mutex_t *m);
/* Wait at most ns nanoseconds of the monotonic clock; spurious wake-ups
   happen, so callers re-check their condition. */
void wpool__cond_timedwait(wpool__cond_t *c, wpool__mutex_t *m, uint64_t ns);
void wpool__cond_signal(wpool__cond_t *c);
void wpool__cond_broadcast(wpool__cond_t *c);

/* Nanoseconds of a clock that never steps (since an arbitrary origin). */
uint64_t wpool__mono_ns(void);

/* Let another thread that is ready to run on this CPU have it for a moment
   (a spinning wait calls it between two looks). */
void wpool__yield(void);

/*
 * Run fn(arg) on a new detached thread with every blockable signal blocked.
 * Nobody joins it: whoever waits for it waits for a flag that fn sets under
 * a lock as its last act. 0 or WPOOL_ESYS.
 */
int wpool__thread_detached(void (*fn)(void *), void *arg);

/*
 * A thread that is joined, unless it lets itself go: the callback thread,
 * which wpool_destroy joins, except when a callback destroyed the pool and
 * the thread finishes the destruction itself (nobody can join it then).
 * 0 or WPOOL_ENOMEM / WPOOL_ESYS.
 */
typedef struct wpool__thread wpool__thread_t;
int wpool__thread_start(wpool__thread_t **t, void (*fn)(void *), void *arg);
/* Wait for t to end and free it. */
void wpool__thread_join(wpool__thread_t *t);
/* Called by t itself: nobody will join it; its resources go when it ends. */
void wpool__thread_detach_self(wpool__thread_t *t);

/*
 * A wake-up that a signal handler may post: wpool_interrupt() posts it,
 * a thread of the pool waits for it. Post is async-signal-safe (a write(2)
 * to a pipe on POSIX; SetEvent on Windows, where console handlers run on a
 * thread of their own). Wait blocks until a post; a wait may also return
 * for a post it has already seen, so the waiter re-checks what it waits
 * for.
 * new: 0 or WPOOL_ENOMEM / WPOOL_ESYS.
 */
typedef struct wpool__sigwake wpool__sigwake_t;
int wpool__sigwake_new(wpool__sigwake_t **w);
void wpool__sigwake_free(wpool__sigwake_t *w); /* NULL is ignored */
void wpool__sigwake_post(wpool__sigwake_t *w);
void wpool__sigwake_wait(wpool__sigwake_t *w);

/* A number that changes in a child process at every fork(); 0 where there
   is no fork. A pool remembers it to notice use from a forked child. */
unsigned wpool__fork_generation(void);

#endif
