/*
 * ready() and successful() on finished results, after the reference of
 * `processing`, the package that became Python's multiprocessing: submit,
 * wait, then ask.
 */
#include <stdio.h>
#include <wpool.h>

static int square(const void *arg, size_t len, wpool_out_t *out) {
  int x = len == sizeof x ? *(const int *)arg : 0, y = x * x;
  return wpool_out_set(out, &y, sizeof y);
}
WPOOL_REGISTER(square)

/* Refuses odd numbers, to show a failed result. */
static int even_half(const void *arg, size_t len, wpool_out_t *out) {
  int x = len == sizeof x ? *(const int *)arg : 0, y = x / 2;
  if (x % 2 != 0)
    return wpool_out_fail(out, 1, "%d is odd", x);
  return wpool_out_set(out, &y, sizeof y);
}
WPOOL_REGISTER(even_half)

static int show(wpool_t *pool, wpool_fn fn, const char *name, int x) {
  wpool_result_t *r;
  int rc = wpool_apply_async(pool, fn, &x, sizeof x, NULL, NULL, NULL, &r);
  if (rc != 0)
    return rc;
  wpool_result_wait(r, WPOOL_FOREVER);
  printf("%s(%d): ready() = %d, successful() = %d", name, x,
         wpool_result_ready(r), wpool_result_successful(r));
  const void *data;
  size_t len;
  if (wpool_result_get(r, 0, &data, &len) == 0 && len == sizeof(int))
    printf(", get() = %d\n", *(const int *)data);
  else
    printf(", failure: %s\n", wpool_result_message(r));
  wpool_result_free(r);
  return 0;
}

int main(int argc, char **argv) {
  wpool_bootstrap(argc, argv);
  wpool_t *pool;
  int rc = wpool_create(&pool, NULL, NULL);
  if (rc == 0)
    rc = show(pool, square, "square", 7);
  if (rc == 0)
    rc = show(pool, even_half, "even_half", 10);
  if (rc == 0)
    rc = show(pool, even_half, "even_half", 7);
  wpool_destroy(pool);
  if (rc != 0)
    fprintf(stderr, "error: %s\n", wpool_strerror(rc));
  return rc != 0;
}
