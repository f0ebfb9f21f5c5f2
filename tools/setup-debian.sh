#!/bin/sh
# Install what building and testing wpool needs on Debian or Ubuntu, and the
# packages named as arguments (CI adds doxygen for the API reference).
# Runs apt-get directly as root, through sudo otherwise.
set -eu
# Open MPI: the MPI component (wpool::mpi) and its tests under mpiexec;
# iproute2: the multi-host MPI test's network namespaces.
pkgs="cmake make gcc pkg-config libapr1-dev libcunit1-dev openmpi-bin
libopenmpi-dev iproute2 $*"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing
