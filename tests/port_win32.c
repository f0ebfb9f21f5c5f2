/* The tests' operating-system calls on Windows (see port.h). */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <tlhelp32.h> /* after windows.h, which it needs */

#include "port.h"

#include <fcntl.h>
#include <io.h>
#include <limits.h>
#include <process.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long wt_getpid(void) { return (long)GetCurrentProcessId(); }

void wt_pause(void) { Sleep(INFINITE); }

void wt_nap_ms(long ms) {
  /* Sleep may return early by up to a clock tick: wait out the rest. */
  long until = wt_now_ms() + ms;
  for (long left = ms; left > 0; left = until - wt_now_ms())
    Sleep((DWORD)left);
}

int wt_under_wine(void) {
  /* wine's ntdll exports its version; Windows' does not. */
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  return ntdll != NULL && GetProcAddress(ntdll, "wine_get_version") != NULL;
}

void wt_no_core_dumps(void) {}

int wt_setenv(const char *name, const char *value) {
  /* _putenv_s changes the C runtime's copy and the process's environment,
     which is what a spawned child inherits. */
  return _putenv_s(name, value) == 0 ? 0 : -1;
}

int wt_children_left(void) {
  HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
  if (snap == INVALID_HANDLE_VALUE)
    return -1;
  PROCESSENTRY32W pe;
  DWORD me = GetCurrentProcessId();
  int n = 0;
  pe.dwSize = sizeof pe;
  for (BOOL ok = Process32FirstW(snap, &pe); ok; ok = Process32NextW(snap, &pe))
    if (pe.th32ParentProcessID == me && pe.th32ProcessID != me) {
      /* A listed process may have ended already and be kept only by a
         handle: count it only while it runs. */
      HANDLE h = OpenProcess(SYNCHRONIZE, FALSE, pe.th32ProcessID);
      if (h == NULL || WaitForSingleObject(h, 0) == WAIT_TIMEOUT)
        n++;
      if (h != NULL)
        CloseHandle(h);
    }
  CloseHandle(snap);
  return n;
}

long wt_now_ms(void) { return (long)GetTickCount64(); }

/*
 * Not the NUL device but a temporary file, deleted when its last handle
 * (a worker's included) is closed. The C runtime takes NUL, a character
 * device, for a console: it leaves a worker's stdout unbuffered and writes
 * each line on its own, and under wine every such write is a round trip to
 * the wine server, some 2 ms: apply.spawn's stdout_flood (1 MiB in 64-byte
 * lines) took a minute there. A disk file gets a buffered stdout, and even
 * unbuffered writes to it (the parent's, for thread workers) are cheap.
 */
int wt_stdout_silence(void) {
  fflush(stdout);
  wchar_t dir[MAX_PATH + 1], path[MAX_PATH + 1];
  int devnull = -1;
  if (GetTempPathW(MAX_PATH + 1, dir) != 0 &&
      GetTempFileNameW(dir, L"wpt", 0, path) != 0)
    devnull = _wopen(path, _O_WRONLY | _O_TRUNC | _O_BINARY | _O_TEMPORARY);
  int saved = _dup(1);
  if (saved < 0 || devnull < 0) {
    if (saved >= 0)
      _close(saved);
    if (devnull >= 0)
      _close(devnull);
    return -1;
  }
  /* For descriptors 0-2 the C runtime also sets the process's standard
     handle, which is what a worker started meanwhile is given. */
  _dup2(devnull, 1);
  _close(devnull);
  return saved;
}

void wt_stdout_restore(int saved) {
  if (saved < 0)
    return;
  fflush(stdout);
  _dup2(saved, 1);
  _close(saved);
}

/* ---------------------------------------------------------------------- */
/* Threads                                                                 */

/* An SRWLOCK and a CONDITION_VARIABLE are one pointer each, statically
   initialised to zero: they live in the pointer fields of port.h. */
#define LOCK(m) ((PSRWLOCK) & (m)->lock)
#define COND(c) ((PCONDITION_VARIABLE) & (c)->cv)

void wt_mutex_init(wt_mutex_t *m) { InitializeSRWLock(LOCK(m)); }
void wt_mutex_destroy(wt_mutex_t *m) { (void)m; }
void wt_mutex_lock(wt_mutex_t *m) { AcquireSRWLockExclusive(LOCK(m)); }
void wt_mutex_unlock(wt_mutex_t *m) { ReleaseSRWLockExclusive(LOCK(m)); }
void wt_cond_init(wt_cond_t *c) { InitializeConditionVariable(COND(c)); }
void wt_cond_destroy(wt_cond_t *c) { (void)c; }
void wt_cond_broadcast(wt_cond_t *c) { WakeAllConditionVariable(COND(c)); }

void wt_cond_wait(wt_cond_t *c, wt_mutex_t *m) {
  SleepConditionVariableSRW(COND(c), LOCK(m), INFINITE, 0);
}

int wt_cond_wait_ms(wt_cond_t *c, wt_mutex_t *m, long ms) {
  if (SleepConditionVariableSRW(COND(c), LOCK(m), ms < 0 ? 0 : (DWORD)ms, 0))
    return 0;
  return GetLastError() == ERROR_TIMEOUT ? -1 : 0;
}

typedef struct start {
  void *(*fn)(void *);
  void *arg;
} start_t;

