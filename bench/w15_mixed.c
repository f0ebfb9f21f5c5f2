/*
 * W15: 400 buffers of 16 B to 4 MiB (mix.h) through wpool_apply_async, all
 * submitted before the first result is taken, each answered by a 64-bit
 * digest (blob_len reads the first and last byte). The figure is MB/s of
 * arguments from the first submit to the last result. Two pools: one whose
 * arguments always take the channel (shm_threshold = SIZE_MAX, the figure
 * BENCH.md's target is about: the C pipe limit of `limits pipe-mix` moves
 * the same messages), and one with the default threshold (arguments of
 * 1 MiB and more cross in a shared buffer of their own).
 */
#include "w15_mixed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "mix.h"
#include "wpool_tasks.h"

typedef struct mixed {
  long n;
  size_t *sizes, *offs, total;
  unsigned char *buf;
  wpool_result_t **res;
} mixed_t;

static wpool_t *pool_with(wpool_method_t method, int processes,
                          size_t shm_threshold) {
  wpool_options_t o;
  wpool_options_init(&o);
  o.processes = processes;
  o.method = method;
  o.shm_threshold = shm_threshold;
  wpool_t *pool = NULL;
  char *msg = NULL;
  int rc = wpool_create(&pool, &o, &msg);
  if (rc)
    bench_die("wpool_bench: W15 wpool_create: %s: %s", wpool_err_name(rc),
              msg ? msg : "");
  return pool;
}

/* One pass over the n buffers; MB/s of arguments. */
static double mixed_rate(wpool_t *pool, mixed_t *m) {
  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < m->n; i++) {
    int rc = wpool_apply_async(pool, blob_len, m->buf + m->offs[i],
                               m->sizes[i], NULL, NULL, NULL, &m->res[i]);
    if (rc)
      bench_die("wpool_bench: W15 wpool_apply_async: %s", wpool_err_name(rc));
  }
  for (long i = 0; i < m->n; i++) {
    const void *data;
    size_t len;
    int rc = wpool_result_get(m->res[i], WPOOL_FOREVER, &data, &len);
    const unsigned char *b = m->buf + m->offs[i];
    uint64_t want = m->sizes[i] + b[0] + b[m->sizes[i] - 1], got;
    if (rc || len != sizeof got)
      bench_die("wpool_bench: W15 result %ld: %s %s", i, wpool_err_name(rc),
                wpool_result_message(m->res[i]));
    memcpy(&got, data, sizeof got);
    if (got != want)
      bench_die("wpool_bench: W15 wrong digest at %ld", i);
  }
  double s = bench_secs(t0, bench_now_ns());
  for (long i = 0; i < m->n; i++)
    wpool_result_free(m->res[i]);
  return (double)m->total / s / 1e6;
}

/* The caller writes its buffers again, as a program making new data for
   each pass does. */
static void refill(mixed_t *m, unsigned salt) {
  for (size_t i = 0; i < m->total; i += 64)
    m->buf[i] = (unsigned char)((i * 131 >> 12) + salt);
}

void bench_w15(const char *impl, wpool_method_t method, int processes, long n,
               long reps, int rewrite) {
  mixed_t m = {n, calloc((size_t)n, sizeof(size_t)),
               calloc((size_t)n, sizeof(size_t)), 0, NULL,
               calloc((size_t)n, sizeof(wpool_result_t *))};
  if (!m.sizes || !m.offs || !m.res)
    bench_die("wpool_bench: out of memory");
  m.total = bench_mix_sizes(m.sizes, n, BENCH_MIX_SEED);
  /* One block, every page touched, as a program's own data would be. */
  if (!(m.buf = malloc(m.total)))
    bench_die("wpool_bench: out of memory");
  for (size_t i = 0; i < m.total; i++)
    m.buf[i] = (unsigned char)(i * 131 >> 12);
  for (long i = 1; i < n; i++)
    m.offs[i] = m.offs[i - 1] + m.sizes[i - 1];
  wpool_t *pipe_pool = pool_with(method, processes, SIZE_MAX);
  wpool_t *auto_pool = pool_with(method, processes, 0);
  mixed_t warm = m;
  warm.n = n < 8 ? n : 8; /* start both pools' channels, not their buffers */
  warm.total = m.offs[warm.n - 1] + m.sizes[warm.n - 1];
  mixed_rate(pipe_pool, &warm);
  mixed_rate(auto_pool, &warm);
  for (long r = 0; r < reps; r++) {
    uint64_t t0 = bench_now_ns();
    if (rewrite)
      refill(&m, (unsigned)r);
    if (rewrite)
      bench_emit("W15", impl, "refill", "ms", bench_secs(t0, bench_now_ns()) * 1e3);
    bench_emit("W15", impl, "mixed_pipe", "MB/s", mixed_rate(pipe_pool, &m));
    if (rewrite)
      refill(&m, (unsigned)r + 1);
    bench_emit("W15", impl, "mixed_auto", "MB/s", mixed_rate(auto_pool, &m));
  }
  wpool_destroy(pipe_pool);
  wpool_destroy(auto_pool);
  free(m.sizes);
  free(m.offs);
  free(m.res);
  free(m.buf);
}
