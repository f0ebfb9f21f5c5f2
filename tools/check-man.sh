#!/bin/sh
# tools/check-man.sh MANDIR [HEADER]: every public function of wpool.h has
# a man page under MANDIR (the directory holding man3/), and `man` finds
# and formats it there as a user's `man wpool_map` would. Used by
# tools/ci-consumers.sh (a source install) and tools/ci-deb.sh (the Debian
# package, where MANDIR is /usr/share/man).
set -eu
mandir=$1
header=${2:-$(dirname "$0")/../include/wpool.h}
# WPOOL_EXTERN <type> [*]wpool_name( ...: the API (wpool__ names are not).
fns=$(sed -n 's/^WPOOL_EXTERN .*[ *]\(wpool_[a-z][a-z0-9_]*\)(.*/\1/p' "$header")
[ -n "$fns" ] || { echo "check-man: no functions found in $header"; exit 1; }
n=0
for fn in $fns; do
  page=$(MANPATH=$mandir man -w "$fn" 2>/dev/null) || {
    echo "check-man: no man page for $fn under $mandir"
    exit 1
  }
  case $page in
  "$mandir"/man3/*) ;;
  *) echo "check-man: $fn: $page is not under $mandir/man3"; exit 1 ;;
  esac
  n=$((n + 1))
done
# The page must render and document the function, not just exist. It is
# formatted from its file: a lookup by name run as root would leave a
# formatted copy in man-db's cache (/var/cache/man), which tools/ci-deb.sh
# would then find after the packages are purged.
page=$(MANPATH=$mandir man -w wpool_map)
MANWIDTH=80 man -l "$page" 2>/dev/null | grep -q 'wpool_map' || {
  echo "check-man: $page does not show wpool_map"
  exit 1
}
echo "check-man: $n functions, each with a page under $mandir/man3"
