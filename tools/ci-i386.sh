#!/usr/bin/env bash
# Build wpool as a 32-bit program (i386, on x86-64 Debian) and run its whole
# test suite: size_t, long and pointers are 32 bits there, which the 64-bit
# builds never try (a length near 4 GiB wraps where a 64-bit build has room:
# issue 9.7). Exit non-zero when anything fails.
#
#   tools/ci-i386.sh            (root, or a user with sudo, on Debian 12)
#
# The compiler and C library for -m32 come from gcc-multilib. APR and CUnit
# for i386 are not installed into the system: Debian's libapr1-dev is not
# "Multi-Arch: same", so installing libapr1-dev:i386 removes libapr1-dev
# (amd64), which every other build needs; and adding the architecture to
# dpkg would change the machine for everyone. Instead the i386 packages of
# APR, CUnit and libuuid (APR's one dependency) are downloaded with a
# private apt configuration, unpacked into $OUT/sysroot and found there with
# pkg-config; the test program finds the libraries through its run path.
# They are kept, so later runs skip that step.
#
# Environment: WPOOL_I386_DIR (default build-i386), JOBS (default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${WPOOL_I386_DIR:-$ROOT/build-i386}
JOBS=${JOBS:-$(nproc)}
PKGS="libapr1 libapr1-dev libuuid1 uuid-dev libcunit1 libcunit1-dev"
# Bump when the way the sysroot is made changes: it is then made again.
SYSROOT_RECIPE=1

step_t0=0
step() {
  step_t0=$SECONDS
  printf '\n== i386: %s\n' "$*"
}
step_done() { printf '== done in %ss\n' "$((SECONDS - step_t0))"; }

T0=$SECONDS
tools/setup-debian.sh gcc-multilib
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SYSROOT=$OUT/sysroot
APT_DIR=$OUT/apt
LIBDIR=$SYSROOT/usr/lib/i386-linux-gnu

# apt with its own sources, lists, cache and (empty) status, for i386 only:
# the system's apt and dpkg state are not touched.
apt_i386() {
  local opts=(-o Dir::Etc::SourceList=/dev/null
    -o Dir::Etc::SourceParts="$APT_DIR/sources.list.d"
    -o Dir::State::Lists="$APT_DIR/lists"
    -o Dir::State::status="$APT_DIR/status"
    -o Dir::Cache="$APT_DIR/cache"
    -o APT::Architecture=i386 -o APT::Architectures=i386)
  # apt drops to its own user to download, which cannot write here.
  [ "$(id -u)" -ne 0 ] || opts+=(-o APT::Sandbox::User=root)
  apt-get -q "${opts[@]}" "$@"
}

# The system's Debian entries (one-line and deb822 formats), binary only;
# other archives (third-party repositories) are left out.
write_source_list() {
  local d=$APT_DIR/sources.list.d f
  rm -rf "$APT_DIR"
  mkdir -p "$d" "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
  : >"$APT_DIR/status"
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    grep -E '^[[:space:]]*deb[[:space:]]+.*/debian[-a-z]*/?[[:space:]]' "$f" \
      >"$d/wpool-$(basename "$f" .list).list" || true
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN { RS = ""; ORS = "\n\n" }
         /(^|\n)Types:[^\n]*deb([ \t]|\n|$)/ && /(^|\n)URIs:[^\n]*\/debian/ &&
         !/(^|\n)Enabled:[[:space:]]*no/ {
           sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb"); sub(/^\n/, "")
           print
         }' "$f" >"$d/wpool-$(basename "$f")"
  done
  grep -qs '^deb\|^Types: deb' "$d"/* || {
    echo "i386: no Debian archive in the apt configuration" >&2
    exit 1
  }
}

sysroot_stamp() { printf 'recipe %s\npackages %s\n' "$SYSROOT_RECIPE" "$PKGS"; }

make_sysroot() {
  if [ -f "$SYSROOT/stamp" ] && [ "$(cat "$SYSROOT/stamp")" = "$(sysroot_stamp)" ]; then
    echo "i386: APR and CUnit for i386 are cached in $SYSROOT"
    return 0
  fi
  step "downloading and unpacking $PKGS for i386"
  write_source_list
  apt_i386 update
  rm -rf "$SYSROOT" "$OUT/debs"
  mkdir -p "$SYSROOT" "$OUT/debs"
  # shellcheck disable=SC2086 # a list of package names
  (cd "$OUT/debs" && apt_i386 download $PKGS)
  for deb in "$OUT"/debs/*.deb; do
    dpkg-deb -x "$deb" "$SYSROOT"
  done
  if [ ! -f "$LIBDIR/pkgconfig/apr-1.pc" ] || [ ! -f "$LIBDIR/libcunit.so" ]; then
    echo "i386: the packages did not unpack as expected" >&2
    exit 1
  fi
  sysroot_stamp >"$SYSROOT/stamp"
  step_done
}

build_wpool() {
  step "building wpool with -m32"
  local bld=$OUT/wpool
  local ldflags="-Wl,--disable-new-dtags,-rpath,$LIBDIR,-rpath-link,$LIBDIR"
  rm -rf "$bld" # from scratch, as .ci/run builds for 64 bits
  # pkg-config reads only the sysroot's .pc files and puts the sysroot in
  # front of the paths they name. The run path is an old-style RPATH
  # (--disable-new-dtags): a RUNPATH would serve only the program's own
  # dependencies, not APR's libuuid.
  PKG_CONFIG_LIBDIR=$LIBDIR/pkgconfig:$SYSROOT/usr/share/pkgconfig \
    PKG_CONFIG_SYSROOT_DIR=$SYSROOT \
    cmake -S "$ROOT" -B "$bld" -DCMAKE_C_FLAGS=-m32 \
    -DCMAKE_LIBRARY_ARCHITECTURE=i386-linux-gnu \
    -DCMAKE_EXE_LINKER_FLAGS="$ldflags" -DCMAKE_SHARED_LINKER_FLAGS="$ldflags" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWPOOL_WERROR=ON \
    -DWPOOL_BUILD_DOCS=OFF -DWPOOL_INSTALL=OFF -DWPOOL_MPI=OFF \
    >"$OUT/configure.log" 2>&1 ||
    { tail -30 "$OUT/configure.log"; exit 1; }
  # A 64-bit build here would pass for the wrong reason.
  if ! grep -qs 'CMAKE_C_SIZEOF_DATA_PTR "4"' "$bld"/CMakeFiles/*/CMakeCCompiler.cmake; then
    echo "i386: the build is not 32-bit" >&2
    exit 1
  fi
  cmake --build "$bld" -j "$JOBS"
  step_done
}

run_tests() {
  step "running the tests as a 32-bit program"
  local rc=0
  ctest --test-dir "$OUT/wpool" --output-on-failure -j "$JOBS" || rc=$?
  step_done
  return "$rc"
}

make_sysroot
build_wpool
rc=0
run_tests || rc=$?
printf '\n== i386: %s in %ss\n' "$([ "$rc" = 0 ] && echo passed || echo FAILED)" \
  "$((SECONDS - T0))"
exit "$rc"
