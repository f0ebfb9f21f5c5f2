/*
 * The POSIX side of os.h and of the worker loop's I/O calls in worker.h.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif

#include "os.h"
#include "posix.h"
#include "reaper.h"
#include "registry.h"
#include "util.h"
#include "proto.h"
#include "worker.h"
#include "sync.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <fcntl.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif
#ifdef __APPLE__
#include <mach/mach.h>
#endif
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

/* Keep single transfers well inside ssize_t; callers loop anyway. */
#define IO_MAX ((size_t)1 << 30)

/* Handles that came with the task channel's bytes and are not taken yet.
   A worker is one thread, and a task's handles arrive with its first byte:
   the parent sends one task with handles per send, so a read stops after
   at most one message's worth (the kernel never glues a message with
   descriptors to the next one). */
#define HANDLES_MAX 16
static int handles[HANDLES_MAX];
static size_t handles_head, handles_len;

/* Queue the descriptors of one received message; -1 when they cannot all
   be kept (they are closed: the task that needs them fails the protocol). */
static int queue_handles(struct msghdr *m) {
  int rc = (m->msg_flags & MSG_CTRUNC) ? -1 : 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
      continue;
    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      /* Tracked, so that a fork pool made by a task does not keep the
         memory alive in its server. */
      if (handles_len < HANDLES_MAX && (fd = wpool__fd_above_stdio(fd)) >= 0) {
        wpool__fd_track(fd);
        handles[(handles_head + handles_len++) % HANDLES_MAX] = fd;
      } else {
        if (fd >= 0)
          close(fd);
        rc = -1;
      }
    }
  }
  return rc;
}

long wpool__os_read(intptr_t h, void *buf, size_t len) {
  if (len > IO_MAX)
    len = IO_MAX;
  union {
    struct cmsghdr h;
    char space[CMSG_SPACE(HANDLES_MAX * sizeof(int))];
  } u;
  for (;;) {
    struct iovec iov = {buf, len};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = u.space;
    m.msg_controllen = sizeof u.space;
#ifdef MSG_CMSG_CLOEXEC
    ssize_t n = recvmsg((int)h, &m, MSG_CMSG_CLOEXEC);
#else
    ssize_t n = recvmsg((int)h, &m, 0);
#endif
    if (n < 0 && errno == ENOTSOCK) /* a pipe: no handles come this way */
      n = read((int)h, buf, len);
    else if (n > 0 && m.msg_controllen && queue_handles(&m) < 0)
      return -1;
    if (n >= 0)
      return (long)n;
    if (errno != EINTR)
      return -1;
  }
}

void wpool__os_spin_readable(intptr_t h, uint64_t ns) {
  uint64_t end = wpool__mono_ns() + ns;
  struct pollfd pfd = {(int)h, POLLIN, 0};
  while (poll(&pfd, 1, 0) == 0 && wpool__mono_ns() < end)
    wpool__yield();
}

int wpool__os_take_handle(uint64_t sent, intptr_t *h) {
  (void)sent; /* the parent's number for it, not ours */
  if (!handles_len)
    return -1;
  int fd = handles[handles_head];
#ifndef MSG_CMSG_CLOEXEC
  wpool__fd_set_flags(fd, 0);
#endif
  handles_head = (handles_head + 1) % HANDLES_MAX;
  handles_len--;
  *h = fd;
  return 0;
}

void wpool__os_close_handle(intptr_t h) { wpool__fd_close((int)h); }

/* The worker's channels are blocking, but a non-blocking descriptor is waited
   for rather than treated as a broken channel. */
static int wait_writable(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  while (poll(&p, 1, -1) < 0)
    if (errno != EINTR)
      return -1;
  return 0;
}

int wpool__os_write_all(intptr_t h, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write((int)h, p, len > IO_MAX ? IO_MAX : len);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (wait_writable((int)h) < 0)
        return -1;
    } else if (n == 0 || errno != EINTR) {
      return -1;
    }
  }
  return 0;
}

long wpool__os_getpid(void) { return (long)getpid(); }

uint64_t wpool__os_thread_id(void) {
#if defined(__linux__)
  return (uint64_t)syscall(SYS_gettid);
#elif defined(__APPLE__)
  uint64_t id = 0;
  return pthread_threadid_np(NULL, &id) == 0 ? id : 0;
#else
  return 0;
#endif
}

int wpool__os_limit_memory(uint64_t bytes) {
  struct rlimit rl;
  rl.rlim_cur = rl.rlim_max = (rlim_t)bytes;
  return setrlimit(RLIMIT_AS, &rl) ? -1 : 0;
}

uint32_t wpool__os_rss_kib(void) {
#ifdef __APPLE__
  mach_task_basic_info_data_t info;
  mach_msg_type_number_t n = MACH_TASK_BASIC_INFO_COUNT;
  if (task_info(mach_task_self(), MACH_TASK_BASIC_INFO, (task_info_t)&info,
                &n) != KERN_SUCCESS)
    return 0;
  return (uint32_t)(info.resident_size / 1024);
#else
  /* statm's second field: resident pages. One small read, done only for
     pools that recycle workers by size. */
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  char buf[128];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  unsigned long size, resident;
  if (sscanf(buf, "%lu %lu", &size, &resident) != 2)
    return 0;
  return (uint32_t)(resident * (unsigned long)sysconf(_SC_PAGESIZE) / 1024);
#endif
}

