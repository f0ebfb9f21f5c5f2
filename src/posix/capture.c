/*
 * Capturing what a task prints, in a process worker (capture_output): for
 * the length of one task, descriptors 1 and 2 point to an unlinked file of
 * the worker's own, so that the task's printf, its write(2, ...) and the
 * programs it starts all land there, in the order they were written;
 * afterwards the worker's own descriptors come back and the file is read.
 * A file rather than a pipe: a task that prints more than a pipe holds
 * must not block on it.
 */
#include "../os.h"
#include "../worker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static FILE *file;            /* the capture file, made at the first task */
static int saved_out = -1, saved_err = -1;

int wpool__os_can_capture(void) { return 1; }

static int dup2_retry(int from, int to) {
  int rc;
  do
    rc = dup2(from, to);
  while (rc < 0 && errno == EINTR);
  return rc;
}

int wpool__os_capture_start(void) {
  if (!file) {
    file = tmpfile();
    if (!file)
      return -1;
    fcntl(fileno(file), F_SETFD, FD_CLOEXEC);
  }
  int fd = fileno(file);
  fflush(stdout);
  fflush(stderr);
  if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0)
    return -1;
  saved_out = fcntl(1, F_DUPFD_CLOEXEC, 3);
  saved_err = fcntl(2, F_DUPFD_CLOEXEC, 3);
  if (saved_out < 0 || saved_err < 0 || dup2_retry(fd, 1) < 0 ||
      dup2_retry(fd, 2) < 0) {
    if (saved_out >= 0)
      dup2_retry(saved_out, 1);
    if (saved_err >= 0)
      dup2_retry(saved_err, 2);
    if (saved_out >= 0)
      close(saved_out);
    if (saved_err >= 0)
      close(saved_err);
    saved_out = saved_err = -1;
    return -1;
  }
  return 0;
}

size_t wpool__os_capture_stop(uint8_t *buf, size_t cap, uint64_t *total) {
  *total = 0;
  if (saved_out < 0)
    return 0;
  fflush(stdout);
  fflush(stderr);
  dup2_retry(saved_out, 1);
  dup2_retry(saved_err, 2);
  close(saved_out);
  close(saved_err);
  saved_out = saved_err = -1;
  int fd = fileno(file);
  off_t end = lseek(fd, 0, SEEK_END);
  if (end <= 0)
    return 0;
  *total = (uint64_t)end;
  size_t want = (uint64_t)end < cap ? (size_t)end : cap, got = 0;
  while (got < want) {
    ssize_t n = pread(fd, buf + got, want - got, (off_t)got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  return got;
}
