/*
 * Every channel wpool creates is close-on-exec from the moment it exists
 * (issue 9.9): a descriptor that is inheritable even briefly can leak into
 * a program that another thread starts with fork+exec at that moment.
 * pipe(), pipe2() and socketpair() are interposed in this program, and each
 * descriptor made while pools of every method are created, used and
 * destroyed is checked as it is returned. Linux; not built with sanitizers,
 * which interpose the same calls.
 */
#define _GNU_SOURCE
#include "wpool.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static atomic_int watching, created, inheritable;

static int check(int rc, const int fds[2]) {
  if (rc != 0 || !atomic_load(&watching))
    return rc;
  for (int k = 0; k < 2; k++) {
    int f = fcntl(fds[k], F_GETFD);
    atomic_fetch_add(&created, 1);
    if (f < 0 || !(f & FD_CLOEXEC))
      atomic_fetch_add(&inheritable, 1);
  }
  return rc;
}

int pipe(int fds[2]) { return check((int)syscall(SYS_pipe2, fds, 0), fds); }

int pipe2(int fds[2], int flags) {
  return check((int)syscall(SYS_pipe2, fds, flags), fds);
}

int socketpair(int domain, int type, int protocol, int sv[2]) {
  return check((int)syscall(SYS_socketpair, domain, type, protocol, sv), sv);
}

static int task_twice(const void *arg, size_t len, wpool_out_t *out) {
  int x;
  if (len != sizeof x)
    return wpool_out_fail(out, 1, "bad argument");
  memcpy(&x, arg, sizeof x);
  x *= 2;
  return wpool_out_set(out, &x, sizeof x);
}
WPOOL_REGISTER(task_twice)

int main(int argc, char **argv) {
  int rc = wpool_bootstrap(argc, argv);
  if (rc != 0)
    return 2;
  static const wpool_method_t methods[] = {WPOOL_FORK, WPOOL_SPAWN,
                                           WPOOL_THREAD};
  static const char *const names[] = {"fork", "spawn", "thread"};
  int failed = 0;
  for (int i = 0; i < 3; i++) {
    atomic_store(&created, 0);
    atomic_store(&inheritable, 0);
    atomic_store(&watching, 1);
    wpool_options_t o;
    wpool_options_init(&o);
    o.processes = 2;
    o.method = methods[i];
    wpool_t *pool = NULL;
    char *err = NULL;
    int x = 21, *y = NULL;
    size_t len = 0;
    rc = wpool_create(&pool, &o, &err);
    if (rc == 0)
      rc = wpool_apply(pool, task_twice, &x, sizeof x, (void **)&y, &len, &err);
    wpool_destroy(pool);
    atomic_store(&watching, 0);
    int ok = rc == 0 && len == sizeof *y && *y == 42;
    printf("%s: %s, %d descriptors created, %d of them inheritable\n", names[i],
           ok ? "ran" : (err ? err : "failed"), atomic_load(&created),
           atomic_load(&inheritable));
    /* Process pools make at least the wake pipe here. */
    if (!ok || atomic_load(&inheritable) != 0 ||
        (methods[i] != WPOOL_THREAD && atomic_load(&created) == 0))
      failed = 1;
    wpool_free(y);
    wpool_free(err);
  }
  return failed;
}
