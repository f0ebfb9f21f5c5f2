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

/* Flags of the calls below. */
enum {
  WPOOL__FD_SOCKET = 1,    /* a Unix stream socket pair, not a pipe */
  WPOOL__FD_NONBLOCK0 = 2, /* fds[0] non-blocking */
  WPOOL__FD_NONBLOCK1 = 4, /* fds[1] non-blocking */
  WPOOL__FD_BIG = 8        /* a pipe for payloads: ask for a larger buffer */
};

/*
 * Every internal channel of wpool is made by one of these. A pipe (fds[0]
 * the read end) or socket pair that is close-on-exec from the start (pipe2,
 * SOCK_CLOEXEC; without them the flag is set before the lock is released),
 * never on descriptors 0-2, non-blocking as asked, and tracked: all under the
 * tracking lock, so that no fork server ever holds an untracked copy.
 * Returns 0, or an errno value with both fds set to -1.
 */
int wpool__fd_pair(int fds[2], int flags);
/* The same with the lock already held. */
int wpool__fd_pair_locked(int fds[2], int flags);
/*
 * The same, untracked and without the lock: for the fork server only,
 * which must touch no lock or heap. Async-signal-safe.
 */
int wpool__fd_pair_untracked(int fds[2], int flags);
/* Stop tracking fd (left open), lock held. */
void wpool__fd_untrack_locked(int fd);

/*
 * Passing descriptors over a Unix stream socket (SCM_RIGHTS). Send len bytes
 * with nfds (at most WPOOL__FD_PASS_MAX) descriptors attached: 0, or -1 with
 * errno; a dead peer is EPIPE, never SIGPIPE. Receive exactly len bytes and
 * the descriptors attached to them into fds (*nfds of them), which are made
 * close-on-exec and non-blocking, moved off 0-2 and tracked before any fork
 * server can be forked: 0, an errno value, or -1 at EOF; on failure none are
 * kept. Descriptors the kernel had to drop because this process is at its
 * limit are EMFILE.
 */
#define WPOOL__FD_PASS_MAX 2
int wpool__fd_send(int sock, const void *buf, size_t len, const int *fds,
                   int nfds);
int wpool__fd_recv(int sock, void *buf, size_t len, int *fds, int *nfds);
/*
 * A shared buffer handed back over a worker's task socket: the worker sends
 * one byte with the descriptor attached (wpool__fd_give, blocking) before
 * the RESULT frame that names it; the parent takes it when it reads that
 * frame (wpool__fd_take_now), so it is queued already and the call never
 * waits. take_now stores a tracked, close-on-exec descriptor in *fd and
 * returns 0, or an errno value (EAGAIN: nothing was sent; EPROTO: not
 * exactly one descriptor) with nothing kept.
 */
int wpool__fd_give(int sock, int fd);
int wpool__fd_take_now(int sock, int *fd);

#endif
