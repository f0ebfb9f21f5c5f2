#!/bin/sh
# The benchmark's one command (see bench/README.md):
#
#   bench/run.sh            build (CMake, Release), run W1-W11 for wpool and
#                           its peers, 5 repetitions; several minutes
#   bench/run.sh --quick    tiny sizes, 1 repetition: a few seconds; CI runs it
#                           to prove the benchmark still works
#
# Other options go to bench/run.py (--reps N, --only W2,W4, --verbose).
# Results: the table on stdout, bench/out/results.csv and bench/out/chart.png.
# The exit status is 0 even when targets are missed: only a broken benchmark
# (a build failure, a program that fails) makes it fail.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/out"
build="$out/build"
quick=0
for a in "$@"; do
  [ "$a" = "--quick" ] && quick=1
done
mkdir -p "$out"

# Build the library and the benchmark's C programs (Release).
# Configure once; later builds re-run CMake by themselves when a list changes.
configure() {
  [ -f "$build/CMakeCache.txt" ] || cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release
}
if ! { configure && cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)"; } \
  >"$out/build.log" 2>&1; then
  tail -n 30 "$out/build.log" >&2
  echo "bench: build failed (full log: $out/build.log)" >&2
  exit 1
fi

if ! command -v python3 >/dev/null 2>&1; then
  if [ "$quick" = 0 ]; then
    # The peers and the report need Python: install Debian's.
    echo "bench: python3 not found: installing Debian's python3 with apt-get" >&2
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends python3
  else
    # Quick mode without Python: run the C side once at tiny sizes so that CI
    # still proves it works; the Python peers, the table, the CSV and the
    # chart need python3 and are skipped.
    echo "bench: python3 not found: skipping the Python peers, the table," \
      "results.csv and the chart (the full mode installs python3)" >&2
    set -x
    for m in fork spawn thread; do
      for w in W1 W2 W3 W4 W5 W8; do "$build/wpool_bench" $w --method $m --n 100; done
      "$build/wpool_bench" W6 --method $m --n 2 --n2 1
      "$build/wpool_bench" W7 --method $m --n 4 --iters 100000
      "$build/wpool_bench" W11 --method $m --n 10000
    done
    "$build/wpool_bench" W9 --method thread --n 1000 --n2 100 --n3 100
    L="$build/limits"
    $L noise --ms 5; $L pingpong --n 100; $L pingpong --where one --n 100
    $L spin --n 1000; $L fork-cycle --n 10; $L spawn-cycle --n 10
    $L pipe-bw --mb 8; $L vmsplice-bw --mb 8 --write 1048576 --pipe-size 1048576
    $L memcpy-bw --mb 8; $L dispatch --n 10000 --chunk 1250 --depth 2
    $L dispatch --n 1000; $L dispatch --n 1000 --coalesce 1; $L dispatch --n 100 --depth 1
    $L noipc --n 4 --iters 100000; $L mutex-queue --n 1000; $L mutex-rtt --n 100
    $L gthreadpool --n 1000; $L gthreadpool-rtt --n 100
    exit 0
  fi
fi
exec python3 "$here/run.py" --build-dir "$build" "$@"
