/*
 * The process backend on POSIX: one I/O thread per pool ("the loop") owns
 * every worker pipe. It polls the result pipes, the task pipes that have
 * bytes waiting to go, and a wake-up pipe; writes pipelined TASK frames with
 * writev straight from the caller's memory; reads RESULT frames (fixed map
 * outputs straight into the caller's output array); notices deaths by end of
 * file, reaps, and replaces workers. Only this thread touches worker fds and
 * per-worker I/O state, so that state needs no lock; the scheduler's state is
 * touched with pool->lock held.
 *
 * Workers are forked from the fork server (WPOOL_FORK) or started with
 * posix_spawn (WPOOL_SPAWN): the parent itself never forks.
 */
#include "../os.h"
#include "../pool.h"
#include "../registry.h"
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#ifdef __linux__
const int wpool__default_method = WPOOL_FORK;
#else
/* fork is unsafe with Apple's frameworks: spawn is the default on macOS. */
const int wpool__default_method = WPOOL_SPAWN;
#endif

#define STAGE_SIZE 65536u
#define IOV_BATCH 64
/* Replacement workers that fail to start in a row before the pool gives up
   instead of respawning forever. */
#define MAX_START_FAILURES 3

typedef struct pw {
  wpool__proc_t proc;
  int live;           /* has a process */
  int hs;             /* handshake: 0 awaiting HELLO, 1 READY, 2 done */
  apr_time_t deadline; /* for the handshake */
  int dead;            /* end of file or write error seen */
  int err_code;        /* why its held chunk fails, when not a plain death */
  char err_msg[160];
  /* Sending: entries [0, sent) of the FIFO (from its head) are written,
     and off bytes of entry `sent`. ctl holds INIT before any task. */
  size_t sent, off;
  wpool__buf_t ctl;
  size_t ctl_off;
  int exit_pending, exit_off;
  /* Receiving. */
  wpool__frame_t hdr;
  size_t hdr_got;
  uint8_t *fixed;
  size_t fixed_len, fixed_got;
  wpool__buf_t tail;
  size_t tail_len;
  uint8_t *stage;
  size_t stage_pos, stage_len;
} pw_t;

typedef struct ls {
  int wake_r, wake_w;
  int wake_pending;
  wpool__forksrv_t *fs;
  apr_thread_t *thread;
  int loop_done, thread_joined;
  int started;         /* every first worker reported ready */
  int start_failures;  /* in a row, after start-up */
  int killed;          /* terminate: workers were sent SIGKILL */
  pw_t *pw;
  struct pollfd *pfd;
  int *pfd_worker;
} ls_t;

static int set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ---------------------------------------------------------------------- */
/* Starting and reaping                                                    */

/* Start a process for slot w. Called without the lock (starting takes a
   while); only the published fields below are shared, and they are set once
   the lock is held again. */
static int spawn_one(wpool_t *p, wpool__worker_t *w, char **errmsg) {
  ls_t *ls = p->be_state;
  wpool__proc_t proc = {0, -1, -1};
  apr_thread_mutex_unlock(p->lock);
  int rc = p->method == WPOOL_FORK ? wpool__forksrv_spawn(ls->fs, &proc, errmsg)
                                   : wpool__spawn_start(&proc, errmsg);
  apr_thread_mutex_lock(p->lock);
  if (rc)
    return rc;
  pw_t *pw = &ls->pw[w->index];
  uint8_t *stage = pw->stage;
  memset(pw, 0, sizeof *pw);
  pw->stage = stage;
  pw->proc = proc;
  pw->live = 1;
  pw->deadline = apr_time_now() + (apr_time_t)p->opt.start_timeout_ms * 1000;
  w->pid = pw->proc.pid;
  w->state = WPOOL__W_STARTING;
  w->tasks_sent = 0;
  w->head = w->count = 0;
  return 0;
}

