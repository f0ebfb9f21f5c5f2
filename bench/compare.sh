#!/bin/sh
# wpool against an earlier wpool, in the same run:
#
#   bench/compare.sh REV [REPS] [WORKLOADS]
#
# builds the benchmark driver of git revision REV (exported with git archive
# into bench/out/compare, never checked out over this tree) and of this tree,
# both Release, then runs WORKLOADS (default "W2 W3 W4 W5") for fork, spawn
# and thread, REPS times (default 5), alternating the two builds run by run
# so that both see the same machine. Prints the median of each figure and
# the ratio this tree / REV (for a latency, below 1 is faster; for a rate,
# above 1). Exit status 0 unless a build or a run fails: a regression is read
# off the table, not asserted.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
rev=${1:?usage: bench/compare.sh REV [REPS] [WORKLOADS]}
reps=${2:-5}
workloads=${3:-"W2 W3 W4 W5"}
out="$here/out/compare"
old="$out/tree-$(git -C "$root" rev-parse --short "$rev")"
mkdir -p "$out"
if [ ! -d "$old" ]; then
  mkdir -p "$old"
  git -C "$root" archive "$rev" | tar -x -C "$old"
fi
build() { # source dir, build dir
  { cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Release &&
    cmake --build "$2" -j "$(nproc 2>/dev/null || echo 2)" --target wpool_bench
  } >"$2.log" 2>&1 || { tail -n 30 "$2.log" >&2; exit 1; }
}
build "$here" "$out/build-new"
# A build of another revision cannot be reconfigured for this one.
grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$old/bench" "$out/build-old/CMakeCache.txt" 2>/dev/null ||
  rm -rf "$out/build-old"
build "$old/bench" "$out/build-old"
results="$out/results.txt"
: >"$results"
for r in $(seq "$reps"); do
  for w in $workloads; do
    for m in fork spawn thread; do
      for t in new old; do
        "$out/build-$t/wpool_bench" "$w" --method "$m" --impl "$t-$m" |
          grep '^RESULT' >>"$results"
      done
    done
  done
  echo "compare: repetition $r of $reps done" >&2
done
python3 - "$results" "$rev" <<'PY'
import statistics, sys
fig = {}
for line in open(sys.argv[1]):
    kv = dict(f.split("=", 1) for f in line.split()[1:])
    tree, method = kv["impl"].split("-", 1)
    key = (kv["workload"], method, kv["metric"], kv["unit"])
    fig.setdefault(key, {}).setdefault(tree, []).append(float(kv["value"]))
print("%-4s %-7s %-24s %14s %14s %8s" % ("", "method", "metric", "this tree",
                                         sys.argv[2][:12], "ratio"))
for key in sorted(fig):
    v = fig[key]
    if "new" not in v or "old" not in v:
        continue
    n, o = statistics.median(v["new"]), statistics.median(v["old"])
    print("%-4s %-7s %-24s %14.4g %14.4g %8.3f  %s" % (key[0], key[1], key[2],
          n, o, n / o if o else float("nan"), key[3]))
PY
