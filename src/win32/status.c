/*
 * How a worker process ended, as text for the messages of WPOOL_EWORKER and
 * WPOOL_ESPAWN. Windows has no signals: a process that dies of an unhandled
 * exception ends with the exception's NTSTATUS as its exit code, so the
 * codes a crash can produce are named here, and anything else is an exit
 * status. The table gives the names a user searches for, not the system's
 * localised text.
 */
#include "win32.h"

#include <stdio.h>

static const struct {
  DWORD code;
  const char *name;
} crashes[] = {
    {0xC0000005u, "access violation"},
    {0xC0000006u, "in-page error"},
    {0xC000001Du, "illegal instruction"},
    {0xC0000025u, "noncontinuable exception"},
    {0xC0000026u, "invalid exception disposition"},
    {0xC000008Cu, "array bounds exceeded"},
    {0xC000008Du, "floating-point denormal operand"},
    {0xC000008Eu, "floating-point division by zero"},
    {0xC000008Fu, "floating-point inexact result"},
    {0xC0000090u, "floating-point invalid operation"},
    {0xC0000091u, "floating-point overflow"},
    {0xC0000092u, "floating-point stack check"},
    {0xC0000093u, "floating-point underflow"},
    {0xC0000094u, "integer division by zero"},
    {0xC0000095u, "integer overflow"},
    {0xC0000096u, "privileged instruction"},
    {0xC00000FDu, "stack overflow"},
    {0xC0000135u, "a DLL was not found"},
    {0xC0000139u, "an entry point was not found"},
    {0xC0000142u, "a DLL failed to initialise"},
    {0xC000013Au, "interrupted by Ctrl+C"},
    {0xC0000374u, "heap corruption"},
    /* __fastfail(): the MSVC runtime's abort() by default, and /GS stack
       cookie checks. */
    {0xC0000409u, "fast fail: abort() or a stack buffer overrun"},
    {0xC0000417u, "invalid parameter passed to a C runtime function"},
    {0xC0000420u, "assertion failure"},
    {0xC0000602u, "fail-fast exception"},
    {0x80000003u, "breakpoint"},
    {0x80000004u, "single step"},
    {0x40010004u, "terminated by a debugger"},
};

void wpool__win_status_describe(DWORD code, char *buf, size_t len) {
  if (buf == NULL || len == 0)
    return;
  if (code == WPOOL__KILL_STATUS) {
    snprintf(buf, len, "was killed by the pool (TerminateProcess)");
    return;
  }
  for (size_t i = 0; i < sizeof crashes / sizeof crashes[0]; i++)
    if (crashes[i].code == code) {
      snprintf(buf, len, "crashed with exception 0x%08lX (%s)",
               (unsigned long)code, crashes[i].name);
      return;
    }
  /* Severity "error" or "warning" in an NTSTATUS: an exception we do not
     name. A program could exit with such a status on purpose, but rarely
     does. */
  if ((code & 0xC0000000u) == 0xC0000000u ||
      (code & 0xC0000000u) == 0x80000000u) {
    snprintf(buf, len, "crashed with exception 0x%08lX", (unsigned long)code);
    return;
  }
  if (code == 3) {
    /* The C runtimes' abort() ends the process with status 3 when it does
       not fast-fail (mingw-w64's msvcrt always; MSVC's with the report
       fault behaviour turned off). exit(3) cannot be told apart. */
    snprintf(buf, len, "exited with status 3 (the status of abort())");
    return;
  }
  snprintf(buf, len, "exited with status %lu", (unsigned long)code);
}
