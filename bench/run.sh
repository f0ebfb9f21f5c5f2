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

# What the peers need, installed like tools/setup-debian.sh installs the
# tests' needs, so that a fresh machine has no row "n/a": python3 (the
# Python peers, the table) and GLib (the GThreadPool peer of W9). The quick
# mode tries too but goes on without them when it cannot install (no
# apt-get, no sudo), since it only proves that the benchmark runs.
peer_pkgs="python3 pkg-config libglib2.0-dev"
install_peers() {
  command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 ||
    { echo "bench: not a Debian system: install python3 and GLib (glib-2.0) by hand" >&2; return 1; }
  missing=""
  for p in $peer_pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  echo "bench: installing what the peers need with apt-get:$missing" >&2
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get update -q &&
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
}
if ! install_peers >"$out/setup.log" 2>&1; then
  cat "$out/setup.log" >&2
  if [ "$quick" = 0 ]; then
    echo "bench: could not install the peers' packages ($peer_pkgs)" >&2
    exit 1
  fi
  echo "bench: going on without them (quick mode)" >&2
fi
# A build configured before GLib was installed has its absence cached:
# configure again so that the GThreadPool peer is built.
if [ -f "$build/CMakeCache.txt" ] && ! grep -q '^GLIB_FOUND:INTERNAL=1' "$build/CMakeCache.txt" &&
  pkg-config --exists glib-2.0 2>/dev/null; then
  rm -f "$build/CMakeCache.txt"
fi

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
  if [ "$quick" = 1 ]; then
    # Quick mode without Python (it could not be installed): run the C side once at tiny sizes so that CI
    # still proves it works; the Python peers, the table, the CSV and the
    # chart need python3 and are skipped.
    echo "bench: python3 not found: skipping the Python peers, the table," \
      "results.csv and the chart" >&2
    set -x
    for m in fork spawn thread; do
      for w in W1 W2 W3 W4 W5 W8; do "$build/wpool_bench" $w --method $m --n 100; done
      "$build/wpool_bench" W6 --method $m --n 2 --n2 1
      "$build/wpool_bench" W16 --method $m --n 2 --n2 1
      "$build/wpool_bench" W16-pss --method $m --n 16
      "$build/wpool_bench" W7 --method $m --n 4 --iters 100000
      "$build/wpool_bench" W11 --method $m --n 10000
      "$build/wpool_bench" W14 --method $m --n 80
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
    if [ -x "$build/w16_peers" ]; then
      "$build/w16_peers" pass --mb 8 --threads 2 --passes 1
      "$build/w16_peers" fresh --mb 8 --threads 2 --passes 1 --chunk-mb 2
    fi
    exit 0
  fi
  echo "bench: python3 not found" >&2
  exit 1
fi
exec python3 "$here/run.py" --build-dir "$build" "$@"
