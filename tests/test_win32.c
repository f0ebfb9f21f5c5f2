/*
 * What the Windows backend promises beyond the portable suites: fork pools
 * are refused; spawn is the default; a worker inherits none of the
 * program's inheritable handles; no ceiling at 64 workers; Job objects end
 * every worker, and every process a worker started, when the pool's
 * process dies, and what a task started when its worker is killed or
 * reaped; a worker whose pipe another process keeps open is still
 * seen dying (through its process handle); exception codes are named; a
 * command line alone does not make a worker. Spawn workers (--method spawn).
 *
 * Some tests start this program again in a helper mode (wt_helper(), run by
 * main() before anything else).
 */
#define _CRT_SECURE_NO_WARNINGS /* sscanf, _snwprintf: bounded here */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* ---------------------------------------------------------------------- */
/* Helpers: this program started again                                    */

/* Start this program with the given arguments; its stdout is *out when out
   is not NULL. bInheritHandles: the helper's stdout must reach it. */
static HANDLE start_self(const wchar_t *args, HANDLE *out, DWORD *pid) {
  wchar_t exe[32768], cmd[33000];
  HANDLE rd = NULL, wr = NULL;
  SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
  STARTUPINFOW si;
  PROCESS_INFORMATION pi;
  if (!GetModuleFileNameW(NULL, exe, 32768))
    return NULL;
  _snwprintf(cmd, sizeof cmd / sizeof cmd[0], L"\"%ls\" %ls", exe, args);
  cmd[sizeof cmd / sizeof cmd[0] - 1] = L'\0';
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  if (out != NULL) {
    if (!CreatePipe(&rd, &wr, &sa, 0))
      return NULL;
    SetHandleInformation(rd, HANDLE_FLAG_INHERIT, 0);
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = wr;
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
  }
  BOOL ok = CreateProcessW(exe, cmd, NULL, NULL, out != NULL, 0, NULL, NULL,
                           &si, &pi);
  if (wr != NULL)
    CloseHandle(wr);
  if (!ok) {
    if (rd != NULL)
      CloseHandle(rd);
    return NULL;
  }
  CloseHandle(pi.hThread);
  if (out != NULL)
    *out = rd;
  if (pid != NULL)
    *pid = pi.dwProcessId;
  return pi.hProcess;
}

/* A task: start this program as a sleeping helper and return its pid. With
   inherit, the helper gets every inheritable handle of the worker. */
static int task_start_sleeper(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  DWORD pid = 0;
  HANDLE h = start_self(L"--wt-helper sleep", NULL, &pid);
  if (h == NULL)
    return wpool_out_fail(out, 1, "cannot start a helper: %lu",
                          (unsigned long)GetLastError());
  CloseHandle(h);
  long v = (long)pid;
  return wpool_out_set(out, &v, sizeof v);
}
WPOOL_REGISTER(task_start_sleeper)

/*
 * A task that makes its worker's result pipe end inheritable, starts a
 * sleeping helper that inherits it (so the pipe will not break when the
 * worker dies), then crashes.
 */
