/*
 * The POSIX backend's own view of the tracked descriptor set (posix.h has the
 * part the portable core uses), and the calls that create, flag and pass
 * wpool's descriptors.
 *
 * The set exists for the fork server: a process forked from this one must not
 * keep other pools' channels open, or a worker whose parent end is held by a
 * stray copy never sees end of input. So every fork of a fork server happens
 * with the set's lock held, and every descriptor that the backend creates
 * for a worker is tracked under the same lock before it is unlocked: a fork
 * never sees a wpool descriptor that is open but not yet in the set.
 */
#ifndef WPOOL_POSIX_FDTRACK_H
#define WPOOL_POSIX_FDTRACK_H

#include <stddef.h>

void wpool__fd_lock(void);
void wpool__fd_unlock(void);

/* Track fd with the lock held; 0, or WPOOL_ENOMEM when the set cannot grow. */
int wpool__fd_track_locked(int fd);
/* Untrack and close fd with the lock held; -1 is ignored. */
void wpool__fd_close_locked(int fd);

/*
 * In a child forked while the lock was held: close every tracked descriptor
 * and empty the set, so that a wpool inside the child starts from nothing.
 * Uses only async-signal-safe calls. The caller then unlocks (the child's
 * thread is the copy of the one that took the lock).
 */
void wpool__fd_close_all_tracked_in_child(void);

/* A close-on-exec pipe, or Unix stream socket pair: 0, or -1 with errno and
   both fds set to -1. */
int wpool__fd_pipe(int fds[2]);
int wpool__fd_socketpair(int fds[2]);

/*
 * Passing descriptors over a Unix stream socket (SCM_RIGHTS). Send len bytes
 * with nfds (at most WPOOL__FD_PASS_MAX) descriptors attached: 0, or -1 with
 * errno; a dead peer is EPIPE, never SIGPIPE. Receive exactly len bytes and
 * the descriptors attached to them into fds (*nfds of them), which are made
 * close-on-exec and non-blocking and tracked before any fork server can be
 * forked: 0, an errno value, or -1 at EOF; on failure none are kept.
 */
#define WPOOL__FD_PASS_MAX 2
int wpool__fd_send(int sock, const void *buf, size_t len, const int *fds,
                   int nfds);
int wpool__fd_recv(int sock, void *buf, size_t len, int *fds, int *nfds);

#endif
