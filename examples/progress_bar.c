/*
 * A terminal progress bar over a long map: wpool_result_on_progress()
 * redraws it at most every 100 ms (and once more at the end), on the pool's
 * callback thread, while the main thread just waits for the result.
 *
 *   [##########################..............]  65%  1300/2000
 */
#include <stdio.h>
#include <string.h>
#include <wpool.h>

/* Some work per item: count the primes up to x. */
static int count_primes(const void *arg, size_t len, wpool_out_t *out) {
  int x, n = 0;
  if (len != sizeof x)
    return wpool_out_fail(out, 1, "expected an int");
  memcpy(&x, arg, sizeof x);
  for (int k = 2; k <= x; k++) {
    int prime = 1;
    for (int d = 2; d * d <= k && prime; d++)
      prime = k % d != 0;
    n += prime;
  }
  return wpool_out_set(out, &n, sizeof n);
}
WPOOL_REGISTER(count_primes)

#define WIDTH 40

static void draw(size_t done, size_t total, void *user) {
  int *reports = user;
  int filled = total ? (int)(done * WIDTH / total) : WIDTH;
  char bar[WIDTH + 1];
  memset(bar, '#', (size_t)filled);
  memset(bar + filled, '.', (size_t)(WIDTH - filled));
  bar[WIDTH] = '\0';
  /* \r rewrites the line in a terminal; stderr is not buffered. */
  fprintf(stderr, "\r[%s] %3d%%  %zu/%zu", bar,
          total ? (int)(done * 100 / total) : 100, done, total);
  if (done == total)
    fputc('\n', stderr);
  ++*reports;
}

int main(int argc, char **argv) {
  wpool_bootstrap(argc, argv);
  enum { N = 2000 };
  static int in[N], out[N];
  for (int i = 0; i < N; i++)
    in[i] = 2000 + 10 * i;
  wpool_t *pool;
  char *err = NULL;
  int rc = wpool_create(&pool, NULL, &err);
  if (rc != 0) {
    fprintf(stderr, "wpool_create: %s\n", err ? err : wpool_strerror(rc));
    wpool_free(err);
    return 1;
  }
  wpool_result_t *r = NULL;
  int reports = 0;
  /* Small chunks, so that the bar moves in small steps. */
  rc = wpool_map_async(pool, count_primes, in, N, sizeof *in, out, sizeof *out,
                       10, NULL, NULL, NULL, &r);
  if (rc == 0) {
    wpool_progress_t progress = {draw, &reports, 1, 100};
    rc = wpool_result_on_progress(r, &progress);
  }
  if (rc == 0)
    rc = wpool_result_get(r, WPOOL_FOREVER, NULL, NULL);
  if (rc != 0)
    fprintf(stderr, "map: %s\n",
            r && wpool_result_message(r) ? wpool_result_message(r)
                                         : wpool_strerror(rc));
  /* Freeing a ready result waits for its last report: the bar is full. */
  wpool_result_free(r);
  if (rc == 0)
    printf("primes up to %d: %d (%d redraws)\n", in[N - 1], out[N - 1],
           reports);
  wpool_destroy(pool);
  return rc != 0 || reports < 1;
}
