/*
 * The fork server (see posix.h), the pool's side: starting it, requests,
 * stopping it. The parent and the server talk over a Unix stream socket in
 * fixed-size requests and replies, one at a time; a spawn reply carries the
 * parent's two pipe ends as SCM_RIGHTS. The server process itself is in
 * srvloop.c.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif

#include "forksrv.h"
#include "fdtrack.h"
#include "posix.h"
#include "util.h"
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
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif

typedef wpool__srv_request_t request_t;
typedef wpool__srv_reply_t reply_t;
typedef wpool__srv_origin_t origin_t;
enum {
  OP_SPAWN = WPOOL__SRV_SPAWN,
  OP_REAP = WPOOL__SRV_REAP,
  OP_QUIT = WPOOL__SRV_QUIT
};

struct wpool__forksrv {
  pthread_mutex_t lock; /* one request and its reply at a time */
  int sock;
  pid_t pid;
  int broken; /* the stream is closed or out of step: fail at once */
};

/* Fork the server with the fd lock held; 0 or an errno value. */
static int fork_server(wpool__forksrv_t *fs, const origin_t *o) {
  int sv[2], e;
  wpool__fd_lock();
  if ((e = wpool__fd_pair_locked(sv, WPOOL__FD_SOCKET)) != 0) {
    /* nothing to undo */
  } else if ((fs->pid = fork()) == 0) {
    /* Our socket's other end goes with every other tracked descriptor:
       only the parent may hold it, so that the parent's exit is our EOF. */
    wpool__fd_untrack_locked(sv[1]);
    wpool__fd_close_all_tracked_in_child();
    wpool__fd_unlock();
    wpool__srv_serve(sv[1], o);
  } else {
    e = fs->pid < 0 ? errno : 0;
    wpool__fd_close_locked(sv[1]);
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
  origin_t o = {.parent = getpid()};
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
  /* EMFILE: the whole reply was read, only its descriptors were dropped. */
  if (e != 0 && e != EMFILE)
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
  if (e == EMFILE) {
    /* The worker was started, but without its channels here it can only
       see end of input and exit: reap it now rather than leave a zombie. */
    if (r.err == 0 && r.pid > 0) {
      request_t reap = {OP_REAP, WPOOL__REAP_KILL, r.pid};
      call(fs, &reap, &r, fds);
    }
    return wpool__sys_fail(errmsg, WPOOL_ESYS, e,
                           "cannot take a new worker's channels");
  }
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

/*
 * May the server leave its memory's teardown to an orphan (srvloop.c)?
 * Not where that orphan would become our child: in init, or in a child
 * subreaper, which adopts orphans. Nor under valgrind, which supports no
 * process that shares memory without being a thread.
 */
static int may_hand_off(void) {
#ifdef __linux__
  int adopts = 0;
  if (getpid() == 1 || prctl(PR_GET_CHILD_SUBREAPER, &adopts) != 0 || adopts)
    return 0;
#ifdef RUNNING_ON_VALGRIND
  if (RUNNING_ON_VALGRIND)
    return 0;
#endif
  const char *pre = getenv("LD_PRELOAD");
  return pre == NULL || strstr(pre, "vgpreload") == NULL;
#else
  return 0;
#endif
}

void wpool__forksrv_stop(wpool__forksrv_t *fs) {
  if (fs == NULL)
    return;
  /* A large program's copy takes milliseconds to tear down: the wait below
     is for the server's exit, not for that (see srvloop.c). */
  if (!fs->broken && may_hand_off()) {
    request_t q = {OP_QUIT, WPOOL__QUIT_HANDOFF, 0};
    wpool__fd_send(fs->sock, &q, sizeof q, NULL, 0);
  }
  /* EOF makes the server exit at once, killing any worker it still has
     (and whatever they left behind). */
  wpool__fd_close(fs->sock);
  while (waitpid(fs->pid, NULL, 0) < 0 && errno == EINTR)
    ;
  pthread_mutex_destroy(&fs->lock);
  free(fs);
}