/* Kill (if needed) and reap the worker's process; its wait status text. */
static void reap(wpool_t *p, wpool__worker_t *w, int kill_first, char *why,
                 size_t cap) {
  ls_t *ls = p->be_state;
  pw_t *pw = &ls->pw[w->index];
  int status = 0;
  int rc = p->method == WPOOL_FORK
               ? wpool__forksrv_reap(ls->fs, pw->proc.pid, kill_first, &status)
               : wpool__spawn_reap(pw->proc.pid, kill_first, &status);
  if (rc)
    snprintf(why, cap, "could not be reaped");
  else
    wpool__status_describe(status, why, cap);
  wpool__fd_close(pw->proc.task_fd);
  wpool__fd_close(pw->proc.result_fd);
  pw->proc.task_fd = pw->proc.result_fd = -1;
  pw->live = 0;
  wpool__buf_free(&pw->ctl);
  wpool__buf_free(&pw->tail);
}

static void start_failed(wpool_t *p, int code, const char *fmt, const char *a,
                         const char *b) {
  ls_t *ls = p->be_state;
  char msg[WPOOL__MSG_MAX + 256];
  snprintf(msg, sizeof msg, fmt, a, b);
  if (!ls->started) {
    if (!p->start_code) {
      p->start_code = code;
      wpool__set_msg(&p->start_msg, "%s", msg);
    }
    apr_thread_cond_broadcast(p->state_cond);
  } else if (++ls->start_failures >= MAX_START_FAILURES) {
    wpool__break(p, code, msg);
  }
}

/* Does the pool still need a worker in an empty slot? (lock held) */
static int needs_worker(wpool_t *p) {
  ls_t *ls = p->be_state;
  if (p->state == WPOOL__TERMINATED || p->start_code)
    return 0;
  return p->state == WPOOL__RUNNING || !ls->started || wpool__has_work(p);
}

/* Worker w is gone (end of file, write error or handshake timeout). */
static void on_death(wpool_t *p, wpool__worker_t *w, int timed_out) {
  ls_t *ls = p->be_state;
  pw_t *pw = &ls->pw[w->index];
  int hs = pw->hs;
  int retiring = w->state == WPOOL__W_RETIRING;
  char why[160], msg[512];
  apr_thread_mutex_unlock(p->lock);
  reap(p, w, 1, why, sizeof why);
  apr_thread_mutex_lock(p->lock);
  w->state = WPOOL__W_EMPTY;
  if (hs < 2) {
    if (timed_out)
      start_failed(p, WPOOL_ESPAWN,
                   "worker did not complete the handshake in time (%s%s): does "
                   "main() call wpool_bootstrap(argc, argv) first?",
                   "killed", "");
    else if (!ls->killed)
      start_failed(p, WPOOL_ESPAWN,
                   "worker %s before the handshake%s", why,
                   p->method == WPOOL_SPAWN
                       ? ": does main() call wpool_bootstrap(argc, argv) "
                         "first?"
                       : "");
  } else if (hs == 2) {
    if (pw->err_code)
      snprintf(msg, sizeof msg, "worker %ld %s (%s)", w->pid, pw->err_msg, why);
    else
      snprintf(msg, sizeof msg, "worker %ld %s", w->pid, why);
    if (w->count)
      wpool__fail_held(p, w, pw->err_code ? pw->err_code : WPOOL_EWORKER, msg,
                       1);
    (void)retiring;
  }
  w->count = w->head = 0;
  apr_thread_cond_broadcast(p->state_cond);
}

/* ---------------------------------------------------------------------- */
/* Sending                                                                 */

static void queue_init(wpool_t *p, pw_t *pw) {
  wpool__frame_t f;
  wpool__frame_init(&f, WPOOL__F_INIT);
  f.fn = p->init_fn;
  f.nanos = p->max_frame;
  f.len = (uint32_t)p->opt.initargs_len;
  if (wpool__buf_append(&pw->ctl, &f, sizeof f) ||
      wpool__buf_append(&pw->ctl, p->opt.initargs, p->opt.initargs_len))
    pw->dead = 1; /* out of memory: treat as a failed start */
}

static const wpool__frame_t exit_frame = {WPOOL__MAGIC, WPOOL__F_EXIT, 0, 0,
                                          0, 0, 0, 0, 0, 0, 0};

