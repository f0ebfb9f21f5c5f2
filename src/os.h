/*
 * Operating-system services that the portable core needs, beyond the worker
 * loop's I/O calls in worker.h. Every backend (src/posix, src/win32)
 * implements all of them; the portable code never tests the platform.
 */
#ifndef WPOOL_OS_H
#define WPOOL_OS_H

#include <stddef.h>
#include <stdint.h>

/*
 * wpool_bootstrap(): when this process was started as a spawned worker, serve
 * the pool and exit the process without returning; otherwise return 0.
 */
int wpool__os_bootstrap(int argc, char **argv);

/*
 * 1 when this process was started as a spawned worker but its main() did not
 * call wpool_bootstrap() (the marker that bootstrap would have removed is
 * still there), else 0. wpool_create() then fails with WPOOL_ENOHOOK instead
 * of spawning workers without end.
 */
int wpool__os_spawned_without_hook(void);

/* Number of online CPUs, at least 1. */
int wpool__os_ncpu(void);

/*
 * Run fn once per process, whichever thread gets here first; the others wait
 * until it has returned. There is a single once-flag per process: only one
 * initialiser in the library may use this (a second fn would never run).
 */
void wpool__os_once(void (*fn)(void));

/*
 * Block every blockable signal in the calling thread (but the synchronous
 * fault signals, which cannot be held off anyway). The pool's own threads
 * call it first, so that the program's signal handlers never run on them and
 * a write to a dead worker's pipe is not killed by SIGPIPE (it fails with
 * EPIPE instead; see wpool__os_clear_sigpipe).
 */
void wpool__os_block_signals(void);

/*
 * After a write in a thread with signals blocked failed with EPIPE: consume
 * the SIGPIPE left pending on the thread, so that it is not delivered to
 * the program later if the thread's mask changes. Does nothing on systems
 * without SIGPIPE.
 */
void wpool__os_clear_sigpipe(void);

/*
 * The operating system's id of the calling thread (Linux gettid, macOS
 * pthread_threadid_np, Windows GetCurrentThreadId), as tools such as top
 * and debuggers show it; 0 where the system has none.
 */
uint64_t wpool__os_thread_id(void);

/*
 * Can a process worker capture what its tasks print (capture_output)? The
 * pool refuses the option with WPOOL_ENOTSUP where it cannot (every OS half
 * can today; a new one may not). The worker side: wpool__worker_os_t's
 * capture_start and capture_stop.
 */
int wpool__os_can_capture(void);

/*
 * Shared buffers' platform half (src/posix/shmos.c, src/win32/shmos.c).
 * Make size bytes of anonymous shared memory: its handle (a descriptor that
 * no fork server or later child keeps) and this process's read-write
 * mapping. 0 or WPOOL_ENOMEM / WPOOL_ESYS / WPOOL_ENOTSUP.
 */
int wpool__shm_os_create(size_t size, intptr_t *handle, uint8_t **base);
/* The same, named where the system shows names of anonymous memory (a
   memfd's in /proc/PID/maps), so that it can be told from the caller's
   buffers. */
int wpool__shm_os_create_named(const char *name, size_t size, intptr_t *handle,
                               uint8_t **base);
/* Unmap and close what wpool__shm_os_create made. */
void wpool__shm_os_destroy(intptr_t handle, uint8_t *base, size_t size);
/*
 * The parent's side of a result that a worker sent through a buffer of its
 * own (its handle taken with the channel's take()). view: map the first
 * len bytes read-only, after checking that the buffer holds them and (where
 * the system can tell) that its maker can no longer shrink it, so that
 * reading them cannot fault: 0, WPOOL_EPROTO (a buffer too small, not one,
 * or not sealed), or WPOOL_ENOMEM / WPOOL_ESYS. unview undoes view; close
 * closes the handle.
 */
int wpool__shm_os_view(intptr_t h, uint64_t len, const uint8_t **base);
void wpool__shm_os_unview(const uint8_t *base, uint64_t len);
void wpool__shm_os_close(intptr_t h);

#endif
