#!/bin/sh
# The multi-host test on one machine: three "hosts", each a network
# namespace with its own address (and its own host name, in a UTS namespace
# of its own), joined by veth pairs on a bridge; Open MPI starts one rank in
# each through its rsh agent, pointed at a script that enters the
# namespace, and talks between them over TCP only (no shared memory).
# The given suites of wpool_mpi_tests run there: rank 0 on host wpa, ranks 1
# and 2 serving on wpb and wpc.
#
#   mpi_netns.sh /path/to/wpool_mpi_tests "--suite mpi --method fork" ...
#
# Needs root (it creates and removes the namespaces, the bridge and the
# links itself, under names of its own with this process's id) and
# iproute2; without them it exits 77 (skipped). Addresses 10.213.x.0/24 live
# inside the namespaces and on the bridge only.
set -eu
prog=$1
shift
id=$$
sfx=$(printf '%x' $((id % 65536)))
br=wpbr$sfx
net=10.213.$((id % 250)).
work=$(mktemp -d "${TMPDIR:-/tmp}/wpool-netns.XXXXXX")

skip() { echo "SKIP: $*"; rm -rf "$work"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root to create network namespaces"
command -v ip >/dev/null || skip "needs iproute2 (ip)"
command -v unshare >/dev/null || skip "needs unshare (util-linux)"
mpiexec --version 2>/dev/null | grep -Eq "Open MPI|OpenRTE" ||
  skip "the namespace launch is written for Open MPI's rsh agent"

# The first `ip netns add` on a system makes /run/netns a mount point of
# its own; if this test made it one, it undoes that too.
netns_mounted=0
mountpoint -q /run/netns 2>/dev/null && netns_mounted=1

cleanup() {
  for h in a b c; do
    ip netns del "wp$h$sfx" 2>/dev/null || true
    ip link del "wv$h$sfx" 2>/dev/null || true
  done
  ip link del "$br" 2>/dev/null || true
  if [ "$netns_mounted" = 0 ] && mountpoint -q /run/netns 2>/dev/null; then
    umount /run/netns 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

ip netns add "wpa$sfx" 2>/dev/null || skip "ip netns does not work here"
# Entering one needs / to be a mount point, which a chroot's is not.
ip netns exec "wpa$sfx" true 2>/dev/null ||
  skip "cannot enter a network namespace here (ip netns exec fails; in a chroot / is not a mount point)"
ip link add "$br" type bridge
ip addr add "${net}254/24" dev "$br"
ip link set "$br" up
n=1
for h in a b c; do
  ns=wp$h$sfx
  [ "$h" = a ] || ip netns add "$ns"
  ip link add "wv$h$sfx" type veth peer name eth0 netns "$ns"
  ip link set "wv$h$sfx" master "$br" up
  ip -n "$ns" addr add "$net$n/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  echo "$net$n wp$h" >>"$work/hosts"
  n=$((n + 1))
done

# The rsh agent: "agent HOST COMMAND..." runs COMMAND as a remote shell
# would, inside HOST's namespace, under HOST's name.
cat >"$work/agent" <<AGENT
#!/bin/sh
host=\$1
shift
case \$host in
  ${net}1) h=a ;; ${net}2) h=b ;; ${net}3) h=c ;;
  *) echo "agent: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "wp\${h}$sfx" unshare --uts sh -c "hostname wp\$h && \$*"
AGENT
chmod +x "$work/agent"
printf '%s slots=1\n' "${net}1" "${net}2" "${net}3" >"$work/hostfile"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rc=0
for args in "$@"; do
  echo "== over three namespaces: $args"
  # shellcheck disable=SC2086 # args is a list of words
  timeout 120 mpiexec -n 3 --hostfile "$work/hostfile" \
    --mca plm_rsh_agent "$work/agent" \
    --mca btl tcp,self --mca btl_tcp_if_include "${net}0/24" \
    --mca oob_tcp_if_include "${net}0/24" -x WT_MPI_NETNS=1 \
    "$prog" $args || rc=$?
  [ "$rc" -eq 0 ] || break
done
exit "$rc"
