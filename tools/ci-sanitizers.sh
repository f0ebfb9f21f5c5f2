#!/usr/bin/env bash
# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer, under
# ThreadSanitizer and under valgrind memcheck, then the frame-decoder fuzzer
# for a bounded time. Fails on any finding. Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup-debian.sh clang libclang-rt-14-dev valgrind

build() { # dir, cmake args...
  local dir=$1
  shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DWPOOL_BUILD_EXAMPLES=OFF \
    -DWPOOL_BUILD_DOCS=OFF "$@" >/dev/null
  cmake --build "$dir" -j >/dev/null
}

echo "== ASan + UBSan"
build build-asan -DWPOOL_SANITIZE=address
# Tests crash workers on purpose: let SIGSEGV and SIGABRT be themselves.
ASAN_OPTIONS=handle_segv=0:handle_abort=0:handle_sigbus=0:detect_leaks=1 \
  UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j2

echo "== TSan"
build build-tsan -DWPOOL_SANITIZE=thread
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:handle_segv=0:handle_abort=0 \
  ctest --test-dir build-tsan --output-on-failure -j2

echo "== valgrind memcheck (the parent process; zero bytes definitely lost)"
build build-vg
vg_failed=0
for args in "errors" "options" "registry --method spawn" \
  $(for s in apply results callbacks map imap producer lifecycle workers \
      threads limits; do for m in fork spawn thread; do
        echo "$s:--method:$m"; done; done) \
  faults:--method:fork faults:--method:spawn hardening:--method:fork \
  hardening:--method:spawn; do
  a=${args//:/ }
  # shellcheck disable=SC2086
  if ! valgrind -q --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite --show-leak-kinds=definite \
    build-vg/tests/wpool_tests --suite $a >build-vg/vg.log 2>&1; then
    echo "valgrind: FAILED: --suite $a"
    tail -40 build-vg/vg.log
    vg_failed=1
  fi
done
[ "$vg_failed" -eq 0 ]

echo "== fuzz: frame decoders"
CC=clang cmake -S . -B build-fuzz -DWPOOL_BUILD_FUZZ=ON -DWPOOL_BUILD_TESTS=OFF \
  -DWPOOL_BUILD_EXAMPLES=OFF -DWPOOL_BUILD_DOCS=OFF >/dev/null
cmake --build build-fuzz -j >/dev/null
mkdir -p build-fuzz/corpus
build-fuzz/fuzz/fuzz_frames -max_total_time="${WPOOL_FUZZ_SECONDS:-30}" \
  -print_final_stats=1 build-fuzz/corpus 2>&1 | tail -12
echo "sanitizers: all clean"
