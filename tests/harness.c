#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

wpool_method_t wt_method = WPOOL_THREAD;

int wt_parse_method(const char *s, wpool_method_t *m) {
  if (strcmp(s, "fork") == 0)
    *m = WPOOL_FORK;
  else if (strcmp(s, "spawn") == 0)
    *m = WPOOL_SPAWN;
  else if (strcmp(s, "thread") == 0)
    *m = WPOOL_THREAD;
  else
    return -1;
  return 0;
}

const char *wt_method_name(wpool_method_t m) {
  switch (m) {
  case WPOOL_FORK:
    return "fork";
  case WPOOL_SPAWN:
    return "spawn";
  case WPOOL_THREAD:
    return "thread";
  default:
    return "default";
  }
}

int wt_is_process(void) { return wt_method != WPOOL_THREAD; }

void wt_options(wpool_options_t *o, int processes) {
  wpool_options_init(o);
  o->processes = processes;
  o->method = wt_method;
}

int wt_create(wpool_t **pool, const wpool_options_t *o) {
  char *msg = NULL;
  int rc = wpool_create(pool, o, &msg);
  if (rc != 0)
    fprintf(stderr, "\n  wpool_create(%s): %s: %s\n",
            wt_method_name(o ? o->method : WPOOL_DEFAULT), wpool_err_name(rc),
            msg ? msg : "(no message)");
  wpool_free(msg);
  return rc;
}

wpool_t *wt_pool(int processes) {
  wpool_options_t o;
  wpool_t *pool = NULL;
  wt_options(&o, processes);
  int rc = wt_create(&pool, &o);
  CU_ASSERT_EQUAL(rc, 0);
  return rc == 0 ? pool : NULL;
}

int wt_apply_int(wpool_t *pool, wpool_fn fn, int x, int *y, char **errmsg) {
  void *out = NULL;
  size_t len = 0;
  int rc = wpool_apply(pool, fn, &x, sizeof x, &out, &len, errmsg);
  if (rc == 0) {
    if (out != NULL && len == sizeof *y)
      memcpy(y, out, sizeof *y);
    else
      rc = 1;
  }
  wpool_free(out);
  return rc;
}

int wt_result_int(wpool_result_t *r, long timeout_ms, int *y) {
  const void *data = NULL;
  size_t len = 0;
  int rc = wpool_result_get(r, timeout_ms, &data, &len);
  if (rc == 0) {
    if (data != NULL && len == sizeof *y)
      memcpy(y, data, sizeof *y);
    else
      rc = 1;
  }
  return rc;
}

int wt_contains(const char *s, const char *needle) {
  return s != NULL && strstr(s, needle) != NULL;
}

static void gate_path(const wt_gate_t *g, const char *leaf, char *buf,
                      size_t cap) {
  snprintf(buf, cap, "%s/%s", g->dir, leaf);
}

int wt_gate_open(wt_gate_t *g) {
  char path[sizeof g->dir + 16];
  const char *tmp = getenv("TMPDIR");
  g->go_fd = g->started_fd = -1;
  if (tmp == NULL || *tmp == '\0' || strlen(tmp) > 64)
    tmp = "/tmp";
  snprintf(g->dir, sizeof g->dir, "%s/wpool-gate-XXXXXX", tmp);
  if (mkdtemp(g->dir) == NULL)
    return -1;
  gate_path(g, "go", path, sizeof path);
  if (mkfifo(path, 0600) != 0)
    goto fail;
  /* Read-write opens of a FIFO never block, and keep a writer on "go" (so
     that held tasks wait) and a reader on "started" (so that tasks can
     announce themselves) for as long as the gate is open. */
  g->go_fd = open(path, O_RDWR | O_CLOEXEC);
  gate_path(g, "started", path, sizeof path);
  if (g->go_fd < 0 || mkfifo(path, 0600) != 0)
    goto fail;
  g->started_fd = open(path, O_RDWR | O_CLOEXEC);
  if (g->started_fd < 0)
    goto fail;
  return 0;
fail:
  wt_gate_close(g);
  return -1;
}

wt_gate_arg_t wt_gate_arg(const wt_gate_t *g, int value) {
  wt_gate_arg_t a;
  memset(&a, 0, sizeof a);
  a.value = value;
  snprintf(a.dir, sizeof a.dir, "%s", g->dir);
  return a;
}

int wt_gate_release(wt_gate_t *g, int n) {
  char buf[256];
  memset(buf, 'g', sizeof buf);
  while (n > 0) {
    size_t k = n < (int)sizeof buf ? (size_t)n : sizeof buf;
    ssize_t w = write(g->go_fd, buf, k);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    n -= (int)w;
  }
  return 0;
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int wt_gate_wait_started(wt_gate_t *g, int n) {
  long deadline = now_ms() + WT_LONG_MS;
  char buf[64];
  while (n > 0) {
    long left = deadline - now_ms();
    if (left <= 0)
      return -1;
    struct pollfd p = {.fd = g->started_fd, .events = POLLIN};
    int r = poll(&p, 1, (int)left);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return -1;
    ssize_t got = read(g->started_fd, buf,
                       n < (int)sizeof buf ? (size_t)n : sizeof buf);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      return -1;
    n -= (int)got;
  }
  return 0;
}

void wt_gate_close(wt_gate_t *g) {
  char path[sizeof g->dir + 16];
  if (g->go_fd >= 0)
    close(g->go_fd);
  if (g->started_fd >= 0)
    close(g->started_fd);
  g->go_fd = g->started_fd = -1;
  if (g->dir[0] == '\0')
    return;
  gate_path(g, "go", path, sizeof path);
  unlink(path);
  gate_path(g, "started", path, sizeof path);
  unlink(path);
  rmdir(g->dir);
  g->dir[0] = '\0';
}
