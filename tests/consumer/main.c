/*
 * A consumer of an installed wpool: squares a few numbers with wpool_map on
 * a pool of the method named by argv[1] (fork, spawn or thread) and checks
 * the results, so that a wrong link, a missing symbol or a broken spawn
 * start-up fails loudly. Prints one line and exits 0 on success.
 */
#include <stdio.h>
#include <string.h>
#include <wpool.h>

static int square(const void *arg, size_t len, wpool_out_t *out) {
  long x;
  if (len != sizeof x)
    return wpool_out_fail(out, 1, "expected a long, got %zu bytes", len);
  memcpy(&x, arg, sizeof x);
  x *= x;
  return wpool_out_set(out, &x, sizeof x);
}
WPOOL_REGISTER(square)

int main(int argc, char **argv) {
  wpool_bootstrap(argc, argv); /* spawned workers serve from here */

  const char *name = argc > 1 ? argv[1] : "default";
  wpool_options_t o;
  wpool_options_init(&o);
  o.processes = 2;
  if (strcmp(name, "fork") == 0)
    o.method = WPOOL_FORK;
  else if (strcmp(name, "spawn") == 0)
    o.method = WPOOL_SPAWN;
  else if (strcmp(name, "thread") == 0)
    o.method = WPOOL_THREAD;
  else if (strcmp(name, "default") != 0) {
    fprintf(stderr, "usage: consumer [fork|spawn|thread|default]\n");
    return 2;
  }

  if (strcmp(wpool_version(), WPOOL_VERSION_STRING) != 0) {
    fprintf(stderr, "consumer: library %s, headers %s\n", wpool_version(),
            WPOOL_VERSION_STRING);
    return 1;
  }

  enum { N = 100 };
  long in[N], out[N];
  for (int i = 0; i < N; i++)
    in[i] = i;
  wpool_t *pool = NULL;
  char *msg = NULL;
  int rc = wpool_create(&pool, &o, &msg);
  if (rc == 0)
    rc = wpool_map(pool, square, in, N, sizeof in[0], out, sizeof out[0], 0,
                   &msg);
  if (rc != 0) {
    fprintf(stderr, "consumer (%s): %s: %s\n", name, wpool_err_name(rc),
            msg ? msg : wpool_strerror(rc));
    wpool_free(msg);
    wpool_destroy(pool);
    return 1;
  }
  long sum = 0;
  for (int i = 0; i < N; i++) {
    if (out[i] != (long)i * i) {
      fprintf(stderr, "consumer (%s): item %d: %ld\n", name, i, out[i]);
      wpool_destroy(pool);
      return 1;
    }
    sum += out[i];
  }
  rc = wpool_close(pool);
  if (rc == 0)
    rc = wpool_join(pool);
  wpool_destroy(pool);
  if (rc != 0) {
    fprintf(stderr, "consumer (%s): close/join: %s\n", name,
            wpool_err_name(rc));
    return 1;
  }
  printf("consumer: wpool %s, %s workers, sum of squares 0..%d = %ld\n",
         wpool_version(), name, N - 1, sum);
  return sum == 328350 ? 0 : 1;
}
