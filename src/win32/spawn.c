/*
 * WPOOL_SPAWN workers on Windows: fresh starts of the program's own
 * executable, which recognise themselves in wpool_bootstrap() by the marker
 * in argv[1] (the same scheme as src/posix/spawn.c).
 *
 * Channels are named pipes: the parent's ends are overlapped, so that one
 * completion port serves every worker of a pool (procos.c); the child's ends
 * are ordinary blocking handles. The child inherits exactly its two pipe
 * ends and its standard handles: they are listed in
 * PROC_THREAD_ATTRIBUTE_HANDLE_LIST, so no other inheritable handle of the
 * program, ours or not, leaks into a worker.
 *
 * Two levels of Job objects, both with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE.
 * One per process, created at the first spawn and never closed, holds every
 * worker: the system closes it when this process ends, however it ends, and
 * that kills every worker and every process a worker started (they join the
 * job too). Inside it each worker has a job of its own (nested jobs,
 * Windows 8 and later), which holds what the worker's tasks start: killing
 * a worker terminates that job, and reaping one closes it, so nothing a
 * task started outlives its worker (as a process group does on POSIX).
 */
#include "win32.h"

#include "../proto.h"
#include "wpool.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* Advisory sizes of a pipe's buffers. */
#define PIPE_BUF_SIZE 65536
/* Attempts at a pipe name nobody else holds. */
#define NAME_ATTEMPTS 8

static INIT_ONCE setup_once = INIT_ONCE_STATIC_INIT;
static wchar_t *exe;   /* this program's executable */
static char *exe_utf8; /* the same, for messages */
static DWORD exe_err;
static HANDLE job;
static DWORD job_err;
static volatile LONG pipe_serial;

/* The executable's full path, whatever its length or characters. */
static void find_exe(void) {
  for (DWORD cap = MAX_PATH; cap <= 32768; cap *= 2) {
    wchar_t *buf = malloc(cap * sizeof *buf);
    if (buf == NULL) {
      exe_err = ERROR_NOT_ENOUGH_MEMORY;
      return;
    }
    DWORD n = GetModuleFileNameW(NULL, buf, cap);
    if (n == 0) {
      exe_err = GetLastError();
      free(buf);
      return;
    }
    if (n < cap) { /* n == cap means the path was cut short */
      exe = buf;
      exe_utf8 = wpool__win_utf8(buf);
      return;
    }
    free(buf);
  }
  exe_err = ERROR_FILENAME_EXCED_RANGE;
}

/* A kill-on-close job, or NULL with GetLastError() set. */
static HANDLE kill_on_close_job(void) {
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;
  HANDLE j = CreateJobObjectW(NULL, NULL); /* not inheritable */
  if (j == NULL)
    return NULL;
  memset(&li, 0, sizeof li);
  /* DIE_ON_UNHANDLED_EXCEPTION: a crashing worker ends at once with the
     exception's code, without Windows Error Reporting's dialog. */
  li.BasicLimitInformation.LimitFlags =
      JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE |
      JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION;
  if (SetInformationJobObject(j, JobObjectExtendedLimitInformation, &li,
                              sizeof li))
    return j;
  /* Some emulations know only the first flag; the worker also turns the
     dialog off itself (see wpool__os_bootstrap). */
  li.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
  if (SetInformationJobObject(j, JobObjectExtendedLimitInformation, &li,
                              sizeof li))
    return j;
  DWORD err = GetLastError();
  CloseHandle(j);
  SetLastError(err);
  return NULL;
}

static void make_job(void) {
  job = kill_on_close_job();
  if (job == NULL)
    job_err = GetLastError();
}

static BOOL CALLBACK setup(PINIT_ONCE once, PVOID param, PVOID *ctx) {
  (void)once;
  (void)param;
  (void)ctx;
  find_exe();
  make_job();
  return TRUE;
}

/* Decimal digits of v at p; returns the end. */
static wchar_t *put_number(wchar_t *p, unsigned long long v) {
  wchar_t tmp[24];
  int n = 0;
  do
    tmp[n++] = (wchar_t)(L'0' + v % 10);
  while ((v /= 10) != 0);
  while (n > 0)
    *p++ = tmp[--n];
  return p;
}

/*
 * A pipe: the parent's end overlapped (server_access: inbound or outbound),
 * the child's end blocking and not yet inheritable. The name is unique and
 * the pipe has one instance, which the parent connects at once, so no other
 * process can take the child's place.
 */
