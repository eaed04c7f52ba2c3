// The training loop: data, model, AdamW, schedule, validation, metrics,
// checkpoints and a closing sample, driven by TrainOptions.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "core/status.h"
#include "dist/communicator.h"
#include "model/config.h"
#include "optim/adamw.h"

namespace cpu_llm {

// The default model: a Llama-style block (RMSNorm, SwiGLU, RoPE, no biases,
// untied head) of the d3 shape (3 layers, C=192), trained on a pruned
// vocabulary. `--model d3` is GPT-2's block, as llm.c has it.
inline constexpr const char* kDefaultModel = "llama-d3";
inline constexpr int64_t kPruneAuto = -1;

struct TrainOptions {
  // Model: a preset name, then explicit overrides (0 = keep the preset's).
  // Empty: the default model, kDefaultModel with its vocabulary pruned to the
  // training data's tokens (see kPruneAuto), the combination `bench --arch`
  // found reaches the lowest validation loss in the same CPU time.
  std::string model;
  int n_layer = 0, n_head = 0, n_embd = 0, max_seq_len = 0, vocab_size = 0;
  // Block options (plan item 10); empty or 0 keeps the preset's: norm
  // layernorm|rmsnorm, mlp gelu|relu2|silu|swiglu, pos learned|rope, bias
  // on|off, head tied|untied.
  std::string norm, mlp, pos, bias, head;
  int mlp_hidden = 0;
  float rope_theta = 0.0f;
  std::string init_from;  // llm.c checkpoint to start from (fine-tuning)

  // Data: empty train_data means the bundled corpus.
  std::string tokenizer = "gpt2";
  std::string train_data, val_data;
  // "llmc" or "nanogpt" (headerless uint16 train.bin/val.bin) token files,
  // or "text" / "jsonl" files tokenized on the fly (TextLoader; no prepare).
  std::string data_format = "llmc";
  std::string doc_delimiter;         // text: separates documents (empty: one per file)
  std::string jsonl_field = "text";  // jsonl: the field holding the text
  // Shards read whole into memory one at a time ("read") or memory-mapped
  // ("mmap": memory does not grow with the shard; see DataAccess).
  std::string data_access = "read";
  // mmap only: the madvise hint for the mapped shards (MmapAdvice).
  std::string mmap_advice = "normal";
  // Visit the windows of the training data in a seeded order, new each epoch
  // (WindowOrder); the default reads them first to last.
  bool shuffle = false;
  // "sync": the step reads its own batches; "async": a thread reads the next
  // loader_depth batches while the step computes (AsyncLoader).
  std::string loader = "sync";
  int loader_depth = 8;
  double val_fraction = 0.05;  // bundled corpus only
  // Vocabulary pruning (plan item 10): > 0 keeps only the token ids that
  // occur at least this often in the training data (TokenMap); 0 = off;
  // kPruneAuto: 1 for a new default model (no --model) on token data, else off.
  int64_t prune_vocab = kPruneAuto;
  std::string vocab_map;  // a map from `prepare --prune-vocab` instead of counting

  int batch = 16, seq_len = 64;
  // Micro-batches of (batch, seq_len) whose gradients are summed into one
  // update: the effective batch is grad_accum x batch rows, the memory that
  // of one micro-batch.
  int grad_accum = 1;
  // Tokens per update; if set, grad_accum is derived from it (it must be a
  // multiple of batch x seq_len).
  int64_t batch_tokens = 0;
  int steps = 300;
  // Seconds of training (0: none). The run measures its first steps, plans
  // how many fit (at most `steps`) and sets the schedule's length to that.
  double time_budget_s = 0.0;
  float lr = 2e-3f;
  int warmup = 20;
  float lr_final_frac = 0.1f;
  AdamWConfig adamw;
  uint64_t seed = 1337;
  int threads = 0;  // 0 = all cores, shared out among the ranks on this machine
  // Data-parallel runs: the size of a gradient bucket whose all-reduce starts
  // as soon as backward has filled it.
  double bucket_mb = 4.0;
  // Matmul backend: "tiled" (the built-in Highway GEMM: in the bench as fast
  // as the libraries on GPT-2's shapes, and bit-identical across thread
  // counts), "blas" (OpenBLAS), "onednn" or "naive" (the plain-loop "before").
  std::string matmul = "tiled";
  // SIMD target of the Highway kernels: "best" (run-time dispatch) or one
  // name such as "avx2" or "scalar". Applied by the CLI (process-wide).
  std::string simd = "best";
  // Number format of the linear layers' products: "fp32", "bf16" or "fp16"
  // (fp32 master weights, gradients and AdamW state in every case; fp16 adds
  // dynamic loss scaling). See Precision in core/context.h.
  std::string precision = "fp32";
  // bf16 only: weights rounded stochastically (fresh noise every step)
  // instead of to nearest even when they enter a product.
  bool stochastic_rounding = false;
  // Also write each checkpoint's weights as llm.c's bf16 model file
  // (version 5), model_<step>.bf16.bin, for tools that read that format.
  bool export_bf16 = false;
  // A step whose loss or gradient comes out inf/NaN is skipped (no update,
  // no checkpoint); after this many in a row the run stops with an error
  // naming the first op whose output went non-finite.
  int max_bad_steps = 5;
  // Check every op's output in every step (core/anomaly.h), so that each
  // bad step names its op; otherwise only the stopping step is replayed
  // with the checks on.
  bool detect_anomaly = false;

  int val_every = 50, val_batches = 8;
  int log_every = 1;
  // No step lines and no status line (validation, checkpoints and the
  // closing summary still print).
  bool quiet = false;
  std::string out_dir = "runs/default";
  int checkpoint_every = 0;  // 0 = only at the end
  int keep_checkpoints = 0;  // keep the newest N checkpoints, removing older ones (0 = keep all)
  // Set (from a signal handler) to stop after the current step with a
  // checkpoint; null: never.
  const std::atomic<bool>* stop_requested = nullptr;
  bool resume = false;
  bool profile = false;  // per-op time breakdown printed at the end

  int sample_tokens = 300;  // printed after training; 0 = none
  std::string sample_prompt = "And it came to pass";
  float sample_temperature = 0.7f;
  int sample_top_k = 40;
};

// comm: the data-parallel world this process is a rank of (issue 9); null is
// a world of one. Every rank runs RunTraining with the same options: rank 0's
// parameters are broadcast at the start, each rank reads its own slice of
// the batches, gradients are averaged during backward, and rank 0 alone
// writes the metrics, checkpoints, vocabulary map and sample.
Status RunTraining(const TrainOptions& opt, Communicator* comm = nullptr);

}  // namespace cpu_llm