static int send_pending(const wpool__worker_t *w, const pw_t *pw) {
  return pw->ctl_off < pw->ctl.len || pw->sent < w->count ||
         (pw->exit_pending && pw->exit_off < (int)WPOOL__FRAME_SIZE);
}

/* Write what is pending for w; the lock is held (the FIFO is shared). */
static void do_send(wpool__worker_t *w, pw_t *pw) {
  for (;;) {
    struct iovec iov[IOV_BATCH * 2 + 2];
    int n = 0;
    if (pw->ctl_off < pw->ctl.len) {
      iov[n].iov_base = pw->ctl.data + pw->ctl_off;
      iov[n++].iov_len = pw->ctl.len - pw->ctl_off;
    }
    size_t off = pw->off;
    for (size_t i = pw->sent; i < w->count && n < IOV_BATCH * 2; i++) {
      wpool__job_t *j = &w->fifo[(w->head + i) % w->fifo_cap];
      if (off < WPOOL__FRAME_SIZE) {
        iov[n].iov_base = (uint8_t *)&j->hdr + off;
        iov[n++].iov_len = WPOOL__FRAME_SIZE - off;
        off = 0;
      } else {
        off -= WPOOL__FRAME_SIZE;
      }
      if (j->plen > off) {
        iov[n].iov_base = (uint8_t *)j->payload + off;
        iov[n++].iov_len = j->plen - off;
      }
      off = 0;
    }
    int all_jobs = pw->sent == w->count;
    if (pw->exit_pending && all_jobs && pw->exit_off < (int)WPOOL__FRAME_SIZE) {
      iov[n].iov_base = (uint8_t *)&exit_frame + pw->exit_off;
      iov[n++].iov_len = WPOOL__FRAME_SIZE - (size_t)pw->exit_off;
    }
    if (n == 0)
      return;
    ssize_t wr = writev(pw->proc.task_fd, iov, n);
    if (wr < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EPIPE) {
        wpool__os_clear_sigpipe();
        pw->dead = 1;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        pw->dead = 1;
      }
      return;
    }
    size_t left = (size_t)wr;
    if (pw->ctl_off < pw->ctl.len) {
      size_t c = pw->ctl.len - pw->ctl_off;
      c = c < left ? c : left;
      pw->ctl_off += c;
      left -= c;
    }
    while (left && pw->sent < w->count) {
      wpool__job_t *j = &w->fifo[(w->head + pw->sent) % w->fifo_cap];
      size_t rest = WPOOL__FRAME_SIZE + j->plen - pw->off;
      if (left >= rest) {
        left -= rest;
        pw->sent++;
        pw->off = 0;
      } else {
        pw->off += left;
        left = 0;
      }
    }
    pw->exit_off += (int)left;
    if (!send_pending(w, pw))
      return;
    /* More is waiting: the pipe may still have room; EAGAIN says when not. */
  }
}


/* ---------------------------------------------------------------------- */
/* Receiving                                                               */

/* The worker broke the protocol: it is killed and its chunk fails. */
static int protocol_error(pw_t *pw, const char *what) {
  if (!pw->err_code) {
    pw->err_code = WPOOL_EPROTO;
    snprintf(pw->err_msg, sizeof pw->err_msg, "sent a malformed frame: %s",
             what);
  }
  pw->dead = 1;
  return -1;
}