static DWORD make_pipe(DWORD server_access, HANDLE *server, DWORD client_access,
                       HANDLE *client) {
  DWORD err = ERROR_PIPE_BUSY;
  for (int attempt = 0; attempt < NAME_ATTEMPTS; attempt++) {
    wchar_t name[96], *p = name;
    const wchar_t *prefix = L"\\\\.\\pipe\\wpool-";
    while (*prefix)
      *p++ = *prefix++;
    p = put_number(p, GetCurrentProcessId());
    *p++ = L'-';
    p = put_number(p, (unsigned long)InterlockedIncrement(&pipe_serial));
    *p++ = L'-';
    p = put_number(p, GetTickCount64());
    *p = L'\0';
    HANDLE s = CreateNamedPipeW(name,
                                server_access | FILE_FLAG_OVERLAPPED |
                                    FILE_FLAG_FIRST_PIPE_INSTANCE,
                                PIPE_TYPE_BYTE | PIPE_READMODE_BYTE |
                                    PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                                1, PIPE_BUF_SIZE, PIPE_BUF_SIZE, 0, NULL);
    if (s == INVALID_HANDLE_VALUE) {
      err = GetLastError();
      if (err == ERROR_ACCESS_DENIED || err == ERROR_PIPE_BUSY)
        continue; /* the name is taken */
      return err;
    }
    HANDLE c =
        CreateFileW(name, client_access, 0, NULL, OPEN_EXISTING, 0, NULL);
    if (c == INVALID_HANDLE_VALUE) {
      err = GetLastError();
      CloseHandle(s);
      if (err == ERROR_PIPE_BUSY)
        continue; /* somebody connected first: try another name */
      return err;
    }
    /* Already connected: this only confirms it, and cannot block. */
    if (!ConnectNamedPipe(s, NULL) && GetLastError() != ERROR_PIPE_CONNECTED) {
      err = GetLastError();
      CloseHandle(c);
      CloseHandle(s);
      return err;
    }
    *server = s;
    *client = c;
    return 0;
  }
  return err;
}

/* An inheritable copy of a standard handle, or NULL when there is none. */
static HANDLE std_copy(DWORD which) {
  HANDLE h = GetStdHandle(which), copy = NULL;
  if (h == NULL || h == INVALID_HANDLE_VALUE)
    return NULL;
  if (!DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &copy, 0,
                       TRUE, DUPLICATE_SAME_ACCESS))
    return NULL;
  return copy;
}

/* Does this environment entry define WPOOL_SPAWNED? */
static int is_marker(const wchar_t *e) {
  size_t n = wcslen(WPOOL__SPAWNED_VAR);
  return CompareStringOrdinal(e, (int)n, WPOOL__SPAWNED_VAR, (int)n, TRUE) ==
             CSTR_EQUAL &&
         e[n] == L'=';
}

/* Does entry e's name sort after WPOOL_SPAWNED (case-insensitively)? */
static int sorts_after_marker(const wchar_t *e) {
  /* "=C:=C:\dir" entries: their name starts after the first character. */
  const wchar_t *eq = wcschr(e + 1, L'=');
  int len = eq ? (int)(eq - e) : (int)wcslen(e);
  return CompareStringOrdinal(e, len, WPOOL__SPAWNED_VAR, -1, TRUE) ==
         CSTR_GREATER_THAN;
}

/*
 * This process's environment with WPOOL_SPAWNED=1:<token> put in its sorted
 * place (CreateProcess wants the block sorted by name) and any other value
 * of it dropped. malloc'd; NULL when out of memory.
 */
static wchar_t *make_env(const char *token) {
  wchar_t marker[64 + WPOOL__TOKEN_LEN];
  size_t m = 0;
  for (const wchar_t *v = WPOOL__SPAWNED_VAR L"=1:"; *v; v++)
    marker[m++] = *v;
  for (const char *t = token ? token : "";
       *t && m + 1 < sizeof marker / sizeof marker[0]; t++)
    marker[m++] = (wchar_t)(unsigned char)*t; /* hex digits */
  marker[m++] = L'\0';
  wchar_t *cur = GetEnvironmentStringsW();
  if (cur == NULL)
    return NULL;
  size_t total = 0;
  for (const wchar_t *e = cur; *e; e += wcslen(e) + 1)
    total += wcslen(e) + 1;
  wchar_t *env = malloc((total + m + 1) * sizeof *env);
  if (env != NULL) {
    wchar_t *out = env;
    int placed = 0;
    for (const wchar_t *e = cur; *e; e += wcslen(e) + 1) {
      if (is_marker(e))
        continue;
      if (!placed && sorts_after_marker(e)) {
        memcpy(out, marker, m * sizeof *marker);
        out += m;
        placed = 1;
      }
      size_t n = wcslen(e) + 1;
      memcpy(out, e, n * sizeof *e);
      out += n;
    }
    if (!placed) {
      memcpy(out, marker, m * sizeof *marker);
      out += m;
    }
    *out = L'\0';
  }
  FreeEnvironmentStringsW(cur);
  return env;
}

