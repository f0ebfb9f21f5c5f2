/*
 * The POSIX backend's internal contract: starting, reaping and describing
 * worker processes, and the descriptors the fork server must not keep.
 *
 * Every descriptor this backend hands out is close-on-exec from the moment it
 * exists and is never 0, 1 or 2 (see fdtrack.h), and the parent's ends are
 * non-blocking.
 */
#ifndef WPOOL_POSIX_H
#define WPOOL_POSIX_H

#include <stddef.h>

/* A started worker process, as the pool's I/O loop sees it. */
typedef struct wpool__proc {
  long pid;
  int task_fd;   /* the parent writes TASK/INIT/EXIT frames here */
  int result_fd; /* the parent reads HELLO/READY/RESULT frames here */
} wpool__proc_t;

/*
 * The fork server: a single-threaded copy of the program forked when a
 * WPOOL_FORK pool is created, before the pool starts any thread. Workers (the
 * first ones and every replacement) are forked from it, never from the
 * parent, so no fork ever happens in a process where the pool's own threads
 * could hold a lock. It hands the parent's ends of each worker's pipes back
 * over a Unix socket (SCM_RIGHTS). Workers are its children: it reaps them
 * when asked.
 */
typedef struct wpool__forksrv wpool__forksrv_t;

/*
 * Fork the server now. In the server, every descriptor registered with
 * wpool__fd_track() is closed first (other pools' channels must not be kept
 * open by it). Returns 0 or WPOOL_ESYS / WPOOL_ENOMEM with *errmsg
 * (release with wpool_free()) when errmsg is not NULL.
 */
int wpool__forksrv_start(wpool__forksrv_t **fs, char **errmsg);

/*
 * Ask the server for one worker: forked now, or, once the pool has replaced
 * a worker, the spare forked after the previous request (srvloop.c). The
 * worker closes the server's socket and calls
 * wpool__worker_serve(task_read_end, result_write_end), then _exit()s with
 * its return value (after fflush(NULL)). On Linux it dies with the server,
 * and the server with the parent (see srvloop.c). On return p holds the
 * worker's pid and the parent's ends (tracked, close-on-exec, non-blocking).
 * Thread-safe with respect to other calls on the same server.
 */
int wpool__forksrv_spawn(wpool__forksrv_t *fs, wpool__proc_t *p,
                         char **errmsg);

/*
 * Reap worker pid (a child of the server) as wpool__reap_child() does, with
 * its WPOOL__REAP_* flags, and store its wait status in *status. Returns 0,
 * 1 when it is still running (WPOOL__REAP_NOHANG), WPOOL_ESTATE when its
 * status is lost, or WPOOL_ESYS.
 */
int wpool__forksrv_reap(wpool__forksrv_t *fs, long pid, int flags,
                        int *status);

/* Close the channel to the server, wait for it to exit (killing any worker
   it still has) and free fs. */
void wpool__forksrv_stop(wpool__forksrv_t *fs);

/*
 * Start a fresh copy of this program as a worker (posix_spawn of the own
 * executable: /proc/self/exe on Linux, _NSGetExecutablePath on macOS) with
 * argv { exe, "--wpool-worker=<task_fd>,<result_fd>", NULL } and the
 * environment variable WPOOL_SPAWNED=1:<token> added (the pool's token,
 * which the worker must also find in INIT). Only the two pipe ends are
 * inherited. Returns 0 or WPOOL_ESPAWN / WPOOL_ESYS with *errmsg.
 */
int wpool__spawn_start(wpool__proc_t *p, const char *token, char **errmsg);

/* Reap a worker started by wpool__spawn_start (same contract as above). */
int wpool__spawn_reap(long pid, int flags, int *status);

/* Kill a worker (either kind) and its process group with SIGKILL; it is
   reaped later. Only while the worker is not reaped (its pid is still
   its own): the transport uses a pidfd instead where the kernel has one. */
void wpool__proc_kill(long pid);

/*
 * "exited with status 3", "killed by signal 11 (SIGSEGV)", "killed by signal
 * 6 (SIGABRT), core dumped" for a wait status.
 */
void wpool__status_describe(int status, char *buf, size_t len);

/*
 * Keep a set of this process's wpool descriptors, so that a fork server
 * forked later closes them. Thread-safe.
 */
void wpool__fd_track(int fd);
void wpool__fd_untrack(int fd);
/* Close fd and stop tracking it; -1 is ignored. */
void wpool__fd_close(int fd);

/* Parse the worker marker in argv: 1 with the two fds, 0 when absent. */
int wpool__spawn_parse_argv(int argc, char **argv, int *task_fd,
                            int *result_fd);

#endif
