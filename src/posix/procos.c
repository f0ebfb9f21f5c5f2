/*
 * The process channel on POSIX (chan.h): a worker started by the fork
 * server (WPOOL_FORK) or posix_spawn (WPOOL_SPAWN), two non-blocking pipes
 * moved with read(2) and writev(2), and poll(2) over every pipe, a wake-up
 * pipe and one pidfd per worker.
 *
 * A worker's end is learnt from its pidfd, not from the end of its result
 * pipe: a process the task started (a daemon) may hold that pipe open for
 * ever. The pidfd is also the only handle through which a worker is
 * signalled, so a pid recycled after someone else reaped the worker (a
 * program that ignores SIGCHLD) is never hit. Reaping is non-blocking: it
 * happens once the pidfd says the process has ended, and a fork worker's
 * reap is a request to the fork server that is answered at once then.
 *
 * Without pidfd_open (kernels before 5.3, other systems, valgrind, which
 * answers ENOSYS) each worker is checked with a non-blocking reap at least
 * every FALLBACK_MS, and signals go to its pid as before: a bounded delay
 * instead of an event, and the pid hazard above when SIGCHLD is ignored.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif

#include "../chan.h"
#include "../os.h"
#include "fdtrack.h"
#include "posix.h"
#include "util.h"
#include "wpool.h"

#include <apr_atomic.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#ifdef __linux__
const int wpool__default_method = WPOOL_FORK;
#else
/* fork is unsafe with Apple's frameworks: spawn is the default on macOS. */
const int wpool__default_method = WPOOL_SPAWN;
#endif

#define IOV_MAX_BATCH 128
/* The most handles one send carries: a task's input and output buffers. */
#define CHAN_HANDLES_MAX 2
#ifdef MSG_NOSIGNAL
#define SEND_FLAGS MSG_NOSIGNAL
#else
#define SEND_FLAGS 0
#endif
#define FALLBACK_MS 100

struct wpool_chan {
  wpool__xport_t *x;
  void *data;
  wpool__proc_t proc;
  int pidfd;   /* -1: no pidfd, the fallback applies */
  int want;    /* WPOOL__CH_* the owner waits for */
  int pending; /* events found and not yet reported */
  int ended;   /* the process has ended (GONE found) */
  int reaped;  /* status holds its wait status */
  int lost;    /* it ended, but its status went to someone else */
  int status;
  struct wpool_chan *next;
};

struct wpool_xport {
  int method;
  const char *token;
  int wake_r, wake_w;
  apr_uint32_t wake_pending;
  wpool__forksrv_t *fs;
  wpool__chan_t *chans; /* open channels */
  int nslots;
  struct pollfd *pfd;
  wpool__chan_t **pfd_chan;
  int *pfd_what;
  long long next_check; /* the fallback's next round, monotonic ms */
};

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A pidfd for pid (close-on-exec), tracked before any fork server can be
   forked, or -1. */
static apr_uint32_t no_pidfd; /* the kernel said ENOSYS: do not ask again */

static int open_pidfd(long pid) {
#if defined(__linux__) && defined(SYS_pidfd_open)
  if (apr_atomic_read32(&no_pidfd))
    return -1;
  wpool__fd_lock();
  int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (fd < 0 && errno == ENOSYS)
    apr_atomic_set32(&no_pidfd, 1);
  /* Never on 0-2 (see fdtrack.h), and close-on-exec as pidfds are. */
  if (fd >= 0 && fd <= 2)
    fd = wpool__fd_above_stdio(fd);
  if (fd >= 0 && wpool__fd_track_locked(fd)) {
    close(fd);
    fd = -1;
  }
  wpool__fd_unlock();
  return fd;
#else
  (void)pid;
  return -1;
#endif
}

