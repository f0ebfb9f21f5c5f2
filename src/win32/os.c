/*
 * The Windows side of os.h and of the worker loop's I/O calls in worker.h.
 */
#include "win32.h"

#include <psapi.h>

#include "../os.h"
#include "../proto.h"
#include "../registry.h"
#include "../worker.h"
#include "../sync.h"
#include "wpool.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* No fork on Windows; spawn is the only way to run process workers. */
const int wpool__default_method = WPOOL_SPAWN;

/* Keep single transfers well inside a DWORD; callers loop anyway. */
#define IO_MAX ((size_t)1 << 30)

long wpool__os_read(intptr_t h, void *buf, size_t len) {
  DWORD n = 0;
  if (len > IO_MAX)
    len = IO_MAX;
  if (ReadFile((HANDLE)h, buf, (DWORD)len, &n, NULL))
    return (long)n;
  /* The parent closed its end (or died): end of input, not an error. */
  return GetLastError() == ERROR_BROKEN_PIPE ? 0 : -1;
}

void wpool__os_spin_readable(intptr_t h, uint64_t ns) {
  uint64_t end = wpool__mono_ns() + ns;
  DWORD avail = 0;
  /* A failed peek (the parent is gone) ends the spin: the read says so. */
  while (PeekNamedPipe((HANDLE)h, NULL, 0, NULL, &avail, NULL) && !avail &&
         wpool__mono_ns() < end)
    wpool__yield();
}

int wpool__os_write_all(intptr_t h, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    DWORD n = 0;
    if (!WriteFile((HANDLE)h, p, (DWORD)(len > IO_MAX ? IO_MAX : len), &n,
                   NULL))
      return -1; /* ERROR_BROKEN_PIPE, ERROR_NO_DATA: the parent is gone */
    p += n;
    len -= n;
  }
  return 0;
}

long wpool__os_getpid(void) { return (long)GetCurrentProcessId(); }

uint64_t wpool__os_thread_id(void) { return (uint64_t)GetCurrentThreadId(); }

/*
 * Windows has no address-space limit per process; a Job object has a
 * committed-memory limit per process. The worker is already in the pool's
 * kill-on-close job, so it puts itself in a second, nested one (Windows 8
 * and later) that carries only this limit. The handle is kept open for the
 * process's life: the limit goes when the last handle does.
 */
int wpool__os_limit_memory(uint64_t bytes) {
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;
  HANDLE job = CreateJobObjectW(NULL, NULL);
  if (job == NULL)
    return -1;
  memset(&li, 0, sizeof li);
  li.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_PROCESS_MEMORY;
  li.ProcessMemoryLimit = (SIZE_T)bytes;
  if (!SetInformationJobObject(job, JobObjectExtendedLimitInformation, &li,
                               sizeof li) ||
      !AssignProcessToJobObject(job, GetCurrentProcess())) {
    CloseHandle(job);
    return -1;
  }
  return 0;
}

/* The working set: the pages of the process now in memory. */
uint32_t wpool__os_rss_kib(void) {
  PROCESS_MEMORY_COUNTERS pmc;
  memset(&pmc, 0, sizeof pmc);
  pmc.cb = sizeof pmc;
  if (!K32GetProcessMemoryInfo(GetCurrentProcess(), &pmc, sizeof pmc))
    return 0;
  size_t kib = pmc.WorkingSetSize / 1024;
  return kib > UINT32_MAX ? UINT32_MAX : (uint32_t)kib;
}

/* A handle value: digits only, as spawn.c writes them. */
static int parse_handle(const char *s, char **end, HANDLE *h) {
  unsigned long long v = 0;
  const char *p = s;
  if (*p < '0' || *p > '9')
    return -1;
  for (; *p >= '0' && *p <= '9'; p++) {
    if (v > (UINT32_MAX - (unsigned)(*p - '0')) / 10)
      return -1; /* handle values fit in 32 bits */
    v = v * 10 + (unsigned)(*p - '0');
  }
  *end = (char *)p;
  *h = (HANDLE)(uintptr_t)v;
  return v == 0 ? -1 : 0;
}

int wpool__win_parse_argv(int argc, char **argv, HANDLE *task_in,
                          HANDLE *result_out) {
  if (argc < 2 || argv == NULL || argv[1] == NULL ||
      strncmp(argv[1], WPOOL__WORKER_FLAG, sizeof WPOOL__WORKER_FLAG - 1) != 0)
    return 0;
  char *end;
  HANDLE t, r;
  if (parse_handle(argv[1] + sizeof WPOOL__WORKER_FLAG - 1, &end, &t) ||
      *end != ',' || parse_handle(end + 1, &end, &r) || *end != '\0' || r == t)
    return 0;
  if (task_in != NULL)
    *task_in = t;
  if (result_out != NULL)
    *result_out = r;
  return 1;
}

