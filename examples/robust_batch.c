/*
 * A robust batch: 300 inputs, of which 1% crash their worker, 1% hang and
 * 1% are refused by the task itself. A time limit stops the hung ones,
 * retries give every input whose worker died a second chance on a fresh
 * worker, and the per-item outcomes list which inputs failed and why,
 * while every other output is in place. (The recipe in docs/guide.md.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wpool.h>

#include "example_os.h"

enum { N = 300 };

/* What input x does: 1 in 100 crashes, 1 in 100 hangs, 1 in 100 is bad. */
static int kind(int x) {
  switch (x % 100) {
  case 37:
    return 'C';
  case 71:
    return 'H';
  case 90:
    return 'B';
  default:
    return 0;
  }
}

static int work(const void *arg, size_t len, wpool_out_t *out) {
  int x;
  if (len != sizeof x)
    return wpool_out_fail(out, 1, "expected an int");
  memcpy(&x, arg, sizeof x);
  if (kind(x) == 'C')
    abort(); /* the worker dies; the pool and the other items do not */
  while (kind(x) == 'H')
    sleep(1); /* until the time limit kills the worker */
  if (kind(x) == 'B')
    return wpool_out_fail(out, 2, "input %d is not valid", x);
  long y = (long)x * x;
  return wpool_out_set(out, &y, sizeof y);
}
WPOOL_REGISTER(work)

int main(int argc, char **argv) {
  wpool_bootstrap(argc, argv);
  static int in[N];
  static long out[N];
  for (int i = 0; i < N; i++)
    in[i] = i;

  wpool_options_t o;
  wpool_options_init(&o);
  o.task_timeout_ms = 300; /* per item; the default chunk is then 1 item */
  o.max_retries = 1;       /* a dead worker's item runs once more */
  wpool_t *pool;
  char *err = NULL;
  int rc = wpool_create(&pool, &o, &err);
  if (rc != 0) {
    fprintf(stderr, "wpool_create: %s\n", err ? err : wpool_strerror(rc));
    wpool_free(err);
    return 1;
  }
  wpool_result_t *r = NULL;
  rc = wpool_map_async(pool, work, in, N, sizeof *in, out, sizeof *out, 0, NULL,
                       NULL, NULL, &r);
  if (rc != 0) {
    fprintf(stderr, "wpool_map_async: %s\n", wpool_strerror(rc));
    wpool_destroy(pool);
    return 1;
  }
  /* The first failure, as wpool_map would return it ... */
  rc = wpool_result_get(r, WPOOL_FOREVER, NULL, NULL);
  /* ... and every one of them, in input order. */
  size_t failed = wpool_result_failed_count(r);
  printf("%d inputs: %zu succeeded, %zu failed (first: %s)\n", N,
         (size_t)N - failed, failed, wpool_err_name(rc));
  int unexpected = 0;
  for (size_t k = 0; k < failed; k++) {
    size_t i;
    int code, task_code;
    const char *msg;
    wpool_result_failed_item(r, k, &i, &code, &task_code, &msg);
    printf("  input %3zu: %-10s %s\n", i, wpool_err_name(code), msg);
    int want = kind(in[i]) == 'C'   ? WPOOL_EWORKER
               : kind(in[i]) == 'H' ? WPOOL_ETIMELIMIT
               : kind(in[i]) == 'B' ? WPOOL_ETASK
                                    : 0;
    unexpected += code != want;
  }
  /* Every other output is in place; a failed item's slot reads 0. */
  for (int i = 0; i < N; i++) {
    int ok = wpool_result_item_code(r, (size_t)i) == 0;
    unexpected += ok != (kind(in[i]) == 0);
    unexpected += ok ? out[i] != (long)in[i] * in[i] : out[i] != 0;
  }
  wpool_stats_t st;
  wpool_stats(pool, &st, NULL, 0);
  printf("workers replaced: %zu, items run again: %zu\n", st.workers_replaced,
         st.tasks_rerun);
  wpool_result_free(r);
  wpool_destroy(pool);
  if (unexpected)
    fprintf(stderr, "%d outcomes were not the expected ones\n", unexpected);
  return failed != 9 || unexpected != 0;
}
