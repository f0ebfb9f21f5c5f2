/*
 * The Windows backend's internal contract: starting worker processes,
 * describing how they ended, and translating Windows error codes.
 *
 * Windows headers are included here, lower case (mingw-w64 on a
 * case-sensitive file system finds no <Windows.h>), with WIN32_LEAN_AND_MEAN
 * so that winsock.h does not come along and clash with APR's winsock2.h.
 */
#ifndef WPOOL_WIN32_H
#define WPOOL_WIN32_H

/* Windows 7: GetActiveProcessorCount, K32GetProcessMemoryInfo. */
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0601
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <stddef.h>

/* The argv[1] prefix that marks a spawned worker (spawn.c and os.c). */
#define WPOOL__WORKER_FLAG "--wpool-worker="
/* The environment variable that marks a spawned worker until it has called
   wpool_bootstrap() (see wpool__os_spawned_without_hook()). */
#define WPOOL__SPAWNED_VAR L"WPOOL_SPAWNED"

/*
 * The exit status wpool gives a worker it kills with TerminateProcess, so
 * that its description says who ended it. An exit code is a DWORD; this one
 * is not an NTSTATUS (those have the top bits 0xC0000000 or 0x80000000), so
 * a crash cannot be taken for a kill.
 */
#define WPOOL__KILL_STATUS 0x0EA1D1EDu

/* A started worker process, as the pool's I/O loop sees it. */
typedef struct wpool__wproc {
  HANDLE proc; /* the process, for waiting, killing and its exit code */
  HANDLE job;  /* its own job: it and what its tasks started; or NULL */
  DWORD pid;
  HANDLE task_w;   /* the parent writes TASK/INIT/EXIT frames here */
  HANDLE result_r; /* the parent reads HELLO/READY/RESULT frames here */
} wpool__wproc_t;

/*
 * Start a fresh copy of this program as a worker: CreateProcessW of the own
 * executable (GetModuleFileNameW, any length, any characters) with
 * "--wpool-worker=<task>,<result>" (the child's handle values) on its
 * command line and WPOOL_SPAWNED=1:<token> added to its environment (the
 * pool's token, which the worker must also find in INIT). The parent's
 * ends are overlapped named-pipe ends, not inheritable; the child inherits
 * its two pipe ends and the standard handles and nothing else
 * (PROC_THREAD_ATTRIBUTE_HANDLE_LIST). Before it runs its first
 * instruction, the child is placed in the process's kill-on-close Job
 * object and, nested inside, in a kill-on-close job of its own (w->job).
 * Returns 0 or WPOOL_ESPAWN / WPOOL_ENOMEM / WPOOL_ESYS with *errmsg (release
 * with free()) when errmsg is not NULL. Thread-safe.
 */
int wpool__win_spawn(wpool__wproc_t *w, const char *token, char **errmsg);

/*
 * Kill a worker and every process its tasks started: its own job, or the
 * process alone when it has none. Its exit code becomes WPOOL__KILL_STATUS.
 */
void wpool__win_kill(const wpool__wproc_t *w);

/* Parse the worker marker in argv: 1 with the two handles, 0 when absent. */
int wpool__win_parse_argv(int argc, char **argv, HANDLE *task_in,
                          HANDLE *result_out);

/*
 * How a worker ended, from its exit code: "exited with status 3",
 * "crashed with exception 0xC0000005 (access violation)", "was killed by
 * the pool (TerminateProcess)". In status.c.
 */
void wpool__win_status_describe(DWORD code, char *buf, size_t len);

/*
 * The WPOOL_E* code for a Windows error code (GetLastError()): memory
 * errors are WPOOL_ENOMEM, unsupported calls WPOOL_ENOTSUP, anything else
 * the caller's fallback. In error.c.
 */
int wpool__win_code(DWORD err, int fallback);

/*
 * Return wpool__win_code(err, fallback), and when errmsg is not NULL set
 * *errmsg to the formatted text followed by ": <the system's message> (error
 * <err>)" in UTF-8 (nothing appended when err is 0), allocated with malloc
 * (NULL when that fails). In error.c.
 */
int wpool__win_fail(char **errmsg, int fallback, DWORD err, const char *fmt,
                    ...)
#if defined(__MINGW32__)
    __attribute__((format(gnu_printf, 4, 5))) /* see wpool_out_fail */
#elif defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* A wide string as UTF-8, allocated with malloc; NULL on failure. */
char *wpool__win_utf8(const wchar_t *w);

#endif
