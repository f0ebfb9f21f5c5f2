/*
 * The MPI component's system calls (POSIX). The component is built where
 * MPI and POSIX are; it has no Windows half (MS-MPI is untested).
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include "wire.h"
#include "wpool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int64_t wpm_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void wpm_sleep_ns(int64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

void wpm_yield(void) { sched_yield(); }

long wpm_getpid(void) { return (long)getpid(); }

void wpm_block_sigpipe(void) {
  /* A write to a dead worker's pipe raises SIGPIPE in the writing thread;
     the process channel takes a pending one back after EPIPE (as the
     pool's own I/O thread, which blocks it too). */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int wpm_ncpu(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > 4096 ? 4096 : (int)n;
}

static int launcher_var(const char *e) {
  static const char *const prefixes[] = {"OMPI_", "PMIX_",  "OPAL_", "PRTE_",
                                         "PMI_",  "MPICH_", "HYDRA_"};
  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
    if (strncmp(e, prefixes[i], strlen(prefixes[i])) == 0)
      return 1;
  return 0;
}

void wpm_scrub_env(void) {
  /* unsetenv() moves the entries: start over after each one. */
  for (int again = 1; again;) {
    again = 0;
    for (char **e = environ; e && *e; e++) {
      if (!launcher_var(*e))
        continue;
      const char *eq = strchr(*e, '=');
      size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
      char name[256];
      if (n >= sizeof name)
        continue;
      memcpy(name, *e, n);
      name[n] = '\0';
      unsetenv(name);
      again = 1;
      break;
    }
  }
}

int wpm_without_crash_handlers(int (*fn)(void *), void *arg) {
  static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGSYS};
  enum { N = sizeof sigs / sizeof sigs[0] };
  struct sigaction dfl, saved[N];
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int i = 0; i < N; i++)
    sigaction(sigs[i], &dfl, &saved[i]);
  int rc = fn(arg);
  for (int i = 0; i < N; i++)
    sigaction(sigs[i], &saved[i], NULL);
  return rc;
}

struct wpm_idle {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int kicked;
};

int wpm_idle_new(wpm_idle_t **out) {
  wpm_idle_t *d = calloc(1, sizeof *d);
  if (!d)
    return WPOOL_ENOMEM;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  /* Waits are measured on the monotonic clock, as everywhere in wpool. */
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  int e = pthread_mutex_init(&d->mu, NULL);
  if (!e) {
    e = pthread_cond_init(&d->cv, &ca);
    if (e)
      pthread_mutex_destroy(&d->mu);
  }
  pthread_condattr_destroy(&ca);
  if (e) {
    free(d);
    return WPOOL_ESYS;
  }
  *out = d;
  return 0;
}

void wpm_idle_free(wpm_idle_t *d) {
  if (!d)
    return;
  pthread_cond_destroy(&d->cv);
  pthread_mutex_destroy(&d->mu);
  free(d);
}

int wpm_idle_sleep(wpm_idle_t *d, int64_t ns) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  int64_t t = (int64_t)ts.tv_nsec + ns;
  ts.tv_sec += (time_t)(t / 1000000000);
  ts.tv_nsec = (long)(t % 1000000000);
  pthread_mutex_lock(&d->mu);
  if (!d->kicked)
    pthread_cond_timedwait(&d->cv, &d->mu, &ts);
  int k = d->kicked;
  d->kicked = 0;
  pthread_mutex_unlock(&d->mu);
  return k;
}

int wpm_idle_take(wpm_idle_t *d) {
  pthread_mutex_lock(&d->mu);
  int k = d->kicked;
  d->kicked = 0;
  pthread_mutex_unlock(&d->mu);
  return k;
}

void wpm_idle_kick(wpm_idle_t *d) {
  pthread_mutex_lock(&d->mu);
  d->kicked = 1;
  pthread_cond_signal(&d->cv);
  pthread_mutex_unlock(&d->mu);
}
