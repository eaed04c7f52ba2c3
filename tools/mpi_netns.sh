#!/usr/bin/env bash
# Data-parallel training across two "machines" on this one: two network
# namespaces, each with its own interface on a private bridge, one rank in
# each. The ranks cannot share memory, so the gradients travel over TCP/IP as
# between two hosts; mpirun starts the remote daemons through a launch agent
# (ip netns exec) where it would use ssh. Needs root (ip netns, a bridge).
#
#   sudo bash tools/mpi_netns.sh [train options...]
#
# Prints the run's output; the namespaces and the bridge are removed at exit.
# The run folder is a temporary one unless RUN_DIR names one (`bench --dist
# --dist-netns` reads the metrics from there).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$(pwd)/build/release/cpu_llm"
[ -x "$BIN" ] || { echo "mpi_netns.sh: build first (bash tools/build.sh)" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "mpi_netns.sh: mpirun not found (apt-get install openmpi-bin)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "mpi_netns.sh: needs root for ip netns" >&2; exit 1; }

BR=cpullm_br
NET=10.77.0
WORK=$(mktemp -d)
cleanup() {
  for i in 1 2; do ip netns del "cpullm_$i" 2>/dev/null || true; done
  ip link del "$BR" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
cleanup_only_links() { for i in 1 2; do ip netns del "cpullm_$i" 2>/dev/null || true; done; ip link del "$BR" 2>/dev/null || true; }
cleanup_only_links

ip link add "$BR" type bridge
ip addr add "$NET.1/24" dev "$BR"
ip link set "$BR" up
for i in 1 2; do
  ns=cpullm_$i
  ip netns add "$ns"
  ip link add "cpullm_v$i" type veth peer name eth0 netns "$ns"
  ip link set "cpullm_v$i" master "$BR" up
  ip -n "$ns" addr add "$NET.1$i/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
done

# The launch agent mpirun calls as `agent HOST COMMAND...`: runs the command in
# that host's namespace, with a hostname of its own (Open MPI tells nodes
# apart by name).
cat >"$WORK/agent" <<'EOF'
#!/bin/sh
host=$1; shift
ns=cpullm_${host##*.1}
exec ip netns exec "$ns" unshare --uts /bin/sh -c "hostname node-${ns#cpullm_}; $*"
EOF
chmod +x "$WORK/agent"
printf '%s.11 slots=1\n%s.12 slots=1\n' "$NET" "$NET" >"$WORK/hosts"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun --hostfile "$WORK/hosts" -np 2 --map-by node --bind-to none \
  --mca plm_rsh_agent "$WORK/agent" \
  --mca btl tcp,self --mca btl_tcp_if_include "$NET.0/24" --mca oob_tcp_if_include "$NET.0/24" \
  "$BIN" train --out "${RUN_DIR:-$WORK/run}" "$@"