/* A whole header arrived: check it and say where its payload goes. */
static int on_header(wpool_t *p, wpool__worker_t *w, pw_t *pw) {
  const wpool__frame_t *f = &pw->hdr;
  int rc = wpool__frame_check(f, p->max_frame);
  if (rc)
    return protocol_error(pw, rc == WPOOL_E2BIG ? "length over the limit"
                                                : "bad magic or type");
  pw->fixed = NULL;
  pw->fixed_len = pw->fixed_got = 0;
  pw->tail.len = 0;
  pw->tail_len = f->len;
  if (pw->hs == 0) {
    if (f->type != WPOOL__F_HELLO || f->len || (long)f->job != pw->proc.pid)
      return protocol_error(pw, "expected HELLO");
    if (f->count != WPOOL__PROTO_VERSION || f->fn != wpool__registry_count() ||
        f->nanos != wpool__registry_hash()) {
      start_failed(p, WPOOL_ESPAWN,
                   "worker's protocol or function table differs from the "
                   "parent's%s%s",
                   " (are both the same build of the program, with the same ",
                   "registrations?)");
      pw->hs = 3; /* reported: its death is not a second failure */
      pw->dead = 1;
      return -1;
    }
    return 0;
  }
  if (pw->hs == 1) {
    if (f->type != WPOOL__F_READY ||
        f->len > WPOOL__FAIL_REC_HDR + WPOOL__MSG_MAX)
      return protocol_error(pw, "expected READY");
    return 0;
  }
  if (f->type != WPOOL__F_RESULT || pw->sent == 0)
    return protocol_error(pw, "unexpected frame");
  const wpool__job_t *j = &w->fifo[w->head];
  if (f->job != j->seq || f->count != j->hdr.count || f->osize != j->hdr.osize)
    return protocol_error(pw, "result does not match the task it answers");
  size_t fixed_len = (size_t)f->count * f->osize;
  if (f->len < fixed_len)
    return protocol_error(pw, "result shorter than its outputs");
  if (fixed_len && !j->cancelled) {
    wpool__batch_t *b = j->batch;
    pw->fixed = b->out + j->chunk * b->chunksize * b->osize;
    pw->fixed_len = fixed_len;
    pw->tail_len = f->len - fixed_len;
  }
  return 0;
}

/* A whole frame (header and payload) arrived. */
static void on_frame(wpool_t *p, wpool__worker_t *w, pw_t *pw) {
  ls_t *ls = p->be_state;
  const wpool__frame_t *f = &pw->hdr;
  if (pw->hs == 0) {
    pw->hs = 1;
    queue_init(p, pw);
    return;
  }
  if (pw->hs == 1) {
    if (f->nfail) {
      wpool__fail_t fl;
      size_t off = 0;
      if (wpool__fail_next(pw->tail.data, pw->tail.len, &off, &fl) != 1) {
        protocol_error(pw, "malformed READY");
        return;
      }
      char msg[WPOOL__MSG_MAX + 32];
      snprintf(msg, sizeof msg, "initializer failed: %.*s", (int)fl.len,
               fl.msg);
      start_failed(p, fl.code, "%s%s", msg, "");
      pw->hs = 3;
      pw->dead = 1;
      return;
    }
    pw->hs = 2;
    w->state = WPOOL__W_READY;
    if (++p->ready_count >= p->nworkers && !ls->started) {
      ls->started = 1;
      apr_thread_cond_broadcast(p->state_cond);
    }
    return;
  }
  const wpool__job_t *j = &w->fifo[w->head];
  if (wpool__result_validate(f, j->hdr.count, j->hdr.osize, pw->tail.data,
                             pw->tail.len)) {
    protocol_error(pw, "result records are inconsistent");
    return;
  }
  ls->start_failures = 0;
  wpool__buf_t tail = pw->tail;
  pw->tail = (wpool__buf_t){0};
  pw->sent--;
  wpool__complete(p, w, f, &tail);
}

static int payload_done(const pw_t *pw) {
  return pw->fixed_got == pw->fixed_len && pw->tail.len == pw->tail_len;
}

