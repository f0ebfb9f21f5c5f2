/* Helpers shared by the benchmark's C programs; see common.h. */
#define _GNU_SOURCE
#include "common.h"

#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double bench_secs(uint64_t t0, uint64_t t1) { return (double)(t1 - t0) / 1e9; }

void bench_emit(const char *workload, const char *impl, const char *metric,
                const char *unit, double value) {
  printf("RESULT workload=%s impl=%s metric=%s unit=%s value=%.6g\n", workload,
         impl, metric, unit, value);
  fflush(stdout);
}

void bench_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

int bench_pin(int cpu) {
  cpu_set_t set;
  if (cpu < 0 || cpu >= CPU_SETSIZE)
    return -1;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : -1;
}

int bench_ncpus(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0)
    return 1;
  return CPU_COUNT(&set);
}

uint64_t bench_crunch(uint64_t iters, uint64_t seed) {
  uint64_t x = seed | 1;
  for (uint64_t i = 0; i < iters; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}

uint64_t bench_calibrate(double ms) {
  /* Best of a few timings of a 2^18-round block (~0.4 ms): the least
     disturbed one. */
  const uint64_t block = 1u << 18;
  double best = 1e9;
  volatile uint64_t sink = 0;
  for (int i = 0; i < 7; i++) {
    uint64_t t0 = bench_now_ns();
    sink += bench_crunch(block, (uint64_t)i + 1);
    double s = bench_secs(t0, bench_now_ns());
    if (s < best)
      best = s;
  }
  (void)sink;
  return (uint64_t)((double)block * (ms / 1e3) / best);
}

long bench_vm_hwm_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = -1;
  if (!f)
    return -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmHWM:", 6) == 0) {
      kib = strtol(line + 6, NULL, 10);
      break;
    }
  fclose(f);
  return kib;
}

long bench_arg_long(int argc, char **argv, const char *name, long def) {
  const char *s = bench_arg_str(argc, argv, name, NULL);
  if (!s)
    return def;
  char *end;
  double v = strtod(s, &end); /* accepts 1e6 */
  if (*end != '\0')
    bench_die("bad value for %s: %s", name, s);
  return (long)v;
}

const char *bench_arg_str(int argc, char **argv, const char *name,
                          const char *def) {
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0)
      return argv[i + 1];
  return def;
}
