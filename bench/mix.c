/* W15's size mix; see mix.h. peers.py repeats this arithmetic exactly
   (splitmix64, then exp() of a 53-bit fraction): keep the two in step. */
#include "mix.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

size_t bench_mix_sizes(size_t *sizes, long n, uint64_t seed) {
  const double span = log((double)BENCH_MIX_MAX / BENCH_MIX_MIN);
  size_t total = 0;
  for (long i = 0; i < n; i++) {
    double u = (double)(splitmix64(&seed) >> 11) * 0x1p-53;
    size_t s = (size_t)floor(BENCH_MIX_MIN * exp(u * span));
    sizes[i] = s > BENCH_MIX_MAX ? BENCH_MIX_MAX : s;
    total += sizes[i];
  }
  return total;
}
