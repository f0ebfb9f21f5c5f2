/*
 * Capturing what a task prints, in a process worker (capture_output): for
 * the length of one task, the C runtime's descriptors 1 and 2 and the
 * process's standard output and error handles all point to a temporary
 * file of the worker's own (deleted when it closes), in binary mode so that
 * what comes back is the bytes the task wrote; afterwards the worker's own
 * come back and the file is read. A file rather than a pipe: a task that
 * prints more than a pipe holds must not block on it.
 */
#include "win32.h"

#include "../os.h"
#include "../worker.h"

#include <fcntl.h>
#include <io.h>
#include <stdio.h>

static HANDLE file = INVALID_HANDLE_VALUE; /* made at the first task */
static int saved_fd[2] = {-1, -1};
static HANDLE saved_handle[2];
static const DWORD std_id[2] = {STD_OUTPUT_HANDLE, STD_ERROR_HANDLE};

int wpool__os_can_capture(void) { return 1; }

static HANDLE make_file(void) {
  wchar_t dir[MAX_PATH + 1], path[MAX_PATH + 1];
  DWORD n = GetTempPathW(MAX_PATH + 1, dir);
  if (n == 0 || n > MAX_PATH || !GetTempFileNameW(dir, L"wpo", 0, path))
    return INVALID_HANDLE_VALUE;
  return CreateFileW(path, GENERIC_READ | GENERIC_WRITE,
                     FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                     NULL, CREATE_ALWAYS,
                     FILE_ATTRIBUTE_TEMPORARY | FILE_FLAG_DELETE_ON_CLOSE,
                     NULL);
}

/* Put descriptors 1 and 2 and the standard handles back. */
static void restore(void) {
  for (int i = 0; i < 2; i++) {
    if (saved_fd[i] >= 0) {
      _dup2(saved_fd[i], i + 1);
      _close(saved_fd[i]);
    } else {
      _close(i + 1); /* it was not open before */
    }
    saved_fd[i] = -1;
    SetStdHandle(std_id[i], saved_handle[i]);
  }
}

int wpool__os_capture_start(void) {
  if (file == INVALID_HANDLE_VALUE && (file = make_file()) ==
                                          INVALID_HANDLE_VALUE)
    return -1;
  fflush(stdout);
  fflush(stderr);
  LARGE_INTEGER zero;
  zero.QuadPart = 0;
  if (!SetFilePointerEx(file, zero, NULL, FILE_BEGIN) || !SetEndOfFile(file))
    return -1;
  /* A handle of its own for the descriptors (closing them must not close
     the file); it shares the file's position, so both streams append in
     the order they write. */
  HANDLE dup;
  if (!DuplicateHandle(GetCurrentProcess(), file, GetCurrentProcess(), &dup,
                       0, FALSE, DUPLICATE_SAME_ACCESS))
    return -1;
  int fd = _open_osfhandle((intptr_t)dup, _O_BINARY);
  if (fd < 0) {
    CloseHandle(dup);
    return -1;
  }
  for (int i = 0; i < 2; i++) {
    saved_handle[i] = GetStdHandle(std_id[i]);
    saved_fd[i] = _dup(i + 1);
    if (_dup2(fd, i + 1) != 0) {
      if (i == 1) {
        _dup2(saved_fd[0], 1);
        _close(saved_fd[0]);
        saved_fd[0] = -1;
        SetStdHandle(std_id[0], saved_handle[0]);
      }
      if (saved_fd[i] >= 0)
        _close(saved_fd[i]);
      saved_fd[i] = -1;
      _close(fd);
      return -1;
    }
    SetStdHandle(std_id[i], (HANDLE)_get_osfhandle(i + 1));
  }
  _close(fd);
  return 0;
}

size_t wpool__os_capture_stop(uint8_t *buf, size_t cap, uint64_t *total) {
  *total = 0;
  fflush(stdout);
  fflush(stderr);
  restore();
  LARGE_INTEGER size, zero;
  zero.QuadPart = 0;
  if (!GetFileSizeEx(file, &size) || size.QuadPart <= 0 ||
      !SetFilePointerEx(file, zero, NULL, FILE_BEGIN))
    return 0;
  *total = (uint64_t)size.QuadPart;
  size_t want = *total < cap ? (size_t)*total : cap, got = 0;
  while (got < want) {
    DWORD chunk = want - got > 1u << 30 ? 1u << 30 : (DWORD)(want - got);
    DWORD n = 0;
    if (!ReadFile(file, buf + got, chunk, &n, NULL) || n == 0)
      break;
    got += n;
  }
  return got;
}
