#!/usr/bin/env bash
# libFuzzer runs of every file parser (fuzz/, docs/FUZZING.md).
#
#   tools/fuzz.sh smoke            configure + build the fuzz preset, run each
#                                  target over its committed corpus plus
#                                  SMOKE_SECONDS (default 15) of fresh fuzzing;
#                                  non-zero exit on any crash. For CI.
#   tools/fuzz.sh long [SECONDS]   each target for SECONDS (default 600), one
#                                  after another, then minimizes (-merge=1) the
#                                  committed corpus plus the new finds back
#                                  into fuzz/corpus/<target>/.
#   tools/fuzz.sh seeds            rewrites the seed files with the project's
#                                  own writers (fuzz_make_seeds).
#   tools/fuzz.sh build            only configure + build.
# FUZZ_TARGETS="shard state" limits a run to some targets. Logs and crash
# artifacts go to build/fuzz/runs/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(shard checkpoint state gpt2_vocab llmc_tokenizer token_map document_reader gpt2_encode metrics_log gguf safetensors hf_import run_plot run_config file_info)
if [ -n "${FUZZ_TARGETS:-}" ]; then
  read -r -a TARGETS <<<"$FUZZ_TARGETS"
fi
BIN=build/fuzz/fuzz
RUNS=build/fuzz/runs
JOBS="${FUZZ_BUILD_JOBS:-2}"
# -rss_limit_mb also caps single mallocs (libFuzzer's malloc_limit_mb), so a
# parser that trusts a size field and allocates gigabytes is a reported bug.
COMMON=(-rss_limit_mb=2048 -timeout=25 -print_final_stats=1)

build() {
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz -j"$JOBS"
}

# run_target TARGET SECONDS: fuzzes with the committed corpus as input; new
# inputs go to a scratch folder, so the committed one changes only by merge.
run_target() {
  local t=$1 secs=$2 dir=$RUNS/$1
  mkdir -p "$dir/new" "$dir/artifacts"
  echo "== fuzz_$t: ${secs}s"
  if ! "$BIN/fuzz_$t" "${COMMON[@]}" -max_total_time="$secs" -artifact_prefix="$dir/artifacts/" \
      "$dir/new" "fuzz/corpus/$t" >"$dir/log" 2>&1; then
    tail -n 40 "$dir/log"
    echo "fuzz_$t: FAILED (log: $dir/log, inputs: $dir/artifacts/)" >&2
    return 1
  fi
  grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$dir/log" || true
  grep -E '^#[0-9]+.*DONE' "$dir/log" | tail -n 1 || true
}

# merge_target TARGET: the minimal subset of committed + new inputs that keeps
# their coverage replaces fuzz/corpus/TARGET.
merge_target() {
  local t=$1 dir=$RUNS/$1
  rm -rf "$dir/merged" && mkdir -p "$dir/merged"
  "$BIN/fuzz_$t" "${COMMON[@]}" -merge=1 "$dir/merged" "fuzz/corpus/$t" "$dir/new" >"$dir/merge.log" 2>&1
  rm -rf "fuzz/corpus/$t" && mkdir -p "fuzz/corpus/$t"
  cp "$dir/merged"/* "fuzz/corpus/$t"/
  echo "fuzz_$t: corpus $(ls "fuzz/corpus/$t" | wc -l) files, $(du -sk "fuzz/corpus/$t" | cut -f1) KiB"
}

mode=${1:-smoke}
case "$mode" in
  build)
    build
    ;;
  seeds)
    build
    "$BIN/fuzz_make_seeds" fuzz/corpus tests/fixtures
    ;;
  smoke)
    build
    failed=0
    for t in "${TARGETS[@]}"; do
      rm -rf "${RUNS:?}/$t"
      run_target "$t" "${SMOKE_SECONDS:-15}" || failed=1
    done
    [ "$failed" = 0 ] && echo "fuzz smoke: all ${#TARGETS[@]} targets clean"
    exit "$failed"
    ;;
  long)
    secs=${2:-600}
    build
    failed=0
    for t in "${TARGETS[@]}"; do
      rm -rf "${RUNS:?}/$t"
      if run_target "$t" "$secs"; then merge_target "$t"; else failed=1; fi
    done
    exit "$failed"
    ;;
  *)
    echo "usage: tools/fuzz.sh smoke | long [SECONDS] | seeds | build" >&2
    exit 2
    ;;
esac