/* "<exe>" --wpool-worker=<task>,<result>; malloc'd. */
static wchar_t *make_cmdline(HANDLE task_in, HANDLE result_out) {
  static const char flag[] = WPOOL__WORKER_FLAG;
  size_t n = wcslen(exe) + sizeof flag + 2 * 24 + 8;
  wchar_t *cmd = malloc(n * sizeof *cmd), *p = cmd;
  if (cmd == NULL)
    return NULL;
  /* Windows paths cannot contain quotes, so quoting needs no escapes. */
  *p++ = L'"';
  memcpy(p, exe, wcslen(exe) * sizeof *p);
  p += wcslen(exe);
  *p++ = L'"';
  *p++ = L' ';
  for (const char *f = flag; *f; f++)
    *p++ = (wchar_t)*f;
  /* Handle values fit in 32 bits, even in 64-bit processes. */
  p = put_number(p, (unsigned long long)(uintptr_t)task_in);
  *p++ = L',';
  p = put_number(p, (unsigned long long)(uintptr_t)result_out);
  *p = L'\0';
  return cmd;
}

static void close_all(HANDLE *h, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (h[i] != NULL && h[i] != INVALID_HANDLE_VALUE) {
      CloseHandle(h[i]);
      h[i] = NULL;
    }
}

/* Tries of CreateProcessW when it fails with ERROR_INTERNAL_ERROR. */
#define SPAWN_ATTEMPTS 5

/* CreateProcessW with the handle list; the process is left suspended. */
static DWORD launch(wchar_t *cmd, wchar_t *env, HANDLE *inherit, size_t n,
                    HANDLE std[3], PROCESS_INFORMATION *pi) {
  STARTUPINFOEXW si;
  SIZE_T size = 0;
  DWORD err = 0;
  memset(&si, 0, sizeof si);
  si.StartupInfo.cb = sizeof si;
  si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  si.StartupInfo.hStdInput = std[0];
  si.StartupInfo.hStdOutput = std[1];
  si.StartupInfo.hStdError = std[2];
  InitializeProcThreadAttributeList(NULL, 1, 0, &size);
  si.lpAttributeList = malloc(size);
  if (si.lpAttributeList == NULL)
    return ERROR_NOT_ENOUGH_MEMORY;
  if (!InitializeProcThreadAttributeList(si.lpAttributeList, 1, 0, &size)) {
    err = GetLastError();
    free(si.lpAttributeList);
    return err;
  }
  /* The list is read by CreateProcessW, not copied by this call: inherit
     must live until then (it does: it is the caller's array). */
  DWORD flags = CREATE_SUSPENDED | EXTENDED_STARTUPINFO_PRESENT |
                CREATE_UNICODE_ENVIRONMENT;
  /* A console program without a console would open a window per worker. */
  if (GetConsoleCP() == 0)
    flags |= CREATE_NO_WINDOW;
  if (!UpdateProcThreadAttribute(si.lpAttributeList, 0,
                                 PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherit,
                                 n * sizeof *inherit, NULL, NULL) ||
      !CreateProcessW(exe, cmd, NULL, NULL, TRUE, flags, env, NULL,
                      &si.StartupInfo, pi))
    err = GetLastError();
  DeleteProcThreadAttributeList(si.lpAttributeList);
  free(si.lpAttributeList);
  return err;
}

