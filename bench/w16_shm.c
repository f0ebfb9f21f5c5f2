/*
 * W16: shared buffers (wpool_map_shm), wpool's side. See w16_shm.h.
 *
 * Throughput: the items sit in a shared buffer filled once; each task
 * makes a pass over its item (blob_sum: the sum of its 64-bit words), the
 * only read of the bytes, and writes the sum into its slot of a shared
 * output buffer. Nothing but descriptors crosses the channels.
 *
 * Resident memory: a map over one big shared array, one item per worker;
 * each task reads its whole item, says so through a FIFO and blocks on a
 * second FIFO until the parent has summed the proportional set size (Pss)
 * of itself and of every worker. FIFOs rather than inherited pipes, because
 * spawned workers start with only their own descriptors; their paths reach
 * the tasks through the environment, which every method passes on.
 */
#define _GNU_SOURCE
#include "w16_shm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __linux__ /* the Pss half reads /proc */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include "common.h"
#include "wpool_tasks.h"

static void check(int rc, const char *what, char *msg) {
  if (rc == 0)
    return;
  bench_die("wpool_bench: %s: %s (%s)%s%s", what, wpool_err_name(rc),
            wpool_strerror(rc), msg ? ": " : "", msg ? msg : "");
}

static wpool_t *make_pool(wpool_method_t method, int processes) {
  wpool_options_t o;
  wpool_options_init(&o);
  o.processes = processes;
  o.method = method;
  wpool_t *pool = NULL;
  char *msg = NULL;
  check(wpool_create(&pool, &o, &msg), "wpool_create", msg);
  return pool;
}

/* One wpool_map_shm of blob_sum over count items of size bytes at the
   start of in, into out: MB/s of input. want holds the sums. */
static double shm_rate(wpool_t *pool, wpool_shm_t *in, wpool_shm_t *out,
                       const uint64_t *want, long count, size_t size,
                       size_t chunksize) {
  wpool_slice_t sin = wpool_slice(in, 0, (size_t)count * size);
  wpool_slice_t sout = wpool_slice(out, 0, (size_t)count * sizeof *want);
  uint64_t *sums = wpool_shm_ptr(out);
  memset(sums, 0, (size_t)count * sizeof *sums);
  char *msg = NULL;
  uint64_t t0 = bench_now_ns();
  check(wpool_map_shm(pool, blob_sum, &sin, size, &sout, sizeof *sums,
                      chunksize, &msg),
        "wpool_map_shm", msg);
  double s = bench_secs(t0, bench_now_ns());
  for (long i = 0; i < count; i++)
    if (sums[i] != want[i])
      bench_die("wpool_bench: wrong blob_sum result at %ld", i);
  return (double)count * (double)size / s / 1e6;
}

/* The sums blob_sum must find, one per item of size bytes. */
static uint64_t *blob_sums(const unsigned char *buf, long count, size_t size) {
  uint64_t *v = malloc((size_t)count * sizeof *v);
  if (!v)
    bench_die("wpool_bench: out of memory");
  for (long i = 0; i < count; i++) {
    const uint64_t *w = (const uint64_t *)(buf + (size_t)i * size);
    uint64_t sum = 0;
    for (size_t k = 0; k < size / sizeof *w; k++)
      sum += w[k];
    v[i] = sum;
  }
  return v;
}

void w16_map(const char *impl, wpool_method_t method, int processes, long n,
             long n2, long reps) {
  const size_t small = 1u << 20, big = 16u << 20;
  size_t total = (size_t)n * small > (size_t)n2 * big ? (size_t)n * small
                                                      : (size_t)n2 * big;
  wpool_t *pool = make_pool(method, processes);
  wpool_shm_t *in, *out;
  check(wpool_shm_alloc(total, &in), "wpool_shm_alloc", NULL);
  long most = n > n2 ? n : n2;
  check(wpool_shm_alloc((size_t)most * sizeof(uint64_t), &out),
        "wpool_shm_alloc", NULL);
  /* Filled once, as a program that maps the same data over and over does:
     the figure is the map's, not the parent's writing. */
  unsigned char *buf = wpool_shm_ptr(in);
  for (size_t i = 0; i < total; i++)
    buf[i] = (unsigned char)(i * 131 >> 12);
  uint64_t *want_small = blob_sums(buf, n, small);
  uint64_t *want_big = blob_sums(buf, n2, big);
  /* Warm-up: one whole map of each size. The first maps after the fill
     ran 10-25% slower here (7.1 then 8.8 and 8.9 GB/s, fork), the same
     for every method: measured warm, as a program that maps such data over
     and over runs. */
  shm_rate(pool, in, out, want_small, n, small, 0);
  shm_rate(pool, in, out, want_big, n2, big, 1);
  for (long r = 0; r < reps; r++) {
    bench_emit("W16", impl, "shm_map_1MiB", "MB/s",
               shm_rate(pool, in, out, want_small, n, small, 0));
    bench_emit("W16", impl, "shm_map_16MiB", "MB/s",
               shm_rate(pool, in, out, want_big, n2, big, 1));
  }
  free(want_small);
  free(want_big);
  wpool_shm_free(in);
  wpool_shm_free(out);
  wpool_destroy(pool);
}