/* Take n bytes from src into the frame being assembled. */
static int feed_bytes(wpool_t *p, wpool__worker_t *w, pw_t *pw,
                      const uint8_t *src, size_t n) {
  while (n && !pw->dead) {
    if (pw->hdr_got < WPOOL__FRAME_SIZE) {
      size_t c = WPOOL__FRAME_SIZE - pw->hdr_got;
      c = c < n ? c : n;
      memcpy((uint8_t *)&pw->hdr + pw->hdr_got, src, c);
      pw->hdr_got += c;
      src += c;
      n -= c;
      if (pw->hdr_got < WPOOL__FRAME_SIZE || on_header(p, w, pw))
        continue;
      if (wpool__buf_reserve(&pw->tail, pw->tail_len))
        return protocol_error(pw, "out of memory for a result");
    } else if (pw->fixed_got < pw->fixed_len) {
      size_t c = pw->fixed_len - pw->fixed_got;
      c = c < n ? c : n;
      memcpy(pw->fixed + pw->fixed_got, src, c);
      pw->fixed_got += c;
      src += c;
      n -= c;
    } else {
      size_t c = pw->tail_len - pw->tail.len;
      c = c < n ? c : n;
      memcpy(pw->tail.data + pw->tail.len, src, c);
      pw->tail.len += c;
      src += c;
      n -= c;
    }
    if (pw->hdr_got == WPOOL__FRAME_SIZE && !pw->dead && payload_done(pw)) {
      on_frame(p, w, pw);
      pw->hdr_got = 0;
    }
  }
  return 0;
}

static void do_recv(wpool_t *p, wpool__worker_t *w, pw_t *pw) {
  if (!pw->stage && !(pw->stage = malloc(STAGE_SIZE))) {
    protocol_error(pw, "out of memory for a read buffer");
    return;
  }
  while (!pw->dead) {
    uint8_t *dst = pw->stage;
    size_t room = STAGE_SIZE;
    int direct = 0;
    /* A large payload is read in place, not through the staging buffer. */
    if (pw->hdr_got == WPOOL__FRAME_SIZE) {
      if (pw->fixed_len - pw->fixed_got >= STAGE_SIZE / 2) {
        dst = pw->fixed + pw->fixed_got;
        room = pw->fixed_len - pw->fixed_got;
        direct = 1;
      } else if (pw->fixed_got == pw->fixed_len &&
                 pw->tail_len - pw->tail.len >= STAGE_SIZE / 2) {
        dst = pw->tail.data + pw->tail.len;
        room = pw->tail_len - pw->tail.len;
        direct = 2;
      }
    }
    ssize_t n = read(pw->proc.result_fd, dst, room);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    if (n <= 0) {
      pw->dead = 1;
      return;
    }
    if (direct == 1)
      pw->fixed_got += (size_t)n;
    else if (direct == 2)
      pw->tail.len += (size_t)n;
    if (direct) {
      if (payload_done(pw)) {
        on_frame(p, w, pw);
        pw->hdr_got = 0;
      }
    } else {
      feed_bytes(p, w, pw, pw->stage, (size_t)n);
    }
    if ((size_t)n < room)
      return; /* drained for now: poll tells when there is more */
  }
}

/* ---------------------------------------------------------------------- */
/* The loop                                                                */

/*
 * Hand out chunks least-loaded worker first, one level at a time: a new task
 * goes to an idle worker before it queues behind another worker's running
 * task, and deep pipelines only build up when there is work for every
 * worker.
 */
static void feed_workers(wpool_t *p) {
  ls_t *ls = p->be_state;
  size_t depth = wpool__depth(p);
  long max = p->opt.maxtasksperchild;
  for (size_t level = 0; level < depth; level++) {
    for (int i = 0; i < p->nworkers; i++) {
      wpool__worker_t *w = &p->workers[i];
      if (w->state != WPOOL__W_READY || w->count > level)
        continue;
      if (!wpool__take(p, w))
        return;
      if (max && w->tasks_sent >= max) {
        w->state = WPOOL__W_RETIRING;
        ls->pw[i].exit_pending = 1;
      }
    }
  }
}

static void retire_idle(wpool_t *p) {
  ls_t *ls = p->be_state;
  if (p->state != WPOOL__CLOSED || wpool__has_work(p))
    return;
  for (int i = 0; i < p->nworkers; i++) {
    wpool__worker_t *w = &p->workers[i];
    if (w->state == WPOOL__W_READY && w->count == 0) {
      w->state = WPOOL__W_RETIRING;
      ls->pw[i].exit_pending = 1;
    }
  }
}