int wpool__win_spawn(wpool__wproc_t *w, const char *token, char **errmsg) {
  if (errmsg != NULL)
    *errmsg = NULL;
  InitOnceExecuteOnce(&setup_once, setup, NULL, NULL);
  if (exe == NULL)
    return wpool__win_fail(errmsg, WPOOL_ESPAWN, exe_err,
                           "cannot find this program's executable");
  if (job == NULL)
    return wpool__win_fail(errmsg, WPOOL_ESPAWN, job_err,
                           "cannot create the workers' job object");

  /* [0] task read end, [1] result write end, [2..4] standard handles. */
  HANDLE child[5] = {NULL, NULL, NULL, NULL, NULL};
  HANDLE task_w = NULL, result_r = NULL;
  DWORD err = make_pipe(PIPE_ACCESS_OUTBOUND, &task_w, GENERIC_READ, &child[0]);
  if (err == 0)
    err = make_pipe(PIPE_ACCESS_INBOUND, &result_r, GENERIC_WRITE, &child[1]);
  if (err != 0) {
    HANDLE mine[2] = {task_w, result_r};
    close_all(mine, 2);
    close_all(child, 2);
    return wpool__win_fail(errmsg, WPOOL_ESYS, err,
                           "cannot create a worker's pipes");
  }
  child[2] = std_copy(STD_INPUT_HANDLE);
  child[3] = std_copy(STD_OUTPUT_HANDLE);
  child[4] = std_copy(STD_ERROR_HANDLE);
  HANDLE list[5];
  size_t n = 0;
  for (int i = 0; i < 5; i++)
    if (child[i] != NULL)
      list[n++] = child[i];

  wchar_t *cmd = make_cmdline(child[0], child[1]);
  wchar_t *env = make_env(token);
  PROCESS_INFORMATION pi;
  memset(&pi, 0, sizeof pi);
  if (cmd == NULL || env == NULL) {
    err = ERROR_NOT_ENOUGH_MEMORY;
  } else {
    /* Inheritable only now, for the shortest time: a CreateProcess of
       another thread that inherits everything could still take them (no
       lock in wpool can prevent that), but not for long. */
    SetHandleInformation(child[0], HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
    SetHandleInformation(child[1], HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
    /* wine's CreateProcessW fails now and then with ERROR_INTERNAL_ERROR
       under load and succeeds when asked again; Windows documents no such
       transient failure, so a bounded retry costs nothing there. */
    for (int attempt = 0; attempt < SPAWN_ATTEMPTS; attempt++) {
      err = launch(cmd, env, list, n, child + 2, &pi);
      if (err != ERROR_INTERNAL_ERROR)
        break;
      Sleep((DWORD)(attempt + 1));
    }
  }
  free(cmd);
  free(env);
  /* The child has its copies: the parent must not keep the child's ends,
     or it would never see the worker's end of input. */
  close_all(child, 5);
  if (err != 0) {
    HANDLE mine[2] = {task_w, result_r};
    close_all(mine, 2);
    return wpool__win_fail(errmsg, WPOOL_ESPAWN, err, "cannot start %s",
                           exe_utf8 ? exe_utf8 : "this program");
  }
  /* The process-wide job first, then the worker's own, which thereby nests
     inside it. Before Windows 8 a process already in a job (some service
     hosts and CI runners put programs in one) cannot join a second
     (ERROR_ACCESS_DENIED): the workers then run without these guarantees
     rather than not at all. */
  HANDLE own = NULL;
  if (!AssignProcessToJobObject(job, pi.hProcess)) {
    err = GetLastError();
    if (err == ERROR_ACCESS_DENIED)
      err = 0;
  } else if ((own = kill_on_close_job()) == NULL) {
    err = GetLastError();
  } else if (!AssignProcessToJobObject(own, pi.hProcess)) {
    err = GetLastError();
    CloseHandle(own);
    own = NULL;
    if (err == ERROR_ACCESS_DENIED)
      err = 0;
  }
  if (err == 0 && ResumeThread(pi.hThread) == (DWORD)-1)
    err = GetLastError();
  CloseHandle(pi.hThread);
  if (err != 0) {
    TerminateProcess(pi.hProcess, WPOOL__KILL_STATUS);
    WaitForSingleObject(pi.hProcess, INFINITE);
    HANDLE mine[4] = {task_w, result_r, pi.hProcess, own};
    close_all(mine, 4);
    return wpool__win_fail(errmsg, WPOOL_ESPAWN, err,
                           "cannot start a worker in the pool's job object");
  }
  w->proc = pi.hProcess;
  w->job = own;
  w->pid = pi.dwProcessId;
  w->task_w = task_w;
  w->result_r = result_r;
  return 0;
}

void wpool__win_kill(const wpool__wproc_t *w) {
  if (w->job == NULL || !TerminateJobObject(w->job, WPOOL__KILL_STATUS))
    TerminateProcess(w->proc, WPOOL__KILL_STATUS);
}
