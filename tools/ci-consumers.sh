#!/usr/bin/env bash
# CI stage for packaging, run by .ci/run after the tests. It checks wpool the
# way its users get it:
#  1. builds wpool shared (running the whole test suite again, with the
#     exported-symbols test) and static, and installs each into its own
#     temporary prefix with cmake --install;
#  2. builds tests/consumer against each prefix with find_package(wpool) and
#     with pkg-config (plain cc), so four ways, plus once from the source tree
#     with add_subdirectory, and runs each with fork, spawn and thread
#     workers;
#  3. builds the API reference with Doxygen warnings as errors, and checks
#     that the install has a man page for every public function.
# Fails at the first failure. Needs tools/setup-debian.sh's packages,
# doxygen and man-db (installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
start=$SECONDS
work=$(mktemp -d "${TMPDIR:-/tmp}/wpool-ci.XXXXXX")
trap 'rm -rf "$work"' EXIT

step() { printf '\n== %s\n' "$*"; }

if ! command -v doxygen >/dev/null || ! command -v man >/dev/null; then
  tools/setup-debian.sh doxygen man-db
fi

# Where an install put wpool.pc (lib/, lib64/ or lib/<multiarch>/).
pcdir() { dirname "$(find "$1" -name wpool.pc -print -quit)"; }

# run_consumer <binary> <shared|static>: check how it links, then run it
# with every worker method.
run_consumer() {
  local bin=$1 kind=$2
  if readelf -d "$bin" | grep -q 'NEEDED.*libwpool'; then
    [ "$kind" = shared ] || { echo "$bin: links libwpool dynamically"; return 1; }
  else
    [ "$kind" = static ] || { echo "$bin: does not link libwpool.so"; return 1; }
  fi
  for method in fork spawn thread; do
    "$bin" "$method"
  done
}

for kind in shared static; do
  prefix=$work/prefix-$kind
  build=$work/build-$kind
  step "wpool $kind: build and install into $prefix"
  if [ "$kind" = shared ]; then
    # The shared build runs the tests again (the symbols test only exists
    # there) and builds the API reference.
    extra=(-DBUILD_SHARED_LIBS=ON -DWPOOL_BUILD_TESTS=ON
           -DWPOOL_BUILD_EXAMPLES=ON -DWPOOL_BUILD_DOCS=ON
           -DWPOOL_DOCS_WERROR=ON)
  else
    extra=(-DBUILD_SHARED_LIBS=OFF -DWPOOL_BUILD_TESTS=OFF
           -DWPOOL_BUILD_EXAMPLES=OFF)
  fi
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DWPOOL_WERROR=ON \
    -DCMAKE_INSTALL_PREFIX="$prefix" "${extra[@]}" >/dev/null
  cmake --build "$build" -j
  if [ "$kind" = shared ]; then
    # The MPI suites ran in the build+test stage already.
    ctest --test-dir "$build" --output-on-failure -j2 -LE mpi
    ctest --test-dir "$build" -R '^symbols$' -V | sed -n 's/^[0-9]*: //p'
    step "API reference (Doxygen, warnings are errors)"
    cmake --build "$build" --target docs
    test -f "$build/docs/html/index.html"
  fi
  cmake --install "$build" >/dev/null
  step "installed files ($kind)"
  (cd "$prefix" && find . ! -type d ! -path './share/man/*' | sort |
    sed 's|^\./|  |')
  tools/check-man.sh "$prefix/share/man"

  step "consumer, find_package, $kind"
  cmake -S tests/consumer -B "$work/fp-$kind" -DCMAKE_PREFIX_PATH="$prefix"
  cmake --build "$work/fp-$kind"
  run_consumer "$work/fp-$kind/consumer" "$kind"

  step "consumer, pkg-config, $kind"
  export PKG_CONFIG_PATH
  PKG_CONFIG_PATH=$(pcdir "$prefix")
  if [ "$kind" = shared ]; then
    flags=$(pkg-config --cflags --libs wpool)
  else
    flags=$(pkg-config --static --cflags --libs wpool)
  fi
  echo "cc main.c $flags"
  # shellcheck disable=SC2086
  cc -Wall -Wextra -Werror -o "$work/pc-$kind" tests/consumer/main.c $flags
  LD_LIBRARY_PATH=$(pkg-config --variable=libdir wpool) \
    run_consumer "$work/pc-$kind" "$kind"
  if [ -f "$prefix/include/wpool_mpi.h" ]; then
    step "MPI component consumer, find_package(wpool COMPONENTS mpi), $kind"
    cmake -S tests/consumer_mpi -B "$work/fpm-$kind" \
      -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
    cmake --build "$work/fpm-$kind"
    step "MPI component consumer, pkg-config wpool-mpi, $kind"
    if [ "$kind" = shared ]; then
      flags=$(pkg-config --cflags --libs wpool-mpi)
    else
      flags=$(pkg-config --static --cflags --libs wpool-mpi)
    fi
    echo "cc main.c $flags"
    # shellcheck disable=SC2086
    cc -Wall -Wextra -Werror -o "$work/pcm-$kind" tests/consumer_mpi/main.c \
      $flags
    for bin in "$work/fpm-$kind/consumer_mpi" "$work/pcm-$kind"; do
      for method in fork spawn; do
        LD_LIBRARY_PATH=$(pkg-config --variable=libdir wpool) \
          OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
          timeout 120 mpiexec --oversubscribe -n 3 "$bin" "$method"
      done
    done
  fi
  unset PKG_CONFIG_PATH
done

step "the version file accepts the same major version only"
if cmake -S tests/consumer -B "$work/fp-v1" \
  -DCMAKE_PREFIX_PATH="$work/prefix-shared" -DWPOOL_FIND_VERSION=1.0 \
  >"$work/fp-v1.log" 2>&1; then
  echo "find_package(wpool 1.0) accepted wpool $(
    sed -n 's/.*#define WPOOL_VERSION_STRING "\(.*\)"/\1/p' \
      "$work/prefix-shared/include/wpool_version.h")"
  exit 1
fi
grep -q 'wpoolConfig.cmake, version: ' "$work/fp-v1.log"
echo "find_package(wpool 1.0) refused, as it should"

step "consumer, add_subdirectory of the source tree"
cmake -S tests/consumer -B "$work/sub" -DWPOOL_SOURCE_DIR="$src" >/dev/null
cmake --build "$work/sub" -j
run_consumer "$work/sub/consumer" static

step "packaging stage passed in $((SECONDS - start)) s"
