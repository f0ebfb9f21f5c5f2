/*
 * sync.h on POSIX threads. Condition variables wait on CLOCK_MONOTONIC
 * (Linux and the BSDs); macOS has no such attribute but a relative wait
 * that does not follow the wall clock.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif

#include "../sync.h"
#include "wpool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

struct wpool__mutex {
  pthread_mutex_t m;
};

struct wpool__cond {
  pthread_cond_t c;
};

int wpool__mutex_new(wpool__mutex_t **out) {
  wpool__mutex_t *m = malloc(sizeof *m);
  if (!m)
    return WPOOL_ENOMEM;
  if (pthread_mutex_init(&m->m, NULL)) {
    free(m);
    return WPOOL_ESYS;
  }
  *out = m;
  return 0;
}

void wpool__mutex_free(wpool__mutex_t *m) {
  if (!m)
    return;
  pthread_mutex_destroy(&m->m);
  free(m);
}

void wpool__mutex_lock(wpool__mutex_t *m) { pthread_mutex_lock(&m->m); }
void wpool__mutex_unlock(wpool__mutex_t *m) { pthread_mutex_unlock(&m->m); }

int wpool__cond_new(wpool__cond_t **out) {
  wpool__cond_t *c = malloc(sizeof *c);
  if (!c)
    return WPOOL_ENOMEM;
  pthread_condattr_t a;
  int rc = pthread_condattr_init(&a);
#ifndef __APPLE__
  if (rc == 0)
    rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
#endif
  if (rc == 0)
    rc = pthread_cond_init(&c->c, &a);
  pthread_condattr_destroy(&a);
  if (rc) {
    free(c);
    return WPOOL_ESYS;
  }
  *out = c;
  return 0;
}

void wpool__cond_free(wpool__cond_t *c) {
  if (!c)
    return;
  pthread_cond_destroy(&c->c);
  free(c);
}

void wpool__cond_wait(wpool__cond_t *c, wpool__mutex_t *m) {
  pthread_cond_wait(&c->c, &m->m);
}

/* Longest single wait: keeps tv_sec far from overflow; callers loop. */
#define WAIT_MAX_NS ((uint64_t)86400 * 1000000000u)

void wpool__cond_timedwait(wpool__cond_t *c, wpool__mutex_t *m, uint64_t ns) {
  if (ns > WAIT_MAX_NS)
    ns = WAIT_MAX_NS;
#ifdef __APPLE__
  struct timespec rel = {(time_t)(ns / 1000000000u),
                         (long)(ns % 1000000000u)};
  pthread_cond_timedwait_relative_np(&c->c, &m->m, &rel);
#else
  uint64_t at = wpool__mono_ns() + ns;
  struct timespec ts = {(time_t)(at / 1000000000u), (long)(at % 1000000000u)};
  pthread_cond_timedwait(&c->c, &m->m, &ts);
#endif
}

void wpool__cond_signal(wpool__cond_t *c) { pthread_cond_signal(&c->c); }
void wpool__cond_broadcast(wpool__cond_t *c) { pthread_cond_broadcast(&c->c); }

uint64_t wpool__mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void wpool__yield(void) { sched_yield(); }

typedef struct start {
  void (*fn)(void *);
  void *arg;
} start_t;

static void *thread_main(void *p) {
  start_t s = *(start_t *)p;
  free(p);
  s.fn(s.arg);
  return NULL;
}

/*
 * Start fn(arg) on a new thread, detached or not. It starts with every
 * signal blocked (it inherits this mask), so no program handler ever runs
 * on it, even before its first line; faults stay unblocked, so that the
 * program's crash handler still sees one (blocked, the kernel would just
 * kill the process).
 */
static int start(pthread_t *t, int detached, void (*fn)(void *), void *arg) {
  start_t *s = malloc(sizeof *s);
  if (!s)
    return WPOOL_ENOMEM;
  s->fn = fn;
  s->arg = arg;
  pthread_attr_t a;
  if (pthread_attr_init(&a)) {
    free(s);
    return WPOOL_ESYS;
  }
  if (detached)
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  sigset_t all, old;
  sigfillset(&all);
  sigdelset(&all, SIGSEGV);
  sigdelset(&all, SIGBUS);
  sigdelset(&all, SIGFPE);
  sigdelset(&all, SIGILL);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(t, &a, thread_main, s);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&a);
  if (rc) {
    free(s);
    return WPOOL_ESYS;
  }
  return 0;
}

int wpool__thread_detached(void (*fn)(void *), void *arg) {
  pthread_t t;
  return start(&t, 1, fn, arg);
}

struct wpool__thread {
  pthread_t t;
};

int wpool__thread_start(wpool__thread_t **out, void (*fn)(void *),
                        void *arg) {
  wpool__thread_t *t = malloc(sizeof *t);
  if (!t)
    return WPOOL_ENOMEM;
  int rc = start(&t->t, 0, fn, arg);
  if (rc) {
    free(t);
    return rc;
  }
  *out = t;
  return 0;
}

void wpool__thread_join(wpool__thread_t *t) {
  pthread_join(t->t, NULL);
  free(t);
}

void wpool__thread_detach_self(wpool__thread_t *t) {
  pthread_detach(t->t);
  free(t);
}

static volatile sig_atomic_t generation;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void in_child(void) { generation++; }

static void register_atfork(void) { pthread_atfork(NULL, NULL, in_child); }

unsigned wpool__fork_generation(void) {
  pthread_once(&atfork_once, register_atfork);
  return (unsigned)generation;
}
