/*
 * The three POSIX calls the examples use (getpid, getppid, sleep). On
 * Windows they are mapped onto the Win32 API here, so that the examples
 * themselves read the same on every platform. Include it last.
 */
#ifndef WPOOL_EXAMPLE_OS_H
#define WPOOL_EXAMPLE_OS_H

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <tlhelp32.h> /* after windows.h, which it needs */

/* The parent's id, from a snapshot of the process list (Windows keeps no
   parent link it would hand out more cheaply). */
static inline long example_getppid(void) {
  DWORD me = GetCurrentProcessId(), parent = 0;
  HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
  PROCESSENTRY32W pe;
  pe.dwSize = sizeof pe;
  if (snap == INVALID_HANDLE_VALUE)
    return 0;
  for (BOOL ok = Process32FirstW(snap, &pe); ok; ok = Process32NextW(snap, &pe))
    if (pe.th32ProcessID == me)
      parent = pe.th32ParentProcessID;
  CloseHandle(snap);
  return (long)parent;
}

#define getpid() ((long)GetCurrentProcessId())
#define getppid() example_getppid()
#define sleep(seconds) Sleep((DWORD)(seconds)*1000)
#else
#include <unistd.h>
#endif

#endif
