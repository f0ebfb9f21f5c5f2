/*
 * The fork server process (see posix.h for what it is for, forksrv.h for
 * its requests). It serves SPAWN and REAP requests one at a time and ends
 * when the pool closes the socket or when the parent process dies, taking
 * every worker and everything they started with it. A pool that replaces
 * workers is served from a spare forked ahead of its request (see spare).
 *
 * The server makes nothing but system calls and touches no lock or heap of
 * the program: it is a copy of a process that may have had other threads,
 * whose locks it must never need. Its list of live workers therefore lives
 * in pages of its own (mmap). Workers forked from it run ordinary code:
 * their parent had a single thread, which is the point.
 *
 * How the parent's death is noticed, and how fast (Linux):
 * - the server asks for a parent-death signal, read through a signalfd.
 *   Linux sends it when the *thread* that forked the server ends, so a
 *   signal only means "look": the parent is gone when getppid() changed (a
 *   pool created from a thread that then ended keeps its server);
 * - end of file on the socket (the parent's end is in no other process);
 * - workers ask for SIGKILL when the server dies.
 * Either way the server kills every worker's process group at once, so a
 * busy worker dies within milliseconds of its parent, mid-task. Elsewhere
 * only end of file applies: workers die when the last copy of the parent's
 * end of the socket is closed, which is at the parent's death unless the
 * program forked meanwhile without exec.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif

#include "fdtrack.h"
#include "forksrv.h"
#include "posix.h"
#include "reaper.h"
#include "util.h"
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sched.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
/* Any signal does: it only prompts a getppid() check. One the program is
   unlikely to send to its own process group, and not valgrind's SIGRTMAX. */
#define DEATH_SIG SIGUSR2
#endif

/* The live workers (forked, not yet reaped). */
static long *kids;
static size_t nkids, capkids;
static int death_fd = -1;
static pid_t self;
/* A worker ended without cleaning up after itself (killed, crashed): what
   it left may be ours now. Listing children means reading /proc, so it is
   done once the server has been idle for SWEEP_IDLE_MS (a burst of reaps,
   at terminate, costs one), and at the end. */
static int dirty;
#define SWEEP_IDLE_MS 10

/* A pool that replaces workers (maxtasksperchild, deaths) gets its next
   worker ready before it asks: once a SPAWN has followed a REAP, every
   SPAWN is answered with the spare and a new spare is forked after the
   reply, while the parent does the handshake. The spare holds the
   parent's ends of its pipes, which every later worker must close. */
static struct {
  pid_t pid;   /* 0: none */
  int ends[2]; /* task write, result read */
} spare = {0, {-1, -1}};
static int reaped_one, replacing;

/* The pool asked (QUIT) that our memory's teardown not delay our exit. */
static int hand_off;

/* Room for one more worker; 0, or an errno value. */
static int kids_reserve(void) {
  if (nkids < capkids)
    return 0;
  size_t cap = capkids ? 2 * capkids : 512;
  void *p = mmap(NULL, cap * sizeof *kids, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return ENOMEM;
  if (kids != NULL) {
    memcpy(p, kids, nkids * sizeof *kids);
    munmap(kids, capkids * sizeof *kids);
  }
  kids = p;
  capkids = cap;
  return 0;
}

static void kids_remove(long pid) {
  for (size_t i = 0; i < nkids; i++)
    if (kids[i] == pid) {
      kids[i] = kids[--nkids];
      return;
    }
}

/* In a worker: the server's state is not ours. A fork pool made by one of
   our tasks starts a server of its own from this copy, which must not take
   our siblings for its workers. */
static void forget_server(void) {
  for (int k = 0; k < 2; k++)
    if (spare.ends[k] >= 0)
      close(spare.ends[k]);
  spare.pid = 0;
  spare.ends[0] = spare.ends[1] = -1;
  reaped_one = replacing = hand_off = 0;
  if (kids != NULL)
    munmap(kids, capkids * sizeof *kids);
  kids = NULL;
  nkids = capkids = 0;
  if (death_fd >= 0)
    close(death_fd);
  death_fd = -1;
  dirty = 0;
}

#ifdef __linux__
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 8)
#define NO_SANITIZE                                                            \
  __attribute__((no_sanitize("address", "thread", "undefined")))
#else
#define NO_SANITIZE
#endif
/* The orphan's stack: it runs in our memory. */
static _Alignas(16) char orphan_stack[16384];
static int orphan_fd[2];

/*
 * The orphan of hand_off_teardown(). It waits until the server's end of the
 * pipe is closed, which the kernel does after the server has let go of the
 * memory they share, and then ends, the last holder of that memory. System
 * calls only: it shares the server's memory and thread-local state, so no
 * code that keeps state (a sanitizer's, stdio) may run here.
 */