static int task_leak_and_crash(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  const wchar_t *cmd = wcsstr(GetCommandLineW(), L"--wpool-worker=");
  const wchar_t *comma = cmd ? wcschr(cmd, L',') : NULL;
  if (comma == NULL)
    return wpool_out_fail(out, 1, "not a spawned worker");
  HANDLE result = (HANDLE)(uintptr_t)wcstoull(comma + 1, NULL, 10);
  SetHandleInformation(result, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
  wchar_t exe[32768], line[33000];
  STARTUPINFOW si;
  PROCESS_INFORMATION pi;
  GetModuleFileNameW(NULL, exe, 32768);
  _snwprintf(line, sizeof line / sizeof line[0], L"\"%ls\" --wt-helper sleep",
             exe);
  line[sizeof line / sizeof line[0] - 1] = L'\0';
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  if (!CreateProcessW(exe, line, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi))
    return wpool_out_fail(out, 2, "cannot start a helper");
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  volatile int *volatile p = NULL;
  *p = 1;
  return 0;
}
WPOOL_REGISTER(task_leak_and_crash)

/* int kind -> crashes: 1 integer division by zero, 2 stack overflow. */
static volatile int one = 1, zero, deeper = 1;
static int recurse(volatile char *up) {
  volatile char frame[4096];
  frame[0] = up ? up[0] : 1;
  return deeper ? recurse(frame) + frame[1] : 0;
}
static int task_exception(const void *arg, size_t len, wpool_out_t *out) {
  int kind = 0;
  if (len == sizeof kind)
    memcpy(&kind, arg, sizeof kind);
  if (kind == 1) {
    int y = one / zero; /* both unknown: a real division */
    return wpool_out_set(out, &y, sizeof y);
  }
  if (kind == 2)
    return recurse(NULL);
  return 0;
}
WPOOL_REGISTER(task_exception)

/*
 * Helper modes:
 *   --wt-helper sleep   sleeps until killed;
 *   --wt-helper owner   creates a spawn pool of 2, has one worker start a
 *                       sleeper, prints the pids of both workers and the
 *                       sleeper on stdout, then sleeps until killed.
 */
int wt_helper(int argc, char **argv) {
  if (argc < 3 || strcmp(argv[1], "--wt-helper") != 0)
    return -1;
  if (strcmp(argv[2], "sleep") == 0) {
    Sleep(INFINITE);
    return 0;
  }
  if (strcmp(argv[2], "owner") != 0)
    return 2;
  wpool_options_t o;
  wpool_options_init(&o);
  o.processes = 2;
  o.method = WPOOL_SPAWN;
  wpool_t *pool = NULL;
  if (wpool_create(&pool, &o, NULL) != 0)
    return 3;
  void *v = NULL;
  size_t n = 0;
  long pids[2] = {0, 0}, sleeper = 0;
  wpool_stats_t st;
  if (wpool_apply(pool, task_start_sleeper, NULL, 0, &v, &n, NULL) != 0 ||
      n != sizeof sleeper || wpool_stats(pool, &st, pids, 2) != 0)
    return 4;
  memcpy(&sleeper, v, sizeof sleeper);
  wpool_free(v);
  printf("%ld %ld %ld\n", pids[0], pids[1], sleeper);
  fflush(stdout);
  Sleep(INFINITE);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */

static void test_fork_refused(void) {
  wpool_options_t o;
  wpool_t *pool = (wpool_t *)&o;
  char *msg = NULL;
  wt_options(&o, 1);
  o.method = WPOOL_FORK;
  CU_ASSERT_EQUAL(wpool_create(&pool, &o, &msg), WPOOL_ENOTSUP);
  CU_ASSERT_PTR_NULL(pool);
  CU_ASSERT_TRUE(wt_contains(msg, "WPOOL_SPAWN"));
  wpool_free(msg);
}

/* WPOOL_DEFAULT is spawn: process workers, not threads. */
static void test_default_is_spawn(void) {
  wpool_options_t o;
  wpool_t *pool = NULL;
  wpool_options_init(&o);
  o.processes = 2;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  long pids[2] = {0, 0};
  wpool_stats_t st;
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, pids, 2), 0);
  for (int i = 0; i < 2; i++) {
    CU_ASSERT_TRUE(pids[i] > 0);
    CU_ASSERT_NOT_EQUAL(pids[i], wt_getpid());
  }
  wpool_destroy(pool);
}

/*
 * An inheritable pipe end of the program's own: if a worker had inherited
 * it, the pipe would stay open after the program closes its copy.
 */
static void test_inherits_no_handle(void) {
  SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
  HANDLE rd, wr;
  CU_ASSERT_FATAL(CreatePipe(&rd, &wr, &sa, 0));
  wpool_t *pool = wt_pool(3);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  int y = 0;
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, 3, &y, NULL), 0);
  CloseHandle(wr);
  DWORD avail = 0;
  BOOL open = PeekNamedPipe(rd, NULL, 0, NULL, &avail, NULL);
  CU_ASSERT_FALSE(open);
  CU_ASSERT_EQUAL(GetLastError(), ERROR_BROKEN_PIPE);
  CloseHandle(rd);
  wpool_destroy(pool);
}

/* More workers than one WaitForMultipleObjects call could watch. */
static void test_many_workers(void) {
  enum { P = 66, N = 4 * P };
  wpool_t *pool = wt_pool(P);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  wpool_stats_t st;
  long pids[P];
  CU_ASSERT_EQUAL(wpool_stats(pool, &st, pids, P), 0);
  CU_ASSERT_EQUAL(st.workers, P);
  int distinct = 1;
  for (int i = 0; i < P; i++)
    for (int j = 0; j < i; j++)
      distinct &= pids[i] != pids[j];
  CU_ASSERT_TRUE(distinct);
  static int in[N], out[N];
  for (int i = 0; i < N; i++)
    in[i] = i;
  CU_ASSERT_EQUAL(wpool_map(pool, task_square, in, N, sizeof(int), out,
                            sizeof(int), 1, NULL),
                  0);
  for (int i = 0; i < N; i++)
    CU_ASSERT_EQUAL(out[i], i * i);
  wpool_destroy(pool);
}

