#!/usr/bin/env bash
# Build wpool for 64-bit Windows on Debian with mingw-w64 and run its whole
# test suite and the examples under wine; exit non-zero when anything fails.
#
#   tools/win-cross.sh            (root, or a user with sudo, on Debian 12)
#
# 1. Installs mingw-w64, wine and the build tools from Debian's packages.
# 2. Builds the dependencies for Windows from Debian's own source packages
#    (apt-get source apr cunit, through a deb-src list kept in the build
#    directory: the system's apt configuration is not touched): APR as a
#    static library with its Windows CMake build, CUnit with its configure.
#    They are kept in build-win/deps, so later runs skip this step.
# 3. Cross-builds wpool (static), its tests and examples, and runs ctest
#    with wine as CMake's cross-compiling emulator.
#
# Environment: WPOOL_WIN_DIR (default build-win), JOBS (default nproc),
# WPOOL_WIN_CMAKE_ARGS (more arguments for wpool's configure step).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${WPOOL_WIN_DIR:-$ROOT/build-win}
DEPS=$OUT/deps
JOBS=${JOBS:-$(nproc)}
HOST=x86_64-w64-mingw32
TOOLCHAIN=$ROOT/cmake/mingw-w64-x86_64.cmake
# Bump when the way the dependencies are built changes: the cache is then
# rebuilt.
DEPS_RECIPE=1

step_t0=0
step() {
  step_t0=$(date +%s)
  printf '\n== win-cross: %s\n' "$*"
}
step_done() { printf '== done in %ss\n' "$(($(date +%s) - step_t0))"; }

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
DEPS=$OUT/deps

# --------------------------------------------------------------------------
# 1. Packages
# --------------------------------------------------------------------------
install_packages() {
  # gcc-mingw-w64-x86-64-win32 brings binutils, headers and the C runtime
  # for x86_64 only (a fraction of the mingw-w64 metapackage). wine64 runs
  # the 64-bit programs; wine is its launcher.
  local pkgs="gcc-mingw-w64-x86-64-win32 wine wine64 cmake make perl
              dpkg-dev xz-utils bzip2" missing="" p sudo=""
  for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
      grep -q "install ok installed" || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  step "installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  # shellcheck disable=SC2086
  $sudo apt-get install -y -q --no-install-recommends --no-upgrade $missing
  step_done
}

# --------------------------------------------------------------------------
# 2. Dependencies from Debian's source packages
# --------------------------------------------------------------------------
APT_DIR=$OUT/apt
apt_private() {
  local opts=(-o Dir::Etc::SourceList=/dev/null
    -o Dir::Etc::SourceParts="$APT_DIR/sources.list.d"
    -o Dir::State::Lists="$APT_DIR/lists"
    -o Dir::Cache="$APT_DIR/cache")
  # apt drops to its own user to download, which cannot write here.
  [ "$(id -u)" -ne 0 ] || opts+=(-o APT::Sandbox::User=root)
  apt-get -q "${opts[@]}" "$@"
}

