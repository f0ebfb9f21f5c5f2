/*
 * Helpers shared by the benchmark's C programs (wpool_bench and limits):
 * the clock, the output line the runner parses, CPU pinning, the arithmetic
 * kernel of W7, peak memory, and argument parsing.
 *
 * Every measurement is printed as one line:
 *
 *   RESULT workload=W2 impl=wpool-fork metric=apply_latency unit=us value=52.1
 *
 * and bench/run.py collects them; other lines are free text for people.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* Seconds between two bench_now_ns() readings. */
double bench_secs(uint64_t t0, uint64_t t1);

/* Print one RESULT line (and flush, so that a crash later loses nothing). */
void bench_emit(const char *workload, const char *impl, const char *metric,
                const char *unit, double value);

/* Print a message to stderr and exit with status 1. */
void bench_die(const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;

/* Pin the calling thread to one CPU: 0, or -1 when that CPU does not exist. */
int bench_pin(int cpu);

/* Number of CPUs this process may run on. */
int bench_ncpus(void);

/*
 * The CPU-bound kernel of W7 and of the noise check: iters rounds of
 * xorshift, a chain of dependent operations the compiler cannot shorten.
 * About 1 ns per round on current x86.
 */
uint64_t bench_crunch(uint64_t iters, uint64_t seed);

/* Rounds of bench_crunch() that take about ms milliseconds here. */
uint64_t bench_calibrate(double ms);

/* Peak resident set of this process in KiB (VmHWM), or -1. */
long bench_vm_hwm_kib(void);

/* "--name value" from argv, or def when absent. */
long bench_arg_long(int argc, char **argv, const char *name, long def);
const char *bench_arg_str(int argc, char **argv, const char *name,
                          const char *def);

#endif /* BENCH_COMMON_H */
