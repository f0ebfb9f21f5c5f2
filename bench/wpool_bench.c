/*
 * wpool_bench: wpool's side of the benchmark. One invocation runs one
 * workload of /work/shared/BENCH.md (W1-W9, W11 and W11-nopool, its peer
 * without a pool; W10 runs W2 and W4 with --as W10, beside its peer;
 * W12-bigfork, fork pools in a big program, wpool_bigfork.c; W13
 * recovery from a crash inside a large chunk; W14 skewed task lengths; W15
 * large mixed payloads through apply_async; W16 shared buffers, w16_shm.c),
 * for one worker method and prints its figures as RESULT lines (common.h).
 *
 *   wpool_bench W3 --method fork [--n 1000000] [--reps 1] [--impl NAME]
 *   wpool_bench W2 --method fork --spin-us 100   (the low-latency mode)
 *
 * Every pool has two workers (BENCH.md) unless a workload says otherwise.
 * bench/run.py chooses the sizes (full or quick) and the repetitions, and
 * interleaves the runs with those of the peers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wpool.h>

#include "common.h"
#include "w16_shm.h"
#include "w15_mixed.h"
#include "wpool_bigfork.h"
#include "wpool_tasks.h"

typedef struct cfg {
  const char *workload;
  const char *label; /* the workload the figures are filed under (--as) */
  const char *which; /* W5: one of its three figures only (--which) */
  const char *impl; /* the name the runner files the figures under */
  wpool_method_t method;
  int processes;
  long n, n2, n3, reps, chunksize;
  long spin_us; /* W2: the low-latency mode (wpool_options_t.spin_us) */
  uint64_t iters;
  int thp; /* W12-bigfork: the big heap in transparent huge pages */
} cfg_t;

static void check(int rc, const char *what, char *msg) {
  if (rc == 0)
    return;
  bench_die("wpool_bench: %s: %s (%s)%s%s", what, wpool_err_name(rc),
            wpool_strerror(rc), msg ? ": " : "", msg ? msg : "");
}

static wpool_t *make_pool_shm(const cfg_t *c, int processes, long maxtasks,
                              size_t shm_threshold) {
  wpool_options_t o;
  wpool_options_init(&o);
  o.processes = processes;
  o.method = c->method;
  o.maxtasksperchild = maxtasks;
  o.shm_threshold = shm_threshold;
  o.spin_us = c->spin_us;
  wpool_t *pool = NULL;
  char *msg = NULL;
  check(wpool_create(&pool, &o, &msg), "wpool_create", msg);
  return pool;
}

/* A pool with the default options. */
static wpool_t *make_pool(const cfg_t *c, int processes, long maxtasks) {
  return make_pool_shm(c, processes, maxtasks, 0);
}

static void emit(const cfg_t *c, const char *metric, const char *unit,
                 double v) {
  bench_emit(c->label, c->impl, metric, unit, v);
}

static int *int_range(long n) {
  int *v = malloc((size_t)n * sizeof *v);
  if (!v)
    bench_die("wpool_bench: out of memory");
  for (long i = 0; i < n; i++)
    v[i] = (int)(i % 40000); /* squares stay within int */
  return v;
}

static void check_squares(const int *in, const int *out, long n) {
  for (long i = 0; i < n; i++)
    if (out[i] != in[i] * in[i])
      bench_die("wpool_bench: wrong square at %ld: %d", i, out[i]);
}

/* Sequential applies of square; returns microseconds per call. */
static double apply_loop(wpool_t *pool, long n) {
  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < n; i++) {
    int x = (int)(i % 40000);
    void *out = NULL;
    size_t len = 0;
    char *msg = NULL;
    check(wpool_apply(pool, square, &x, sizeof x, &out, &len, &msg),
          "wpool_apply", msg);
    if (len != sizeof(int) || *(int *)out != x * x)
      bench_die("wpool_bench: wrong apply result");
    wpool_free(out);
  }
  return bench_secs(t0, bench_now_ns()) * 1e6 / (double)n;
}

/* One map of square over n ints; returns tasks per second. */
static double map_rate(wpool_t *pool, long n, size_t chunksize) {
  int *in = int_range(n), *out = malloc((size_t)n * sizeof *out);
  char *msg = NULL;
  if (!out)
    bench_die("wpool_bench: out of memory");
  uint64_t t0 = bench_now_ns();
  check(wpool_map(pool, square, in, (size_t)n, sizeof(int), out, sizeof(int),
                  chunksize, &msg),
        "wpool_map", msg);
  double s = bench_secs(t0, bench_now_ns());
  check_squares(in, out, n);
  free(in);
  free(out);
  return (double)n / s;
}