NO_SANITIZE static int orphan_main(void *arg) {
  (void)arg;
  char c;
  /* Nothing of the program's may stay open because of us (a pipe whose
     reader waits for its end): only the pipe's read end is kept. */
#ifdef SYS_close_range
  if (orphan_fd[0] > 0)
    syscall(SYS_close_range, 0u, (unsigned)orphan_fd[0] - 1, 0u);
  syscall(SYS_close_range, (unsigned)orphan_fd[0] + 1, ~0u, 0u);
#endif
  syscall(SYS_close, orphan_fd[1]);
  while (syscall(SYS_read, orphan_fd[0], &c, 1) < 0 && errno == EINTR)
    ;
  syscall(SYS_exit_group, 0);
  return 0;
}

/*
 * Tearing down a copy of a large program takes milliseconds (every page
 * table of its memory), and the pool waits for our exit. A process that
 * shares our memory (CLONE_VM) keeps it from being torn down at our exit;
 * it outlives us as an orphan, adopted by init or by a subreaper above the
 * pool's program (the pool asks only where the program adopts no orphans
 * itself), and ends as soon as we are gone, paying the teardown off the
 * pool's path. Any failure leaves the teardown to our own exit.
 */
static void hand_off_teardown(void) {
  if (pipe2(orphan_fd, O_CLOEXEC) != 0)
    return;
  pid_t pid = clone(orphan_main, orphan_stack + sizeof orphan_stack,
                    CLONE_VM | SIGCHLD, NULL);
  close(orphan_fd[0]);
  if (pid < 0)
    close(orphan_fd[1]); /* our exit tears down, as usual */
  /* Else orphan_fd[1] stays open until our exit: the orphan's signal. */
}
#endif

/* The parent is gone (or has let us go): no worker may outlive it. */
static _Noreturn void finish(void) {
  for (size_t i = 0; i < nkids; i++) {
    kill(-(pid_t)kids[i], SIGKILL);
    kill((pid_t)kids[i], SIGKILL);
  }
  wpool__sweep_children(NULL, 0);
  /* Where children cannot be listed, at least the workers are reaped. */
  for (size_t i = 0; i < nkids; i++)
    while (waitpid((pid_t)kids[i], NULL, 0) < 0 && errno == EINTR)
      ;
#ifdef __linux__
  if (hand_off)
    hand_off_teardown();
#endif
  _exit(0);
}

/* pp: task read, task write, result read, result write. */
static _Noreturn void run_worker(int sock, const int pp[4],
                                 const wpool__srv_origin_t *o) {
#ifdef __linux__
  /* Our parent is the single-threaded server, so the signal means its
     death; the check covers a server that died before the prctl. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != self)
    _exit(0);
#endif
  /* Holding the parent's ends would hide the parent's EOF from ourselves. */
  close(sock);
  close(pp[1]);
  close(pp[2]);
  forget_server();
  /* Standard streams the program had closed when it made the pool become
     the null device, as for spawned workers: otherwise the first file a
     task opens would be its stdout. */
  for (int fd = 0; fd < 3; fd++)
    if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
      int null = open("/dev/null", fd ? O_WRONLY : O_RDONLY);
      if (null >= 0 && null != fd) {
        dup2(null, fd);
        close(null);
      }
    }
  /* Its own process group: killing the worker kills what its tasks start;
     as a subreaper it also keeps what leaves the group (see reaper.c). */
  setpgid(0, 0);
  wpool__subreaper_enable();
  sigaction(SIGCHLD, &o->chld, NULL);
  sigprocmask(SIG_SETMASK, &o->mask, NULL);
  /* Our own channels, so that a fork pool made by a task does not keep
     them open in its server. */
  wpool__fd_track(pp[0]);
  wpool__fd_track(pp[3]);
  /* Fork workers need no token (they are not started from a command line).
     A spawned worker that forked this server had one: a nested pool's
     INIT carries its own. */
  wpool__worker_expect_token(NULL);
  int rc = wpool__worker_serve(pp[0], pp[3], &wpool__worker_os);
  fflush(NULL);
  /* Ending by ourselves: what our tasks left outside our group goes now,
     so that the server need not look (see serve_reap). */
  wpool__sweep_children(NULL, 0);
  _exit(rc);
}

/* Fork a worker; *pid and the parent's ends, or an errno value (and
   nothing left open). */
static int start_worker(int sock, const wpool__srv_origin_t *o, pid_t *pid,
                        int ends[2]) {
  int pp[4] = {-1, -1, -1, -1};
  int e = kids_reserve();
  /* Untracked: the server has neither lock nor heap to spare, and its
     copies are closed once the parent has them. */
  if (e == 0)
    /* The task channel is a socket: a shared buffer's descriptor travels
       with the task that needs it (SCM_RIGHTS). */
    e = wpool__fd_pair_untracked(pp, WPOOL__FD_SOCKET | WPOOL__FD_BIG);
  if (e == 0)
    e = wpool__fd_pair_untracked(pp + 2, WPOOL__FD_BIG);
  if (e == 0) {
    *pid = fork();
    if (*pid == 0)
      run_worker(sock, pp, o);
    if (*pid < 0)
      e = errno;
    else
      kids[nkids++] = *pid;
  }
  /* The worker's own ends are its alone. */
  if (pp[0] >= 0)
    close(pp[0]);
  if (pp[3] >= 0)
    close(pp[3]);
  ends[0] = pp[1];
  ends[1] = pp[2];
  if (e != 0) {
    for (int k = 0; k < 2; k++)
      if (ends[k] >= 0)
        close(ends[k]);
    ends[0] = ends[1] = -1;
  }
  return e;
}

