/*
 * The OS half of process workers on POSIX (see procpool.h): poll(2) over the
 * workers' pipes and a wake-up pipe, non-blocking read(2) and writev(2), and
 * starting, killing and reaping processes through the fork server
 * (WPOOL_FORK) or posix_spawn (WPOOL_SPAWN).
 */
#include "../os.h"
#include "../procpool.h"
#include "fdtrack.h"
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

#ifdef __linux__
const int wpool__default_method = WPOOL_FORK;
#else
/* fork is unsafe with Apple's frameworks: spawn is the default on macOS. */
const int wpool__default_method = WPOOL_SPAWN;
#endif

#define IOV_MAX_BATCH 128

typedef struct pos {
  int wake_r, wake_w;
  int wake_pending;
  wpool__forksrv_t *fs;
  wpool__proc_t *procs; /* by slot */
  struct pollfd *pfd;
  int *pfd_slot;
} pos_t;

int wpool__pos_init(wpool_t *p, char **errmsg) {
  pos_t *os = calloc(1, sizeof *os);
  if (!os)
    return WPOOL_ENOMEM;
  os->wake_r = os->wake_w = -1;
  p->be_state = os;
  size_t n = (size_t)p->nworkers;
  os->procs = calloc(n, sizeof *os->procs);
  os->pfd = calloc(2 * n + 1, sizeof *os->pfd);
  os->pfd_slot = calloc(2 * n + 1, sizeof *os->pfd_slot);
  if (!os->procs || !os->pfd || !os->pfd_slot)
    return WPOOL_ENOMEM;
  for (size_t i = 0; i < n; i++)
    os->procs[i].task_fd = os->procs[i].result_fd = -1;
  int fds[2];
  /* Tracked and close-on-exec from the start, off 0-2 (see fdtrack.h). */
  int e = wpool__fd_pair(fds, WPOOL__FD_NONBLOCK0 | WPOOL__FD_NONBLOCK1);
  if (e != 0)
    return e == ENOMEM ? WPOOL_ENOMEM : WPOOL_ESYS;
  os->wake_r = fds[0];
  os->wake_w = fds[1];
  if (p->method == WPOOL_FORK)
    return wpool__forksrv_start(&os->fs, errmsg);
  return 0;
}

void wpool__pos_free(wpool_t *p) {
  pos_t *os = p->be_state;
  if (!os)
    return;
  if (os->fs)
    wpool__forksrv_stop(os->fs);
  wpool__fd_close(os->wake_r);
  wpool__fd_close(os->wake_w);
  for (int i = 0; os->procs && i < p->nworkers; i++) {
    wpool__fd_close(os->procs[i].task_fd);
    wpool__fd_close(os->procs[i].result_fd);
  }
  free(os->procs);
  free(os->pfd);
  free(os->pfd_slot);
  free(os);
  p->be_state = NULL;
}

void wpool__pos_wake(wpool_t *p) {
  pos_t *os = p->be_state;
  if (!os || os->wake_pending || os->wake_w < 0)
    return;
  os->wake_pending = 1;
  ssize_t rc;
  do
    rc = write(os->wake_w, "w", 1);
  while (rc < 0 && errno == EINTR);
}

int wpool__pos_start(wpool_t *p, int i, long *pid, char **errmsg) {
  pos_t *os = p->be_state;
  wpool__proc_t proc = {0, -1, -1};
  int rc = p->method == WPOOL_FORK ? wpool__forksrv_spawn(os->fs, &proc, errmsg)
                                   : wpool__spawn_start(&proc, p->token,
                                                        errmsg);
  if (rc)
    return rc;
  /* Only the I/O thread touches procs[i], and the slot is empty now. */
  os->procs[i] = proc;
  *pid = proc.pid;
  return 0;
}

void wpool__pos_reap(wpool_t *p, int i, char *why, size_t cap) {
  pos_t *os = p->be_state;
  wpool__proc_t *proc = &os->procs[i];
  int status = 0;
  int rc = p->method == WPOOL_FORK
               ? wpool__forksrv_reap(os->fs, proc->pid, 1, &status)
               : wpool__spawn_reap(proc->pid, 1, &status);
  if (rc)
    snprintf(why, cap, "could not be reaped");
  else
    wpool__status_describe(status, why, cap);
  wpool__fd_close(proc->task_fd);
  wpool__fd_close(proc->result_fd);
  proc->task_fd = proc->result_fd = -1;
}

void wpool__pos_kill(wpool_t *p, int i) {
  pos_t *os = p->be_state;
  wpool__proc_kill(os->procs[i].pid);
}

static void do_send(wpool_t *p, int i) {
  pos_t *os = p->be_state;
  wpool__seg_t seg[IOV_MAX_BATCH];
  struct iovec iov[IOV_MAX_BATCH];
  size_t n;
  while ((n = wpool__pp_segments(p, i, seg, IOV_MAX_BATCH)) > 0) {
    for (size_t k = 0; k < n; k++) {
      iov[k].iov_base = (void *)seg[k].base;
      iov[k].iov_len = seg[k].len;
    }
    ssize_t wr = writev(os->procs[i].task_fd, iov, (int)n);
    if (wr < 0 && errno == EINTR)
      continue;
    if (wr < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return; /* the pipe is full: poll says when it drains */
      if (errno == EPIPE)
        wpool__os_clear_sigpipe();
      wpool__pp_broken(p, i);
      return;
    }
    wpool__pp_wrote(p, i, (size_t)wr);
  }
}

static void do_recv(wpool_t *p, int i) {
  pos_t *os = p->be_state;
  uint8_t *dst;
  size_t room;
  while (wpool__pp_read_target(p, i, &dst, &room) == 0) {
    ssize_t n = read(os->procs[i].result_fd, dst, room);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    wpool__pp_read_done(p, i, n < 0 ? 0 : (size_t)n);
    if (n <= 0 || (size_t)n < room)
      return; /* drained for now: poll says when there is more */
  }
}

void wpool__pos_wait(wpool_t *p, int timeout_ms) {
  pos_t *os = p->be_state;
  int n = 0;
  os->pfd[n].fd = os->wake_r;
  os->pfd[n].events = POLLIN;
  os->pfd_slot[n++] = -1;
  for (int i = 0; i < p->nworkers; i++) {
    if (!wpool__pp_live(p, i))
      continue;
    do_send(p, i);
    os->pfd[n].fd = os->procs[i].result_fd;
    os->pfd[n].events = POLLIN;
    os->pfd_slot[n++] = i;
    if (wpool__pp_wants_write(p, i)) {
      os->pfd[n].fd = os->procs[i].task_fd;
      os->pfd[n].events = POLLOUT;
      os->pfd_slot[n++] = i;
    }
  }
  wpool__mutex_unlock(p->lock);
  int ready = poll(os->pfd, (nfds_t)n, timeout_ms);
  wpool__mutex_lock(p->lock);
  if (ready <= 0)
    return;
  if (os->pfd[0].revents) {
    char drain[64];
    while (read(os->wake_r, drain, sizeof drain) > 0) {
    }
    os->wake_pending = 0;
  }
  for (int k = 1; k < n; k++) {
    int i = os->pfd_slot[k];
    if (!os->pfd[k].revents || !wpool__pp_live(p, i))
      continue;
    if (os->pfd[k].events & POLLIN)
      do_recv(p, i);
    else
      do_send(p, i);
  }
}