static int x_init(wpool__xport_t **out, const wpool__xport_cfg_t *cfg,
                  char **errmsg) {
  wpool__xport_t *x = calloc(1, sizeof *x);
  if (!x)
    return WPOOL_ENOMEM;
  *out = x;
  x->method = cfg->method;
  x->token = cfg->token;
  x->nslots = cfg->nslots;
  x->wake_r = x->wake_w = -1;
  size_t n = 3 * (size_t)cfg->nslots + 1;
  x->pfd = calloc(n, sizeof *x->pfd);
  x->pfd_chan = calloc(n, sizeof *x->pfd_chan);
  x->pfd_what = calloc(n, sizeof *x->pfd_what);
  if (!x->pfd || !x->pfd_chan || !x->pfd_what)
    return WPOOL_ENOMEM;
  /* Tracked and close-on-exec from the start, off 0-2 (see fdtrack.h). */
  int fds[2];
  int e = wpool__fd_pair(fds, WPOOL__FD_NONBLOCK0 | WPOOL__FD_NONBLOCK1);
  if (e)
    return wpool__sys_fail(errmsg, e == ENOMEM ? WPOOL_ENOMEM : WPOOL_ESYS, e,
                           "cannot create the wake-up pipe");
  x->wake_r = fds[0];
  x->wake_w = fds[1];
  if (cfg->method == WPOOL_FORK)
    return wpool__forksrv_start(&x->fs, errmsg);
  return 0;
}

/* Reap ch's process, without waiting unless block; 1 when it has ended. */
static int try_reap(wpool__chan_t *ch, int block) {
  if (ch->reaped || ch->lost)
    return 1;
  int flags = block ? WPOOL__REAP_KILL : WPOOL__REAP_NOHANG;
  int rc = ch->x->fs ? wpool__forksrv_reap(ch->x->fs, ch->proc.pid, flags,
                                           &ch->status)
                     : wpool__spawn_reap(ch->proc.pid, flags, &ch->status);
  if (rc == 1)
    return 0;
  if (rc == 0)
    ch->reaped = 1;
  else
    ch->lost = 1; /* gone, with its status: nothing more to learn */
  return 1;
}

static void release(wpool__chan_t *ch) {
  wpool__xport_t *x = ch->x;
  for (wpool__chan_t **q = &x->chans; *q; q = &(*q)->next)
    if (*q == ch) {
      *q = ch->next;
      break;
    }
  wpool__fd_close(ch->proc.task_fd);
  wpool__fd_close(ch->proc.result_fd);
  wpool__fd_close(ch->pidfd);
  free(ch);
}

static void x_fini(wpool__xport_t *x) {
  if (!x)
    return;
  /* Only a start-up that failed half way leaves channels open here. */
  while (x->chans) {
    try_reap(x->chans, 1);
    release(x->chans);
  }
  if (x->fs)
    wpool__forksrv_stop(x->fs);
  wpool__fd_close(x->wake_r);
  wpool__fd_close(x->wake_w);
  free(x->pfd);
  free(x->pfd_chan);
  free(x->pfd_what);
  free(x);
}

static void x_wake(wpool__xport_t *x) {
  if (!x || apr_atomic_xchg32(&x->wake_pending, 1) != 0)
    return;
  ssize_t rc;
  do
    rc = write(x->wake_w, "w", 1);
  while (rc < 0 && errno == EINTR);
}

static int x_open(wpool__xport_t *x, void *data, wpool__chan_t **out,
                  long *peer, char **errmsg) {
  wpool__chan_t *ch = calloc(1, sizeof *ch);
  if (!ch)
    return WPOOL_ENOMEM;
  ch->proc = (wpool__proc_t){0, -1, -1};
  int rc = x->fs ? wpool__forksrv_spawn(x->fs, &ch->proc, errmsg)
                 : wpool__spawn_start(&ch->proc, x->token, errmsg);
  if (rc) {
    free(ch);
    return rc;
  }
  ch->x = x;
  ch->data = data;
  /* A fork worker cannot be reaped before the server is asked to, and a
     spawn worker not before we wait for it, unless SIGCHLD is ignored:
     then it may already be gone (ESRCH), which the fallback finds. */
  ch->pidfd = open_pidfd(ch->proc.pid);
  ch->next = x->chans;
  x->chans = ch;
  *out = ch;
  *peer = ch->proc.pid;
  return 0;
}

