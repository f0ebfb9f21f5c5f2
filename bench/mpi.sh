#!/bin/sh
# W17, the MPI transport beside the local pool (see mpi_bench.c): builds the
# benchmark (as run.sh does) and runs mpi_bench under mpiexec with 1 and 2
# serving ranks, then prints medians and ratios:
#
#   bench/mpi.sh [--reps N] [--task-us N] [--items N] [--applies N]
#
# apply: MPI round trip / local round trip (target <= 2).
# map:   MPI over K ranks / (K x one local worker) (target >= 0.8).
# delay: map of 10 ms (sleeping) tasks with 5 ms added to every message /
#        without (target >= 0.9).
# Needs an MPI (Open MPI: openmpi-bin libopenmpi-dev). Not a test.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/out"
build="$out/build"
mkdir -p "$out"
[ -f "$build/CMakeCache.txt" ] ||
  cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$out/build.log"
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target mpi_bench \
  >>"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
flags=""
mpiexec --version 2>/dev/null | grep -Eq "Open MPI|OpenRTE" &&
  flags="--oversubscribe" &&
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
: >"$out/mpi.txt"
for n in 2 3; do
  # shellcheck disable=SC2086
  mpiexec $flags -n "$n" "$build/mpi_bench" "$@" | tee -a "$out/mpi.txt"
done
# A slow link: every message held 5 ms after it arrives (so 10 ms more per
# round trip), against the same run without it, on 10 ms tasks that sleep
# (computing ones would measure the CPUs the processes share here).
# shellcheck disable=SC2086
mpiexec $flags -n 3 "$build/mpi_bench" --task-us 10000 --applies 200 \
  --nap 1 --tag .t10 "$@" | tee -a "$out/mpi.txt"
# shellcheck disable=SC2086
mpiexec $flags -n 3 -x WPOOL_MPI_TEST_DELAY_US=5000 "$build/mpi_bench" \
  --task-us 10000 --applies 200 --nap 1 --tag .t10.d5 "$@" |
  tee -a "$out/mpi.txt"
awk '
  /^RESULT/ {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    key = f["impl"] SUBSEP f["metric"]
    n[key]++; v[key, n[key]] = f["value"]; impls[f["impl"]] = 1
    metrics[f["metric"]] = f["unit"]
  }
  function median(key,   m, i, j, t, a) {
    m = n[key]; for (i = 1; i <= m; i++) a[i] = v[key, i]
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++)
      if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
  }
  END {
    printf "\n%-16s %-8s %14s %14s %8s  %s\n", "metric", "impl", "local-1",
      "mpi", "ratio", "target"
    for (x = 1; x <= 2; x++) {
      m = x == 1 ? "map_rate" : "map_rate_chunk1"
      a = "mpi-2.t10" SUBSEP m; b = "mpi-2.t10.d5" SUBSEP m
      if ((a in n) && (b in n))
        printf "%-16s %-8s %10.0f /s %10.0f /s %8.2f  >= 0.9 (5 ms delay / none, 10 ms tasks)\n",
          m, "delay", median(a), median(b), median(b) / median(a)
    }
    for (k = 1; k <= 2; k++) {
      impl = "mpi-" k
      if (!((impl SUBSEP "apply_latency") in n)) continue
      lo = median("local-1.k" k SUBSEP "apply_latency")
      mp = median(impl SUBSEP "apply_latency")
      printf "%-16s %-8s %11.1f us %11.1f us %8.2f  <= 2 (mpi / local)\n",
        "apply", impl, lo, mp, mp / lo
      split("map_rate map_rate_chunk1", ms, " ")
      for (x = 1; x <= 2; x++) {
        lo = median("local-1.k" k SUBSEP ms[x]); mp = median(impl SUBSEP ms[x])
        printf "%-16s %-8s %10.0f /s %10.0f /s %8.2f  >= 0.8 (mpi / (%d x local))\n",
          ms[x], impl, lo, mp, mp / (k * lo), k
      }
    }
  }' "$out/mpi.txt"