/* Digits only: strtol alone would also take spaces, signs and "0x". */
static int parse_fd(const char *s, char **end) {
  if (*s < '0' || *s > '9')
    return -1;
  errno = 0;
  long v = strtol(s, end, 10);
  if (errno != 0 || v > INT_MAX)
    return -1;
  return (int)v;
}

int wpool__spawn_parse_argv(int argc, char **argv, int *task_fd,
                            int *result_fd) {
  if (argc < 2 || argv == NULL || argv[1] == NULL ||
      strncmp(argv[1], WPOOL__WORKER_FLAG, sizeof WPOOL__WORKER_FLAG - 1) != 0)
    return 0;
  char *end;
  int t = parse_fd(argv[1] + sizeof WPOOL__WORKER_FLAG - 1, &end);
  if (t < 0 || *end != ',')
    return 0;
  int r = parse_fd(end + 1, &end);
  if (r < 0 || *end != '\0' || r == t)
    return 0;
  if (task_fd != NULL)
    *task_fd = t;
  if (result_fd != NULL)
    *result_fd = r;
  return 1;
}

int wpool__os_bootstrap(int argc, char **argv) {
  int task_fd, result_fd;
  if (!wpool__spawn_parse_argv(argc, argv, &task_fd, &result_fd))
    return 0;
  const char *marker = getenv("WPOOL_SPAWNED");
  /* "<arm>:<token>": without it this is a command line, not a pool, and the
     program runs as usual. */
  if (marker == NULL || (marker[0] != '1' && marker[0] != '2') ||
      marker[1] != ':' || strlen(marker + 2) != WPOOL__TOKEN_LEN)
    return 0;
  wpool__worker_expect_token(marker + 2);
#ifdef __linux__
  /* "1": the thread that started us outlives us (see spawn.c), so the death
     signal, which follows that thread, fires only when the parent dies. The
     worker also stops at end of input on its task channel, which covers a
     parent that died before the prctl. */
  if (marker[0] == '1')
    prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
  /* Removed so that programs the tasks start do not take themselves for
     workers, and so that wpool__os_spawned_without_hook() says 0. */
  unsetenv("WPOOL_SPAWNED");
  /* The channels arrive inheritable (they were dup2'ed into place); a task
     that starts a program must not pass them on, or the parent would not see
     end of input when this worker dies. */
  wpool__fd_set_flags(task_fd, 0);
  wpool__fd_set_flags(result_fd, 0);
  /* Tracked, so that a fork pool made by a task does not keep them open in
     its server. */
  wpool__fd_track(task_fd);
  wpool__fd_track(result_fd);
  /* What our tasks start and leave behind outside our process group comes
     back to us (see reaper.c), and ends with us when we end by ourselves.
     A worker that the pool kills cannot do this: its orphans go to init,
     the limit documented in wpool.h. */
  wpool__subreaper_enable();
  wpool__registry_freeze();
  int rc = wpool__worker_serve(task_fd, result_fd, &wpool__worker_os);
  fflush(NULL);
  wpool__sweep_children(NULL, 0);
  _exit(rc);
}

int wpool__os_spawned_without_hook(void) {
  return getenv("WPOOL_SPAWNED") != NULL;
}

int wpool__os_ncpu(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > INT_MAX ? INT_MAX : (int)n;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

void wpool__os_once(void (*fn)(void)) { pthread_once(&once, fn); }

void wpool__os_block_signals(void) {
  sigset_t all;
  /* SIGKILL and SIGSTOP cannot be blocked and are dropped silently; glibc
     leaves out the signals it uses internally for threads. */
  sigfillset(&all);
  /* A fault is delivered to the faulting thread whether blocked or not
     (blocked, the kernel just kills the process): left unblocked, the
     program's crash handler still sees a fault in one of our threads. */
  sigdelset(&all, SIGSEGV);
  sigdelset(&all, SIGBUS);
  sigdelset(&all, SIGFPE);
  sigdelset(&all, SIGILL);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
}

void wpool__os_clear_sigpipe(void) {
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
#ifdef __APPLE__
  /* No sigtimedwait: sigwait only when the signal is pending, so that it
     cannot block. */
  sigset_t pending;
  int sig;
  if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE))
    sigwait(&pipe_only, &sig);
#else
  struct timespec zero = {0, 0};
  /* The EPIPE write raised SIGPIPE on this thread; with it blocked, it waits
     here and is taken without delay (or EAGAIN when there is none). */
  sigtimedwait(&pipe_only, NULL, &zero);
#endif
}

const wpool__worker_os_t wpool__worker_os = {
    wpool__os_read,         wpool__os_write_all, wpool__os_getpid,
    wpool__os_limit_memory, wpool__os_rss_kib,   wpool__mono_ns,
    wpool__os_capture_start, wpool__os_capture_stop,
    wpool__os_take_handle,  wpool__os_close_handle, wpool__os_shm_map,
    wpool__os_shm_unmap,    wpool__shm_os_create,   wpool__os_give_handle,
    wpool__os_result_unmap, wpool__os_spin_readable};
