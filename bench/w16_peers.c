/*
 * w16_peers: the C limits of W16 (a map over shared buffers whose task is a
 * pass over its item). memcpy itself comes from `limits memcpy-bw`.
 *
 *   w16_peers pass  --mb N [--threads K] [--passes P] [--impl NAME]
 *   w16_peers fresh --mb N [--threads K] [--chunk-mb C] [--passes P]
 *
 * pass: K threads each sum the 64-bit words of their share of N MiB of
 * anonymous shared memory (a memfd, filled once and mapped once): the task
 * of W16 with nothing around it. One thread gives the rate of one CPU; K
 * threads, the ceiling of a map on K workers.
 *
 * fresh: the same, but by K processes (forked before the clock starts),
 * each mapping every chunk of C MiB afresh (MAP_POPULATE, read-only) before
 * its pass and unmapping it after, as a process worker of wpool does for
 * each chunk it runs: what is left of the pass once the page tables of a
 * new mapping are paid for. Processes, not threads: threads would share one
 * address space, whose every munmap must then flush the other CPU's TLB.
 *
 * Prints RESULT workload=W16 metric=bandwidth unit=MB/s (MB/s of input).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

typedef struct share {
  int fd, fresh;
  const uint8_t *base; /* the whole buffer, mapped once (pass) */
  size_t off, len, chunk;
  long passes;
  uint64_t sum;
} share_t;

static uint64_t sum_words(const uint8_t *p, size_t len) {
  const uint64_t *w = (const uint64_t *)p;
  uint64_t s = 0;
  for (size_t i = 0; i < len / sizeof *w; i++)
    s += w[i];
  return s;
}

static void *run(void *arg) {
  share_t *s = arg;
  for (long r = 0; r < s->passes; r++)
    for (size_t o = s->off; o < s->off + s->len; o += s->chunk) {
      size_t n = s->off + s->len - o < s->chunk ? s->off + s->len - o : s->chunk;
      if (!s->fresh) {
        s->sum += sum_words(s->base + o, n);
        continue;
      }
      void *p = mmap(NULL, n, PROT_READ, MAP_SHARED | MAP_POPULATE, s->fd,
                     (off_t)o);
      if (p == MAP_FAILED)
        bench_die("w16_peers: mmap: %s", strerror(errno));
      s->sum += sum_words(p, n);
      munmap(p, n);
    }
  return NULL;
}

/* K processes run the shares; the clock runs from the byte that starts
   them to the last sum they send back. */
static uint64_t run_forked(share_t *s, long k, double *secs) {
  int start[2], done[2];
  pid_t pids[64];
  if (pipe(start) != 0 || pipe(done) != 0)
    bench_die("w16_peers: pipe: %s", strerror(errno));
  for (long i = 0; i < k; i++) {
    pids[i] = fork();
    if (pids[i] < 0)
      bench_die("w16_peers: fork: %s", strerror(errno));
    if (pids[i] == 0) {
      char c;
      if (read(start[0], &c, 1) != 1)
        _exit(1);
      run(&s[i]);
      _exit(write(done[1], &s[i].sum, sizeof s[i].sum) == sizeof s[i].sum ? 0
                                                                          : 1);
    }
  }
  char go[64];
  memset(go, 1, sizeof go);
  uint64_t t0 = bench_now_ns(), got = 0;
  if (write(start[1], go, (size_t)k) != k)
    bench_die("w16_peers: write: %s", strerror(errno));
  for (long i = 0; i < k; i++) {
    uint64_t v;
    if (read(done[0], &v, sizeof v) != sizeof v)
      bench_die("w16_peers: a child failed");
    got += v;
  }
  *secs = bench_secs(t0, bench_now_ns());
  for (long i = 0; i < k; i++)
    waitpid(pids[i], NULL, 0);
  close(start[0]);
  close(start[1]);
  close(done[0]);
  close(done[1]);
  return got;
}

int main(int argc, char **argv) {
  if (argc < 2 || (strcmp(argv[1], "pass") && strcmp(argv[1], "fresh")))
    bench_die("usage: w16_peers pass|fresh --mb N [--threads K] "
              "[--chunk-mb C] [--passes P] [--impl NAME]");
  int fresh = strcmp(argv[1], "fresh") == 0;
  size_t size = (size_t)bench_arg_long(argc, argv, "--mb", 128) << 20;
  long k = bench_arg_long(argc, argv, "--threads", 1);
  size_t chunk = (size_t)bench_arg_long(argc, argv, "--chunk-mb", 8) << 20;
  long passes = bench_arg_long(argc, argv, "--passes", 4);
  const char *impl = bench_arg_str(argc, argv, "--impl", "c-pass");
  if (k < 1 || k > 64 || size % ((size_t)k * 4096) || chunk == 0)
    bench_die("w16_peers: --mb must split into --threads page-sized shares");

  int fd = memfd_create("w16", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, (off_t)size) != 0)
    bench_die("w16_peers: memfd: %s", strerror(errno));
  uint8_t *buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (buf == MAP_FAILED)
    bench_die("w16_peers: mmap: %s", strerror(errno));
  for (size_t i = 0; i < size; i++)
    buf[i] = (uint8_t)(i * 131 >> 12);
  uint64_t want = sum_words(buf, size); /* also a warm-up */

  share_t s[64];
  pthread_t t[64];
  for (long i = 0; i < k; i++)
    s[i] = (share_t){fd,    fresh, buf, size / (size_t)k * (size_t)i,
                     size / (size_t)k, fresh ? chunk : size, passes, 0};
  uint64_t got = 0;
  double secs;
  if (fresh) {
    got = run_forked(s, k, &secs);
  } else {
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < k; i++)
      if (pthread_create(&t[i], NULL, run, &s[i]) != 0)
        bench_die("w16_peers: pthread_create failed");
    for (long i = 0; i < k; i++) {
      pthread_join(t[i], NULL);
      got += s[i].sum;
    }
    secs = bench_secs(t0, bench_now_ns());
  }
  if (got != want * (uint64_t)passes)
    bench_die("w16_peers: wrong sum");
  munmap(buf, size);
  close(fd);
  bench_emit("W16", impl, "bandwidth", "MB/s",
             (double)size * (double)passes / secs / 1e6);
  return 0;
}
