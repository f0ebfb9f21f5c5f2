/*
 * The process-wide set of descriptors owned by wpool (see fdtrack.h for why
 * it exists), and the calls that create or receive such descriptors, which
 * must enter them in the set before anyone can fork.
 *
 * The set is a bitmap indexed by descriptor number: lookups cost nothing,
 * and closing the whole set in a forked child needs no allocation.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* pipe2 */
#endif

#include "fdtrack.h"
#include "posix.h"
#include "util.h"
#include "wpool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* A dead peer must be an error, not a SIGPIPE (macOS: SO_NOSIGPIPE). */
#ifdef MSG_NOSIGNAL
#define SEND_FLAGS MSG_NOSIGNAL
#else
#define SEND_FLAGS 0
#endif
#ifdef MSG_CMSG_CLOEXEC
#define RECV_FLAGS MSG_CMSG_CLOEXEC
#else
#define RECV_FLAGS 0
#endif

#define BITS (sizeof(unsigned long) * CHAR_BIT)
/* The first allocation covers 1024 descriptors, the usual soft limit. */
#define MIN_WORDS (1024 / BITS)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long *bits;
static size_t nwords;

void wpool__fd_lock(void) { pthread_mutex_lock(&lock); }

void wpool__fd_unlock(void) { pthread_mutex_unlock(&lock); }

static int grow(size_t word) {
  size_t n = nwords ? nwords : MIN_WORDS;
  while (n <= word)
    n *= 2;
  unsigned long *p = realloc(bits, n * sizeof *p);
  if (p == NULL)
    return WPOOL_ENOMEM;
  memset(p + nwords, 0, (n - nwords) * sizeof *p);
  bits = p;
  nwords = n;
  return 0;
}

int wpool__fd_track_locked(int fd) {
  if (fd < 0)
    return WPOOL_EINVAL;
  size_t word = (size_t)fd / BITS;
  if (word >= nwords && grow(word) < 0)
    return WPOOL_ENOMEM;
  bits[word] |= 1UL << ((size_t)fd % BITS);
  return 0;
}

void wpool__fd_untrack_locked(int fd) {
  size_t word = (size_t)fd / BITS;
  if (fd >= 0 && word < nwords)
    bits[word] &= ~(1UL << ((size_t)fd % BITS));
}

void wpool__fd_close_locked(int fd) {
  if (fd < 0)
    return;
  /* Untrack before closing: once closed, the number may be reused by another
     thread's descriptor, which must keep its own entry. */
  wpool__fd_untrack_locked(fd);
  /* Not retried on EINTR: on Linux the descriptor is gone either way, and a
     retry could close a number that another thread has just reused. */
  close(fd);
}

/*
 * The set's only way to lose an entry is a failed allocation. The contract
 * returns nothing, so such a descriptor simply stays open in fork servers
 * forked later; the backend's own descriptors use wpool__fd_track_locked()
 * and fail their operation instead.
 */
void wpool__fd_track(int fd) {
  wpool__fd_lock();
  (void)wpool__fd_track_locked(fd);
  wpool__fd_unlock();
}

void wpool__fd_untrack(int fd) {
  wpool__fd_lock();
  wpool__fd_untrack_locked(fd);
  wpool__fd_unlock();
}

/* Holding the lock across close() keeps untrack-and-close atomic with respect
   to a fork server being forked: it sees the descriptor either tracked and
   open, or neither. */
void wpool__fd_close(int fd) {
  if (fd < 0)
    return;
  wpool__fd_lock();
  wpool__fd_close_locked(fd);
  wpool__fd_unlock();
}

void wpool__fd_close_all_tracked_in_child(void) {
  for (size_t w = 0; w < nwords; w++) {
    for (size_t b = 0; bits[w] != 0 && b < BITS; b++) {
      if (bits[w] & (1UL << b)) {
        close((int)(w * BITS + b));
        bits[w] &= ~(1UL << b);
      }
    }
  }
}

/*
 * Without pipe2 and SOCK_CLOEXEC (macOS) a new pair is briefly inheritable
 * (flags set afterwards). That matters only to a concurrent fork+exec by the
 * program itself: wpool's own forks are covered by the lock, and macOS
 * spawns use POSIX_SPAWN_CLOEXEC_DEFAULT.
 */
