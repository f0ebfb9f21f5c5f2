#!/usr/bin/env bash
# CI stage for the Debian packages (cmake/wpoolPackaging.cmake), run by
# .ci/run as root on Debian 12:
#  1. builds wpool shared for /usr and makes libwpool0 and libwpool-dev
#     with CPack;
#  2. makes a fresh minimal Debian 12 root with debootstrap, with only what
#     a user building a program needs (cmake, gcc, pkg-config, man-db). The
#     root is built once and kept as a tarball (WPOOL_DEB_CACHE, by default
#     /tmp/wpool-deb-cache), so that later runs only unpack it;
#  3. in a clean copy of that root, tools/ci-deb-inside.sh installs the
#     packages with apt, builds and runs a consumer with find_package(wpool)
#     and one with pkg-config and no prefix, checks the man pages, purges
#     the packages and checks that nothing of them is left.
# It works on a Debian 12 machine and inside a chroot of one (a fresh root
# made the same way): the mirror comes from the apt sources of the system it
# runs on, debootstrap is installed when missing, and the only mount in the
# test root is its own /proc, undone before the root is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
start=$SECONDS
build=$src/build-deb
cache=${WPOOL_DEB_CACHE:-/tmp/wpool-deb-cache}
suite=bookworm
# What the root holds beyond minbase: a consumer's build tools, and man-db
# for `man wpool_map`. wpool's own dependencies must come from the
# packages' Depends, so none of them is here.
base_pkgs="cmake make gcc libc6-dev binutils pkg-config man-db"