/* W1: start a pool, get a first result, close, join, destroy. */
static void w1(const cfg_t *c) {
  for (long r = -1; r < c->reps; r++) { /* r == -1: warm-up, not reported */
    uint64_t t0 = bench_now_ns();
    wpool_t *pool = make_pool(c, c->processes, 0);
    int x = 7;
    void *out = NULL;
    size_t len;
    char *msg = NULL;
    check(wpool_apply(pool, square, &x, sizeof x, &out, &len, &msg),
          "wpool_apply", msg);
    wpool_free(out);
    check(wpool_close(pool), "wpool_close", NULL);
    check(wpool_join(pool), "wpool_join", NULL);
    wpool_destroy(pool);
    if (r >= 0)
      emit(c, "start_to_join", "ms", bench_secs(t0, bench_now_ns()) * 1e3);
  }
}

/* W2 (and W9's apply): sequential applies, microseconds per call. */
static void w2(const cfg_t *c) {
  wpool_t *pool = make_pool(c, c->processes, 0);
  apply_loop(pool, 200); /* warm-up */
  for (long r = 0; r < c->reps; r++)
    emit(c, "apply_latency", "us", apply_loop(pool, c->n));
  wpool_destroy(pool);
}

/* W3 (default chunksize) and W4 (chunksize 1): map, tasks per second. */
static void w3w4(const cfg_t *c) {
  wpool_t *pool = make_pool(c, c->processes, 0);
  map_rate(pool, 1000, (size_t)c->chunksize); /* warm-up */
  for (long r = 0; r < c->reps; r++)
    emit(c, "map_rate", "tasks/s", map_rate(pool, c->n, (size_t)c->chunksize));
  wpool_destroy(pool);
}

/* One imap or imap_unordered of square over n ints, chunksize 1. */
static double imap_rate(wpool_t *pool, const int *in, long n, int ordered) {
  wpool_source_t src = wpool_source_array(in, (size_t)n, sizeof(int));
  wpool_iter_t *it = NULL;
  uint64_t t0 = bench_now_ns();
  check(ordered ? wpool_imap(pool, square, &src, 1, &it)
                : wpool_imap_unordered(pool, square, &src, 1, &it),
        "wpool_imap", NULL);
  const void *data;
  size_t len;
  long got = 0;
  int rc;
  while ((rc = wpool_iter_next(it, WPOOL_FOREVER, &data, &len)) == 0) {
    size_t i = wpool_iter_index(it);
    if (len != sizeof(int) || *(const int *)data != in[i] * in[i] ||
        (ordered && i != (size_t)got))
      bench_die("wpool_bench: wrong imap result at %ld", got);
    got++;
  }
  double s = bench_secs(t0, bench_now_ns());
  if (rc != WPOOL_EDONE || got != n)
    check(rc == 0 ? WPOOL_EPROTO : rc, "wpool_iter_next",
          (char *)wpool_iter_message(it));
  wpool_iter_free(it);
  return (double)n / s;
}

/* W5: imap and imap_unordered, chunksize 1, over an array; and map at
   chunksize 1 on the same pool and items, the peer of "imap within 0.9x of
   map" (round 2), measured between the two in every repetition. */
static void w5(const cfg_t *c) {
  wpool_t *pool = make_pool(c, c->processes, 0);
  int *in = int_range(c->n);
  imap_rate(pool, in, c->n < 1000 ? c->n : 1000, 1); /* warm-up */
  /* --which imap|map|unordered runs one of the three alone (to profile
     it); the default runs all three. */
  const char *w = c->which;
  for (long r = 0; r < c->reps; r++) {
    if (!w || strcmp(w, "imap") == 0)
      emit(c, "imap_rate", "tasks/s", imap_rate(pool, in, c->n, 1));
    if (!w || strcmp(w, "map") == 0)
      emit(c, "map_chunk1_rate", "tasks/s", map_rate(pool, c->n, 1));
    if (!w || strcmp(w, "unordered") == 0)
      emit(c, "imap_unordered_rate", "tasks/s", imap_rate(pool, in, c->n, 0));
  }
  free(in);
  wpool_destroy(pool);
}

