#!/usr/bin/env bash
# Profiles a command with perf and writes a flame graph and hotspot lists.
#
#   tools/perf_profile.sh OUT_PREFIX -- command args...
#
# Writes OUT_PREFIX.perf.data (perf's raw samples, for `perf report -i`), OUT_PREFIX.folded
# (one stack per line, root first), OUT_PREFIX.svg (flame graph; open it in a browser),
# OUT_PREFIX.top.txt and OUT_PREFIX.top.json (top functions by self and by inclusive samples).
#
# Environment:
#   PERF_FREQ=999          samples per second per thread (lower it for long runs with dwarf)
#   PERF_CALLGRAPH=dwarf   dwarf (works on any -O3 build; ~8 KB of stack copied per sample),
#                          dwarf,SIZE (bytes of stack copied; less = smaller data, more truncated
#                          stacks) or fp (frame pointers: tiny data, but needs a build with
#                          -fno-omit-frame-pointer, see docs/PROFILING.md)
#   PERF_DURING=           regex, e.g. cpu_llm::TrainStep: keep only the samples (of every thread)
#                          taken while the main thread was in a matching function (flamegraph.py
#                          --during); the whole run otherwise
#   PERF_SCRIPT_ARGS=      extra `perf script` flags, e.g. --no-inline on a -g build
#   TOP_N=20               functions per top list
#   KEEP_DATA=1            0 deletes OUT_PREFIX.perf.data once the outputs are written
#   PYTHON=python3
# Exit status: the command's own, or 1 when perf cannot run.
set -euo pipefail

die() { echo "perf_profile.sh: $*" >&2; exit 1; }

if [[ $# -lt 3 || $2 != "--" ]]; then
  echo "usage: $0 OUT_PREFIX -- command args..." >&2
  exit 2
fi
prefix=$1
shift 2

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
freq=${PERF_FREQ:-999}
callgraph=${PERF_CALLGRAPH:-dwarf}
python=${PYTHON:-python3}

command -v perf >/dev/null 2>&1 || die "perf not found; install it (Debian: apt-get install linux-perf; Ubuntu: linux-tools-\$(uname -r))"
perf version >/dev/null 2>&1 || die "perf is installed but does not run for this kernel ($(uname -r)); install the matching perf package"
command -v "$python" >/dev/null 2>&1 || die "$python not found (needed by tools/flamegraph.py)"
if [[ $EUID -ne 0 && -r /proc/sys/kernel/perf_event_paranoid ]]; then
  paranoid=$(cat /proc/sys/kernel/perf_event_paranoid)
  if (( paranoid > 2 )); then
    die "kernel.perf_event_paranoid is $paranoid, which forbids profiling; run: sudo sysctl -w kernel.perf_event_paranoid=2 (1 to include kernel frames)"
  fi
fi
if [[ $callgraph == dwarf* ]] && ! perf version --build-options 2>/dev/null | grep -Eq '(libdw-dwarf-unwind|libunwind): +\[ on'; then
  die "this perf cannot unwind with DWARF; use PERF_CALLGRAPH=fp with a frame-pointer build (see docs/PROFILING.md)"
fi

mkdir -p "$(dirname "$prefix")"
data=$prefix.perf.data
echo "perf_profile.sh: recording at ${freq} Hz, call graph ${callgraph} -> $data" >&2
status=0
perf record -F "$freq" -g --call-graph "$callgraph" -o "$data" -- "$@" || status=$?
[[ -s $data ]] || die "perf record wrote no data (exit status $status); if it reported a permission error, run: sudo sysctl -w kernel.perf_event_paranoid=2"
if (( status != 0 )); then
  echo "perf_profile.sh: the command exited with status $status; writing the profile anyway" >&2
fi

title="perf: $(basename "$1") ${*:2}${PERF_DURING:+, during $PERF_DURING}"
(( ${#title} > 110 )) && title="${title:0:107}..."
# shellcheck disable=SC2086  # PERF_SCRIPT_ARGS is a list of flags
perf script -i "$data" ${PERF_SCRIPT_ARGS:-} 2>/dev/null |
  "$python" "$here/flamegraph.py" --folded "$prefix.folded" --svg "$prefix.svg" \
    --top "$prefix.top.txt" --json "$prefix.top.json" -n "${TOP_N:-20}" \
    --title "$title (${freq} Hz, ${callgraph})" ${PERF_DURING:+--during "$PERF_DURING"} ||
  die "could not turn $data into a profile (see the message above)"
[[ ${KEEP_DATA:-1} == 0 ]] && rm -f "$data"

echo "perf_profile.sh: wrote $prefix.folded $prefix.svg $prefix.top.txt $prefix.top.json" >&2
head -n "$(( ${TOP_N:-20} + 4 ))" "$prefix.top.txt" >&2
exit "$status"