step() { printf '\n== %s\n' "$*"; }
fail() { echo "ci-deb: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, chroot, mount)"

# The Debian mirror of this system's apt sources (deb822 .sources first,
# then a classic sources.list), for the suite itself, not -updates or
# -security.
find_mirror() {
  local m=""
  if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
    m=$(awk -v suite="$suite" '
      BEGIN { RS = ""; FS = "\n" }
      {
        uris = ""; ok_suite = 0; deb = 0; enabled = 1
        for (i = 1; i <= NF; i++) {
          n = split($i, w, /[ \t]+/)
          key = tolower(w[1])
          if (key == "uris:") uris = w[2]
          else if (key == "suites:") { for (j = 2; j <= n; j++) if (w[j] == suite) ok_suite = 1 }
          else if (key == "types:") { for (j = 2; j <= n; j++) if (w[j] == "deb") deb = 1 }
          else if (key == "enabled:" && tolower(w[2]) == "no") enabled = 0
        }
        if (uris != "" && ok_suite && deb && enabled) { print uris; exit }
      }' /etc/apt/sources.list.d/*.sources)
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk -v suite="$suite" '$1 == "deb" {
          line = $0; sub(/\[[^]]*\]/, "", line); split(line, w)
          if (w[3] == suite) { print w[2]; exit } }' /etc/apt/sources.list)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

# Mounts: /proc only (apt, dpkg and the consumers want it); the device
# nodes are the root's own, made by debootstrap. Never remove a root while
# anything is mounted under it: rm would reach through the mount.
mount_root() {
  mount -t proc proc "$1/proc"
  [ -c "$1/dev/null" ] || fail "$1 has no /dev/null (debootstrap could not make device nodes)"
}
umount_root() {
  local r=$1
  if mountpoint -q "$r/proc" 2>/dev/null; then
    umount "$r/proc" 2>/dev/null || umount -l "$r/proc"
  fi
}
remove_root() {
  local r=$1
  [ -n "$r" ] && [ -d "$r" ] || return 0
  umount_root "$r"
  if grep -qF " $r/" /proc/mounts; then
    echo "ci-deb: $r still has mounts; left in place" >&2
    return 1
  fi
  rm -rf --one-file-system "$r"
}
in_root() {
  local r=$1
  shift
  chroot "$r" /usr/bin/env -i HOME=/root TERM=dumb LC_ALL=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    DEBIAN_FRONTEND=noninteractive \
    ${http_proxy:+http_proxy=$http_proxy} ${https_proxy:+https_proxy=$https_proxy} \
    "$@"
}

roots=()
cleanup() {
  local r
  for r in "${roots[@]}"; do remove_root "$r" || true; done
}
trap cleanup EXIT
# An interrupted run unmounts and removes its roots too.
trap 'exit 130' INT TERM

# new_root: sets r to a new directory for a root, removed on exit (/ of a
# chroot must be searchable by apt's _apt user).
new_root() {
  r=$(mktemp -d "$cache/root.XXXXXX")
  chmod 755 "$r"
  roots+=("$r")
}

step "build tools (Debian packages, when missing)"
# doxygen: the man pages; file and dpkg-dev (dpkg-shlibdeps): CPack's
# Depends and shlibs; debootstrap: the root.
tools/setup-debian.sh doxygen file dpkg-dev debootstrap

step "wpool shared for /usr, and its Debian packages"
rm -rf "$build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
  -DCMAKE_INSTALL_PREFIX=/usr -DWPOOL_WERROR=ON -DWPOOL_BUILD_TESTS=OFF \
  -DWPOOL_BUILD_EXAMPLES=OFF -DWPOOL_BUILD_DOCS=OFF >/dev/null
cmake --build "$build" -j2
(cd "$build" && cpack -G DEB)
debs=("$build"/packages/*.deb)
[ "${#debs[@]}" -eq 2 ] || fail "expected 2 packages, got: ${debs[*]}"
for d in "${debs[@]}"; do
  echo "-- ${d##*/}"
  dpkg-deb -f "$d" Package Version Section Depends | sed 's/^/   /'
  dpkg-deb -c "$d" | awk '{ print "   " $6 ($7 ? " " $7 " " $8 : "") }' |
    grep -v '/$' | grep -v 'man3/' || true
  echo "   ($(dpkg-deb -c "$d" | grep -c 'man3/.') man pages)"
done

mkdir -p "$cache"
mirror=$(find_mirror)
key=$(printf '%s %s %s\n' "$suite" "$mirror" "$base_pkgs" | md5sum | cut -c1-12)
base=$cache/base-$suite-$key.tar
if [ -f "$base" ]; then
  step "fresh root: the cached $base"
else
  step "fresh root: debootstrap $suite from $mirror (cached as $base)"
  new_root
  debootstrap --variant=minbase "$suite" "$r" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
    { tail -20 "$cache/debootstrap.log"; fail "debootstrap failed"; }
  # This system's sources (main, updates, security), or the mirror alone.
  rm -f "$r/etc/apt/sources.list"
  if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
    cp /etc/apt/sources.list.d/*.sources "$r/etc/apt/sources.list.d/"
  else
    echo "deb $mirror $suite main" >"$r/etc/apt/sources.list"
  fi
  cp -L /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
  mount_root "$r"
  # shellcheck disable=SC2086
  in_root "$r" sh -ec "apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends -o Dpkg::Use-Pty=0 \
      $base_pkgs >/dev/null
    apt-get clean"
  umount_root "$r"
  tar -C "$r" -cf "$base.tmp" . && mv "$base.tmp" "$base"
  remove_root "$r"
fi

step "a clean copy of the root, with the packages and the consumer"
new_root
tar -C "$r" -xf "$base"
cp -L /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
t=$r/tmp/wpool-ci
mkdir -p "$t/debs" "$t/consumer" "$t/tools"
cp "${debs[@]}" "$t/debs/"
cp tests/consumer/CMakeLists.txt tests/consumer/main.c "$t/consumer/"
cp tools/check-man.sh tools/ci-deb-inside.sh "$t/tools/"
mount_root "$r"
in_root "$r" sh /tmp/wpool-ci/tools/ci-deb-inside.sh /tmp/wpool-ci
umount_root "$r"
remove_root "$r"

step "Debian package stage passed in $((SECONDS - start)) s"