/* One map of blob_len over count buffers of size bytes: MB/s of input. */
static double blob_rate(wpool_t *pool, const unsigned char *buf, long count,
                        size_t size, size_t chunksize) {
  uint64_t *out = calloc((size_t)count, sizeof *out);
  char *msg = NULL;
  uint64_t t0 = bench_now_ns();
  check(wpool_map(pool, blob_len, buf, (size_t)count, size, out, sizeof *out,
                  chunksize, &msg),
        "wpool_map", msg);
  double s = bench_secs(t0, bench_now_ns());
  for (long i = 0; i < count; i++)
    if (out[i] !=
        size + buf[(size_t)i * size] + buf[(size_t)(i + 1) * size - 1])
      bench_die("wpool_bench: wrong blob_len result at %ld", i);
  free(out);
  return (double)count * (double)size / s / 1e6;
}

/* W6: map over n x 1 MiB (default chunksize) and n2 x 16 MiB (chunksize 1). */
static void w6(const cfg_t *c) {
  const size_t mib = 1u << 20, small = mib, big = 16 * mib;
  size_t total = (size_t)c->n * small > (size_t)c->n2 * big
                     ? (size_t)c->n * small
                     : (size_t)c->n2 * big;
  unsigned char *buf = malloc(total);
  if (!buf)
    bench_die("wpool_bench: out of memory");
  for (size_t i = 0; i < total; i++) /* touch every page: no lazy zeroes */
    buf[i] = (unsigned char)(i * 131 >> 12);
  /* Arguments that always take the channel: the pipe figures. */
  wpool_t *pool = make_pool_shm(c, c->processes, 0, SIZE_MAX);
  /* The same wpool_map with the default shm_threshold: the items go
     through a shared buffer of their own, without a change to the call. */
  wpool_t *auto_pool = make_pool(c, c->processes, 0);
  blob_rate(pool, buf, 2, small, 0); /* warm-up */
  /* The first large call makes the pool's buffer (its pages are zeroed
     once); later calls of that size or a bit less reuse it. Measured
     warm, as a program that maps such data over and over runs. */
  blob_rate(auto_pool, buf, c->n2, big, 1);
  for (long r = 0; r < c->reps; r++) {
    emit(c, "map_1MiB", "MB/s", blob_rate(pool, buf, c->n, small, 0));
    emit(c, "map_16MiB", "MB/s", blob_rate(pool, buf, c->n2, big, 1));
    emit(c, "auto_map_1MiB", "MB/s",
         blob_rate(auto_pool, buf, c->n, small, 0));
    emit(c, "auto_map_16MiB", "MB/s",
         blob_rate(auto_pool, buf, c->n2, big, 1));
  }
  wpool_destroy(auto_pool);
  free(buf);
  wpool_destroy(pool);
}

/* Seconds for a map of crunch over n items on a pool of `workers`. */
static double crunch_secs(const cfg_t *c, int workers) {
  crunch_arg_t *in = malloc((size_t)c->n * sizeof *in);
  uint64_t *out = malloc((size_t)c->n * sizeof *out);
  if (!in || !out)
    bench_die("wpool_bench: out of memory");
  for (long i = 0; i < c->n; i++) {
    in[i].iters = c->iters;
    in[i].seed = (uint64_t)i + 1;
  }
  wpool_t *pool = make_pool(c, workers, 0);
  char *msg = NULL;
  uint64_t t0 = bench_now_ns();
  check(wpool_map(pool, crunch, in, (size_t)c->n, sizeof *in, out, sizeof *out,
                  1, &msg),
        "wpool_map", msg);
  double s = bench_secs(t0, bench_now_ns());
  wpool_destroy(pool);
  if (out[0] != bench_crunch(c->iters, 1))
    bench_die("wpool_bench: wrong crunch result");
  free(in);
  free(out);
  return s;
}

/* W7: CPU-bound map, 1 worker vs 2: the speed-up. */
static void w7(const cfg_t *c) {
  for (long r = 0; r < c->reps; r++) {
    double t1 = crunch_secs(c, 1), t2 = crunch_secs(c, c->processes);
    emit(c, "speedup", "x", t1 / t2);
    emit(c, "secs_1_worker", "s", t1);
    emit(c, "secs_2_workers", "s", t2);
  }
}

