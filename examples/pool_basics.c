/*
 * A tour of the pool after the first example of Python's multiprocessing
 * documentation: map, imap_unordered, apply_async with timeouts, a task
 * that outlasts its caller's patience, and terminate.
 */
#include <stdio.h>
#include <wpool.h>

#include "example_os.h"

static int square(const void *arg, size_t len, wpool_out_t *out) {
  int x = len == sizeof x ? *(const int *)arg : 0, y = x * x;
  return wpool_out_set(out, &y, sizeof y);
}
WPOOL_REGISTER(square)

/* The worker's process id: shows which worker ran a call. */
static int worker_pid(const void *arg, size_t len, wpool_out_t *out) {
  (void)arg;
  (void)len;
  long pid = (long)getpid();
  return wpool_out_set(out, &pid, sizeof pid);
}
WPOOL_REGISTER(worker_pid)

static int nap(const void *arg, size_t len, wpool_out_t *out) {
  (void)out;
  sleep(len == sizeof(int) ? (unsigned)*(const int *)arg : 0);
  return 0;
}
WPOOL_REGISTER(nap)

/* Wait up to timeout_ms for an int result; print it or the failure. */
static int print_int(wpool_result_t *r, long timeout_ms) {
  const void *data;
  size_t len;
  int rc = wpool_result_get(r, timeout_ms, &data, &len);
  if (rc == 0 && len == sizeof(int))
    printf("%d\n", *(const int *)data);
  else if (rc == 0 && len == sizeof(long))
    printf("%ld\n", *(const long *)data);
  else
    printf("error: %s\n", wpool_strerror(rc));
  return rc;
}

static void print_ints(const int *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    printf("%s%d", i ? ", " : "[", v[i]);
  printf("]\n");
}

int main(int argc, char **argv) {
  wpool_bootstrap(argc, argv);

  wpool_options_t o;
  wpool_options_init(&o);
  o.processes = 4;
  wpool_t *pool;
  char *msg = NULL;
  int rc = wpool_create(&pool, &o, &msg);
  if (rc != 0) {
    fprintf(stderr, "wpool_create: %s\n", msg ? msg : wpool_strerror(rc));
    wpool_free(msg);
    return 1;
  }

  /* [0, 1, 4, ..., 81] */
  int in[10], out[10];
  for (int i = 0; i < 10; i++)
    in[i] = i;
  rc = wpool_map(pool, square, in, 10, sizeof(int), out, sizeof(int), 0, NULL);
  if (rc == 0)
    print_ints(out, 10);

  /* The same numbers in whatever order the workers finish them. */
  wpool_source_t src = wpool_source_array(in, 10, sizeof(int));
  wpool_iter_t *it;
  const void *data;
  size_t len;
  if (rc == 0 && (rc = wpool_imap_unordered(pool, square, &src, 1, &it)) == 0) {
    while (wpool_iter_next(it, WPOOL_FOREVER, &data, &len) == 0)
      printf("%d\n", *(const int *)data);
    wpool_iter_free(it);
  }

  /* In order, one at a time; the last with a time limit. */
  if (rc == 0 && (rc = wpool_imap(pool, square, &src, 1, &it)) == 0) {
    if (wpool_iter_next(it, WPOOL_FOREVER, &data, &len) == 0)
      printf("%d\n", *(const int *)data); /* 0 */
    if (wpool_iter_next(it, WPOOL_FOREVER, &data, &len) == 0)
      printf("%d\n", *(const int *)data); /* 1 */
    if ((rc = wpool_iter_next(it, 1000, &data, &len)) == 0)
      printf("%d\n", *(const int *)data); /* 4, unless the machine is slow */
    wpool_iter_free(it);
  }

  /* square(20) in one worker, waiting at most a second. */
  wpool_result_t *r;
  int twenty = 20;
  if (rc == 0 && (rc = wpool_apply_async(pool, square, &twenty, sizeof twenty,
                                         NULL, NULL, NULL, &r)) == 0) {
    rc = print_int(r, 1000); /* 400 */
    wpool_result_free(r);
  }

  /* Which worker ran it; several calls may spread over several workers. */
  wpool_result_t *pids[4];
  for (int i = 0; rc == 0 && i < 4; i++)
    rc = wpool_apply_async(pool, worker_pid, NULL, 0, NULL, NULL, NULL,
                           &pids[i]);
  for (int i = 0; rc == 0 && i < 4; i++) {
    print_int(pids[i], 1000);
    wpool_result_free(pids[i]);
  }

  /* A task that takes ten seconds, and a caller that waits one. */
  int ten = 10;
  if (rc == 0 && (rc = wpool_apply_async(pool, nap, &ten, sizeof ten, NULL,
                                         NULL, NULL, &r)) == 0) {
    if (wpool_result_get(r, 1000, NULL, NULL) == WPOOL_ETIMEDOUT)
      printf("We lacked patience and got a timeout\n");
    printf("The pool is still there for more work\n");
    /* Stop now rather than wait for the nap: the pending result fails. */
    wpool_terminate(pool);
    printf("after terminate: %s\n",
           wpool_err_name(wpool_result_get(r, WPOOL_FOREVER, NULL, NULL)));
    wpool_result_free(r);
  }

  wpool_destroy(pool);
  printf("Now the pool is gone\n");
  return rc != 0;
}
