/*
 * WPOOL_SPAWN workers: fresh starts of the program's own executable, which
 * recognise themselves in wpool_bootstrap() by the marker in argv[1].
 *
 * posix_spawn rather than fork+exec: the parent may be multi-threaded, and
 * posix_spawn (vfork-style in glibc and macOS) runs nothing in the child
 * that could need a lock another thread held, and reports a failed exec as
 * its return value instead of as a child that dies at once.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif

#include "fdtrack.h"
#include "../proto.h"
#include "posix.h"
#include "util.h"
#include "wpool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __APPLE__
#include <mach-o/dyld.h>
#endif

extern char **environ;

/* The worker finds its channels at fixed numbers; WORKER_ARG names them. */
#define CHILD_TASK_FD 3
#define CHILD_RESULT_FD 4
#define WORKER_ARG WPOOL__WORKER_FLAG "3,4"
#define ENV_NAME "WPOOL_SPAWNED="

/* Resolved at the first spawn and kept. The resolved path, not
   "/proc/self/exe", is what the worker gets as argv[0] (and ps shows). */
static pthread_once_t exe_once = PTHREAD_ONCE_INIT;
static char exe[PATH_MAX];
static int exe_errno;

static void find_exe(void) {
#if defined(__linux__)
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe);
  if (n < 0)
    exe_errno = errno;
  else if ((size_t)n >= sizeof exe)
    exe_errno = ENAMETOOLONG;
  else
    exe[n] = '\0';
#elif defined(__APPLE__)
  /* The path may be relative to the directory at start, or a symlink. */
  char raw[PATH_MAX];
  uint32_t size = sizeof raw;
  if (_NSGetExecutablePath(raw, &size) != 0)
    exe_errno = ENAMETOOLONG;
  else if (realpath(raw, exe) == NULL)
    exe_errno = errno;
#else
  exe_errno = ENOSYS;
#endif
}

/*
 * environ plus the marker, without modifying environ (other threads may be
 * reading it). A concurrent setenv() in another thread is a race here as in
 * any spawn that passes environ; nothing in wpool can lock against it.
 */
static char **make_envp(const char *marker) {
  size_t n = 0;
  for (char **e = environ; e != NULL && *e != NULL; e++)
    n++;
  char **envp = malloc((n + 2) * sizeof *envp);
  if (envp == NULL)
    return NULL;
  size_t k = 0;
  for (char **e = environ; e != NULL && *e != NULL; e++)
    if (strncmp(*e, ENV_NAME, sizeof ENV_NAME - 1) != 0)
      envp[k++] = *e;
  envp[k++] = (char *)marker;
  envp[k] = NULL;
  return envp;
}

/*
 * A child end that already sits on 3 or 4 would break the dup2 actions:
 * dup2(x, x) may leave close-on-exec set (older glibc), and dup2(task, 3)
 * would overwrite a result end that is 3 before it is copied to 4. Lock
 * held; the copy is tracked in place of the original.
 */
static int move_off_targets(int *fd) {
  if (*fd != CHILD_TASK_FD && *fd != CHILD_RESULT_FD)
    return 0;
  int moved = fcntl(*fd, F_DUPFD_CLOEXEC, 10);
  if (moved < 0)
    return errno;
  if (wpool__fd_track_locked(moved) < 0) {
    close(moved);
    return ENOMEM;
  }
  wpool__fd_close_locked(*fd);
  *fd = moved;
  return 0;
}

/* Both channels (the task channel is a socket pair, so that a shared
   buffer's descriptor can travel with its task), tracked under the fd lock before any fork server can be forked
   (a server holding the child's result end would hide the worker's death).
   The parent's ends are non-blocking; the child's stay blocking. */
static int make_pipes(int task[2], int result[2]) {
  int e;
  result[0] = result[1] = -1;
  wpool__fd_lock();
  e = wpool__fd_pair_locked(task, WPOOL__FD_SOCKET | WPOOL__FD_BIG |
                                        WPOOL__FD_NONBLOCK1);
  if (e == 0)
    e = wpool__fd_pair_locked(result, WPOOL__FD_BIG | WPOOL__FD_NONBLOCK0);
  if (e == 0)
    e = move_off_targets(&task[0]);
  if (e == 0)
    e = move_off_targets(&result[1]);
  if (e != 0) {
    int all[4] = {task[0], task[1], result[0], result[1]};
    for (int i = 0; i < 4; i++)
      wpool__fd_close_locked(all[i]);
    task[0] = task[1] = result[0] = result[1] = -1;
  }
  wpool__fd_unlock();
  return e;
}

static int launch(pid_t *pid, int task_rd, int result_wr, char **envp) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  char *argv[] = {exe, (char *)WORKER_ARG, NULL};
  /* The spawning thread may be one of the pool's, with every signal blocked;
     a fresh program starts with none blocked. */
  sigset_t none;
  /* Its own process group: killing the worker kills what its tasks start. */
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP;
  int e = posix_spawn_file_actions_init(&fa);
  if (e != 0)
    return e;
  e = posix_spawnattr_init(&attr);
  if (e != 0) {
    posix_spawn_file_actions_destroy(&fa);
    return e;
  }
  sigemptyset(&none);
  /* Every other descriptor of wpool is close-on-exec. */
  e = posix_spawn_file_actions_adddup2(&fa, task_rd, CHILD_TASK_FD);
  if (e == 0)
    e = posix_spawn_file_actions_adddup2(&fa, result_wr, CHILD_RESULT_FD);