/* ---------------------------------------------------------------------- */
/* Resident memory                                                          */

#ifndef __linux__
void w16_pss(const char *impl, wpool_method_t method, int processes,
             long mib) {
  (void)method, (void)processes, (void)mib;
  printf("UNAVAILABLE %s: Pss needs Linux's /proc/PID/smaps_rollup\n", impl);
}
#else

#define READY_ENV "WPOOL_BENCH_W16_READY"
#define GO_ENV "WPOOL_BENCH_W16_GO"

/* Read (all of) its item, then hold it until the parent has measured:
   one byte to the ready FIFO, then wait for one byte on the go FIFO. The
   parent holds both FIFOs open read-write, so neither open blocks. */
static int touch_and_hold(const void *arg, size_t len, wpool_out_t *out) {
  const uint64_t *w = arg;
  uint64_t sum = 0;
  for (size_t i = 0; i < len / sizeof *w; i++)
    sum += w[i];
  const char *ready = getenv(READY_ENV), *go = getenv(GO_ENV);
  if (!ready || !go)
    return wpool_out_fail(out, 1, "touch_and_hold: no FIFO paths");
  int rfd = open(ready, O_WRONLY | O_CLOEXEC);
  int gfd = open(go, O_RDONLY | O_CLOEXEC);
  char c = 1;
  ssize_t wr = rfd >= 0 ? write(rfd, &c, 1) : -1;
  ssize_t rd = -1;
  while (gfd >= 0 && wr == 1 && (rd = read(gfd, &c, 1)) < 0 && errno == EINTR)
    ;
  if (rfd >= 0)
    close(rfd);
  if (gfd >= 0)
    close(gfd);
  if (wr != 1 || rd != 1)
    return wpool_out_fail(out, 1, "touch_and_hold: FIFO: %s", strerror(errno));
  return wpool_out_set(out, &sum, sizeof sum);
}
WPOOL_REGISTER(touch_and_hold)

/* A "Name: N kB" field of /proc/PID/<file> in KiB; -1 if absent. */
static long proc_kib(long pid, const char *file, const char *field) {
  char path[64], line[256], fmt[48];
  snprintf(path, sizeof path, "/proc/%ld/%s", pid, file);
  snprintf(fmt, sizeof fmt, "%s %%ld kB", field);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  long kib = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, fmt, &kib) == 1)
      break;
  fclose(f);
  return kib;
}

static long pss_kib(long pid) { return proc_kib(pid, "smaps_rollup", "Pss:"); }

/* Page tables are counted apart from Pss: VmPTE of /proc/PID/status. */
static long pte_kib(long pid) { return proc_kib(pid, "status", "VmPTE:"); }

/* The sum of kib() over this process and every worker process of pool, in
   KiB (thread workers are this process). */
static long total_kib(wpool_t *pool, long (*kib)(long)) {
  wpool_worker_info_t info[64];
  size_t count = 0;
  check(wpool_workers(pool, info, 64, &count), "wpool_workers", NULL);
  long self = (long)getpid(), sum = kib(self);
  if (sum < 0)
    bench_die("wpool_bench: no Pss or VmPTE in /proc/self");
  for (size_t i = 0; i < count && i < 64; i++) {
    if (info[i].pid == self || info[i].pid == 0)
      continue;
    long k = kib(info[i].pid);
    if (k < 0)
      bench_die("wpool_bench: no Pss or VmPTE for worker %ld", info[i].pid);
    sum += k;
  }
  return sum;
}

/* Waits for count bytes on fd; dies after a minute rather than hang (a
   worker that got both items would never start the second). */
