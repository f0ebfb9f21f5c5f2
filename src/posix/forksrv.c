/*
 * The fork server (see posix.h). The parent and the server talk over a Unix
 * stream socket in fixed-size requests and replies, one at a time; a spawn
 * reply carries the parent's two pipe ends as SCM_RIGHTS.
 *
 * The server itself makes nothing but system calls (read, sendmsg, pipe,
 * fork, waitpid, kill, close) and touches no lock or heap of the program: it
 * is a copy of a process that may have had other threads, whose locks it
 * must never need. Workers forked from it run ordinary code: their parent
 * had a single thread, which is the point.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif

#include "fdtrack.h"
#include "posix.h"
#include "util.h"
#include "worker.h"
#include "wpool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

enum { OP_SPAWN = 1, OP_REAP = 2 };

/* Both ends are copies of one program: plain structs in host order. */
typedef struct request {
  int32_t op, flags; /* flags: WPOOL__REAP_* */
  int64_t pid;
} request_t;

typedef struct reply {
  int32_t err, status; /* err: errno of the server's failed call, or 0 */
  int64_t pid;
} reply_t;

struct wpool__forksrv {
  pthread_mutex_t lock; /* one request and its reply at a time */
  int sock;
  pid_t pid;
  int broken; /* the stream is closed or out of step: fail at once */
};

/* The thread that started the server: workers get its signal state back, as
   if they had been forked from there. */
typedef struct origin {
  sigset_t mask;
  struct sigaction chld;
  pid_t parent;
  int armed; /* may arm the parent-death signal (see util.h) */
} origin_t;

/* pp: task read, task write, result read, result write. */
static _Noreturn void run_worker(int sock, const int pp[4], const origin_t *o) {
  /* Holding the parent's ends would hide the parent's EOF from ourselves. */
  close(sock);
  close(pp[1]);
  close(pp[2]);
  /* Its own process group: killing the worker kills what its tasks start. */
  setpgid(0, 0);
  sigaction(SIGCHLD, &o->chld, NULL);
  sigprocmask(SIG_SETMASK, &o->mask, NULL);
  int rc = wpool__worker_serve(pp[0], pp[3]);
  fflush(NULL);
  _exit(rc);
}

static int serve_spawn(int sock, const origin_t *o) {
  reply_t r = {0, 0, 0};
  int pp[4] = {-1, -1, -1, -1};
  pid_t pid = -1;
  if (wpool__fd_pipe(pp) < 0 || wpool__fd_pipe(pp + 2) < 0)
    r.err = errno;
  else if ((pid = fork()) == 0)
    run_worker(sock, pp, o);
  else if (pid < 0)
    r.err = errno;
  else
    r.pid = pid;
  int ends[2] = {pp[1], pp[2]};
  int rc = wpool__fd_send(sock, &r, sizeof r, ends, pid > 0 ? 2 : 0);
  /* Only the parent and the worker may hold the pipes from here on, or later
     workers would inherit them. Had the reply been lost, the worker sees EOF
     on its task pipe now and exits. */
  for (int i = 0; i < 4; i++)
    if (pp[i] >= 0)
      close(pp[i]);
  return rc;
}

static _Noreturn void serve(int sock, const origin_t *o) {
#ifdef __linux__
  /* EOF on the socket ends the server in any case; the death signal also
     covers a parent killed while a request is running. The getppid check
     covers a parent that died before the prctl. */
  if (o->armed) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != o->parent)
      _exit(0);
  }
#endif
  /* Signals stay blocked as the parent left them, so the program's handlers
     never run here. SIGCHLD must not be ignored, or workers would be reaped
     by the kernel and REAP could not report their status. */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGCHLD, &dfl, NULL);
  for (;;) {
    request_t q;
    reply_t r = {0, 0, 0};
    int rc = -1;
    if (wpool__read_full(sock, &q, sizeof q) < 0)
      _exit(0); /* the parent closed the channel or died */
    if (q.op == OP_SPAWN) {
      rc = serve_spawn(sock, o);
    } else if (q.op == OP_REAP) {
      int st = 0;
      r.err = wpool__reap_child((long)q.pid, q.flags, &st);
      r.status = st;
      r.pid = q.pid;
      rc = wpool__fd_send(sock, &r, sizeof r, NULL, 0);
    }
    if (rc < 0)
      _exit(0);
  }
}

/* Fork the server with the fd lock held; 0 or an errno value. */
static int fork_server(wpool__forksrv_t *fs, const origin_t *o) {
  int sv[2], e = 0;
  wpool__fd_lock();
  if (wpool__fd_socketpair(sv) < 0) {
    e = errno;
  } else if (wpool__fd_track_locked(sv[0]) < 0) {
    e = ENOMEM;
    close(sv[0]);
    close(sv[1]);
  } else if ((fs->pid = fork()) == 0) {
    /* Our socket's other end first: only the parent may hold it, so that
       the parent's exit is our EOF. */
    wpool__fd_close_locked(sv[0]);
    wpool__fd_close_all_tracked_in_child();
    wpool__fd_unlock();
    serve(sv[1], o);
  } else {
    e = fs->pid < 0 ? errno : 0;
    close(sv[1]);
    if (e != 0)
      wpool__fd_close_locked(sv[0]);
    else
      fs->sock = sv[0];
  }
  wpool__fd_unlock();
  return e;
}

