/*
 * W17: the MPI transport beside the local pool, in one run. Under
 * `mpiexec -n K+1 mpi_bench` rank 0 measures, repetition by repetition and
 * interleaved:
 *
 *   apply   sequential empty applies: microseconds per round trip, on a
 *           local fork pool of 1 worker and on an MPI pool of 1 slot;
 *   map     a map of CPU-bound items (about --task-us each), default
 *           chunksize and chunksize 1: items per second on a local pool of
 *           ONE worker and on an MPI pool of K slots (one per serving rank);
 *           the figure to compare is MPI / (K x one local worker).
 *           With --nap 1 the items sleep instead of computing.
 *
 * Every figure is a RESULT line (common.h); bench/mpi.sh runs it for
 * K = 1 and 2, and for K = 2 with 10 ms tasks with and without an added
 * delay on every message (WPOOL_MPI_TEST_DELAY_US), --tag naming the run,
 * and prints the table. Not a test: it asserts nothing.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wpool.h>
#include <wpool_mpi.h>

static int square(const void *arg, size_t len, wpool_out_t *out) {
  int x = len == sizeof x ? *(const int *)arg : 0, y = x * x;
  return wpool_out_set(out, &y, sizeof y);
}
WPOOL_REGISTER(square)

/* An item: rounds of the arithmetic kernel; the output is its result. */
static int crunch(const void *arg, size_t len, wpool_out_t *out) {
  uint64_t iters = 0;
  if (len == sizeof iters)
    memcpy(&iters, arg, sizeof iters);
  uint64_t r = bench_crunch(iters, iters);
  return wpool_out_set(out, &r, sizeof r);
}
WPOOL_REGISTER(crunch)

/* An item that waits its argument's microseconds (--nap): what a slow link
   costs, apart from the CPUs that the ranks and workers share here. */
static int nap(const void *arg, size_t len, wpool_out_t *out) {
  uint64_t us = 0;
  if (len == sizeof us)
    memcpy(&us, arg, sizeof us);
  struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
  while (nanosleep(&ts, &ts) != 0) {
  }
  return wpool_out_set(out, &us, sizeof us);
}
WPOOL_REGISTER(nap)

static wpool_fn item_fn = crunch;

static wpool_t *make(int mpi, int processes) {
  wpool_options_t o;
  wpool_options_init(&o);
  o.processes = processes;
  o.method = WPOOL_FORK;
  wpool_t *p = NULL;
  char *err = NULL;
  int rc = mpi ? wpool_mpi_create(&p, &o, &err) : wpool_create(&p, &o, &err);
  if (rc)
    bench_die("create (%s): %s", mpi ? "mpi" : "local",
              err ? err : wpool_strerror(rc));
  return p;
}

static double apply_us(wpool_t *p, int n) {
  int x = 3;
  uint64_t t0 = bench_now_ns();
  for (int i = 0; i < n; i++) {
    void *out = NULL;
    size_t len = 0;
    if (wpool_apply(p, square, &x, sizeof x, &out, &len, NULL))
      bench_die("apply failed");
    wpool_free(out);
  }
  return bench_secs(t0, bench_now_ns()) * 1e6 / n;
}

static double map_rate(wpool_t *p, const uint64_t *in, uint64_t *out, int n,
                       size_t chunksize) {
  uint64_t t0 = bench_now_ns();
  if (wpool_map(p, item_fn, in, (size_t)n, sizeof *in, out, sizeof *out,
                chunksize, NULL))
    bench_die("map failed");
  return n / bench_secs(t0, bench_now_ns());
}

int main(int argc, char **argv) {
  char *err = NULL;
  if (wpool_mpi_init(&argc, &argv, &err))
    bench_die("wpool_mpi_init: %s", err ? err : "?");
  int k = wpool_mpi_serving_ranks();
  if (k < 1)
    bench_die("run under mpiexec with at least 2 ranks");
  int reps = (int)bench_arg_long(argc, argv, "--reps", 3);
  int napply = (int)bench_arg_long(argc, argv, "--applies", 5000);
  int nitems = (int)bench_arg_long(argc, argv, "--items", 400);
  double task_ms = bench_arg_long(argc, argv, "--task-us", 2000) / 1000.0;
  int naps = bench_arg_long(argc, argv, "--nap", 0) != 0;
  uint64_t iters = naps ? (uint64_t)(task_ms * 1000) : bench_calibrate(task_ms);
  if (naps)
    item_fn = nap;
  uint64_t *in = malloc((size_t)nitems * sizeof *in);
  uint64_t *out = malloc((size_t)nitems * sizeof *out);
  if (!in || !out)
    bench_die("out of memory");
  for (int i = 0; i < nitems; i++)
    in[i] = iters;
  char impl[32], local[32];
  const char *tag = bench_arg_str(argc, argv, "--tag", "");
  snprintf(impl, sizeof impl, "mpi-%d%s", k, tag);
  snprintf(local, sizeof local, "local-1.k%d%s", k, tag); /* this run's */
  wpool_t *local1 = make(0, 1);
  wpool_t *mpi1 = make(1, 1);
  wpool_t *mpik = make(1, k);
  apply_us(local1, 200); /* warm: first tasks fault pages in */
  apply_us(mpi1, 200);
  for (int r = 0; r < reps; r++) {
    bench_emit("W17", local, "apply_latency", "us", apply_us(local1, napply));
    bench_emit("W17", impl, "apply_latency", "us", apply_us(mpi1, napply));
    bench_emit("W17", local, "map_rate", "items/s",
               map_rate(local1, in, out, nitems / k, 0));
    bench_emit("W17", impl, "map_rate", "items/s",
               map_rate(mpik, in, out, nitems, 0));
    bench_emit("W17", local, "map_rate_chunk1", "items/s",
               map_rate(local1, in, out, nitems / k, 1));
    bench_emit("W17", impl, "map_rate_chunk1", "items/s",
               map_rate(mpik, in, out, nitems, 1));
  }
  wpool_destroy(local1);
  wpool_destroy(mpi1);
  wpool_destroy(mpik);
  free(in);
  free(out);
  return 0;
}