static long c_send(wpool__chan_t *ch, const wpool__seg_t *seg, size_t n,
                   const intptr_t *handles, size_t nh) {
  struct iovec iov[IOV_MAX_BATCH];
  union {
    struct cmsghdr h;
    char space[CMSG_SPACE(CHAN_HANDLES_MAX * sizeof(int))];
  } u;
  if (n > IOV_MAX_BATCH)
    n = IOV_MAX_BATCH;
  if (nh > CHAN_HANDLES_MAX)
    return -1;
  for (size_t k = 0; k < n; k++) {
    iov[k].iov_base = (void *)seg[k].base;
    iov[k].iov_len = seg[k].len;
  }
  struct msghdr m = {0};
  m.msg_iov = iov;
  m.msg_iovlen = (int)n;
  if (nh) {
    memset(&u, 0, sizeof u);
    m.msg_control = u.space;
    m.msg_controllen = CMSG_SPACE(nh * sizeof(int));
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(nh * sizeof(int));
    for (size_t k = 0; k < nh; k++) {
      int fd = (int)handles[k];
      memcpy(CMSG_DATA(c) + k * sizeof(int), &fd, sizeof fd);
    }
  }
  for (;;) {
    /* The task channel is a socket (so that handles can go with a task);
       MSG_NOSIGNAL where there is one, else SIGPIPE is blocked on this
       thread and cleared below. */
    ssize_t wr = sendmsg(ch->proc.task_fd, &m, SEND_FLAGS);
    if (wr >= 0)
      return (long)wr;
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      return 0;
    if (errno == EPIPE)
      wpool__os_clear_sigpipe();
    return -1;
  }
}

static long c_recv(wpool__chan_t *ch, void *dst, size_t room) {
  for (;;) {
    ssize_t n = read(ch->proc.result_fd, dst, room);
    if (n > 0)
      return (long)n;
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return 0;
    return -1;
  }
}

/* The worker sent the buffer of a large result over the task socket (the
   one way back that carries descriptors) before the frame that names it. */
static int c_take(wpool__chan_t *ch, uint64_t value, intptr_t *h) {
  (void)value; /* the worker's number for it, not ours */
  int fd;
  if (wpool__fd_take_now(ch->proc.task_fd, &fd))
    return -1;
  *h = fd;
  return 0;
}

static void c_want(wpool__chan_t *ch, int what) { ch->want = what; }

static void c_stop(wpool__chan_t *ch) {
  if (ch->ended)
    return;
#if defined(__linux__) && defined(SYS_pidfd_send_signal)
  if (ch->pidfd >= 0) {
    /* The group too, for what its tasks started: the worker is not reaped
       yet (we reap it), so its group's id is still its own. */
    if (syscall(SYS_pidfd_send_signal, ch->pidfd, SIGKILL, NULL, 0) == 0)
      kill(-(pid_t)ch->proc.pid, SIGKILL);
    return;
  }
#endif
  /* Without a pidfd, the pid is the worker's only while it is not reaped:
     reap it if it has ended, and signal it only if it still runs. */
  if (try_reap(ch, 0)) {
    ch->ended = 1;
    ch->pending |= WPOOL__CH_GONE;
    return;
  }
  wpool__proc_kill(ch->proc.pid);
}

static void c_close(wpool__chan_t *ch, char *why, size_t cap) {
  try_reap(ch, 1);
  if (ch->reaped)
    wpool__status_describe(ch->status, why, cap);
  else
    snprintf(why, cap,
             "ended, but its exit status was lost (the program "
             "ignores SIGCHLD or reaped it itself)");
  release(ch);
}

/* The process behind ch has ended: learn how, and report GONE. */
static void ended(wpool__chan_t *ch) {
  if (try_reap(ch, 0)) {
    ch->ended = 1;
    ch->pending |= WPOOL__CH_GONE;
  }
}

/* Room in the poll arrays for every open channel: the pool may have grown
   past the size it started with (wpool_resize). Only the loop's thread
   opens channels and waits, so nothing else uses the arrays meanwhile. */
static int fit_pfd(wpool__xport_t *x) {
  int open = 0;
  for (wpool__chan_t *ch = x->chans; ch; ch = ch->next)
    open++;
  if (open <= x->nslots)
    return 0;
  size_t n = 3 * (size_t)open + 1;
  struct pollfd *pfd = realloc(x->pfd, n * sizeof *pfd);
  if (pfd)
    x->pfd = pfd;
  wpool__chan_t **pfd_chan = realloc(x->pfd_chan, n * sizeof *pfd_chan);
  if (pfd_chan)
    x->pfd_chan = pfd_chan;
  int *pfd_what = realloc(x->pfd_what, n * sizeof *pfd_what);
  if (pfd_what)
    x->pfd_what = pfd_what;
  if (!pfd || !pfd_chan || !pfd_what)
    return -1;
  x->nslots = open;
  return 0;
}

