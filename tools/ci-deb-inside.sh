#!/bin/sh
# tools/ci-deb-inside.sh DIR: the part of tools/ci-deb.sh that runs inside
# the fresh Debian root, as root. DIR holds the .deb files, the consumer's
# sources (consumer/) and tools/check-man.sh. It installs the packages with
# apt (their dependencies come from the mirror), builds and runs a consumer
# with find_package(wpool) and one with pkg-config and no prefix, checks
# the man pages, runs both programs again with the runtime package alone,
# then purges the packages and checks that every file they installed is
# gone.
set -eu
dir=$1
cd "$dir"
step() { printf '\n== [root] %s\n' "$*"; }
fail() { echo "ci-deb: $*" >&2; exit 1; }

step "apt-get install the packages (dependencies from the mirror)"
apt-get update -q >/dev/null
# No pty in the root (no /dev/pts): dpkg's output goes straight through.
apt-get install -y -q --no-install-recommends -o Dpkg::Use-Pty=0 \
  "$dir"/debs/*.deb
pkgs=$(for d in "$dir"/debs/*.deb; do dpkg-deb -f "$d" Package; done)
for p in $pkgs; do
  dpkg-query -W -f='${Package} ${Version} ${Status}\n' "$p"
  dpkg-query -W -f='${Status}' "$p" | grep -q 'install ok installed' ||
    fail "$p is not installed"
done
# What the packages put on the system, listed before they go.
# shellcheck disable=SC2086
dpkg -L $pkgs | sort -u >"$dir/files"
echo "$(wc -l <"$dir/files") paths"

# run BINARY: it must load the system's libwpool.so.0 and work with every
# worker method.
run() {
  readelf -d "$1" | grep -q 'NEEDED.*libwpool\.so\.0' ||
    fail "$1 does not link libwpool.so.0"
  for m in fork spawn thread; do "$1" "$m"; done
}

step "consumer, find_package(wpool)"
cmake -S consumer -B build-fp >/dev/null
cmake --build build-fp
run build-fp/consumer

step "consumer, pkg-config with no prefix"
unset PKG_CONFIG_PATH
flags=$(pkg-config --cflags --libs wpool)
echo "cc main.c $flags"
# shellcheck disable=SC2086
cc -Wall -Wextra -Werror -o pc consumer/main.c $flags
run ./pc

step "man pages"
sh tools/check-man.sh /usr/share/man /usr/include/wpool.h

step "the runtime package alone runs the programs built"
dev=$(printf '%s\n' "$pkgs" | grep -- '-dev$')
runtime=$(printf '%s\n' "$pkgs" | grep -v -- '-dev$')
# shellcheck disable=SC2086
dpkg --purge $dev
run build-fp/consumer
run ./pc

step "dpkg --purge, then nothing of wpool is left"
# shellcheck disable=SC2086
dpkg --purge $runtime
left=0
while IFS= read -r p; do
  # Directories such as /usr/include stay for other packages; those of
  # wpool's own (cmake/wpool) must go.
  if [ -d "$p" ] && [ ! -L "$p" ]; then
    case ${p##*/} in *wpool*) echo "left: $p/"; left=1 ;; esac
  elif [ -e "$p" ] || [ -L "$p" ]; then
    echo "left: $p"
    left=1
  fi
done <"$dir/files"
# Anything else named after wpool (maintainer scripts' leftovers, dpkg's
# records), outside this test's own directory.
found=$(find / -xdev \( -path "$dir" -o -path /proc \) -prune -o \
  -name '*wpool*' -print)
[ -z "$found" ] || { echo "left: $found"; left=1; }
for p in $pkgs; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -qv 'not-installed'; then
    echo "left: dpkg still knows $p ($(dpkg-query -W -f='${Status}' "$p"))"
    left=1
  fi
done
! ldconfig -p | grep libwpool || left=1
[ "$left" -eq 0 ] || fail "the purge left files behind"
echo "all $(wc -l <"$dir/files") paths of the packages are gone"