static int serve_spawn(int sock, const wpool__srv_origin_t *o) {
  wpool__srv_reply_t r = {0, 0, 0};
  pid_t pid = -1;
  int ends[2] = {-1, -1};
  replacing |= reaped_one;
  if (spare.pid > 0) {
    pid = spare.pid;
    ends[0] = spare.ends[0];
    ends[1] = spare.ends[1];
    spare.pid = 0;
    spare.ends[0] = spare.ends[1] = -1;
  } else {
    r.err = start_worker(sock, o, &pid, ends);
  }
  if (r.err == 0)
    r.pid = pid;
  int rc = wpool__fd_send(sock, &r, sizeof r, ends, r.err == 0 ? 2 : 0);
  /* Only the parent and the worker may hold the pipes from here on, or later
     workers would inherit them. Had the reply been lost, the worker sees EOF
     on its task pipe now and exits. */
  for (int k = 0; k < 2; k++)
    if (ends[k] >= 0)
      close(ends[k]);
  /* A spare that cannot be made now is made by the next request. */
  if (rc == 0 && replacing && start_worker(sock, o, &spare.pid, spare.ends))
    spare.pid = 0;
  return rc;
}

static int serve_reap(int sock, const wpool__srv_request_t *q) {
  wpool__srv_reply_t r = {0, 0, q->pid};
  reaped_one = 1;
  int st = 0;
  r.err = wpool__reap_child((long)q->pid, q->flags, &st);
  r.status = st;
  if (r.err == EAGAIN) /* WPOOL__REAP_NOHANG: still running */
    return wpool__fd_send(sock, &r, sizeof r, NULL, 0);
  kids_remove((long)q->pid);
  /* What the worker's tasks started and left behind outside its group was
     re-parented to it, and at its death to us: every child of ours that
     is not a live worker is such a leftover. A worker that ended by itself
     (status 0) has killed its own (see run_worker). */
  if (r.err != 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
    dirty = 1;
  return wpool__fd_send(sock, &r, sizeof r, NULL, 0);
}

/* Ask for a signal at the parent's death, readable on death_fd. */
static void arm_death_signal(const wpool__srv_origin_t *o) {
#ifdef __linux__
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, DEATH_SIG);
  int fd = signalfd(-1, &s, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd >= 0)
    fd = wpool__fd_above_stdio(fd);
  if (fd >= 0 && prctl(PR_SET_PDEATHSIG, DEATH_SIG) == 0)
    death_fd = fd;
  else if (fd >= 0)
    close(fd);
#endif
  if (getppid() != o->parent)
    finish(); /* died before we could ask */
}

/* Wait for a request; 0, or -1 when the parent is gone. */
static int wait_request(int sock, const wpool__srv_origin_t *o) {
  for (;;) {
    struct pollfd pf[2] = {{sock, POLLIN, 0}, {death_fd, POLLIN, 0}};
    int n = poll(pf, death_fd >= 0 ? 2 : 1, dirty ? SWEEP_IDLE_MS : -1);
    if (n < 0 && errno != EINTR)
      return -1;
    if (n == 0) {
      wpool__sweep_children(kids, nkids);
      dirty = 0;
    }
    if (n > 0 && death_fd >= 0 && pf[1].revents) {
#ifdef __linux__
      struct signalfd_siginfo si;
      while (read(death_fd, &si, sizeof si) > 0)
        ;
#endif
      if (getppid() != o->parent)
        return -1;
    }
    if (n > 0 && pf[0].revents)
      return 0; /* a request, or EOF */
  }
}

_Noreturn void wpool__srv_serve(int sock, const wpool__srv_origin_t *o) {
  self = getpid();
  /* Signals stay blocked as the parent left them, so the program's handlers
     never run here. SIGCHLD must not be ignored, or workers would be reaped
     by the kernel and REAP could not report their status. */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGCHLD, &dfl, NULL);
  /* Orphans of dead workers come to us, not to init (see reaper.c). */
  wpool__subreaper_enable();
  arm_death_signal(o);
  for (;;) {
    wpool__srv_request_t q;
    int rc = -1;
    if (wait_request(sock, o) < 0 || wpool__read_full(sock, &q, sizeof q) < 0)
      finish(); /* the parent closed the channel or died */
    if (q.op == WPOOL__SRV_SPAWN)
      rc = serve_spawn(sock, o);
    else if (q.op == WPOOL__SRV_REAP)
      rc = serve_reap(sock, &q);
    else if (q.op == WPOOL__SRV_QUIT)
      rc = 0, hand_off = (q.flags & WPOOL__QUIT_HANDOFF) != 0;
    if (rc < 0)
      finish();
  }
}
