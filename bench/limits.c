/*
 * limits: entry point and the modes' table; see limits.h. The CPU noise
 * check is in limits_thread.c (it needs two threads).
 */
#include "limits.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static const char *workload = "W0", *impl = "c";

void lim_emit(const char *metric, const char *unit, double value) {
  bench_emit(workload, impl, metric, unit, value);
}

void lim_write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      bench_die("limits: write: %s", strerror(errno));
    p += n;
    len -= (size_t)n;
  }
}

void lim_read_all(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      bench_die("limits: read: %s", n == 0 ? "end of file" : strerror(errno));
    p += n;
    len -= (size_t)n;
  }
}

static void calibrate(int argc, char **argv) {
  long ms = bench_arg_long(argc, argv, "--ms", 10);
  printf("CALIBRATE iters=%llu ms=%ld\n",
         (unsigned long long)bench_calibrate((double)ms), ms);
}

static const struct {
  const char *name;
  lim_mode_fn run;
} modes[] = {
    {"pingpong", lim_pingpong},
    {"pipe-bw", lim_pipe_bw},
    {"pipe-mix", lim_pipe_mix},
    {"vmsplice-bw", lim_vmsplice_bw},
    {"memcpy-bw", lim_memcpy_bw},
    {"dispatch", lim_dispatch},
    {"fork-cycle", lim_fork_cycle},
    {"spawn-cycle", lim_spawn_cycle},
    {"noipc", lim_noipc},
    {"spin", lim_spin},
    {"mutex-queue", lim_mutex_queue},
    {"mutex-rtt", lim_mutex_rtt},
    {"gthreadpool", lim_gthreadpool},
    {"gthreadpool-rtt", lim_gthreadpool_rtt},
    {"noise", lim_noise},
    {"calibrate", calibrate},
};

int main(int argc, char **argv) {
  if (argc >= 2) {
    workload = bench_arg_str(argc, argv, "--workload", workload);
    impl = bench_arg_str(argc, argv, "--impl", impl);
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
      if (strcmp(argv[1], modes[i].name) == 0) {
        modes[i].run(argc, argv);
        return 0;
      }
  }
  fprintf(stderr,
          "usage: limits MODE [--workload W] [--impl NAME] ...\nmodes:");
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
    fprintf(stderr, " %s", modes[i].name);
  fputc('\n', stderr);
  return 2;
}
