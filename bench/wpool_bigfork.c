/*
 * W12: a fork pool in a program with a large touched heap (see
 * wpool_bigfork.h). Every copy of the parent costs a page-table copy at
 * fork and its teardown at exit, in proportion to the touched memory: the
 * peer is one such copy, made and ended by hand in the same process, in
 * the same repetitions.
 */
#include "wpool_bigfork.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <wpool.h>

#include "common.h"
#include "wpool_tasks.h"

static void wait_child(pid_t pid) {
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      bench_die("wpool_bench W12: waitpid: %s", strerror(errno));
}

static void need(int rc, const char *what, char *msg) {
  if (rc != 0)
    bench_die("wpool_bench W12: %s: %s%s%s", what, wpool_err_name(rc),
              msg ? ": " : "", msg ? msg : "");
}

/* One pool's life; its phases in ms: create, apply, close + join,
   destroy. */
static void pool_cycle(wpool_method_t method, double ms[4]) {
  wpool_options_t o;
  wpool_options_init(&o);
  o.processes = 2;
  o.method = method;
  wpool_t *pool = NULL;
  char *msg = NULL;
  uint64_t t0 = bench_now_ns();
  need(wpool_create(&pool, &o, &msg), "wpool_create", msg);
  uint64_t t1 = bench_now_ns();
  int x = 7;
  void *out = NULL;
  size_t len = 0;
  need(wpool_apply(pool, square, &x, sizeof x, &out, &len, &msg), "wpool_apply",
       msg);
  if (len != sizeof(int) || *(int *)out != 49)
    bench_die("wpool_bench W12: wrong apply result");
  wpool_free(out);
  uint64_t t2 = bench_now_ns();
  need(wpool_close(pool), "wpool_close", NULL);
  need(wpool_join(pool), "wpool_join", NULL);
  uint64_t t3 = bench_now_ns();
  wpool_destroy(pool);
  uint64_t t4 = bench_now_ns();
  ms[0] = bench_secs(t0, t1) * 1e3;
  ms[1] = bench_secs(t1, t2) * 1e3;
  ms[2] = bench_secs(t2, t3) * 1e3;
  ms[3] = bench_secs(t3, t4) * 1e3;
}

/* The peer: one copy of this process, ended at once and waited for. */
static double bare_fork_ms(void) {
  uint64_t t0 = bench_now_ns();
  pid_t pid = fork();
  if (pid == 0)
    _exit(0);
  if (pid < 0)
    bench_die("wpool_bench W12: fork: %s", strerror(errno));
  wait_child(pid);
  return bench_secs(t0, bench_now_ns()) * 1e3;
}

/* The same cycle cut in two, the units of every fork pool's cost: fork()
   (the page-table copy) and _exit + waitpid (the copy's teardown). The
   child waits until the parent has read the clock, or it could end before
   the parent returns from fork() and the halves would mean nothing. */
static void split_fork_ms(double ms[2]) {
  int go[2];
  if (pipe(go) != 0)
    bench_die("wpool_bench W12: pipe: %s", strerror(errno));
  uint64_t t0 = bench_now_ns();
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    close(go[1]);
    while (read(go[0], &c, 1) < 0 && errno == EINTR)
      ;
    _exit(0);
  }
  if (pid < 0)
    bench_die("wpool_bench W12: fork: %s", strerror(errno));
  uint64_t t1 = bench_now_ns();
  close(go[1]); /* end of file: the child goes */
  wait_child(pid);
  ms[0] = bench_secs(t0, t1) * 1e3;
  ms[1] = bench_secs(t1, bench_now_ns()) * 1e3;
  close(go[0]);
}

/* Work a pool left to the background (a fork server's copy ends off the
   pool's path) must not land in the next measurement: a pause, outside
   every figure, lets it finish. */
static void settle(void) {
  struct timespec ts = {0, 50 * 1000 * 1000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

static void emit_pool(const char *impl, const double ms[4]) {
  bench_emit("W12", impl, "start_to_join", "ms", ms[0] + ms[1] + ms[2] + ms[3]);
  bench_emit("W12", impl, "create", "ms", ms[0]);
  bench_emit("W12", impl, "apply", "ms", ms[1]);
  bench_emit("W12", impl, "close_join", "ms", ms[2]);
  bench_emit("W12", impl, "destroy", "ms", ms[3]);
}

void w12_bigfork(long mb, long reps, int huge) {
  size_t size = (size_t)mb << 20;
  unsigned char *heap = malloc(size);
  if (heap == NULL)
    bench_die("wpool_bench W12: cannot allocate %ld MiB", mb);
  long page = sysconf(_SC_PAGESIZE);
  const char *sfx = "";
#ifdef MADV_HUGEPAGE
  /* The program's choice, not the pool's: transparent huge pages make a
     copy's page tables 512 times smaller (where the kernel grants them). */
  if (huge) {
    if (madvise((void *)((uintptr_t)heap & ~(uintptr_t)(page - 1)), size,
                MADV_HUGEPAGE) != 0)
      bench_die("wpool_bench W12: madvise: %s", strerror(errno));
    sfx = "-thp";
  }
#else
  if (huge)
    bench_die("wpool_bench W12: no MADV_HUGEPAGE here");
#endif
  char fork_impl[64], spawn_impl[64], peer_impl[64];
  snprintf(fork_impl, sizeof fork_impl, "wpool-fork%s", sfx);
  snprintf(spawn_impl, sizeof spawn_impl, "wpool-spawn%s", sfx);
  snprintf(peer_impl, sizeof peer_impl, "c-fork-bigparent%s", sfx);
  for (size_t i = 0; i < size; i += (size_t)page) /* every page resident */
    heap[i] = (unsigned char)(i >> 12 | 1);
  double ms[4], bare[2];
  pool_cycle(WPOOL_FORK, ms); /* warm-up: loading, first registrations */
  pool_cycle(WPOOL_SPAWN, ms);
  settle();
  bare_fork_ms();
  for (long r = 0; r < reps; r++) {
    pool_cycle(WPOOL_FORK, ms);
    emit_pool(fork_impl, ms);
    settle();
    bench_emit("W12", peer_impl, "cycle_time", "ms", bare_fork_ms());
    split_fork_ms(bare);
    bench_emit("W12", peer_impl, "fork", "ms", bare[0]);
    bench_emit("W12", peer_impl, "exit_wait", "ms", bare[1]);
    pool_cycle(WPOOL_SPAWN, ms);
    emit_pool(spawn_impl, ms);
    settle();
  }
  /* Read back, so that the touching cannot be optimised away. */
  unsigned sum = 0;
  for (size_t i = 0; i < size; i += (size_t)page)
    sum += heap[i];
  printf("W12: %ld MiB touched (check %u)\n", mb, sum);
  free(heap);
}