static void fill_slots(wpool_t *p) {
  ls_t *ls = p->be_state;
  for (int i = 0; i < p->nworkers; i++) {
    wpool__worker_t *w = &p->workers[i];
    if (ls->pw[i].live || !needs_worker(p))
      continue;
    char *em = NULL;
    int rc = spawn_one(p, w, &em);
    if (rc) {
      start_failed(p, rc, "%s%s", em ? em : "could not start a worker", "");
      free(em);
    } else if (ls->started) {
      p->st_replaced++;
    }
  }
}

static int all_gone(wpool_t *p) {
  ls_t *ls = p->be_state;
  for (int i = 0; i < p->nworkers; i++)
    if (ls->pw[i].live)
      return 0;
  return p->state == WPOOL__TERMINATED ||
         (p->state == WPOOL__CLOSED && !wpool__has_work(p));
}

static int poll_timeout(wpool_t *p) {
  ls_t *ls = p->be_state;
  apr_time_t now = apr_time_now(), first = -1;
  for (int i = 0; i < p->nworkers; i++)
    if (ls->pw[i].live && ls->pw[i].hs < 2 &&
        (first < 0 || ls->pw[i].deadline < first))
      first = ls->pw[i].deadline;
  if (first < 0)
    return -1;
  return first <= now ? 0 : (int)((first - now) / 1000 + 1);
}

static void *APR_THREAD_FUNC loop_main(apr_thread_t *t, void *arg) {
  wpool_t *p = arg;
  ls_t *ls = p->be_state;
  wpool__os_block_signals();
  apr_thread_mutex_lock(p->lock);
  for (;;) {
    fill_slots(p);
    if (p->state == WPOOL__TERMINATED && !ls->killed) {
      ls->killed = 1;
      for (int i = 0; i < p->nworkers; i++)
        if (ls->pw[i].live)
          wpool__proc_kill(ls->pw[i].proc.pid);
    }
    feed_workers(p);
    retire_idle(p);
    if (all_gone(p))
      break;
    int n = 0;
    ls->pfd[n].fd = ls->wake_r;
    ls->pfd[n].events = POLLIN;
    ls->pfd_worker[n++] = -1;
    for (int i = 0; i < p->nworkers; i++) {
      pw_t *pw = &ls->pw[i];
      if (!pw->live)
        continue;
      if (send_pending(&p->workers[i], pw))
        do_send(&p->workers[i], pw);
      ls->pfd[n].fd = pw->proc.result_fd;
      ls->pfd[n].events = POLLIN;
      ls->pfd_worker[n++] = i;
      if (send_pending(&p->workers[i], pw)) {
        ls->pfd[n].fd = pw->proc.task_fd;
        ls->pfd[n].events = POLLOUT;
        ls->pfd_worker[n++] = i;
      }
    }
    int timeout = poll_timeout(p);
    int any_dead = 0;
    for (int i = 0; i < p->nworkers; i++)
      any_dead |= ls->pw[i].live && ls->pw[i].dead;
    apr_thread_mutex_unlock(p->lock);
    int ready = any_dead ? 0 : poll(ls->pfd, (nfds_t)n, timeout);
    apr_thread_mutex_lock(p->lock);
    if (ready > 0 && ls->pfd[0].revents) {
      char drain[64];
      while (read(ls->wake_r, drain, sizeof drain) > 0) {
      }
      ls->wake_pending = 0;
    }
    for (int k = 1; ready > 0 && k < n; k++) {
      int i = ls->pfd_worker[k];
      pw_t *pw = &ls->pw[i];
      if (!ls->pfd[k].revents || !pw->live || pw->dead)
        continue;
      if (ls->pfd[k].events & POLLIN)
        do_recv(p, &p->workers[i], pw);
      else
        do_send(&p->workers[i], pw);
    }
    apr_time_t now = apr_time_now();
    for (int i = 0; i < p->nworkers; i++) {
      pw_t *pw = &ls->pw[i];
      if (!pw->live)
        continue;
      int late = pw->hs < 2 && now >= pw->deadline;
      if (pw->dead || late)
        on_death(p, &p->workers[i], late && !pw->dead);
    }
  }
  ls->loop_done = 1;
  apr_thread_cond_broadcast(p->state_cond);
  apr_thread_mutex_unlock(p->lock);
  (void)t;
  return NULL;
}