static int make_raw(int fds[2], int flags) {
  int rc, atomic_cloexec = 0;
  if (flags & WPOOL__FD_SOCKET) {
#ifdef SOCK_CLOEXEC
    rc = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
    atomic_cloexec = 1;
#else
    rc = socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
#endif
  } else {
#if defined(__linux__)
    rc = pipe2(fds, O_CLOEXEC);
    atomic_cloexec = 1;
#else
    rc = pipe(fds);
#endif
  }
  return rc < 0 ? -1 : atomic_cloexec;
}

int wpool__fd_pair_untracked(int fds[2], int flags) {
  int atomic = make_raw(fds, flags);
  if (atomic < 0) {
    fds[0] = fds[1] = -1;
    return errno;
  }
  int e = 0;
  for (int k = 0; k < 2; k++) {
    int nb = (flags & (k ? WPOOL__FD_NONBLOCK1 : WPOOL__FD_NONBLOCK0)) != 0;
    if (e != 0)
      continue; /* closed below */
    fds[k] = wpool__fd_above_stdio(fds[k]);
    if (fds[k] < 0 || ((!atomic || nb) && wpool__fd_set_flags(fds[k], nb) < 0))
      e = errno;
  }
  if (e != 0) {
    for (int k = 0; k < 2; k++)
      if (fds[k] >= 0)
        close(fds[k]);
    fds[0] = fds[1] = -1;
    return e;
  }
#if defined(__linux__)
  /* A 1 MiB pipe moves large payloads in 1 MiB writes instead of 64 KiB
     ones (about 2.5x the bandwidth here). Best effort: the system caps it
     (fs/pipe-max-size, and a per-user budget past which it refuses). */
  if ((flags & WPOOL__FD_BIG) && !(flags & WPOOL__FD_SOCKET))
    fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
#endif
  if ((flags & WPOOL__FD_BIG) && (flags & WPOOL__FD_SOCKET)) {
    /* The same for a socket pair used one way (fds[1] writes): best effort,
       the system caps it (net.core.wmem_max, rmem_max). */
    int big = 1 << 20;
    setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  }
  return 0;
}

int wpool__fd_pair_locked(int fds[2], int flags) {
  int e = wpool__fd_pair_untracked(fds, flags);
  if (e == 0 && (wpool__fd_track_locked(fds[0]) < 0 ||
                 wpool__fd_track_locked(fds[1]) < 0)) {
    wpool__fd_close_locked(fds[0]);
    wpool__fd_close_locked(fds[1]);
    fds[0] = fds[1] = -1;
    e = ENOMEM;
  }
  return e;
}

int wpool__fd_pair(int fds[2], int flags) {
  wpool__fd_lock();
  int e = wpool__fd_pair_locked(fds, flags);
  wpool__fd_unlock();
  return e;
}

/* Room for WPOOL__FD_PASS_MAX descriptors, aligned for a cmsghdr. */
typedef union {
  struct cmsghdr h;
  char space[CMSG_SPACE(WPOOL__FD_PASS_MAX * sizeof(int))];
} cbuf_t;

int wpool__fd_send(int sock, const void *buf, size_t len, const int *fds,
                   int nfds) {
  cbuf_t u;
  struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
  if (nfds < 0 || nfds > WPOOL__FD_PASS_MAX) {
    errno = EINVAL;
    return -1;
  }
  if (nfds > 0) {
    memset(&u, 0, sizeof u);
    m.msg_control = u.space;
    m.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
    struct cmsghdr *c = &u.h; /* CMSG_FIRSTHDR(&m), never NULL here */
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
  }
  while (iov.iov_len > 0) {
    ssize_t n = sendmsg(sock, &m, SEND_FLAGS);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    iov.iov_base = (char *)iov.iov_base + n;
    iov.iov_len -= (size_t)n;
    /* After a short send the descriptors have gone with the first part. */
    m.msg_control = NULL;
    m.msg_controllen = 0;
  }
  return 0;
}