/*
 * The marker's value, "1:<token>", in *token; 0 when it is missing or
 * malformed. Read from the process's environment, not getenv(): the
 * program and the library may each have a C runtime with its own copy.
 */
static int spawned_token(char token[WPOOL__TOKEN_LEN + 1]) {
  wchar_t v[WPOOL__TOKEN_LEN + 8];
  DWORD n =
      GetEnvironmentVariableW(WPOOL__SPAWNED_VAR, v, sizeof v / sizeof v[0]);
  if (n != WPOOL__TOKEN_LEN + 2 || v[0] != L'1' || v[1] != L':')
    return 0;
  for (DWORD i = 0; i < WPOOL__TOKEN_LEN; i++) {
    wchar_t c = v[2 + i];
    if (!((c >= L'0' && c <= L'9') || (c >= L'a' && c <= L'f')))
      return 0;
    token[i] = (char)c;
  }
  token[WPOOL__TOKEN_LEN] = '\0';
  return 1;
}

int wpool__os_bootstrap(int argc, char **argv) {
  HANDLE task_in, result_out;
  char token[WPOOL__TOKEN_LEN + 1];
  if (!wpool__win_parse_argv(argc, argv, &task_in, &result_out))
    return 0;
  /* Without the pool's token this is a command line, not a pool, and the
     program runs as usual. */
  if (!spawned_token(token))
    return 0;
  wpool__worker_expect_token(token);
  /* Removed so that programs the tasks start do not take themselves for
     workers, and so that wpool__os_spawned_without_hook() says 0: from the
     process's environment, and from this C runtime's copy of it (getenv
     reads the copy; a program built against another runtime keeps its own
     copy, which nothing here can reach). */
  SetEnvironmentVariableW(WPOOL__SPAWNED_VAR, NULL);
  _putenv("WPOOL_SPAWNED=");
  /* The channels arrive inheritable; a task that starts a program must not
     pass them on, or the parent would not see the pipe break when this
     worker dies. */
  SetHandleInformation(task_in, HANDLE_FLAG_INHERIT, 0);
  SetHandleInformation(result_out, HANDLE_FLAG_INHERIT, 0);
  /* A crash must end the worker with its exception code for the parent to
     report, not wait for somebody to close a dialog. The job usually sees
     to that already (spawn.c). */
  SetErrorMode(GetErrorMode() | SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX |
               SEM_NOOPENFILEERRORBOX);
  wpool__registry_freeze();
  int rc = wpool__worker_serve((intptr_t)task_in, (intptr_t)result_out,
                               &wpool__worker_os);
  fflush(NULL);
  ExitProcess((UINT)rc);
}

int wpool__os_spawned_without_hook(void) {
  wchar_t v[4];
  return GetEnvironmentVariableW(WPOOL__SPAWNED_VAR, v, 4) > 0;
}

int wpool__os_ncpu(void) {
  /* All processor groups: GetSystemInfo counts only the caller's. */
  DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
  if (n == 0) {
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    n = si.dwNumberOfProcessors;
  }
  return n < 1 ? 1 : n > INT_MAX ? INT_MAX : (int)n;
}

static INIT_ONCE once = INIT_ONCE_STATIC_INIT;

static BOOL CALLBACK run_once(PINIT_ONCE o, PVOID fn, PVOID *ctx) {
  (void)o;
  (void)ctx;
  /* A function pointer travels as data here; both are one word on every
     Windows target. */
  void (*f)(void);
  memcpy(&f, &fn, sizeof f);
  f();
  return TRUE;
}

void wpool__os_once(void (*fn)(void)) {
  PVOID arg;
  memcpy(&arg, &fn, sizeof arg);
  InitOnceExecuteOnce(&once, run_once, arg, NULL);
}

/* No signals to hold off: a write to a dead worker fails with
   ERROR_NO_DATA or ERROR_BROKEN_PIPE, it does not kill the writer. */
void wpool__os_block_signals(void) {}

void wpool__os_clear_sigpipe(void) {}

const wpool__worker_os_t wpool__worker_os = {
    wpool__os_read,         wpool__os_write_all, wpool__os_getpid,
    wpool__os_limit_memory, wpool__os_rss_kib,   wpool__mono_ns,
    wpool__os_capture_start, wpool__os_capture_stop,
    wpool__os_take_handle,  wpool__os_close_handle, wpool__os_shm_map,
    wpool__os_shm_unmap,    wpool__shm_os_create,   wpool__os_give_handle,
    wpool__os_result_unmap, wpool__os_spin_readable};