/* ---------------------------------------------------------------------- */
/* The backend contract                                                    */

static void pb_wake(wpool_t *p) {
  ls_t *ls = p->be_state;
  if (!ls || ls->wake_pending || ls->wake_w < 0)
    return;
  ls->wake_pending = 1;
  ssize_t rc;
  do
    rc = write(ls->wake_w, "w", 1);
  while (rc < 0 && errno == EINTR);
}

static int pb_start(wpool_t *p, char **errmsg) {
  ls_t *ls = calloc(1, sizeof *ls);
  if (!ls)
    return WPOOL_ENOMEM;
  ls->wake_r = ls->wake_w = -1;
  ls->loop_done = 1; /* until the thread runs */
  p->be_state = ls;
  size_t n = (size_t)p->nworkers;
  ls->pw = calloc(n, sizeof *ls->pw);
  ls->pfd = calloc(2 * n + 1, sizeof *ls->pfd);
  ls->pfd_worker = calloc(2 * n + 1, sizeof *ls->pfd_worker);
  if (!ls->pw || !ls->pfd || !ls->pfd_worker)
    return WPOOL_ENOMEM;
  for (size_t i = 0; i < n; i++)
    ls->pw[i].proc.task_fd = ls->pw[i].proc.result_fd = -1;
  int fds[2];
  if (pipe(fds))
    return WPOOL_ESYS;
  ls->wake_r = fds[0];
  ls->wake_w = fds[1];
  wpool__fd_track(fds[0]);
  wpool__fd_track(fds[1]);
  if (set_nonblock(fds[0]) || set_nonblock(fds[1]) ||
      fcntl(fds[0], F_SETFD, FD_CLOEXEC) || fcntl(fds[1], F_SETFD, FD_CLOEXEC))
    return WPOOL_ESYS;
  if (p->method == WPOOL_FORK) {
    int rc = wpool__forksrv_start(&ls->fs, errmsg);
    if (rc)
      return rc;
  }
  apr_threadattr_t *attr;
  ls->loop_done = 0;
  if (apr_threadattr_create(&attr, p->mem) != APR_SUCCESS ||
      apr_thread_create(&ls->thread, attr, loop_main, p, p->mem) !=
          APR_SUCCESS) {
    ls->loop_done = 1;
    return WPOOL_ESYS;
  }
  apr_thread_mutex_lock(p->lock);
  while (!ls->started && !p->start_code)
    apr_thread_cond_wait(p->state_cond, p->lock);
  int rc = ls->started ? 0 : p->start_code;
  if (rc && errmsg && p->start_msg)
    wpool__set_msg(errmsg, "%s", p->start_msg);
  apr_thread_mutex_unlock(p->lock);
  return rc;
}

static int pb_join(wpool_t *p) {
  ls_t *ls = p->be_state;
  if (!ls)
    return 0;
  apr_thread_mutex_lock(p->lock);
  pb_wake(p);
  while (!ls->loop_done)
    apr_thread_cond_wait(p->state_cond, p->lock);
  int mine = ls->thread && !ls->thread_joined;
  ls->thread_joined = 1;
  apr_thread_mutex_unlock(p->lock);
  if (mine) {
    apr_status_t st;
    apr_thread_join(&st, ls->thread);
  }
  return 0;
}

static void pb_destroy(wpool_t *p) {
  ls_t *ls = p->be_state;
  if (!ls)
    return;
  if (ls->fs)
    wpool__forksrv_stop(ls->fs);
  wpool__fd_close(ls->wake_r);
  wpool__fd_close(ls->wake_w);
  for (int i = 0; ls->pw && i < p->nworkers; i++) {
    free(ls->pw[i].stage);
    wpool__buf_free(&ls->pw[i].ctl);
    wpool__buf_free(&ls->pw[i].tail);
  }
  free(ls->pw);
  free(ls->pfd);
  free(ls->pfd_worker);
  free(ls);
  p->be_state = NULL;
}

const wpool__backend_t wpool__proc_backend = {pb_start, pb_wake, pb_join,
                                              pb_destroy};
