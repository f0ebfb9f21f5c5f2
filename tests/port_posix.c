/* The tests' operating-system calls on POSIX (see port.h). */
#include "port.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

long wt_getpid(void) { return (long)getpid(); }

void wt_pause(void) { pause(); }

void wt_nap_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ; /* a signal cut it short: sleep the rest */
}

int wt_under_wine(void) { return 0; }

void wt_no_core_dumps(void) {
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
}

int wt_setenv(const char *name, const char *value) {
  return setenv(name, value, 1);
}

int wt_helper(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return -1;
}

int wt_children_left(void) {
  /* waitpid(-1) reaps a zombie as it looks: only for the end of a test. */
  errno = 0;
  pid_t left = waitpid(-1, NULL, WNOHANG);
  return left == -1 && errno == ECHILD ? 0 : 1;
}

long wt_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int wt_stdout_silence(void) {
  fflush(stdout);
  int saved = dup(STDOUT_FILENO);
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (saved < 0 || devnull < 0) {
    if (saved >= 0)
      close(saved);
    if (devnull >= 0)
      close(devnull);
    return -1;
  }
  dup2(devnull, STDOUT_FILENO);
  close(devnull);
  return saved;
}

void wt_stdout_restore(int saved) {
  if (saved < 0)
    return;
  fflush(stdout);
  dup2(saved, STDOUT_FILENO);
  close(saved);
}

/* ---------------------------------------------------------------------- */
/* Threads                                                                 */

void wt_mutex_init(wt_mutex_t *m) { pthread_mutex_init(m, NULL); }
void wt_mutex_destroy(wt_mutex_t *m) { pthread_mutex_destroy(m); }
void wt_mutex_lock(wt_mutex_t *m) { pthread_mutex_lock(m); }
void wt_mutex_unlock(wt_mutex_t *m) { pthread_mutex_unlock(m); }
void wt_cond_init(wt_cond_t *c) { pthread_cond_init(c, NULL); }
void wt_cond_destroy(wt_cond_t *c) { pthread_cond_destroy(c); }
void wt_cond_wait(wt_cond_t *c, wt_mutex_t *m) { pthread_cond_wait(c, m); }
void wt_cond_broadcast(wt_cond_t *c) { pthread_cond_broadcast(c); }

int wt_cond_wait_ms(wt_cond_t *c, wt_mutex_t *m, long ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  return pthread_cond_timedwait(c, m, &until) == ETIMEDOUT ? -1 : 0;
}

int wt_thread_start(wt_thread_t *t, void *(*fn)(void *), void *arg) {
  return pthread_create(t, NULL, fn, arg) == 0 ? 0 : -1;
}

void wt_thread_join(wt_thread_t t) { pthread_join(t, NULL); }

/* ---------------------------------------------------------------------- */
/* The gate: two FIFOs in a private directory                             */

static void gate_path(const char *dir, const char *leaf, char *buf,
                      size_t cap) {
  snprintf(buf, cap, "%s/%s", dir, leaf);
}

int wt_gate_open(wt_gate_t *g) {
  char path[sizeof g->dir + 16];
  const char *tmp = getenv("TMPDIR");
  g->go = g->started = g->closed = -1;
  if (tmp == NULL || *tmp == '\0' || strlen(tmp) > 64)
    tmp = "/tmp";
  snprintf(g->dir, sizeof g->dir, "%s/wpool-gate-XXXXXX", tmp);
  if (mkdtemp(g->dir) == NULL)
    return -1;
  gate_path(g->dir, "go", path, sizeof path);
  if (mkfifo(path, 0600) != 0)
    goto fail;
  /* Read-write opens of a FIFO never block, and keep a writer on "go" (so
     that held tasks wait) and a reader on "started" (so that tasks can
     announce themselves) for as long as the gate is open. */
  g->go = open(path, O_RDWR | O_CLOEXEC);
  gate_path(g->dir, "started", path, sizeof path);
  if (g->go < 0 || mkfifo(path, 0600) != 0)
    goto fail;
  g->started = open(path, O_RDWR | O_CLOEXEC);
  if (g->started < 0)
    goto fail;
  return 0;
fail:
  wt_gate_close(g);
  return -1;
}

int wt_gate_release(wt_gate_t *g, int n) {
  char buf[256];
  memset(buf, 'g', sizeof buf);
  while (n > 0) {
    size_t k = n < (int)sizeof buf ? (size_t)n : sizeof buf;
    ssize_t w = write((int)g->go, buf, k);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    n -= (int)w;
  }
  return 0;
}

int wt_gate_wait_started_ms(wt_gate_t *g, int n, long timeout_ms) {
  long deadline = wt_now_ms() + timeout_ms;
  char buf[64];
  while (n > 0) {
    long left = deadline - wt_now_ms();
    if (left <= 0)
      return -1;
    struct pollfd p = {.fd = (int)g->started, .events = POLLIN};
    int r = poll(&p, 1, (int)left);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return -1;
    ssize_t got = read((int)g->started, buf,
                       n < (int)sizeof buf ? (size_t)n : sizeof buf);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      return -1;
    n -= (int)got;
  }
  return 0;
}

void wt_gate_close(wt_gate_t *g) {
  char path[sizeof g->dir + 16];
  if (g->go >= 0)
    close((int)g->go);
  if (g->started >= 0)
    close((int)g->started);
  g->go = g->started = -1;
  if (g->dir[0] == '\0')
    return;
  gate_path(g->dir, "go", path, sizeof path);
  unlink(path);
  gate_path(g->dir, "started", path, sizeof path);
  unlink(path);
  rmdir(g->dir);
  g->dir[0] = '\0';
}

/* Write one byte to the gate's "started" FIFO, if anyone still reads it. */
void wt_gate_announce(const wt_gate_arg_t *a) {
  char path[sizeof a->dir + 16];
  gate_path(a->dir, "started", path, sizeof path);
  /* Non-blocking: once the test has closed the gate there is no reader, and
     a blocking open would then wait forever. */
  int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t w;
    do
      w = write(fd, "s", 1);
    while (w < 0 && errno == EINTR);
    close(fd);
  }
}

void wt_gate_pass(const wt_gate_arg_t *a) {
  char path[sizeof a->dir + 16];
  char c;
  /* Opened non-blocking for the same reason (no writer after the close),
     then switched to blocking: the read waits for a byte from the test, or
     sees end of file once the test's writer is gone. */
  gate_path(a->dir, "go", path, sizeof path);
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd >= 0) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    while (read(fd, &c, 1) < 0 && errno == EINTR)
      ;
    close(fd);
  }
}

static struct sigaction wt_old_sigint;

int wt_sigint_install(void (*fn)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = fn;
  sigemptyset(&sa.sa_mask);
  return sigaction(SIGINT, &sa, &wt_old_sigint) == 0 ? 0 : -1;
}

void wt_sigint_restore(void) { sigaction(SIGINT, &wt_old_sigint, NULL); }

int wt_sigint_send(void) { return kill(getpid(), SIGINT) == 0 ? 0 : -1; }