#if defined(__GLIBC__) &&                                                      \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  /* The program's own inheritable descriptors stay behind too: a fresh start
     gets 0-2 and its channels, nothing else (as with Python's spawn). */
  if (e == 0)
    e = posix_spawn_file_actions_addclosefrom_np(&fa, CHILD_RESULT_FD + 1);
#endif
#ifdef __APPLE__
  /* Same as addclosefrom_np above. It also keeps out of this child the pipe
     ends of other threads' spawns, briefly inheritable without pipe2. */
  flags |= POSIX_SPAWN_CLOEXEC_DEFAULT;
  for (int fd = 0; e == 0 && fd < 3; fd++)
    if (fcntl(fd, F_GETFD) >= 0)
      e = posix_spawn_file_actions_addinherit_np(&fa, fd);
#endif
  /* A parent running with a standard stream closed still gives the worker
     one (the null device), as a shell would: otherwise the first file a task
     opens would become its stdout. */
  for (int fd = 0; e == 0 && fd < 3; fd++)
    if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
      e = posix_spawn_file_actions_addopen(&fa, fd, "/dev/null",
                                           fd ? O_WRONLY : O_RDONLY, 0);
  if (e == 0)
    e = posix_spawnattr_setsigmask(&attr, &none);
  if (e == 0)
    e = posix_spawnattr_setpgroup(&attr, 0);
  if (e == 0)
    e = posix_spawnattr_setflags(&attr, flags);
  if (e == 0)
    e = posix_spawn(pid, exe, &fa, &attr, argv, envp);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  return e;
}

int wpool__spawn_start(wpool__proc_t *p, const char *token, char **errmsg) {
  if (errmsg != NULL)
    *errmsg = NULL;
  if (p == NULL)
    return WPOOL_EINVAL;
  pthread_once(&exe_once, find_exe);
  if (exe_errno != 0)
    return wpool__sys_fail(errmsg, WPOOL_ESPAWN, exe_errno,
                           "cannot find this program's executable");
  /* "1" lets the worker arm the parent-death signal (see
     wpool__os_bootstrap()); the pool's token follows. Linux ties that signal
     to the thread that started the worker: workers are started by the
     pool's I/O thread, which ends only after its last worker is reaped, so
     the signal can never fire while the pool lives. */
  char marker[sizeof ENV_NAME + 2 + WPOOL__TOKEN_LEN];
  snprintf(marker, sizeof marker, "%s1:%s", ENV_NAME, token ? token : "");
  char **envp = make_envp(marker);
  if (envp == NULL)
    return wpool__sys_fail(errmsg, WPOOL_ENOMEM, 0, "out of memory");
  int task[2], result[2];
  int e = make_pipes(task, result);
  if (e != 0) {
    free(envp);
    return wpool__sys_fail(errmsg, e == ENOMEM ? WPOOL_ENOMEM : WPOOL_ESYS, e,
                           "cannot create a worker's pipes");
  }
  pid_t pid = -1;
  e = launch(&pid, task[0], result[1], envp);
  free(envp);
  wpool__fd_close(task[0]);
  wpool__fd_close(result[1]);
  if (e != 0) {
    wpool__fd_close(task[1]);
    wpool__fd_close(result[0]);
    return wpool__sys_fail(errmsg, WPOOL_ESPAWN, e, "cannot start %s", exe);
  }
  p->pid = (long)pid;
  p->task_fd = task[1];
  p->result_fd = result[0];
  return 0;
}

/* A worker leads its own process group (see launch() and forksrv.c): the
   group holds whatever its tasks started. */
static void kill_tree(pid_t pid) {
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL); /* in case it could not make its group */
}

int wpool__reap_child(long pid, int flags, int *status) {
  /* waitpid(0) or waitpid(-1) would reap somebody else's child. */
  if (pid <= 0)
    return EINVAL;
  if (flags & WPOOL__REAP_KILL)
    kill_tree((pid_t)pid);
  /* Look first without reaping: while the worker is a zombie its pid, and
     so its process group's id, cannot be given to another process. */
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int opts = WEXITED | WNOWAIT | (flags & WPOOL__REAP_NOHANG ? WNOHANG : 0);
  int r;
  while ((r = waitid(P_PID, (id_t)pid, &si, opts)) < 0 && errno == EINTR)
    ;
  if (r < 0)
    return errno; /* ECHILD: SIGCHLD is ignored, or another waiter took it */
  if (si.si_pid == 0)
    return EAGAIN; /* still running (WNOHANG) */
  /* Nothing a task started outlives its worker (no orphans). */
  kill(-(pid_t)pid, SIGKILL);
  int st = 0;
  pid_t w;
  while ((w = waitpid((pid_t)pid, &st, 0)) < 0 && errno == EINTR)
    ;
  if (w < 0)
    return errno;
  if (status != NULL)
    *status = st;
  return 0;
}


int wpool__spawn_reap(long pid, int flags, int *status) {
  if (pid <= 0)
    return WPOOL_EINVAL;
  int e = wpool__reap_child(pid, flags, status);
  return e == 0 ? 0 : e == EAGAIN ? 1 : e == ECHILD ? WPOOL_ESTATE : WPOOL_ESYS;
}

void wpool__proc_kill(long pid) {
  if (pid > 0)
    kill_tree((pid_t)pid);
}