/* W8: maxtasksperchild=1, a map of trivial tasks with chunksize 1. */
static void w8(const cfg_t *c) {
  for (long r = 0; r < c->reps; r++) {
    wpool_t *pool = make_pool(c, c->processes, 1);
    emit(c, "recycle_rate", "tasks/s", map_rate(pool, c->n, 1));
    wpool_stats_t st;
    if (wpool_stats(pool, &st, NULL, 0) == 0)
      printf("W8 %s: %zu workers replaced for %ld tasks\n", c->impl,
             st.workers_replaced, c->n);
    wpool_destroy(pool);
  }
}

/* W9: a thread pool's map (default chunk, chunksize 1) and apply latency. */
static void w9(const cfg_t *c) {
  wpool_t *pool = make_pool(c, c->processes, 0);
  map_rate(pool, 1000, 0); /* warm-up */
  apply_loop(pool, 200);
  for (long r = 0; r < c->reps; r++) {
    emit(c, "map_default_rate", "tasks/s", map_rate(pool, c->n, 0));
    emit(c, "map_chunk1_rate", "tasks/s", map_rate(pool, c->n2, 1));
    emit(c, "apply_latency", "us", apply_loop(pool, c->n3));
  }
  wpool_destroy(pool);
}

/* W11's lazy input: the integers 0 .. n-1, made one at a time. */
typedef struct counter {
  int64_t next, n, value;
} counter_t;

static int produce(void *user, const void **item, size_t *len) {
  counter_t *k = user;
  if (k->next >= k->n)
    return 0;
  k->value = k->next++;
  *item = &k->value;
  *len = sizeof k->value;
  return 1;
}

/* W11: imap over a lazily produced input; the caller's peak memory. */
static void w11(const cfg_t *c) {
  long before = bench_vm_hwm_kib();
  wpool_t *pool = make_pool(c, c->processes, 0);
  counter_t k = {0, c->n, 0};
  wpool_source_t src = wpool_source_producer(produce, &k);
  src.window = (size_t)c->n2; /* --n2: the window in chunks; 0: default */
  wpool_iter_t *it = NULL;
  uint64_t t0 = bench_now_ns();
  check(wpool_imap(pool, square64, &src, (size_t)c->chunksize, &it),
        "wpool_imap", NULL);
  const void *data;
  size_t len;
  int64_t got = 0;
  int rc;
  while ((rc = wpool_iter_next(it, WPOOL_FOREVER, &data, &len)) == 0) {
    if (len != sizeof(int64_t) || *(const int64_t *)data != got * got)
      bench_die("wpool_bench: wrong imap result at %lld", (long long)got);
    got++;
  }
  double s = bench_secs(t0, bench_now_ns());
  if (rc != WPOOL_EDONE || got != c->n)
    check(rc == 0 ? WPOOL_EPROTO : rc, "wpool_iter_next",
          (char *)wpool_iter_message(it));
  wpool_iter_free(it);
  wpool_destroy(pool);
  char metric[64];
  snprintf(metric, sizeof metric, "peak_rss_%ld_items", c->n);
  emit(c, metric, "KiB", (double)bench_vm_hwm_kib());
  snprintf(metric, sizeof metric, "rate_%ld_items", c->n);
  emit(c, metric, "tasks/s", (double)c->n / s);
  printf("W11 %s: VmHWM %ld KiB before the pool\n", c->impl, before);
}

/*
 * W11's peer (round 2: "within 2 MB of the same program without a pool"):
 * the same binary, the same lazy input and the same checks, each item
 * squared in the caller; no pool is created. VmHWM read the same way.
 */
static void w11_nopool(const cfg_t *c) {
  counter_t k = {0, c->n, 0};
  const void *item;
  size_t len;
  int64_t got = 0;
  volatile int64_t sink; /* keeps the squaring from being folded away */
  uint64_t t0 = bench_now_ns();
  while (produce(&k, &item, &len)) {
    int64_t x = *(const int64_t *)item, y = x * x;
    sink = y;
    y = sink;
    if (len != sizeof(int64_t) || y != got * got)
      bench_die("wpool_bench: wrong square at %lld", (long long)got);
    got++;
  }
  double s = bench_secs(t0, bench_now_ns());
  char metric[64];
  snprintf(metric, sizeof metric, "peak_rss_%ld_items", c->n);
  emit(c, metric, "KiB", (double)bench_vm_hwm_kib());
  snprintf(metric, sizeof metric, "rate_%ld_items", c->n);
  emit(c, metric, "tasks/s", (double)c->n / s);
}