int wpool__forksrv_start(wpool__forksrv_t **out, char **errmsg) {
  if (errmsg != NULL)
    *errmsg = NULL;
  if (out == NULL)
    return WPOOL_EINVAL;
  *out = NULL;
  wpool__forksrv_t *fs = calloc(1, sizeof *fs);
  if (fs == NULL)
    return wpool__sys_fail(errmsg, WPOOL_ENOMEM, 0, "out of memory");
  int e = pthread_mutex_init(&fs->lock, NULL);
  if (e != 0) {
    free(fs);
    return wpool__sys_fail(errmsg, WPOOL_ESYS, e, "pthread_mutex_init");
  }
  origin_t o = {.parent = getpid(), .armed = wpool__on_main_thread()};
  sigset_t all;
  sigfillset(&all);
  sigaction(SIGCHLD, NULL, &o.chld);
  /* Blocked across the fork, so that no handler of the program ever runs
     in the server. */
  pthread_sigmask(SIG_SETMASK, &all, &o.mask);
  /* Unwritten stdio buffers would otherwise be written again by every
     worker's exit (each inherits a copy). */
  fflush(NULL);
  e = fork_server(fs, &o);
  pthread_sigmask(SIG_SETMASK, &o.mask, NULL);
  if (e != 0) {
    pthread_mutex_destroy(&fs->lock);
    free(fs);
    return wpool__sys_fail(errmsg, e == ENOMEM ? WPOOL_ENOMEM : WPOOL_ESYS, e,
                           "cannot start the fork server");
  }
#ifdef SO_NOSIGPIPE
  int one = 1;
  setsockopt(fs->sock, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
  *out = fs;
  return 0;
}

/* One request and its reply. Any failure, or a reply that does not match
   the request, leaves the stream out of step: the server is unusable. */
static int call(wpool__forksrv_t *fs, const request_t *q, reply_t *r,
                int fds[2]) {
  int nfds = 0, e;
  pthread_mutex_lock(&fs->lock);
  if (fs->broken)
    e = -1;
  else if (wpool__fd_send(fs->sock, q, sizeof *q, NULL, 0) < 0)
    e = errno;
  else
    e = wpool__fd_recv(fs->sock, r, sizeof *r, fds, &nfds);
  int want = e == 0 && q->op == OP_SPAWN && r->err == 0 ? 2 : 0;
  if (e == 0 && (nfds != want || (want && r->pid <= 0) ||
                 (q->op == OP_REAP && r->pid != q->pid))) {
    for (int i = 0; i < nfds; i++)
      wpool__fd_close(fds[i]);
    e = EPROTO;
  }
  if (e != 0)
    fs->broken = 1;
  pthread_mutex_unlock(&fs->lock);
  return e;
}

int wpool__forksrv_spawn(wpool__forksrv_t *fs, wpool__proc_t *p,
                         char **errmsg) {
  if (errmsg != NULL)
    *errmsg = NULL;
  if (fs == NULL || p == NULL)
    return WPOOL_EINVAL;
  request_t q = {OP_SPAWN, 0, 0};
  reply_t r;
  int fds[2];
  int e = call(fs, &q, &r, fds);
  if (e != 0)
    return wpool__sys_fail(errmsg, WPOOL_ESYS, e < 0 ? 0 : e,
                           "lost the fork server%s",
                           e < 0 ? " (it has exited)" : "");
  if (r.err != 0)
    return wpool__sys_fail(errmsg, WPOOL_ESPAWN, r.err,
                           "the fork server cannot start a worker");
  p->pid = (long)r.pid;
  p->task_fd = fds[0];
  p->result_fd = fds[1];
  return 0;
}

int wpool__forksrv_reap(wpool__forksrv_t *fs, long pid, int flags,
                        int *status) {
  if (fs == NULL || pid <= 0)
    return WPOOL_EINVAL;
  request_t q = {OP_REAP, flags, pid};
  reply_t r;
  int fds[2];
  if (call(fs, &q, &r, fds) != 0)
    return WPOOL_ESYS;
  if (r.err == EAGAIN)
    return 1;
  if (r.err != 0)
    return r.err == ECHILD ? WPOOL_ESTATE : WPOOL_ESYS;
  if (status != NULL)
    *status = r.status;
  return 0;
}

void wpool__forksrv_stop(wpool__forksrv_t *fs) {
  if (fs == NULL)
    return;
  /* EOF makes the server exit at once. Workers it still has exit when the
     pool has closed their task pipes (end of input). */
  wpool__fd_close(fs->sock);
  while (waitpid(fs->pid, NULL, 0) < 0 && errno == EINTR)
    ;
  pthread_mutex_destroy(&fs->lock);
  free(fs);
}