/* 1 when the process runs. */
static int alive(long pid) {
  HANDLE h = OpenProcess(SYNCHRONIZE, FALSE, (DWORD)pid);
  if (h == NULL)
    return 0;
  int running = WaitForSingleObject(h, 0) == WAIT_TIMEOUT;
  CloseHandle(h);
  return running;
}

/* Wait (bounded) for a process that must end; 1 when it did. */
static int ends(long pid) {
  HANDLE h = OpenProcess(SYNCHRONIZE, FALSE, (DWORD)pid);
  if (h == NULL)
    return 1; /* gone already */
  DWORD w = WaitForSingleObject(h, (DWORD)WT_LONG_MS);
  CloseHandle(h);
  return w == WAIT_OBJECT_0;
}

/*
 * A pool's process killed outright (as a crash or a debugger's kill would):
 * its workers, and the process one of them started, end with it.
 */
static void test_owner_death(void) {
  HANDLE out = NULL;
  HANDLE owner = start_self(L"--wt-helper owner", &out, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(owner);
  char line[128];
  DWORD got = 0, n;
  while (got < sizeof line - 1 &&
         ReadFile(out, line + got, (DWORD)(sizeof line - 1 - got), &n, NULL) &&
         n > 0) {
    got += n;
    if (memchr(line, '\n', got))
      break;
  }
  line[got] = '\0';
  CloseHandle(out);
  long pid[3] = {0, 0, 0};
  CU_ASSERT_EQUAL(sscanf(line, "%ld %ld %ld", &pid[0], &pid[1], &pid[2]), 3);
  for (int i = 0; i < 3; i++)
    CU_ASSERT_TRUE(pid[i] > 0);
  /* All there while the owner lives. */
  for (int i = 0; i < 3; i++)
    CU_ASSERT_TRUE(pid[i] > 0 && alive(pid[i]));
  TerminateProcess(owner, 9);
  WaitForSingleObject(owner, INFINITE);
  CloseHandle(owner);
  for (int i = 0; i < 3; i++)
    CU_ASSERT_TRUE(pid[i] <= 0 || ends(pid[i]));
}

/*
 * Run task_start_sleeper in pool; the sleeper's pid, or 0. The task's own
 * CreateProcessW is tried again when it fails: under a busy wine it now and
 * then fails with ERROR_INTERNAL_ERROR (1359), which is wine's, not the
 * pool's (the pool's own starts retry the same way, see procpool.c).
 */
static long start_sleeper(wpool_t *pool) {
  long pid = 0;
  for (int attempt = 0; attempt < 5 && pid <= 0; attempt++) {
    void *v = NULL;
    size_t n = 0;
    char *msg = NULL;
    int rc = wpool_apply(pool, task_start_sleeper, NULL, 0, &v, &n, &msg);
    if (rc == 0 && n == sizeof pid)
      memcpy(&pid, v, sizeof pid);
    else
      fprintf(stderr, "  start_sleeper: %s: %s\n", wpool_err_name(rc),
              msg ? msg : "");
    wpool_free(v);
    wpool_free(msg);
    if (rc != 0 && rc != WPOOL_ETASK)
      break; /* the pool failed, not the task's start: no retry */
  }
  return pid;
}

/* A worker killed for its time limit takes the process its task started
   with it (the worker's own job). */
static void test_killed_worker_takes_tree(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  long sleeper = start_sleeper(pool);
  CU_ASSERT_TRUE_FATAL(sleeper > 0);
  CU_ASSERT_TRUE(alive(sleeper));
  wt_gate_t g;
  CU_ASSERT_EQUAL_FATAL(wt_gate_open(&g), 0);
  wt_gate_arg_t a = wt_gate_arg(&g, 1);
  wpool_call_t call = {NULL, NULL, NULL, 200, 0};
  wpool_result_t *r = NULL;
  CU_ASSERT_EQUAL(
      wpool_apply_async_ex(pool, task_gate, &a, sizeof a, &call, &r), 0);
  CU_ASSERT_EQUAL(wpool_result_get(r, WT_LONG_MS, NULL, NULL),
                  WPOOL_ETIMELIMIT);
  wpool_result_free(r);
  CU_ASSERT_TRUE(ends(sleeper));
  wt_gate_close(&g);
  wpool_destroy(pool);
}

/* A worker that retires (maxtasksperchild) leaves nothing behind either:
   its first task starts a sleeper, its second is its last, and the third
   task needs its replacement, which comes after it was reaped. */
static void test_reaped_worker_takes_tree(void) {
  wpool_options_t o;
  wpool_t *pool = NULL;
  wt_options(&o, 1);
  o.maxtasksperchild = 2;
  CU_ASSERT_EQUAL_FATAL(wt_create(&pool, &o), 0);
  long sleeper = start_sleeper(pool);
  CU_ASSERT_TRUE_FATAL(sleeper > 0);
  CU_ASSERT_TRUE(alive(sleeper));
  for (int x = 2; x <= 3; x++) {
    int y = 0;
    CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, x, &y, NULL), 0);
    CU_ASSERT_EQUAL(y, x * x);
  }
  CU_ASSERT_TRUE(ends(sleeper));
  wpool_destroy(pool);
}