static unsigned __stdcall trampoline(void *p) {
  start_t s = *(start_t *)p;
  free(p);
  s.fn(s.arg);
  return 0;
}

int wt_thread_start(wt_thread_t *t, void *(*fn)(void *), void *arg) {
  start_t *s = malloc(sizeof *s);
  if (s == NULL)
    return -1;
  s->fn = fn;
  s->arg = arg;
  uintptr_t h = _beginthreadex(NULL, 0, trampoline, s, 0, NULL);
  if (h == 0) {
    free(s);
    return -1;
  }
  t->handle = (void *)h;
  return 0;
}

void wt_thread_join(wt_thread_t t) {
  WaitForSingleObject((HANDLE)t.handle, INFINITE);
  CloseHandle((HANDLE)t.handle);
}

/* ---------------------------------------------------------------------- */
/* The gate: named semaphores "-go" and "-started", an event "-closed"    */

static void gate_name(const char *prefix, const char *leaf, wchar_t *buf,
                      size_t cap) {
  size_t n = 0;
  for (const char *p = prefix; *p && n + 1 < cap; p++)
    buf[n++] = (wchar_t)(unsigned char)*p;
  for (const char *p = leaf; *p && n + 1 < cap; p++)
    buf[n++] = (wchar_t)(unsigned char)*p;
  buf[n] = L'\0';
}

int wt_gate_open(wt_gate_t *g) {
  static volatile LONG serial;
  wchar_t name[sizeof g->dir + 16];
  HANDLE go, started, closed;
  /* Local\: the session's namespace, where any process may create names. */
  snprintf(g->dir, sizeof g->dir, "Local\\wpool-gate-%lu-%ld",
           (unsigned long)GetCurrentProcessId(),
           (long)InterlockedIncrement(&serial));
  gate_name(g->dir, "-go", name, sizeof name / sizeof name[0]);
  go = CreateSemaphoreW(NULL, 0, LONG_MAX, name);
  gate_name(g->dir, "-started", name, sizeof name / sizeof name[0]);
  started = CreateSemaphoreW(NULL, 0, LONG_MAX, name);
  gate_name(g->dir, "-closed", name, sizeof name / sizeof name[0]);
  closed = CreateEventW(NULL, TRUE, FALSE, name);
  g->go = (intptr_t)go;
  g->started = (intptr_t)started;
  g->closed = (intptr_t)closed;
  if (go == NULL || started == NULL || closed == NULL) {
    wt_gate_close(g);
    return -1;
  }
  return 0;
}

int wt_gate_release(wt_gate_t *g, int n) {
  if (n <= 0)
    return 0;
  return ReleaseSemaphore((HANDLE)g->go, n, NULL) ? 0 : -1;
}

int wt_gate_wait_started_ms(wt_gate_t *g, int n, long timeout_ms) {
  long deadline = wt_now_ms() + timeout_ms;
  for (; n > 0; n--) {
    long left = deadline - wt_now_ms();
    if (left <= 0 ||
        WaitForSingleObject((HANDLE)g->started, (DWORD)left) != WAIT_OBJECT_0)
      return -1;
  }
  return 0;
}

void wt_gate_close(wt_gate_t *g) {
  /* Tasks waiting now see the event; later ones find no gate at all once
     the last handle is gone, or the event while a task still holds one. */
  if (g->closed)
    SetEvent((HANDLE)g->closed);
  HANDLE h[3] = {(HANDLE)g->go, (HANDLE)g->started, (HANDLE)g->closed};
  for (int i = 0; i < 3; i++)
    if (h[i] != NULL)
      CloseHandle(h[i]);
  g->go = g->started = g->closed = 0;
  g->dir[0] = '\0';
}

void wt_gate_announce(const wt_gate_arg_t *a) {
  wchar_t name[sizeof a->dir + 16];
  gate_name(a->dir, "-started", name, sizeof name / sizeof name[0]);
  HANDLE s = OpenSemaphoreW(SEMAPHORE_MODIFY_STATE, FALSE, name);
  if (s != NULL) {
    ReleaseSemaphore(s, 1, NULL);
    CloseHandle(s);
  }
}

void wt_gate_pass(const wt_gate_arg_t *a) {
  wchar_t name[sizeof a->dir + 16];
  gate_name(a->dir, "-go", name, sizeof name / sizeof name[0]);
  HANDLE h[2];
  h[0] = OpenSemaphoreW(SYNCHRONIZE, FALSE, name);
  gate_name(a->dir, "-closed", name, sizeof name / sizeof name[0]);
  h[1] = OpenEventW(SYNCHRONIZE, FALSE, name);
  if (h[0] != NULL && h[1] != NULL)
    WaitForMultipleObjects(2, h, FALSE, INFINITE);
  for (int i = 0; i < 2; i++)
    if (h[i] != NULL)
      CloseHandle(h[i]);
}

static void (*wt_old_sigint)(int);

int wt_sigint_install(void (*fn)(int)) {
  wt_old_sigint = signal(SIGINT, fn);
  return wt_old_sigint == SIG_ERR ? -1 : 0;
}

void wt_sigint_restore(void) { signal(SIGINT, wt_old_sigint); }

/* The C runtime runs the handler on the calling thread here (a real Ctrl-C
   runs it on a thread the system starts): a thread of the test's own that
   is not the one blocked in the pool. */
int wt_sigint_send(void) { return raise(SIGINT) == 0 ? 0 : -1; }
