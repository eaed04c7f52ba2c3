#include "bench/plan_items.h"

namespace cpu_llm {

const std::vector<PlanItem>& PlanItems() {
  static const std::vector<PlanItem> kItems = {
      {1, "Mixed precision (bf16, f16)", "built",
       "`--precision bf16|fp16` rounds every operand of the linear layers' products (weights, activations, "
       "activation gradients) to the 16-bit format, to nearest even, as the GEMM packs it, and sums the products "
       "in fp32: exactly what a bf16/fp16 GEMM with fp32 accumulation computes. The activations backward reads as "
       "product operands (qkv, attention output, MLP pre-activation) are stored in 16 bits. fp32 stays for the "
       "master weights, weight gradients, AdamW state, the residual stream, layernorm statistics, softmax, "
       "cross-entropy and every reduction. The weights' 16-bit copy is made as each product packs them rather than "
       "stored beside the masters: the same values, 2 bytes per parameter less (249 MB at 124M). fp16 runs with "
       "dynamic loss scaling (2^16, x2 after 2000 clean steps, x0.5 and a skipped update on overflow, logged and "
       "checkpointed); `--stochastic-rounding` rounds bf16 weights stochastically, with noise hashed from a "
       "per-step seed and each weight's offset. The GEMM has no AVX512-BF16 (vdpbf16ps) micro-kernel yet and "
       "Highway 1.0 has no bf16 dot product, so the 16-bit values are widened to fp32 for the FMAs on every CPU: "
       "the speed is fp32's and the gain is memory. oneDNN 2.6's bf16/fp16 matmul exists behind `--matmul onednn` but reports itself "
       "unimplemented without AVX-512, which the trainer says at start-up. llm.c's bf16 model files (version 5) "
       "are read and written (`--export-bf16`).",
       "`train --precision fp32|bf16|fp16` (default fp32), `--stochastic-rounding` (bf16), `--export-bf16`; "
       "`bench --precision ...`, `bench --ablation --switch bf16,fp16`, and `bench --stability` for the loss "
       "curves.",
       "GemmLowp.* (every SIMD target, 1 and 2 threads): the 16-bit products are bit-identical to the fp32 product "
       "of operands rounded by the scalar references, stochastic weights included, and within 2u+u^2 of the "
       "exact product (u = 2^-8 bf16, 2^-11 fp16) plus fp32 summation; Convert.* holds every conversion to the "
       "references bit for bit; MixedPrecision.* holds the model's loss and gradients to fp32 within ~10x the "
       "measured rounding error, checks thread-count independence and fp16's skipped update on overflow; "
       "Cli.MixedPrecision* trains all three, resumes fp16 with its scale and reads back the bf16 export."},
      {2, "Memory-mapped token shards", "built",
       "`--data-access mmap` maps each shard read-only (data/mapped_file.h) instead of reading it whole into "
       "memory: pages come from disk as windows touch them, the reads of the next 8 windows are started ahead "
       "(MADV_WILLNEED), and the shard is mapped afresh every 32 MB of windows so the pages already used leave the "
       "resident set, which therefore stays flat however much is read. The windows of all shards form one "
       "numbered sequence per epoch (data/window_order.h): in order, or with `--shuffle` in a seeded order new "
       "each epoch (shards permuted, each shard's windows permuted by a keyed bijection in O(shards) memory), "
       "sliced by rank for several processes; the position (epoch, batch) is in every checkpoint. Offsets are "
       "64-bit throughout (a headerless file past 4 GiB is read). The madvise hint is a switch measured below; "
       "`normal` (the kernel's read-ahead) stays the default because it measured fastest. Token ids are checked "
       "batch by batch, and the file's size before each batch, so a shard truncated while training is an error "
       "naming it rather than a SIGBUS. Reading each shard whole (`read`) stays the default and the before.",
       "`train --data-access read|mmap` (default read), `--mmap-advice normal|sequential|random`, `--shuffle`.",
       "DataLoaderAccess.* runs order, wrap-around, shuffled windows, resume and bad shards on read and mmap, "
       "each sync and async; WindowOrder.* checks the bijection, every window once per epoch, determinism and "
       "disjoint rank slices; DataLoaderMmap.WindowsPastFourGiBAreRead (a sparse 4.5 GiB file), "
       ".ReleasedPagesKeepTheResidentSetFlat, .TruncationWhileTrainingIsAnError; CliData.* resumes a shuffled "
       "run to identical weights and stops on a shard truncated mid-run with its checkpoints whole."},
      {3, "Gradient accumulation", "built",
       "`--grad-accum N` sums the gradients of N micro-batches of (B,T) into one update: each micro-batch's "
       "backward adds its gradient times 1/N to the gradient arena (Backward accumulates, with a scale), so the "
       "update is that of one batch of N x B rows while the activations stay one micro-batch's. Micro-batches "
       "are read from the loader one at a time (TrainStepAccumulated), so memory does not grow with N; fp16's "
       "loss scale multiplies every micro-batch. The pairs below differ in the batches they draw, so their losses "
       "differ by design; the loss curve of B=8 against B=2 x 4 on the same rows is measured separately.",
       "`train --grad-accum N` (default 1), or `--batch-tokens N` (tokens per update; sets grad-accum); the batch "
       "line reports the tokens per update.",
       "TrainAccumulation.FourMicroBatchesEqualOneBatchOfEight: 4 x B=2 give the gradient of B=8 to 1e-5 relative "
       "(measured 1.7e-7) and the same parameters after the step; Cli.GradientAccumulationMatchesTheBigBatch trains "
       "both ways to the same printed losses."},
      {4, "SIMD kernels", "partly built",
       "The matmuls of every linear layer and the LM head run a packed, cache-blocked GEMM (kernels/gemm.cc: "
       "6x16 register tiles with AVX2, 12x32 with AVX-512); it, the fused attention (forward, backward and "
       "decode) and the element-wise and row-wise kernels (GELU, residual add, layernorm, cross-entropy with its "
       "log-sum-exp, embedding, AdamW and the gradient norm) are Google Highway code, compiled for every x86 target (AVX-512, AVX2, SSE4, SSSE3 and a scalar "
       "fallback) and dispatched at run time to the best one the CPU has. A vdpbf16ps micro-kernel "
       "(AVX512-BF16) is not built yet (bf16 products widen to fp32); the machine these tables were measured on "
       "lacks the instruction, the Zen 4 development machine has it (the peak row measures it where present).",
       "`train --matmul tiled` (default) or `--matmul naive` (the plain loops, kept as the before): "
       "`bench --ablation --switch matmul`; `train --simd best|avx2|sse4|scalar...` picks the Highway target "
       "(default: the best the CPU has): `bench --ablation --switch simd` runs every kernel on its scalar "
       "target against the dispatched one.",
       "KernelsMatmul.MatchesReference checks every backend, on 1 and 2 threads, against the scalar reference "
       "(src/kernels/reference/reference.h) over odd shapes; the reference itself is checked against finite "
       "differences; KernelsSimd.* (the GEMM's three layouts included) and "
       "KernelsAttention.EveryTargetMatchesReference run every Highway kernel on each target the CPU supports "
       "(dispatch restricted with hwy::SetSupportedTargetsForTest) against the same references, 1 and 2 threads "
       "bit-identical; Parity.* holds the whole "
       "model to PyTorch."},
      {5, "Flat, contiguous tensors", "built",
       "Parameters, gradients, optimizer moments and activations each live in one flat arena, sized once, "
       "laid out like llm.c; no allocation inside the step and no nested vectors. Much of what this buys is "
       "what it enables: one allocation per arena, rows at fixed strides that the tiled kernels stream, a "
       "checkpoint written in one piece. The layer benchmark isolates the layout alone: the same scalar loops "
       "over both storages.",
       "Always on (a design choice, not a switch); the before is measured by a separate layer benchmark over "
       "nested `std::vector<std::vector<float>>` storage.",
       "BenchLib tests: the nested and flat layers give the same outputs and gradients, and match the reference ops."},
      {6, "Profiling", "built",
       "A per-op timer (forward and backward of each op class, optimizer, gradient reduction, data wait) behind "
       "one pointer in the Context: off costs one branch per op. perf and flame-graph instructions are in "
       "docs/PROFILING.md.",
       "`train --profile`; `bench` profiles by default, `bench --no-profile` turns it off; "
       "`bench --ablation --switch profiler` measures its cost",
       "TrainProfile.RecordsEveryOpAndChangesNothing: every op class is timed and the losses are bit-identical "
       "with the profiler on and off."},
      {7, "Asynchronous data loading", "built",
       "`--loader async` puts any batch source behind a thread (data/async_loader.h) that fills a ring of the next "
       "`--loader-depth` batches (default 8) while the step computes; the thread sleeps when the ring is full and "
       "is woken once half of it is free, so the step pays one wake-up per four batches. Errors arrive in order "
       "after the batches read before them, and the position saved in checkpoints is the step's, not the "
       "read-ahead's. It matters most where reading costs most: the trainer also reads raw text or JSONL directly "
       "(`--data-format text|jsonl`, data/text_loader.h), GPT-2-tokenizing on the fly, with the same documents "
       "and end-of-text tokens as `prepare` and an exact, cheap resume (a checkpoint names the byte offset of the "
       "text piece and the tokens to skip). Every run prints the share of step time spent waiting for data.",
       "`train --loader sync|async` (default sync), `--loader-depth K`; `--data-format text|jsonl` with "
       "`--doc-delimiter` and `--jsonl-field`.",
       "DataLoaderAccess.* runs every loader test through the async ring too; AsyncLoader.ErrorsArriveInOrderAndPositionIsTheConsumers; "
       "TextLoader.* checks the token stream against the tokenizer, every resume point of three epochs and that a "
       "seek re-tokenizes almost nothing; CliData.* trains sync and async to identical weights on shards and on "
       "raw text, and resumes both exactly."},
      {8, "Minimal synchronization", "built",
       "Kernels split work with static OpenMP schedules in which every output element has one owner and a fixed "
       "summation order: no atomics, no locks, results independent of the thread count. The gradient norm is a "
       "fixed 64-chunk reduction. Across processes (`mpirun -np P cpu_llm train`, docs/DISTRIBUTED.md) the one "
       "synchronization per update is the gradient average: backward reports each layer's gradients as they "
       "become final and non-blocking all-reduces (MPI_Iallreduce) of ~4 MB buckets start at once, overlapping "
       "the rest of backward; only the last accumulation micro-step communicates, the loss rides in the last "
       "bucket, and no other message is sent per step.",
       "`train --threads N`; `mpirun -np P cpu_llm train --bucket-mb M`; `bench --ablation --switch threads` (d6) "
       "and `--switch threads-124m` (GPT-2 124M); `bench --dist`",
       "ModelBlocks.GradientsAreDeterministicAcrossThreadCounts (every block option), KernelsMatmul.BackwardIndependentOfThreadCount, "
       "KernelsAttention.IndependentOfThreadCount and every KernelsSimd.* test (1 vs 2 threads on each target): "
       "bit-identical results on 1 and 2 threads. CliDist.* (mpirun, 2 ranks on localhost): 2 ranks x B=2 match 1 process x B=4 (losses to 1e-6 relative, weights to 1e-5 after 5 steps, with and without accumulation; measured 9e-8 and 3e-7); GradientAverager.* checks that every gradient element is averaged exactly once for every block."},
      {9, "BLAS backends", "built",
       "The three products of every linear layer and the LM head (out = inp.W^T + bias, dinp = dout.W, "
       "dW += dout^T.inp) through OpenBLAS's cblas_sgemm or oneDNN's dnnl_sgemm; the bias gradient stays a "
       "parallel column sum of our own. cpu_llm links OpenBLAS's OpenMP build, not Debian's default pthread "
        "build (cmake -DCPU_LLM_OPENBLAS_BUILD=pthread links that one), so the library runs on the same libgomp "
        "threads as the other kernels rather than on a second pool beside them; oneDNN is built on libgomp too. "
        "Both take ctx.n_threads threads per call. On GPT-2's shapes neither library beats the built-in "
        "GEMM by more than this machine's noise (see below), so `tiled` stays the default: it also gives "
        "bit-identical results across thread counts, which the libraries do not promise.",
        "`train --matmul blas`, `--matmul onednn` or `--matmul tiled` (default); `bench --ablation --switch blas` "
       "and `--switch onednn` measure them against the tiled kernel on d6; the baseline run times every product "
       "shape of the largest workload on each backend (table below)",
       "KernelsMatmul.MatchesReference runs both library backends, on 1 and 2 threads, against the scalar "
       "reference over odd shapes; KernelsMatmul.LibraryBackendsOverwriteAndAccumulateLikeTiled checks the "
       "overwrite/accumulate contract (dinp and out overwritten, dW and dbias +=, null dinp/dbias); "
       "Parity.* holds the whole model, gradients and ten AdamW steps to PyTorch with each backend."},
      {10, "Architecture tweaks", "built",
       "Block options, each fully trainable (forward, backward, KV-cache decoding, checkpoints): RMSNorm instead "
       "of LayerNorm, squared-ReLU, SiLU or SwiGLU (8C/3 wide, gate and up from one fused matmul) instead of GELU, "
       "rotary positions instead of learned ones, no biases, an untied LM head, and `llama-<preset>` combining "
       "RMSNorm, SwiGLU, RoPE, no biases and an untied head. Dropped tensors have size 0, so GPT-2's block keeps "
       "llm.c's exact file layout (version 3); other blocks are saved as version 2003 with the options in the "
       "header. Vocabulary pruning keeps only the token ids seen in the training data (`--prune-vocab N`: at "
       "least N times; or `prepare --prune-vocab N` counts while writing the shards and `train --vocab-map` "
       "uses its map), remapping batches, validation and prompts, with one 'unknown' id for the rest that "
       "sampling never emits, so outputs stay GPT-2 ids; the map is saved beside the checkpoints. Smaller models "
       "are presets (d1..d48). The winner below, the Llama-style block with a pruned vocabulary, is the default "
       "model of `train` (no `--model`: llama-d3, pruned on token data); the d<N> presets keep GPT-2's block, "
       "which llm.c reads. Not built: the optional trainer of a smaller BPE vocabulary.",
       "`train --norm layernorm|rmsnorm --mlp gelu|relu2|silu|swiglu --pos learned|rope --bias on|off --head "
       "tied|untied`, `--model llama-d<N>`, `--prune-vocab N`, `prepare --prune-vocab N` + `train --vocab-map`, "
       "`--time-budget S`; `bench --arch` compares them.",
       "Parity.* holds three block variants that between them use every option to PyTorch (logits, loss, every "
       "gradient, ten AdamW steps; tools/gen_parity_fixtures.py), as well as GPT-2's; KernelsRmsnorm.*, "
       "KernelsRope.*, KernelsActivation.* check each new kernel against its reference, finite differences, "
       "every SIMD target and PyTorch op fixtures; ModelBlocks.* checks the layout, the KV cache against the full "
       "forward and thread determinism per option, and that checkpoints record the options; TokenMap.* and "
       "CliData.PrunedVocabularyTrainsResumesAndSamples and CliPrepare.VocabularyMapFromPrepareTrainsLikeTrainsOwnCount "
       "cover pruning; Cli.DefaultModelIsTheArchWinner checks the default."},
  };
  return kItems;
}

}  // namespace cpu_llm
