#!/usr/bin/env bash
# Re-measures everything docs/OPTIMIZATIONS.md reports and regenerates it:
#   1. the baseline workloads, with PyTorch beside them when it is installed,
#   2. the before/after pairs of every switch (--ablation),
#   3. a perf profile and flame graph of the GPT-2 124M step (if perf works),
#   4. the mixed precision stability runs (fp32, bf16, fp16; --stability),
#   5. the data path on a generated 8 GB dataset (--data-io; needs ~18 GB
#      free under DATA_DIR, default /tmp; the data is deleted afterwards),
#   6. the loss curves of B=8 and B=2x4 accumulated (--accum-curve),
#   7. the architecture variants at equal time (--arch; ARCH_BUDGET seconds
#      each, default 90, then the four that lead at ARCH_LONG_BUDGET seconds,
#      default 600: about an hour in all),
#   8. data-parallel training, 1 vs 2 ranks under mpirun (--dist; as root
#      also across two network namespaces),
#   9. the report, from the JSON files written to docs/bench/.
# Run it on a quiet machine: anything else using the cores skews the numbers.
# RUNS (default 3) and ABLATION_RUNS (default 5) set the repetitions.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=docs/bench
BIN=./build/release/cpu_llm
bash tools/install_deps.sh
bash tools/build.sh
mkdir -p "$OUT"

"$BIN" bench --torch --runs "${RUNS:-3}" --json "$OUT/baseline.json" | tee "$OUT/baseline.txt"
"$BIN" bench --ablation --runs "${ABLATION_RUNS:-5}" --json "$OUT/ablation.json" | tee "$OUT/ablation.txt"
if command -v perf >/dev/null 2>&1; then
  # Only the samples taken inside training steps (setup excluded); dwarf
  # stacks are ~8 KB a sample, so a lower rate keeps perf.data manageable.
  PERF_FREQ=499 PERF_DURING=cpu_llm::TrainStep KEEP_DATA=0 TOP_N=15 \
    bash tools/perf_profile.sh "$OUT/perf_gpt2-124m" -- "$BIN" bench --worker gpt2-124m --warmup 1 --steps 2 --no-profile \
    >/dev/null
  rm -f "$OUT/perf_gpt2-124m.folded"  # large; the SVG and top lists hold what the report uses
else
  echo "bench_all.sh: perf not found (Debian package linux-perf); skipping the perf profile" >&2
fi
# fp32, bf16 and fp16 trained for 1000 steps each (~10 minutes apiece on 2 cores).
"$BIN" bench --stability --json "$OUT/stability.json" --plot-dir "$OUT" | tee "$OUT/stability.txt"
"$BIN" bench --data-io --data-dir "${DATA_DIR:-/tmp}" --json "$OUT/data_io.json" | tee "$OUT/data_io.txt"
"$BIN" bench --accum-curve --json "$OUT/accum_curve.json" --plot-dir "$OUT" | tee "$OUT/accum_curve.txt"
"$BIN" bench --arch --arch-budget "${ARCH_BUDGET:-90}" --json "$OUT/arch.json" | tee "$OUT/arch.txt"
"$BIN" bench --arch --arch-budget "${ARCH_LONG_BUDGET:-600}" --arch-variants gpt2,pruned,llama,llama-pruned \
  --json "$OUT/arch_long.json" | tee "$OUT/arch_long.txt"
# As root, also across two network namespaces (TCP between the ranks).
netns=()
[ "$(id -u)" -eq 0 ] && command -v ip >/dev/null 2>&1 && netns=(--dist-netns)
"$BIN" bench --dist "${netns[@]}" --json "$OUT/dist.json" | tee "$OUT/dist.txt"
"$BIN" bench --report docs/OPTIMIZATIONS.md --from "$OUT"
echo "wrote docs/OPTIMIZATIONS.md"
