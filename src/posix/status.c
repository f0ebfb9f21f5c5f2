/*
 * Wait statuses as text, for the messages of WPOOL_EWORKER and
 * WPOOL_ESPAWN. strsignal() is not used: its text is locale-dependent,
 * differs between systems and is not thread-safe everywhere, while the
 * signal's name is what a user searches for.
 */
#include "posix.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

static const struct {
  int sig;
  const char *name;
} names[] = {
    {SIGSEGV, "SIGSEGV"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},
    {SIGFPE, "SIGFPE"},   {SIGILL, "SIGILL"},   {SIGKILL, "SIGKILL"},
    {SIGTERM, "SIGTERM"}, {SIGINT, "SIGINT"},   {SIGHUP, "SIGHUP"},
    {SIGPIPE, "SIGPIPE"}, {SIGQUIT, "SIGQUIT"}, {SIGTRAP, "SIGTRAP"},
    {SIGSYS, "SIGSYS"},   {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"},
    {SIGUSR1, "SIGUSR1"}, {SIGUSR2, "SIGUSR2"}, {SIGALRM, "SIGALRM"},
};

static const char *signame(int sig) {
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (names[i].sig == sig)
      return names[i].name;
  return NULL;
}

/* "signal 11 (SIGSEGV)", or "signal 40" for a signal without a known name. */
static void put_signal(char *buf, size_t len, const char *what, int sig,
                       const char *tail) {
  const char *name = signame(sig);
  if (name != NULL)
    snprintf(buf, len, "%s by signal %d (%s)%s", what, sig, name, tail);
  else
    snprintf(buf, len, "%s by signal %d%s", what, sig, tail);
}

void wpool__status_describe(int status, char *buf, size_t len) {
  if (buf == NULL || len == 0)
    return;
  if (WIFEXITED(status)) {
    snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    const char *core = "";
#ifdef WCOREDUMP
    if (WCOREDUMP(status))
      core = ", core dumped";
#endif
    put_signal(buf, len, "killed", WTERMSIG(status), core);
  } else if (WIFSTOPPED(status)) {
    put_signal(buf, len, "stopped", WSTOPSIG(status), "");
  } else {
    snprintf(buf, len, "unknown wait status 0x%x", (unsigned)status);
  }
}

/* strerror() may share one buffer between threads; the XSI strerror_r is
   what this file gets unless the build defines _GNU_SOURCE for everything. */
static const char *errtext(int err, char *buf, size_t len) {
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
  return strerror_r(err, buf, len);
#else
  return strerror_r(err, buf, len) == 0 ? buf : "unknown error";
#endif
}

int wpool__sys_fail(char **errmsg, int code, int err, const char *fmt, ...) {
  if (errmsg == NULL)
    return code;
  *errmsg = NULL;
  char sys[128], more[256];
  const char *sep = err ? ": " : "";
  const char *text = err ? errtext(err, sys, sizeof sys) : "";
  if (err == EMFILE) {
    /* The usual cause is a limit set for fewer workers: say what it takes
       (procos.c, forksrv.c, spawn.c: the wake pipe and the fork server's
       socket, two pipe ends per worker, four more while one starts). */
    struct rlimit rl;
    long lim =
        getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
            ? (long)rl.rlim_cur
            : -1;
    snprintf(more, sizeof more,
             "%s (EMFILE: out of file descriptors; "
             "RLIMIT_NOFILE is %ld, and a process pool needs 2 per worker, "
             "3 of its own and 4 more while a worker starts)",
             text, lim);
    text = more;
  }
  va_list ap, again;
  va_start(ap, fmt);
  va_copy(again, ap);
  int w = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  size_t n = w < 0 ? 0 : (size_t)w + strlen(sep) + strlen(text) + 1;
  char *msg = n ? malloc(n) : NULL;
  if (msg != NULL) {
    vsnprintf(msg, n, fmt, again);
    snprintf(msg + w, n - (size_t)w, "%s%s", sep, text);
    *errmsg = msg;
  }
  va_end(again);
  return code;
}
