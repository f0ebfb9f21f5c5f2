/*
 * Containing what tasks start. A worker leads its own process group, and
 * killing the group at reap time ends whatever its tasks started, unless a
 * descendant left the group (setsid(), setpgid()). On Linux, wpool's
 * processes are child subreapers: an orphaned descendant is re-parented to
 * the nearest of them instead of to init, so the pool can still find it (as
 * a child of its own) and kill it. Elsewhere these calls do nothing: the
 * process group is the limit of the guarantee there.
 *
 * The price: an orphan that ends stays a zombie of its subreaper until the
 * sweep, since a worker cannot tell it from its tasks' own children (which
 * a task may still wait for) and so reaps nothing while it serves.
 *
 * Everything here is async-signal-safe and allocates nothing: the fork
 * server uses it.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif

#include "reaper.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <fcntl.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

int wpool__subreaper_enable(void) {
#ifdef __linux__
  return prctl(PR_SET_CHILD_SUBREAPER, 1) == 0 ? 0 : -1;
#else
  errno = ENOSYS;
  return -1;
#endif
}

#ifdef __linux__
/* "/proc/<pid>/stat" names the parent after the command, which may hold
   spaces and parentheses: the fields start after the last ')'. */
static long parent_of(const char *pid) {
  char path[64] = "/proc/", buf[512];
  size_t n = 6;
  for (const char *s = pid; *s && n < sizeof path - 6; s++)
    path[n++] = *s;
  for (const char *s = "/stat"; *s; s++)
    path[n++] = *s;
  path[n] = '\0';
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t got = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (got <= 0)
    return -1;
  buf[got] = '\0';
  char *p = NULL;
  for (char *s = buf; *s; s++)
    if (*s == ')')
      p = s;
  /* ") S 1234 ...": state, then the parent's pid. */
  if (p == NULL || p[1] != ' ' || p[2] == '\0' || p[3] != ' ')
    return -1;
  long v = 0;
  for (p += 4; *p >= '0' && *p <= '9'; p++)
    v = v * 10 + (*p - '0');
  return v;
}

static long to_pid(const char *s) {
  long v = 0;
  if (*s < '0' || *s > '9')
    return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > 100000000L)
      return -1;
    v = v * 10 + (*s - '0');
  }
  return v;
}

static int kept(long pid, const long *keep, size_t nkeep) {
  for (size_t i = 0; i < nkeep; i++)
    if (keep[i] == pid)
      return 1;
  return 0;
}

/* The layout getdents64 fills in (not in every libc's headers). */
struct dent64 {
  uint64_t ino;
  int64_t off;
  unsigned short reclen;
  unsigned char type;
  char name[];
};

/*
 * Up to cap children of this process that are not in keep, found by
 * scanning /proc (a child's parent is in its stat file; the per-thread
 * "children" lists are not built into every kernel). -1 without /proc.
 */
static int list_children(long *out, int cap, const long *keep, size_t nkeep) {
  int dir = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0)
    return -1;
  long self = (long)getpid();
  int n = 0;
  _Alignas(struct dent64) char buf[4096];
  long got;
  while (n < cap && (got = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
    for (long off = 0; off < got && n < cap;) {
      struct dent64 *d = (struct dent64 *)(buf + off);
      off += d->reclen;
      long pid = to_pid(d->name);
      if (pid > 0 && pid != self && !kept(pid, keep, nkeep) &&
          parent_of(d->name) == self)
        out[n++] = pid;
    }
  }
  close(dir);
  return n;
}
#endif

void wpool__sweep_children(const long *keep, size_t nkeep) {
#ifdef __linux__
  long kids[64];
  int n;
  siginfo_t si;
  /* No child at all (the usual case when a server ends): nothing to scan. */
  if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD)
    return;
  /* Each round kills and reaps what it found; their own orphans are
     re-parented to us meanwhile and show up in the next round. */
  while ((n = list_children(kids, 64, keep, nkeep)) > 0) {
    for (int i = 0; i < n; i++) {
      kill(-(pid_t)kids[i], SIGKILL);
      kill((pid_t)kids[i], SIGKILL);
    }
    for (int i = 0; i < n; i++)
      while (waitpid((pid_t)kids[i], NULL, 0) < 0 && errno == EINTR)
        ;
  }
#else
  (void)keep;
  (void)nkeep;
#endif
}
