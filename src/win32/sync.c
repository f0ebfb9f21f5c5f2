/*
 * sync.h on Windows: slim reader/writer locks and condition variables,
 * whose timed waits count milliseconds of the system's tick, which the
 * wall clock does not move.
 */
#include "win32.h"

#include "../sync.h"
#include "wpool.h"

#include <process.h>
#include <stdlib.h>

struct wpool__mutex {
  SRWLOCK l;
};

struct wpool__cond {
  CONDITION_VARIABLE c;
};

int wpool__mutex_new(wpool__mutex_t **out) {
  wpool__mutex_t *m = malloc(sizeof *m);
  if (!m)
    return WPOOL_ENOMEM;
  InitializeSRWLock(&m->l);
  *out = m;
  return 0;
}

void wpool__mutex_free(wpool__mutex_t *m) { free(m); }
void wpool__mutex_lock(wpool__mutex_t *m) { AcquireSRWLockExclusive(&m->l); }
void wpool__mutex_unlock(wpool__mutex_t *m) {
  ReleaseSRWLockExclusive(&m->l);
}

int wpool__cond_new(wpool__cond_t **out) {
  wpool__cond_t *c = malloc(sizeof *c);
  if (!c)
    return WPOOL_ENOMEM;
  InitializeConditionVariable(&c->c);
  *out = c;
  return 0;
}

void wpool__cond_free(wpool__cond_t *c) { free(c); }

void wpool__cond_wait(wpool__cond_t *c, wpool__mutex_t *m) {
  SleepConditionVariableSRW(&c->c, &m->l, INFINITE, 0);
}

void wpool__cond_timedwait(wpool__cond_t *c, wpool__mutex_t *m, uint64_t ns) {
  uint64_t ms = (ns + 999999u) / 1000000u;
  /* INFINITE is 0xFFFFFFFF: stay below it; callers loop. */
  if (ms >= 0xFFFFFFF0u)
    ms = 0xFFFFFFF0u;
  SleepConditionVariableSRW(&c->c, &m->l, (DWORD)ms, 0);
}

void wpool__cond_signal(wpool__cond_t *c) { WakeConditionVariable(&c->c); }
void wpool__cond_broadcast(wpool__cond_t *c) {
  WakeAllConditionVariable(&c->c);
}

void wpool__yield(void) { SwitchToThread(); }

uint64_t wpool__mono_ns(void) {
  static LARGE_INTEGER freq;
  LARGE_INTEGER now;
  if (!freq.QuadPart)
    QueryPerformanceFrequency(&freq);
  QueryPerformanceCounter(&now);
  uint64_t q = (uint64_t)now.QuadPart, f = (uint64_t)freq.QuadPart;
  return q / f * 1000000000u + q % f * 1000000000u / f;
}

typedef struct start {
  void (*fn)(void *);
  void *arg;
} start_t;

static unsigned __stdcall thread_main(void *p) {
  start_t s = *(start_t *)p;
  free(p);
  s.fn(s.arg);
  return 0;
}

int wpool__thread_detached(void (*fn)(void *), void *arg) {
  start_t *s = malloc(sizeof *s);
  if (!s)
    return WPOOL_ENOMEM;
  s->fn = fn;
  s->arg = arg;
  uintptr_t h = _beginthreadex(NULL, 0, thread_main, s, 0, NULL);
  if (!h) {
    free(s);
    return WPOOL_ESYS;
  }
  CloseHandle((HANDLE)h); /* detached: the thread runs on without it */
  return 0;
}

struct wpool__thread {
  HANDLE h;
};

int wpool__thread_start(wpool__thread_t **out, void (*fn)(void *),
                        void *arg) {
  wpool__thread_t *t = malloc(sizeof *t);
  start_t *s = malloc(sizeof *s);
  if (!t || !s) {
    free(t);
    free(s);
    return WPOOL_ENOMEM;
  }
  s->fn = fn;
  s->arg = arg;
  uintptr_t h = _beginthreadex(NULL, 0, thread_main, s, 0, NULL);
  if (!h) {
    free(t);
    free(s);
    return WPOOL_ESYS;
  }
  t->h = (HANDLE)h;
  *out = t;
  return 0;
}

void wpool__thread_join(wpool__thread_t *t) {
  WaitForSingleObject(t->h, INFINITE);
  CloseHandle(t->h);
  free(t);
}

void wpool__thread_detach_self(wpool__thread_t *t) {
  CloseHandle(t->h); /* the thread runs on without it */
  free(t);
}

unsigned wpool__fork_generation(void) { return 0; }

/* The signal-safe wake-up of sync.h: an auto-reset event. Console control
   handlers (SIGINT included) run on a thread of their own, so SetEvent is
   safe there. */
struct wpool__sigwake {
  HANDLE ev;
};

int wpool__sigwake_new(wpool__sigwake_t **out) {
  wpool__sigwake_t *w = malloc(sizeof *w);
  if (!w)
    return WPOOL_ENOMEM;
  w->ev = CreateEventW(NULL, FALSE, FALSE, NULL);
  if (!w->ev) {
    free(w);
    return WPOOL_ESYS;
  }
  *out = w;
  return 0;
}

void wpool__sigwake_free(wpool__sigwake_t *w) {
  if (!w)
    return;
  CloseHandle(w->ev);
  free(w);
}

void wpool__sigwake_post(wpool__sigwake_t *w) { SetEvent(w->ev); }

void wpool__sigwake_wait(wpool__sigwake_t *w) {
  WaitForSingleObject(w->ev, INFINITE);
}