/*
 * W13: recovery from a crash inside a large chunk. A map of n items with
 * the default chunksize in which one item, in the middle of a chunk, kills
 * its worker, against the same map without the crash, on the same pool
 * (the crash map first, so that the clean one runs on the replacement
 * worker too). What the crash costs: the replacement worker's start, and
 * the dead worker's chunk run again around the item that killed it.
 */
static double w13_map(wpool_t *pool, const int *in, int *out, long n,
                      size_t chunksize, int crash) {
  uint64_t t0 = bench_now_ns();
  int rc = wpool_map(pool, square_or_die, in, (size_t)n, sizeof(int), out,
                     sizeof(int), chunksize, NULL);
  double ms = bench_secs(t0, bench_now_ns()) * 1e3;
  if (rc != (crash ? WPOOL_EWORKER : 0) || out[0] != in[0] * in[0] ||
      out[n - 1] != in[n - 1] * in[n - 1])
    check(rc ? rc : WPOOL_EPROTO, "W13 map", NULL);
  return ms;
}

static void w13(const cfg_t *c) {
  if (c->method == WPOOL_THREAD) {
    printf("W13 %s: skipped: a crash on a thread ends the program\n", c->impl);
    return;
  }
  wpool_t *pool = make_pool(c, c->processes, 0);
  int *clean = int_range(c->n), *crash = int_range(c->n);
  int *out = malloc((size_t)c->n * sizeof *out);
  if (!out)
    bench_die("wpool_bench: out of memory");
  /* The middle of the first chunk of the default size (n / 8 on 2
     workers: 4 chunks a worker), or of the chunk given. */
  long chunk = c->chunksize ? c->chunksize : (c->n + 7) / 8;
  crash[chunk / 2] = -1;
  size_t cs = (size_t)c->chunksize;
  w13_map(pool, clean, out, c->n < 1000 ? c->n : 1000, cs, 0); /* warm-up */
  for (long r = 0; r < c->reps; r++) {
    emit(c, "crash_map", "ms", w13_map(pool, crash, out, c->n, cs, 1));
    emit(c, "clean_map", "ms", w13_map(pool, clean, out, c->n, cs, 0));
  }
  free(clean);
  free(crash);
  free(out);
  wpool_destroy(pool);
}

/*
 * W14: skewed task lengths. n tasks of n2 microseconds (1 ms), one in
 * 40 of them 20 times longer, mapped with the default chunksize and with
 * chunksize 1. The ideal wall time is the tasks' own summed run time over
 * the workers: a scheduler that leaves a short task queued behind a long
 * one while another worker idles shows as wall above ideal.
 */
static void w14_run(const cfg_t *c, wpool_t *pool, const uint32_t *in,
                    uint64_t *out, size_t chunksize, const char *name) {
  char *msg = NULL;
  uint64_t t0 = bench_now_ns();
  check(wpool_map(pool, sleeper, in, (size_t)c->n, sizeof *in, out, sizeof *out,
                  chunksize, &msg),
        "wpool_map", msg);
  double wall = bench_secs(t0, bench_now_ns()) * 1e3;
  double busy = 0;
  for (long i = 0; i < c->n; i++)
    busy += (double)out[i] / 1e6;
  double ideal = busy / c->processes;
  char metric[64];
  snprintf(metric, sizeof metric, "wall_%s", name);
  emit(c, metric, "ms", wall);
  snprintf(metric, sizeof metric, "ideal_%s", name);
  emit(c, metric, "ms", ideal);
  snprintf(metric, sizeof metric, "efficiency_%s", name);
  emit(c, metric, "x", ideal / wall);
}

/* W12 of round 2 (wpool_bigfork.c): fork pools in a program with n MiB of
   touched heap, against a bare fork of the same process; --thp 1: that
   heap in transparent huge pages. */
static void w12_big(const cfg_t *c) { w12_bigfork(c->n, c->reps, c->thp); }

static void w14(const cfg_t *c) {
  uint32_t *in = malloc((size_t)c->n * sizeof *in);
  uint64_t *out = malloc((size_t)c->n * sizeof *out);
  if (!in || !out)
    bench_die("wpool_bench: out of memory");
  uint32_t us = (uint32_t)c->n2;
  for (long i = 0; i < c->n; i++)
    in[i] = i % 40 == 20 ? 20 * us : us;
  wpool_t *pool = make_pool(c, c->processes, 0);
  for (long r = 0; r < c->reps; r++) {
    w14_run(c, pool, in, out, 0, "default");
    w14_run(c, pool, in, out, 1, "chunk1");
  }
  wpool_destroy(pool);
  free(in);
  free(out);
}