static void await_ready(int fd, int count) {
  for (int got = 0; got < count;) {
    struct pollfd p = {fd, POLLIN, 0};
    int rc = poll(&p, 1, 60000);
    if (rc == 0)
      bench_die("wpool_bench: W16 pss: %d of %d tasks inside after 60 s", got,
                count);
    char c;
    if (rc > 0 && read(fd, &c, 1) == 1)
      got++;
    else if (rc < 0 && errno != EINTR)
      bench_die("wpool_bench: poll: %s", strerror(errno));
  }
}

/* Made and named in the environment before the pool (spawned workers copy
   the environment when they start), opened after it (forked workers would
   hold copies of the parent's ends). */
static void make_fifo(const char *dir, const char *name, const char *env,
                      char *path, size_t cap) {
  snprintf(path, cap, "%s/%s", dir, name);
  if (mkfifo(path, 0600) != 0)
    bench_die("wpool_bench: mkfifo %s: %s", path, strerror(errno));
  setenv(env, path, 1);
}

static int open_fifo(const char *path) {
  int fd = open(path, O_RDWR | O_CLOEXEC); /* Linux: never blocks */
  if (fd < 0)
    bench_die("wpool_bench: open %s: %s", path, strerror(errno));
  return fd;
}

void w16_pss(const char *impl, wpool_method_t method, int processes,
             long mib) {
  char dir[] = "/tmp/wpool-w16-XXXXXX", ready[128], go[128];
  if (!mkdtemp(dir))
    bench_die("wpool_bench: mkdtemp: %s", strerror(errno));
  make_fifo(dir, "ready", READY_ENV, ready, sizeof ready);
  make_fifo(dir, "go", GO_ENV, go, sizeof go);
  size_t size = (size_t)mib << 20, item = size / (size_t)processes;
  item -= item % sizeof(uint64_t);

  wpool_t *pool = make_pool(method, processes);
  int rfd = open_fifo(ready), gfd = open_fifo(go);
  long before_fill = total_kib(pool, pss_kib);
  wpool_shm_t *in, *out;
  check(wpool_shm_alloc(size, &in), "wpool_shm_alloc", NULL);
  check(wpool_shm_alloc((size_t)processes * sizeof(uint64_t), &out),
        "wpool_shm_alloc", NULL);
  memset(wpool_shm_ptr(in), 1, size);
  memset(wpool_shm_ptr(out), 0, (size_t)processes * sizeof(uint64_t));
  long before = total_kib(pool, pss_kib), pte_before = total_kib(pool, pte_kib);

  wpool_slice_t sin = wpool_slice(in, 0, item * (size_t)processes);
  wpool_slice_t sout =
      wpool_slice(out, 0, (size_t)processes * sizeof(uint64_t));
  wpool_result_t *res = NULL;
  check(wpool_map_shm_async(pool, touch_and_hold, &sin, item, &sout,
                            sizeof(uint64_t), 1, NULL, &res),
        "wpool_map_shm_async", NULL);
  await_ready(rfd, processes);
  long during = total_kib(pool, pss_kib), pte_during = total_kib(pool, pte_kib);
  char bytes[64];
  memset(bytes, 1, sizeof bytes);
  if (write(gfd, bytes, (size_t)processes) != processes)
    bench_die("wpool_bench: write %s: %s", go, strerror(errno));
  check(wpool_result_get(res, WPOOL_FOREVER, NULL, NULL), "touch_and_hold map",
        (char *)wpool_result_message(res));
  const uint64_t *sums = wpool_shm_ptr(out);
  uint64_t want = (uint64_t)(item / sizeof(uint64_t)) * 0x0101010101010101u;
  for (int i = 0; i < processes; i++)
    if (sums[i] != want)
      bench_die("wpool_bench: W16 pss: wrong sum for item %d", i);
  wpool_result_free(res);
  wpool_shm_free(in);
  wpool_shm_free(out);
  wpool_destroy(pool);
  close(rfd);
  close(gfd);
  unlink(ready);
  unlink(go);
  rmdir(dir);

  char metric[64];
  snprintf(metric, sizeof metric, "pss_added_%ldMiB", mib);
  bench_emit("W16", impl, metric, "MiB", (double)(during - before) / 1024.0);
  snprintf(metric, sizeof metric, "array_%ldMiB", mib);
  bench_emit("W16", impl, metric, "MiB", (double)mib);
  snprintf(metric, sizeof metric, "pte_added_%ldMiB", mib);
  bench_emit("W16", impl, metric, "MiB",
             (double)(pte_during - pte_before) / 1024.0);
  snprintf(metric, sizeof metric, "pss_fill_%ldMiB", mib);
  bench_emit("W16", impl, metric, "MiB",
             (double)(before - before_fill) / 1024.0);
}
#endif /* __linux__ */
