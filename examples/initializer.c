/*
 * An initializer and worker recycling: one worker, replaced after every
 * task, so the initializer greets each new worker. It receives the pool
 * owner's process id as its argument and prints it beside its own and its
 * parent's. (A fork worker's parent is the pool's fork server, not the
 * owner; a spawned worker's parent is the owner.)
 */
#include <stdio.h>
#include <string.h>
#include <wpool.h>

#include "example_os.h"

static int greet(const void *arg, size_t len, wpool_out_t *out) {
  long owner = 0;
  if (len != sizeof owner)
    return wpool_out_fail(out, 1, "expected the owner's pid");
  memcpy(&owner, arg, sizeof owner);
  printf("worker %ld starting (parent %ld, pool owner %ld)\n", (long)getpid(),
         (long)getppid(), owner);
  fflush(stdout); /* a worker process may end without flushing */
  return 0;
}
WPOOL_REGISTER(greet)

static int cube(const void *arg, size_t len, wpool_out_t *out) {
  int x = len == sizeof x ? *(const int *)arg : 0;
  if (x < 0)
    return wpool_out_fail(out, 2, "no cubes of negative numbers (%d)", x);
  int y = x * x * x;
  return wpool_out_set(out, &y, sizeof y);
}
WPOOL_REGISTER(cube)

/* Callbacks run on a pool thread of the owner, one at a time. */
static void on_success(wpool_result_t *r, void *user) {
  const void *data;
  size_t len;
  if (wpool_result_get(r, 0, &data, &len) == 0 && len == sizeof(int))
    printf("%s: %d\n", (const char *)user, *(const int *)data);
}

static void on_error(wpool_result_t *r, void *user) {
  printf("%s failed: %s\n", (const char *)user, wpool_result_message(r));
}

int main(int argc, char **argv) {
  wpool_bootstrap(argc, argv);

  long owner = (long)getpid();
  printf("pool owner %ld\n", owner);
  fflush(stdout); /* before fork workers copy the buffer */

  wpool_options_t o;
  wpool_options_init(&o);
  o.processes = 1;
  o.initializer = greet;
  o.initargs = &owner;
  o.initargs_len = sizeof owner;
  o.maxtasksperchild = 1;
  wpool_t *pool;
  char *msg = NULL;
  int rc = wpool_create(&pool, &o, &msg);
  if (rc != 0) {
    fprintf(stderr, "wpool_create: %s\n", msg ? msg : wpool_strerror(rc));
    wpool_free(msg);
    return 1;
  }

  /* Blocking. */
  int x = 3;
  void *out = NULL;
  size_t len = 0;
  rc = wpool_apply(pool, cube, &x, sizeof x, &out, &len, NULL);
  if (rc == 0 && len == sizeof(int))
    printf("cube(3) = %d\n", *(const int *)out);
  wpool_free(out);

  /* Asynchronous, with callbacks; the pool owns the results. */
  int four = 4, minus = -1;
  if (rc == 0)
    rc = wpool_apply_async(pool, cube, &four, sizeof four, on_success,
                           on_error, "cube(4)", NULL);
  if (rc == 0)
    rc = wpool_apply_async(pool, cube, &minus, sizeof minus, on_success,
                           on_error, "cube(-1)", NULL);

  /* close + join: every task done and every callback returned. */
  wpool_close(pool);
  wpool_join(pool);
  wpool_destroy(pool);
  if (rc != 0)
    fprintf(stderr, "error: %s\n", wpool_strerror(rc));
  return rc != 0;
}
