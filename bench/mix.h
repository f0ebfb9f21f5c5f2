/*
 * W15's size mix, shared by wpool_bench, limits and (re-implemented,
 * bit for bit) peers.py: n sizes from 16 B to 4 MiB, log-uniform, from a
 * fixed seed, so that wpool, the C pipe limit and Python's Pool move the
 * same bytes in the same messages.
 */
#ifndef BENCH_MIX_H
#define BENCH_MIX_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_MIX_MIN 16u
#define BENCH_MIX_MAX (4u << 20)
#define BENCH_MIX_SEED 15u

/* Fill sizes[0..n-1]; returns their sum. */
size_t bench_mix_sizes(size_t *sizes, long n, uint64_t seed);

#endif /* BENCH_MIX_H */
