/*
 * Small helpers shared by the POSIX backend's files: the bottom layer.
 * util.c and status.c call nothing else in src/posix; every other file may
 * call them.
 */
#ifndef WPOOL_POSIX_UTIL_H
#define WPOOL_POSIX_UTIL_H

#include <stddef.h>

/* The argv[1] prefix that marks a spawned worker (spawn.c and os.c). */
#define WPOOL__WORKER_FLAG "--wpool-worker="

/*
 * Return code, and when errmsg is not NULL set *errmsg to the formatted text
 * followed by ": <strerror(err)>" (nothing appended when err is 0), allocated
 * with malloc (NULL when that fails). In status.c.
 */
int wpool__sys_fail(char **errmsg, int code, int err, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Read exactly len bytes (retrying EINTR): 0, or -1 at EOF or on error.
   Async-signal-safe. In util.c. */
int wpool__read_full(int fd, void *buf, size_t len);

/* Make fd close-on-exec and, when nonblock, non-blocking; 0 or -1.
   Async-signal-safe. In util.c. */
int wpool__fd_set_flags(int fd, int nonblock);

/*
 * fd itself when it is not 0, 1 or 2; else a close-on-exec copy at 3 or
 * above, and fd is closed (also on failure: -1 with errno). A program that
 * runs with its standard streams closed and later restores them with dup2()
 * would otherwise overwrite wpool's channels, or have wpool write into its
 * stdout. Async-signal-safe. In util.c.
 */
int wpool__fd_above_stdio(int fd);

/*
 * Wait for child pid (retrying EINTR) and store its wait status:
 * WPOOL__REAP_KILL sends SIGKILL first, WPOOL__REAP_NOHANG returns EAGAIN
 * at once for a child still running. The worker's process group is killed
 * just before the worker is reaped, while its zombie still holds the
 * group's id. 0, EAGAIN, ECHILD (the child was
 * reaped by someone else, or SIGCHLD is ignored: its status is lost) or
 * another errno value. Async-signal-safe. In spawn.c.
 */
#define WPOOL__REAP_KILL 1
#define WPOOL__REAP_NOHANG 2
int wpool__reap_child(long pid, int flags, int *status);

#endif