/* The descriptors of one received message, appended to fds. */
static int take_fds(struct msghdr *m, int sock, int *fds, int *nfds) {
  int e = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
      continue;
    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (*nfds < WPOOL__FD_PASS_MAX) {
        fds[(*nfds)++] = fd;
      } else {
        close(fd);
        e = EPROTO;
      }
    }
  }
  if (e != 0 || !(m->msg_flags & MSG_CTRUNC))
    return e;
  /* The kernel dropped descriptors: because this process has no room for
     them (it installs what fits), or because the peer sent too many. */
  int probe = fcntl(sock, F_DUPFD_CLOEXEC, 0);
  if (probe < 0 && errno == EMFILE)
    return EMFILE;
  if (probe >= 0)
    close(probe);
  return EPROTO;
}

int wpool__fd_recv(int sock, void *buf, size_t len, int *fds, int *nfds) {
  cbuf_t u;
  struct iovec iov = {.iov_base = buf, .iov_len = len};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
  m.msg_control = u.space;
  m.msg_controllen = sizeof u.space;
  *nfds = 0;
  /* Wait without the lock: other threads' closes need not wait for the
     peer (for the fork server, a fork). */
  struct pollfd p = {.fd = sock, .events = POLLIN};
  while (poll(&p, 1, -1) < 0)
    if (errno != EINTR)
      return errno;
  wpool__fd_lock();
  ssize_t n;
  while ((n = recvmsg(sock, &m, RECV_FLAGS)) < 0 && errno == EINTR)
    ;
  int e = n < 0 ? errno : n == 0 ? -1 : take_fds(&m, sock, fds, nfds);
  /* After EMFILE the stream is still in step once the message is read. */
  if ((e == 0 || e == EMFILE) && n > 0 && (size_t)n < len &&
      wpool__read_full(sock, (char *)buf + n, len - (size_t)n) < 0)
    e = -1;
  for (int i = 0; e == 0 && i < *nfds; i++)
    if ((fds[i] = wpool__fd_above_stdio(fds[i])) < 0 ||
        wpool__fd_set_flags(fds[i], 1) < 0)
      e = errno;
    else if (wpool__fd_track_locked(fds[i]) < 0)
      e = ENOMEM;
  for (int i = 0; e != 0 && i < *nfds; i++)
    wpool__fd_close_locked(fds[i]);
  if (e != 0)
    *nfds = 0;
  wpool__fd_unlock();
  return e;
}

int wpool__fd_take_now(int sock, int *fd) {
  cbuf_t u;
  char byte;
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
  int fds[WPOOL__FD_PASS_MAX];
  int nfds = 0;
  m.msg_control = u.space;
  m.msg_controllen = sizeof u.space;
  *fd = -1;
  wpool__fd_lock();
  ssize_t n;
  while ((n = recvmsg(sock, &m, RECV_FLAGS | MSG_DONTWAIT)) < 0 &&
         errno == EINTR)
    ;
  int e = n < 0 ? errno : n == 0 ? -1 : take_fds(&m, sock, fds, &nfds);
  /* Exactly one: a message with none or two is not what a worker sends. */
  if (e == 0 && nfds != 1)
    e = EPROTO;
  if (e == 0 && ((fds[0] = wpool__fd_above_stdio(fds[0])) < 0 ||
                 wpool__fd_set_flags(fds[0], 0) < 0))
    e = errno ? errno : EBADF;
  else if (e == 0 && wpool__fd_track_locked(fds[0]) < 0)
    e = ENOMEM;
  if (e == 0)
    *fd = fds[0];
  else
    for (int i = 0; i < nfds; i++)
      if (fds[i] >= 0)
        close(fds[i]);
  wpool__fd_unlock();
  return e;
}

int wpool__fd_give(int sock, int fd) {
  struct pollfd p = {.fd = sock, .events = POLLOUT};
  for (;;) {
    if (wpool__fd_send(sock, "R", 1, &fd, 1) == 0)
      return 0;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return -1;
    while (poll(&p, 1, -1) < 0)
      if (errno != EINTR)
        return -1;
  }
}
