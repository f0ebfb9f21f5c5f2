/*
 * The lowest layer of the POSIX backend: plain system-call helpers that
 * depend on nothing else in wpool. Every other file in src/posix may call
 * them; they call nothing back. All of them are async-signal-safe, so the
 * fork server (a copy of a possibly multi-threaded process) may use them.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int wpool__read_full(int fd, void *buf, size_t len) {
  for (char *p = buf; len > 0;) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int wpool__fd_set_flags(int fd, int nonblock) {
  int fdf = fcntl(fd, F_GETFD);
  if (fdf < 0 || fcntl(fd, F_SETFD, fdf | FD_CLOEXEC) < 0)
    return -1;
  if (!nonblock)
    return 0;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
    return -1;
  return 0;
}

int wpool__fd_above_stdio(int fd) {
  if (fd < 0 || fd > 2)
    return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int e = errno;
  close(fd);
  errno = e;
  return moved;
}
