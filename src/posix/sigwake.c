/*
 * The signal-safe wake-up of sync.h on POSIX: a pipe whose write end is
 * non-blocking (a full pipe already holds a wake-up), made and tracked like
 * every descriptor of wpool's (close-on-exec, off 0-2, closed in fork
 * servers).
 */
#include "../sync.h"
#include "fdtrack.h"
#include "posix.h"
#include "wpool.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

struct wpool__sigwake {
  int r, w;
};

int wpool__sigwake_new(wpool__sigwake_t **out) {
  wpool__sigwake_t *w = malloc(sizeof *w);
  if (!w)
    return WPOOL_ENOMEM;
  int fds[2];
  int e = wpool__fd_pair(fds, WPOOL__FD_NONBLOCK1);
  if (e) {
    free(w);
    return e == ENOMEM ? WPOOL_ENOMEM : WPOOL_ESYS;
  }
  w->r = fds[0];
  w->w = fds[1];
  *out = w;
  return 0;
}

void wpool__sigwake_free(wpool__sigwake_t *w) {
  if (!w)
    return;
  wpool__fd_close(w->r);
  wpool__fd_close(w->w);
  free(w);
}

void wpool__sigwake_post(wpool__sigwake_t *w) {
  int saved = errno; /* a signal handler must leave errno as it found it */
  ssize_t rc;
  do
    rc = write(w->w, "i", 1);
  while (rc < 0 && errno == EINTR);
  errno = saved;
}

void wpool__sigwake_wait(wpool__sigwake_t *w) {
  char buf[64];
  ssize_t rc;
  do
    rc = read(w->r, buf, sizeof buf);
  while (rc < 0 && errno == EINTR);
}