/* W15: large mixed payloads through wpool_apply_async (w15_mixed.c). */
static void w15(const cfg_t *c) {
  bench_w15(c->impl, c->method, c->processes, c->n, c->reps, c->n2 != 0);
}

/* W16 (w16_shm.c): shared buffers' throughput; W16-pss (n = the array in
   MiB): their resident memory. */
static void w16(const cfg_t *c) {
  w16_map(c->impl, c->method, c->processes, c->n, c->n2, c->reps);
}

static void w16_rss(const cfg_t *c) {
  w16_pss(c->impl, c->method, c->processes, c->n);
}

static wpool_method_t parse_method(const char *s) {
  if (strcmp(s, "fork") == 0)
    return WPOOL_FORK;
  if (strcmp(s, "spawn") == 0)
    return WPOOL_SPAWN;
  if (strcmp(s, "thread") == 0)
    return WPOOL_THREAD;
  bench_die("wpool_bench: unknown method %s", s);
}

int main(int argc, char **argv) {
  wpool_bootstrap(argc, argv); /* first: spawned workers start here too */
  if (argc < 2)
    bench_die(
        "usage: wpool_bench W1..W9|W11|W11-nopool|W12-bigfork|W13..W16|W16-pss "
        "--method fork|spawn|thread "
        "[--n N] [--n2 N] [--n3 N] [--reps N] [--chunksize N] [--iters N] "
        "[--spin-us US] [--as WORKLOAD] [--which imap|map|unordered]");
  cfg_t c;
  memset(&c, 0, sizeof c);
  c.workload = argv[1];
  c.label = bench_arg_str(argc, argv, "--as", c.workload);
  c.which = bench_arg_str(argc, argv, "--which", NULL);
  const char *method = bench_arg_str(argc, argv, "--method", "fork");
  c.method = parse_method(method);
  static char impl[64];
  snprintf(impl, sizeof impl, "wpool-%s", method);
  c.impl = bench_arg_str(argc, argv, "--impl", impl);
  c.processes = (int)bench_arg_long(argc, argv, "--processes", 2);
  c.n = bench_arg_long(argc, argv, "--n", 0);
  c.n2 = bench_arg_long(argc, argv, "--n2", 0);
  c.spin_us = bench_arg_long(argc, argv, "--spin-us", 0);
  c.n3 = bench_arg_long(argc, argv, "--n3", 0);
  c.reps = bench_arg_long(argc, argv, "--reps", 1);
  c.chunksize = bench_arg_long(argc, argv, "--chunksize", 0);
  c.iters = (uint64_t)bench_arg_long(argc, argv, "--iters", 10000000);
  c.thp = (int)bench_arg_long(argc, argv, "--thp", 0);

  static const struct {
    const char *name;
    void (*run)(const cfg_t *);
    long n, n2, n3, chunksize;
  } table[] = {
      {"W1", w1, 0, 0, 0, 0},
      {"W2", w2, 20000, 0, 0, 0},
      {"W3", w3w4, 1000000, 0, 0, 0},
      {"W4", w3w4, 100000, 0, 0, 1},
      {"W5", w5, 100000, 0, 0, 1},
      {"W6", w6, 64, 8, 0, 0},
      {"W7", w7, 200, 0, 0, 1},
      {"W8", w8, 2000, 0, 0, 1},
      {"W9", w9, 1000000, 100000, 20000, 0},
      {"W11", w11, 10000000, 0, 0, 1000},
      {"W11-nopool", w11_nopool, 10000000, 0, 0, 0},
      {"W12-bigfork", w12_big, 200, 0, 0, 0},
      {"W13", w13, 80000, 0, 0, 0},
      {"W14", w14, 400, 1000, 0, 0},
      {"W15", w15, 400, 0, 0, 0},
      {"W16", w16, 64, 8, 0, 0},
      {"W16-pss", w16_rss, 1024, 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (strcmp(table[i].name, c.workload) == 0) {
      if (c.n == 0)
        c.n = table[i].n;
      if (c.n2 == 0)
        c.n2 = table[i].n2;
      if (c.n3 == 0)
        c.n3 = table[i].n3;
      if (bench_arg_str(argc, argv, "--chunksize", NULL) == NULL)
        c.chunksize = table[i].chunksize;
      table[i].run(&c);
      return 0;
    }
  bench_die("wpool_bench: unknown workload %s", c.workload);
}