/*
 * A worker dies while another process holds its result pipe open, so the
 * pipe never breaks: its process handle tells, and its task fails.
 */
static void test_death_without_broken_pipe(void) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  char *msg = NULL;
  CU_ASSERT_EQUAL(
      wpool_apply(pool, task_leak_and_crash, NULL, 0, NULL, NULL, &msg),
      WPOOL_EWORKER);
  CU_ASSERT_TRUE(wt_contains(msg, "access violation"));
  if (!wt_contains(msg, "access violation"))
    fprintf(stderr, "\n  message: %s\n", msg ? msg : "(null)");
  wpool_free(msg);
  int y = 0;
  CU_ASSERT_EQUAL(wt_apply_int(pool, task_square, 9, &y, NULL), 0);
  CU_ASSERT_EQUAL(y, 81);
  wpool_destroy(pool);
}

/* An exception's code is named in the worker's death message. */
static void check_exception_named(int kind, const char *name) {
  wpool_t *pool = wt_pool(1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
  char *msg = NULL;
  CU_ASSERT_EQUAL(
      wpool_apply(pool, task_exception, &kind, sizeof kind, NULL, NULL, &msg),
      WPOOL_EWORKER);
  CU_ASSERT_TRUE(wt_contains(msg, name));
  if (!wt_contains(msg, name))
    fprintf(stderr, "\n  message: %s\n", msg ? msg : "(null)");
  wpool_free(msg);
  wpool_destroy(pool);
}

static void test_exception_names(void) {
  check_exception_named(1, "integer division by zero");
}

static void test_stack_overflow_named(void) {
  if (wt_under_wine())
    WT_SKIP("wine ends a process that overflows its stack with status 0");
  check_exception_named(2, "stack overflow");
}

/* The worker flag on a command line, without a pool behind it: the program
   runs as usual (here: the test program's usage error, status 2). */
static void test_worker_flag_alone(void) {
  HANDLE h = start_self(L"--wpool-worker=4,8", NULL, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(h);
  DWORD code = 0;
  CU_ASSERT_EQUAL(WaitForSingleObject(h, (DWORD)WT_LONG_MS), WAIT_OBJECT_0);
  CU_ASSERT_TRUE(GetExitCodeProcess(h, &code));
  CU_ASSERT_EQUAL(code, 2);
  CloseHandle(h);
}

static const wt_test_t tests[] = {
    {"fork_refused", test_fork_refused},
    {"default_is_spawn", test_default_is_spawn},
    {"inherits_no_handle", test_inherits_no_handle},
    {"many_workers", test_many_workers},
    {"owner_death", test_owner_death},
    {"killed_worker_takes_tree", test_killed_worker_takes_tree},
    {"reaped_worker_takes_tree", test_reaped_worker_takes_tree},
    {"death_without_broken_pipe", test_death_without_broken_pipe},
    {"exception_names", test_exception_names},
    {"stack_overflow_named", test_stack_overflow_named},
    {"worker_flag_alone", test_worker_flag_alone},
    {NULL, NULL},
};

const wt_suite_t wt_suite_windows = {"windows", 1, 1, tests};
