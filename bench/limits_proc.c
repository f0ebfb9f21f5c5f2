/*
 * Process limits: the fork+exit+wait and posix_spawn+wait cycles (W1, W8),
 * and W7's speed-up of C processes that share no data (the ceiling for any
 * pool's speed-up in the same run).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "limits.h"

extern char **environ;

static void wait_ok(pid_t pid) {
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      bench_die("limits: waitpid: %s", strerror(errno));
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    bench_die("limits: child failed (status %d)", st);
}

static void emit_cycle(long n, double s) {
  lim_emit("cycle_time", "ms", s * 1e3 / (double)n);
  lim_emit("cycle_rate", "per_s", (double)n / s);
}

/* fork, _exit(0) in the child, waitpid in the parent: --n times. */
void lim_fork_cycle(int argc, char **argv) {
  long n = bench_arg_long(argc, argv, "--n", 1000);
  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid == 0)
      _exit(0);
    if (pid < 0)
      bench_die("limits: fork: %s", strerror(errno));
    wait_ok(pid);
  }
  emit_cycle(n, bench_secs(t0, bench_now_ns()));
}

/*
 * posix_spawn of a minimal program (--path, /bin/true by default: the cost
 * of exec and of the dynamic loader, not of this program) and waitpid.
 */
void lim_spawn_cycle(int argc, char **argv) {
  long n = bench_arg_long(argc, argv, "--n", 300);
  const char *path = bench_arg_str(argc, argv, "--path", "/bin/true");
  char *args[] = {(char *)path, NULL};
  uint64_t t0 = bench_now_ns();
  for (long i = 0; i < n; i++) {
    pid_t pid;
    int rc = posix_spawn(&pid, path, NULL, NULL, args, environ);
    if (rc != 0)
      bench_die("limits: posix_spawn %s: %s", path, strerror(rc));
    wait_ok(pid);
  }
  emit_cycle(n, bench_secs(t0, bench_now_ns()));
}

/* Seconds for `procs` forked processes to crunch n items between them. */
static double crunch_procs(int procs, long n, uint64_t iters) {
  pid_t pids[16];
  uint64_t t0 = bench_now_ns();
  for (int p = 0; p < procs; p++) {
    pids[p] = fork();
    if (pids[p] == 0) {
      volatile uint64_t sink = 0;
      for (long i = p; i < n; i += procs) /* a static split: no IPC at all */
        sink += bench_crunch(iters, (uint64_t)i + 1);
      (void)sink;
      _exit(0);
    }
    if (pids[p] < 0)
      bench_die("limits: fork: %s", strerror(errno));
  }
  for (int p = 0; p < procs; p++)
    wait_ok(pids[p]);
  return bench_secs(t0, bench_now_ns());
}

/* W7's ceiling: --n items of --iters rounds on 1 process, then on 2. */
void lim_noipc(int argc, char **argv) {
  long n = bench_arg_long(argc, argv, "--n", 200);
  uint64_t iters = (uint64_t)bench_arg_long(argc, argv, "--iters", 10000000);
  int procs = (int)bench_arg_long(argc, argv, "--processes", 2);
  if (procs < 1 || procs > 16)
    bench_die("limits: noipc: 1 to 16 processes");
  double t1 = crunch_procs(1, n, iters), t2 = crunch_procs(procs, n, iters);
  lim_emit("speedup", "x", t1 / t2);
  lim_emit("secs_1_worker", "s", t1);
  lim_emit("secs_2_workers", "s", t2);
}
