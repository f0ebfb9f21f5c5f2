/*
 * What the tests need from the operating system, behind one small
 * interface, so that the suites themselves are the same on every platform:
 * process ids, threads with a mutex and a condition variable, a clock, the
 * two channels of the gate (see harness.h), silencing stdout, and the
 * texts that name a crash. POSIX in port_posix.c, Windows in port_win32.c.
 *
 * No system header leaks out of here on Windows: <windows.h> would bring
 * its macros into every suite.
 */
#ifndef WT_PORT_H
#define WT_PORT_H

#include "tasks.h"

#include <stddef.h>
#include <stdint.h>

#ifdef _WIN32
/* Windows has no fork: fork pools are WPOOL_ENOTSUP there. */
#define WT_HAVE_FORK 0
/* What a worker's death message says for task_crash()'s crashes: the
   exception's name, and the status abort() ends a process with (3, or a
   fast fail with the MSVC runtime's default behaviour). */
#define WT_CAUSE_SEGV "access violation"
#define WT_CAUSE_ABORT "abort()"
#else
#define WT_HAVE_FORK 1
#define WT_CAUSE_SEGV "SIGSEGV"
#define WT_CAUSE_ABORT "SIGABRT"
#endif

/* Storage that is per thread (thread workers each have their own). */
#if defined(_MSC_VER) && !defined(__clang__)
#define WT_THREAD_LOCAL __declspec(thread)
#else
#define WT_THREAD_LOCAL _Thread_local
#endif

/*
 * A function run before main(), in every process of the test program
 * (spawned workers included): WT_CONSTRUCTOR(name) { body }.
 */
#if defined(__GNUC__) || defined(__clang__)
#define WT_CONSTRUCTOR(name) __attribute__((constructor)) static void name(void)
#elif defined(_MSC_VER)
/* As WPOOL_REGISTER does it (see wpool.h). */
#define WT_CONSTRUCTOR(name)                                                   \
  static void __cdecl name(void);                                              \
  __declspec(allocate(".CRT$XCU")) void(__cdecl *const name##_ptr)(void) =     \
      name;                                                                    \
  __pragma(comment(linker, "/include:" WPOOL__SYMBOL_PREFIX #name              \
                           "_ptr")) static void __cdecl name(void)
#endif

long wt_getpid(void);
/* Block the calling thread until the process is killed. */
void wt_pause(void);
/* Block the calling thread for at least ms milliseconds (never less). */
void wt_nap_ms(long ms);
/*
 * 1 when the program runs under wine, which lacks a few things Windows has
 * (it does not enforce a Job object's memory limit, and a stack overflow
 * ends a process with status 0); the tests skip only those checks there.
 */
int wt_under_wine(void);
/* Crashing test workers leave no core files behind (POSIX). */
void wt_no_core_dumps(void);
/* setenv(name, value, 1), also for the system's copy on Windows. */
int wt_setenv(const char *name, const char *value);
/* Child processes of this process that still exist (not yet reaped on
   POSIX, still running on Windows); -1 when that cannot be told. */
int wt_children_left(void);

/*
 * When argv asks for one of the helper modes some tests start this program
 * in ("--wt-helper NAME"), run it and return its exit status; else -1.
 * Windows only (test_win32.c); POSIX tests fork instead.
 */
int wt_helper(int argc, char **argv);

/*
 * Ctrl-C for a test: install fn as the SIGINT handler (the previous one is
 * restored by wt_sigint_restore), and deliver a SIGINT to this process as
 * another process would (POSIX: kill(getpid()); Windows: raise(), whose
 * handler runs as a console control handler would, apart from the program's
 * own flow). 0, or -1 when it cannot be done.
 */
int wt_sigint_install(void (*fn)(int));
void wt_sigint_restore(void);
int wt_sigint_send(void);

/* Milliseconds of a monotonic clock. */
long wt_now_ms(void);

/* Send this process's stdout to the null device; returns what
   wt_stdout_restore needs, or -1. */
int wt_stdout_silence(void);
void wt_stdout_restore(int saved);

/* Threads, a mutex and a condition variable: the few calls the suites use. */
#ifdef _WIN32
typedef struct wt_mutex {
  void *lock; /* an SRWLOCK */
} wt_mutex_t;
typedef struct wt_cond {
  void *cv; /* a CONDITION_VARIABLE */
} wt_cond_t;
typedef struct wt_thread {
  void *handle;
} wt_thread_t;
#else
#include <pthread.h>
typedef pthread_mutex_t wt_mutex_t;
typedef pthread_cond_t wt_cond_t;
typedef pthread_t wt_thread_t;
#endif

void wt_mutex_init(wt_mutex_t *m);
void wt_mutex_destroy(wt_mutex_t *m);
void wt_mutex_lock(wt_mutex_t *m);
void wt_mutex_unlock(wt_mutex_t *m);
void wt_cond_init(wt_cond_t *c);
void wt_cond_destroy(wt_cond_t *c);
void wt_cond_wait(wt_cond_t *c, wt_mutex_t *m);
/* Wait at most ms: 0 when woken (perhaps spuriously), -1 on time-out. */
int wt_cond_wait_ms(wt_cond_t *c, wt_mutex_t *m, long ms);
void wt_cond_broadcast(wt_cond_t *c);
/* 0, or -1 when the thread could not be started. */
int wt_thread_start(wt_thread_t *t, void *(*fn)(void *), void *arg);
void wt_thread_join(wt_thread_t t);

/*
 * The gate's channels (harness.h describes the gate). dir names them: on
 * POSIX a private directory holding the FIFOs "go" and "started"; on
 * Windows the common prefix of named semaphores "-go" and "-started" and
 * of the event "-closed".
 */
typedef struct wt_gate {
  char dir[sizeof(((wt_gate_arg_t *)0)->dir)];
  intptr_t go;      /* the test's writer on "go" */
  intptr_t started; /* the test's reader on "started" */
  intptr_t closed;  /* Windows: set when the gate closes */
} wt_gate_t;

int wt_gate_open(wt_gate_t *g);
int wt_gate_release(wt_gate_t *g, int n);
int wt_gate_wait_started_ms(wt_gate_t *g, int n, long timeout_ms);
void wt_gate_close(wt_gate_t *g);
/* The task's side: say "started", then wait for "go" (or the close). */
void wt_gate_announce(const wt_gate_arg_t *a);
void wt_gate_pass(const wt_gate_arg_t *a);

#endif