static int x_wait(wpool__xport_t *x, int timeout_ms, wpool__chan_ev_t *ev,
                  int max) {
  int n = 0, fallback = 0, pending = 0;
  /* Out of memory: the channels that fit are watched now, and the others
     by the fallback's round, until the arrays can grow. */
  int room_for = fit_pfd(x) ? x->nslots : INT_MAX, watched = 0;
  x->pfd[n] = (struct pollfd){x->wake_r, POLLIN, 0};
  x->pfd_chan[n++] = NULL;
  for (wpool__chan_t *ch = x->chans; ch; ch = ch->next) {
    pending |= ch->pending;
    if (watched++ >= room_for) {
      fallback = 1;
      continue;
    }
    if ((ch->want & WPOOL__CH_READ) && !ch->ended) {
      x->pfd[n] = (struct pollfd){ch->proc.result_fd, POLLIN, 0};
      x->pfd_what[n] = WPOOL__CH_READ;
      x->pfd_chan[n++] = ch;
    }
    if ((ch->want & WPOOL__CH_WRITE) && !ch->ended) {
      x->pfd[n] = (struct pollfd){ch->proc.task_fd, POLLOUT, 0};
      x->pfd_what[n] = WPOOL__CH_WRITE;
      x->pfd_chan[n++] = ch;
    }
    if (ch->ended)
      continue;
    if (ch->pidfd >= 0) {
      x->pfd[n] = (struct pollfd){ch->pidfd, POLLIN, 0};
      x->pfd_what[n] = WPOOL__CH_GONE;
      x->pfd_chan[n++] = ch;
    } else {
      fallback = 1;
    }
  }
  long long now = now_ms();
  if (fallback) {
    long long left = x->next_check > now ? x->next_check - now : 0;
    if (timeout_ms < 0 || timeout_ms > left)
      timeout_ms = (int)left;
  }
  if (pending)
    timeout_ms = 0;
  int ready = poll(x->pfd, (nfds_t)n, timeout_ms);
  if (ready > 0 && x->pfd[0].revents) {
    /* Drained before the flag is cleared: a wake-up that finds the flag
       still set is one whose change the caller will see anyway (it looks
       once wait returns), and one after it writes a byte that stays. */
    char drain[64];
    while (read(x->wake_r, drain, sizeof drain) > 0) {
    }
    apr_atomic_set32(&x->wake_pending, 0);
  }
  for (int k = 1; ready > 0 && k < n; k++) {
    wpool__chan_t *ch = x->pfd_chan[k];
    if (!x->pfd[k].revents)
      continue;
    if (x->pfd_what[k] == WPOOL__CH_GONE)
      ended(ch);
    else
      ch->pending |= x->pfd_what[k];
  }
  if (fallback && (now = now_ms()) >= x->next_check) {
    x->next_check = now + FALLBACK_MS;
    for (wpool__chan_t *ch = x->chans; ch; ch = ch->next)
      if (ch->pidfd < 0 && !ch->ended)
        ended(ch);
  }
  int m = 0;
  for (wpool__chan_t *ch = x->chans; ch && m < max; ch = ch->next) {
    if (!ch->pending)
      continue;
    ev[m].data = ch->data;
    ev[m++].what = ch->pending;
    ch->pending = 0;
  }
  return m;
}

/* send() is one sendmsg() on the task socket, touching nothing the loop's
   wait() reads; without MSG_NOSIGNAL a dead worker would raise SIGPIPE on a
   thread that has not blocked it. */
#ifdef MSG_NOSIGNAL
const int wpool__proc_chan_any_thread = 1;
#else
const int wpool__proc_chan_any_thread = 0;
#endif

const wpool__chan_ops_t wpool__proc_chan = {
    "posix-process", x_init, x_fini, x_wake,  x_open, c_send, NULL,
    c_recv,          c_want, c_stop, c_close, x_wait, 0,      1, 1,
    c_take};
