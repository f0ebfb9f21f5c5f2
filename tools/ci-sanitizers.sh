#!/usr/bin/env bash
# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer, under
# ThreadSanitizer and under valgrind memcheck, then the frame-decoder fuzzer
# for a bounded time. Fails on any finding. Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup-debian.sh clang libclang-rt-14-dev valgrind

# Each stage says how long it took (CI's budget is 30 minutes on 2 cores).
stage_name="" stage_t0=$SECONDS
stage() {
  [ -z "$stage_name" ] || echo "== $stage_name: done in $((SECONDS - stage_t0)) s"
  stage_name=$1 stage_t0=$SECONDS
  [ -z "$1" ] || echo "== $1"
}

build() { # dir, cmake args...
  local dir=$1
  shift
  # Without the MPI component: MPI's own allocations and threads are not
  # clean under sanitizers and valgrind, and the MPI tests (label mpi) run
  # in the build+test stage.
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DWPOOL_BUILD_EXAMPLES=OFF \
    -DWPOOL_BUILD_DOCS=OFF -DWPOOL_MPI=OFF "$@" >/dev/null
  cmake --build "$dir" -j >/dev/null
}

stage "ASan + UBSan"
# With failure injection, so that core.create_error_paths drives every error
# path of wpool_create under AddressSanitizer (it is skipped elsewhere).
build build-asan -DWPOOL_SANITIZE=address -DWPOOL_FAULT_INJECTION=ON
# Tests crash workers on purpose: let SIGSEGV and SIGABRT be themselves.
ASAN_OPTIONS=handle_segv=0:handle_abort=0:handle_sigbus=0:detect_leaks=1 \
  UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j2

stage "TSan"
build build-tsan -DWPOOL_SANITIZE=thread
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:handle_segv=0:handle_abort=0 \
  ctest --test-dir build-tsan --output-on-failure -j2

stage "valgrind memcheck (the parent process; zero bytes definitely lost)"
build build-vg -DWPOOL_FAULT_INJECTION=ON
# Every run of the test program that CTest knows (each suite once per
# method it is registered for), from CTest's own list: a hand-kept copy
# falls behind when a suite is added.
vg_list=build-vg/vg-tests.txt
ctest --test-dir build-vg -N -V |
  sed -n 's%^[0-9]*: Test command: [^ ]*/wpool_tests \(.*\)$%\1%p' |
  tr -d '"' >"$vg_list"
vg_count=$(wc -l <"$vg_list")
if [ "$vg_count" -lt 10 ]; then
  echo "valgrind: CTest listed only $vg_count test program runs" >&2
  exit 1
fi
echo "valgrind: $vg_count runs of the test program, $(nproc) at a time"
# One run: its status in <log>.rc, its output in <log> (kept for the report).
vg_one() {
  local log
  log=build-vg/vg-$(printf '%s' "$*" | tr -c 'a-z0-9' '_').log
  local rc=0
  # A hang fails this run (timeout's 124) instead of stalling CI.
  timeout -k 10 600 valgrind -q --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite --show-leak-kinds=definite \
    build-vg/tests/wpool_tests "$@" >"$log" 2>&1 </dev/null || rc=$?
  echo "$rc" >"$log.rc"
}
export -f vg_one
rm -f build-vg/vg-*.log build-vg/vg-*.log.rc
# shellcheck disable=SC2016 # expanded by the inner shell
xargs -P "$(nproc)" -L 1 bash -c 'vg_one "$@"' vg_one <"$vg_list" || true
vg_failed=0 vg_skipped=0
while read -r args; do
  log=build-vg/vg-$(printf '%s' "$args" | tr -c 'a-z0-9' '_').log
  rc=$(cat "$log.rc" 2>/dev/null || echo "no status")
  case $rc in
  0) ;;
  77) vg_skipped=$((vg_skipped + 1)) ;; # the suite does not apply
  *)
    echo "valgrind: FAILED ($rc): $args"
    tail -40 "$log"
    vg_failed=$((vg_failed + 1))
    ;;
  esac
done <"$vg_list"
echo "valgrind: $vg_count runs, $vg_failed failed, $vg_skipped skipped"
[ "$vg_failed" -eq 0 ]

stage "fuzz: frame decoders"
CC=clang cmake -S . -B build-fuzz -DWPOOL_BUILD_FUZZ=ON -DWPOOL_BUILD_TESTS=OFF \
  -DWPOOL_BUILD_EXAMPLES=OFF -DWPOOL_BUILD_DOCS=OFF >/dev/null
cmake --build build-fuzz -j >/dev/null
mkdir -p build-fuzz/corpus
build-fuzz/fuzz/fuzz_frames -max_total_time="${WPOOL_FUZZ_SECONDS:-30}" \
  -print_final_stats=1 build-fuzz/corpus 2>&1 | tail -12
stage ""
echo "sanitizers: all clean"