# deb-src twins of the system's Debian entries (one-line and deb822
# formats); other archives (third-party repositories) are left out.
write_source_list() {
  local d=$APT_DIR/sources.list.d f
  rm -rf "$APT_DIR"
  mkdir -p "$d" "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -n -E 's%^[[:space:]]*deb[[:space:]]+(.*/debian[-a-z]*/?[[:space:]].*)$%deb-src \1%p' \
      "$f" >"$d/wpool-$(basename "$f" .list).list"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN { RS = ""; ORS = "\n\n" }
         /(^|\n)Types:[^\n]*deb/ && /(^|\n)URIs:[^\n]*\/debian/ &&
         !/(^|\n)Enabled:[[:space:]]*no/ {
           sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, "")
           print
         }' "$f" >"$d/wpool-$(basename "$f")"
  done
  grep -qs deb-src "$d"/* || {
    echo "win-cross: no Debian archive in the apt configuration" >&2
    exit 1
  }
}

fetch_sources() {
  step "fetching Debian's apr and cunit source packages"
  write_source_list
  apt_private update
  rm -rf "$OUT/src"
  mkdir -p "$OUT/src"
  (cd "$OUT/src" && apt_private source apr cunit)
  APR_SRC=$(find "$OUT/src" -maxdepth 1 -type d -name 'apr-[0-9]*' | head -1)
  CUNIT_SRC=$(find "$OUT/src" -maxdepth 1 -type d -name 'cunit-*' | head -1)
  if [ -z "$APR_SRC" ] || [ -z "$CUNIT_SRC" ]; then
    echo "win-cross: the source packages did not unpack" >&2
    exit 1
  fi
  step_done
}

# APR 1.7's CMake build is written for MSVC; three edits make its static
# library build with mingw-w64. Each edit is checked, so that a new APR
# that no longer needs one (or moved the code) stops the script here.
patch_apr() {
  local src=$1
  edit() { # file, perl substitution, text that must be there afterwards
    perl -0pi -e "$2" "$src/$1"
    grep -qF -- "$3" "$src/$1" || {
      echo "win-cross: APR edit not applied to $1" >&2
      exit 1
    }
  }
  # gen_test_char is built for Windows and run during the build: naming the
  # target (not its file) makes CMake run it through the emulator, wine.
  edit CMakeLists.txt 's/COMMAND \$<TARGET_FILE:gen_test_char>/COMMAND gen_test_char/' \
    'COMMAND gen_test_char'
  # if_indextoname and if_nametoindex come from iphlpapi, whose mingw
  # headers pull in COM headers that do not compile under APR's NOUSER.
  # Only MSVC builds get them (without them IPv6 zone ids are not
  # supported: wpool uses no sockets).
  # shellcheck disable=SC2016 # $1 is perl's
  edit include/arch/win32/apr_private.h \
    's/(#define HAVE_IF_INDEXTONAME 1\n#define HAVE_IF_NAMETOINDEX 1\n)/#ifdef _MSC_VER\n$1#endif\n/' \
    '#ifdef _MSC_VER'
  # The Windows atomics are complete, but with gcc on x86 the Unix header
  # they include asks for the generic 64-bit fallback, which is not built
  # on Windows (an undefined apr__atomic_generic64_init at link time).
  edit atomic/win32/apr_atomic.c \
    's/#if defined \(NEED_ATOMICS_GENERIC64\)\n/#if defined (NEED_ATOMICS_GENERIC64) \&\& !defined(_WIN32)\n/' \
    '!defined(_WIN32)'
}

build_apr() {
  step "building APR $(basename "$APR_SRC") for Windows"
  local src=$OUT/apr-src bld=$OUT/apr-build
  rm -rf "$src" "$bld"
  cp -a "$APR_SRC" "$src"
  patch_apr "$src"
  # COM_NO_WINDOWS_H: mingw's wtypes.h (from aclapi.h) would include
  # ole2.h, which does not compile under APR's NOUSER.
  cmake -S "$src" -B "$bld" -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-DCOM_NO_WINDOWS_H \
    -DMIN_WINDOWS_VER=Windows7 >"$OUT/apr-configure.log" 2>&1 ||
    { tail -30 "$OUT/apr-configure.log"; exit 1; }
  # The static library only: the DLL and aprapp need more edits and wpool
  # does not use them.
  cmake --build "$bld" --target apr-1 -j "$JOBS" >"$OUT/apr-build.log" 2>&1 ||
    { tail -30 "$OUT/apr-build.log"; exit 1; }
  mkdir -p "$DEPS/include" "$DEPS/lib/cmake/apr"
  cp "$bld/libapr-1.a" "$DEPS/lib/"
  cp "$src"/include/apr*.h "$bld/apr.h" "$DEPS/include/"
  # APR's CMake build installs no package file; this one gives the target
  # the name vcpkg's port gives a static APR, which cmake/wpoolFindAPR.cmake
  # looks for on Windows.
  cat >"$DEPS/lib/cmake/apr/apr-config.cmake" <<'EOF'
# Written by wpool's tools/win-cross.sh for APR built with mingw-w64.
get_filename_component(_apr_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET apr::apr-1)
  add_library(apr::apr-1 STATIC IMPORTED)
  set_target_properties(apr::apr-1 PROPERTIES
    IMPORTED_LOCATION "${_apr_prefix}/lib/libapr-1.a"
    INTERFACE_INCLUDE_DIRECTORIES "${_apr_prefix}/include"
    INTERFACE_COMPILE_DEFINITIONS APR_DECLARE_STATIC
    INTERFACE_LINK_LIBRARIES "ws2_32;mswsock;rpcrt4")
endif()
unset(_apr_prefix)
EOF
  step_done
}

build_cunit() {
  step "building CUnit $(basename "$CUNIT_SRC") for Windows"
  local src=$OUT/cunit-src
  rm -rf "$src"
  cp -a "$CUNIT_SRC" "$src"
  (cd "$src" &&
    ./configure -q --host=$HOST --prefix="$DEPS" --disable-shared \
      --disable-curses --disable-console &&
    make -C CUnit -j "$JOBS" && make -C CUnit install) \
    >"$OUT/cunit-build.log" 2>&1 || { tail -30 "$OUT/cunit-build.log"; exit 1; }
  step_done
}

deps_stamp() {
  printf 'recipe %s\n%s\n' "$DEPS_RECIPE" "$($HOST-gcc --version | head -1)"
}

build_deps() {
  if [ -f "$DEPS/stamp" ] && [ "$(cat "$DEPS/stamp")" = "$(deps_stamp)" ]; then
    echo "win-cross: APR and CUnit for Windows are cached in $DEPS"
    return 0
  fi
  rm -rf "$DEPS"
  fetch_sources
  build_apr
  build_cunit
  deps_stamp >"$DEPS/stamp"
}

# --------------------------------------------------------------------------
# 3. wine, wpool, the tests
# --------------------------------------------------------------------------
export WINEPREFIX=$OUT/wine
# No debug chatter; no wine-mono or wine-gecko installers; and no crash
# debugger: with winedbg a crashing program sometimes exited with status 0,
# a crash that a test would have passed.
export WINEDEBUG=-all
# Wine maps Unix file names through the locale's character set: without a
# UTF-8 locale (a bare CI environment has none) the unicode_path test's
# directory cannot be opened. C.UTF-8 is built into glibc.
export LC_ALL=C.UTF-8
export WINEDLLOVERRIDES="mscoree,mshtml=;winedbg.exe=d"
# A display is never needed, and must not be tried.
unset DISPLAY WAYLAND_DISPLAY || true

WINESERVER_UP=0
stop_wine() {
  if [ "$WINESERVER_UP" = 1 ]; then
    wineserver -k 2>/dev/null || true
    WINESERVER_UP=0
  fi
}
trap stop_wine EXIT

start_wine() {
  step "starting wine ($(wine --version))"
  if [ ! -f "$WINEPREFIX/system.reg" ]; then
    wineboot -i </dev/null >"$OUT/wineboot.log" 2>&1
    wineserver -w
  fi
  # One server for the whole run: without it every test program pays the
  # server's start-up (seconds), and tests would need larger timeouts. It
  # and wine's own services (started by the first program) must not hold
  # this script's output open: whoever reads it would wait for them.
  wineserver -k 2>/dev/null || true # one left by an interrupted run
  wineserver -p </dev/null >/dev/null 2>&1
  WINESERVER_UP=1
  wine cmd /c exit </dev/null >>"$OUT/wineboot.log" 2>&1 || true
  step_done
}

build_wpool() {
  step "building wpool for Windows"
  local bld=$OUT/wpool
  rm -rf "$bld" # from scratch, as .ci/run builds for Linux
  # shellcheck disable=SC2086
  cmake -S "$ROOT" -B "$bld" -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" \
    -DWPOOL_WIN_DEPS="$DEPS" -Dapr_DIR="$DEPS/lib/cmake/apr" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWPOOL_WERROR=ON \
    -DWPOOL_BUILD_DOCS=OFF -DWPOOL_INSTALL=OFF ${WPOOL_WIN_CMAKE_ARGS:-}
  cmake --build "$bld" -j "$JOBS"
  step_done
}

# Per kind of ctest test (suites per worker method, suites run once, the
# examples): ctest's verdicts and the CUnit counts, from ctest's log. A test
# skipped by WT_SKIP is in CUnit's Inactive column; a suite that skipped as
# a whole is a ctest test that neither passed nor failed.
report() {
  local log=$OUT/wpool/Testing/Temporary/LastTest.log
  [ -f "$log" ] || return 0
  awk '
    function kind(n) {
      if (n ~ /^example\./) return "examples"
      if (n ~ /\.spawn$/) return "spawn"
      if (n ~ /\.thread$/) return "thread"
      return "once"
    }
    / Testing: / { k = kind($3); ctests[k]++; next }
    /^Test Passed\./ { cpass[k]++ }
    /^ *tests +[0-9]+ +[0-9]+/ {
      ran[k] += $3; passed[k] += $4; failed[k] += $5; skipped[k] += $6
    }
    /^ *asserts +[0-9]+ +[0-9]+/ { asserts[k] += $3; afailed[k] += $5 }
    END {
      printf "%-9s %7s %7s | %7s %7s %7s %7s %9s %9s\n", "kind", "ctest",
             "passed", "tests", "passed", "failed", "skipped", "asserts",
             "a.failed"
      n = split("spawn thread once examples", order, " ")
      for (i = 1; i <= n; i++) {
        k = order[i]
        if (!ctests[k]) continue
        printf "%-9s %7d %7d | %7d %7d %7d %7d %9d %9d\n", k, ctests[k],
               cpass[k], ran[k], passed[k], failed[k], skipped[k], asserts[k],
               afailed[k]
      }
    }' "$log"
}

run_tests() {
  step "running the tests under wine"
  local rc=0
  ctest --test-dir "$OUT/wpool" --output-on-failure -j "$JOBS" || rc=$?
  printf '\nUnder wine: ctest tests, and the CUnit tests and assertions they ran\n'
  printf '(once: method-independent suites, nohook, unicode_path):\n'
  report
  step_done
  return "$rc"
}

T0=$(date +%s)
install_packages
build_deps
start_wine
build_wpool
rc=0
run_tests || rc=$?
stop_wine
printf '\n== win-cross: %s in %ss\n' "$([ "$rc" = 0 ] && echo passed || echo FAILED)" \
  "$(($(date +%s) - T0))"
exit "$rc"
