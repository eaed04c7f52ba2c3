#include "train/train_options.h"

#include <cmath>

#include "core/sysinfo.h"
#include "kernels/matmul.h"
#include "model/gpt2.h"
#include "train/train_data.h"

namespace cpu_llm {

Status ResolveModelConfig(const TrainOptions& opt, const Tokenizer& tok, ModelConfig* cfg) {
  CPU_LLM_RETURN_IF_ERROR(ConfigFromName(opt.model.empty() ? kDefaultModel : opt.model, cfg));
  cfg->vocab_size = tok.vocab_size();
  if (opt.n_layer) cfg->n_layer = opt.n_layer;
  if (opt.n_head) cfg->n_head = opt.n_head;
  if (opt.n_embd) cfg->n_embd = opt.n_embd;
  if (opt.max_seq_len) cfg->max_seq_len = opt.max_seq_len;
  if (opt.vocab_size) cfg->vocab_size = opt.vocab_size;
  if (!opt.norm.empty()) CPU_LLM_RETURN_IF_ERROR(ParseNorm(opt.norm, &cfg->norm));
  if (!opt.mlp.empty()) CPU_LLM_RETURN_IF_ERROR(ParseMlp(opt.mlp, &cfg->mlp));
  if (!opt.pos.empty()) CPU_LLM_RETURN_IF_ERROR(ParsePos(opt.pos, &cfg->pos));
  if (!opt.bias.empty()) {
    if (opt.bias != "on" && opt.bias != "off") return UsageError("--bias: expected on or off (got '{}')", opt.bias);
    cfg->bias = opt.bias == "on";
  }
  if (!opt.head.empty()) {
    if (opt.head != "tied" && opt.head != "untied")
      return UsageError("--head: expected tied or untied (got '{}')", opt.head);
    cfg->tied_head = opt.head == "tied";
  }
  if (opt.mlp_hidden) cfg->mlp_hidden = opt.mlp_hidden;
  if (opt.rope_theta != 0.0f) cfg->rope_theta = opt.rope_theta;
  // Positions past the training length would never be trained, so by
  // default the model has exactly as many as it is trained on.
  if (!opt.max_seq_len) cfg->max_seq_len = opt.seq_len;
  if (opt.vocab_size && opt.vocab_size < tok.vocab_size())
    return UsageError("--vocab: {} is smaller than the {} tokenizer's {} tokens", opt.vocab_size, tok.name(),
                      tok.vocab_size());
  cfg->padded_vocab_size = PadVocab(cfg->vocab_size);
  return ValidateConfig(*cfg);
}

Status EstimateTrainingMemory(const ModelConfig& cfg, int B, int T, int threads, Precision precision,
                              TrainingMemory* mem) {
  CPU_LLM_RETURN_IF_ERROR(CheckBatchTokens(B, T));
  mem->params = 4.0 * ParameterCount(cfg);
  mem->grads = mem->params;
  mem->adamw = 2.0 * mem->params;
  mem->activations = static_cast<double>(ActivationBytes(cfg, B, T, threads, precision));
  return Status();
}

Status CheckMemory(const ModelConfig& cfg, int B, int T, int threads, Precision precision) {
  TrainingMemory mem;
  CPU_LLM_RETURN_IF_ERROR(EstimateTrainingMemory(cfg, B, T, threads, precision, &mem));
  const double need = mem.total();
  const double have = static_cast<double>(PhysicalMemoryBytes());
  if (need > have)
    return RuntimeError("training {} at B={} T={} needs {:.1f} GB of memory, this machine has {:.1f} GB",
                        DescribeConfig(cfg), B, T, need / 1e9, have / 1e9);
  return Status();
}

Status CheckOptions(const TrainOptions& opt, ParsedOptions* parsed) {
  if (opt.batch <= 0) return UsageError("--batch: must be positive (got {})", opt.batch);
  if (opt.grad_accum < 1) return UsageError("--grad-accum: must be at least 1 (got {})", opt.grad_accum);
  if (opt.seq_len <= 0) return UsageError("--seq-len: must be positive (got {})", opt.seq_len);
  parsed->grad_accum = opt.grad_accum;
  if (opt.batch_tokens != 0) {
    const int64_t micro = static_cast<int64_t>(opt.batch) * opt.seq_len;
    if (opt.batch_tokens < 0 || opt.batch_tokens % micro != 0)
      return UsageError("--batch-tokens: {} is not a positive multiple of batch x seq-len ({} x {} = {})",
                        opt.batch_tokens, opt.batch, opt.seq_len, micro);
    if (opt.grad_accum != 1 && opt.grad_accum != opt.batch_tokens / micro)
      return UsageError("--batch-tokens {} means --grad-accum {}, not {}", opt.batch_tokens, opt.batch_tokens / micro,
                        opt.grad_accum);
    if (opt.batch_tokens / micro > (1 << 20)) return UsageError("--batch-tokens: {} is too many", opt.batch_tokens);
    parsed->grad_accum = static_cast<int>(opt.batch_tokens / micro);
  }
  if (opt.loader_depth < 1 || opt.loader_depth > 1024)
    return UsageError("--loader-depth: must be in [1, 1024] (got {})", opt.loader_depth);
  if (opt.steps < 0) return UsageError("--steps: must not be negative (got {})", opt.steps);
  if (!(opt.time_budget_s >= 0.0)) return UsageError("--time-budget: must not be negative (got {})", opt.time_budget_s);
  if (!(opt.lr > 0.0f) || !std::isfinite(opt.lr)) return UsageError("--lr: must be a positive number (got {})", opt.lr);
  if (opt.warmup < 0) return UsageError("--warmup: must not be negative (got {})", opt.warmup);
  if (opt.lr_final_frac < 0.0f || opt.lr_final_frac > 1.0f)
    return UsageError("--lr-final-frac: must be in [0, 1] (got {})", opt.lr_final_frac);
  // AdamW's bias correction divides by 1 - beta^t: a beta of 1 or more, or a
  // negative decay, trains on nonsense rather than failing.
  if (!(opt.adamw.beta1 >= 0.0f && opt.adamw.beta1 < 1.0f))
    return UsageError("--beta1: must be in [0, 1) (got {})", opt.adamw.beta1);
  if (!(opt.adamw.beta2 >= 0.0f && opt.adamw.beta2 < 1.0f))
    return UsageError("--beta2: must be in [0, 1) (got {})", opt.adamw.beta2);
  if (!(opt.adamw.weight_decay >= 0.0f) || !std::isfinite(opt.adamw.weight_decay))
    return UsageError("--weight-decay: must not be negative (got {})", opt.adamw.weight_decay);
  if (!(opt.adamw.grad_clip >= 0.0f)) return UsageError("--grad-clip: must not be negative (0: off; got {})", opt.adamw.grad_clip);
  if (opt.log_every < 0) return UsageError("--log-every: must not be negative (got {})", opt.log_every);
  if (opt.sample_tokens < 0) return UsageError("--sample-tokens: must not be negative (got {})", opt.sample_tokens);
  if (!(opt.sample_temperature >= 0.0f))
    return UsageError("--sample-temperature: must not be negative (got {})", opt.sample_temperature);
  if (opt.sample_top_k < 0) return UsageError("--sample-top-k: must not be negative (got {})", opt.sample_top_k);
  if (opt.val_every < 0 || opt.val_batches <= 0)
    return UsageError("--val-every must be >= 0 and --val-batches > 0 (got {} and {})", opt.val_every, opt.val_batches);
  if (!(opt.val_fraction > 0.0 && opt.val_fraction < 0.5))
    return UsageError("--val-fraction: must be in (0, 0.5) (got {})", opt.val_fraction);
  if (opt.threads < 0) return UsageError("--threads: must not be negative (got {})", opt.threads);
  if (opt.max_bad_steps < 1)
    return UsageError("--max-bad-steps: must be at least 1 (got {})", opt.max_bad_steps);
  if (opt.keep_checkpoints < 0)
    return UsageError("--keep-checkpoints: must not be negative (got {})", opt.keep_checkpoints);
  if (opt.checkpoint_every < 0) return UsageError("--checkpoint-every: must not be negative (got {})", opt.checkpoint_every);
  if (opt.resume && !opt.init_from.empty()) return UsageError("--resume and --init-from cannot be combined");
  if (opt.prune_vocab < 0 && opt.prune_vocab != kPruneAuto)
    return UsageError("--prune-vocab: must not be negative (got {})", opt.prune_vocab);
  if (opt.prune_vocab > 0 && opt.vocab_size) return UsageError("--prune-vocab and --vocab cannot be combined");
  if (!opt.vocab_map.empty() && opt.vocab_size) return UsageError("--vocab-map and --vocab cannot be combined");
  if (!opt.vocab_map.empty() && opt.prune_vocab > 0)
    return UsageError("--vocab-map and --prune-vocab cannot be combined (the map already says what is kept)");
  if (IsTextFormat(opt.data_format)) {
    if (opt.train_data.empty()) return UsageError("--data-format {}: give the files with --train-data", opt.data_format);
    if (opt.shuffle) return UsageError("--shuffle: needs token files (text is read in order; `prepare` it to shuffle)");
  } else if (!ParseTokenFileFormat(opt.data_format, &parsed->data_format).ok()) {
    // train also reads raw text: name every format it takes.
    return UsageError("--data-format: unknown format '{}' (expected llmc, nanogpt, text or jsonl)", opt.data_format);
  }
  CPU_LLM_RETURN_IF_ERROR(ParseDataAccess(opt.data_access, &parsed->data_access));
  CPU_LLM_RETURN_IF_ERROR(ParseMmapAdvice(opt.mmap_advice, &parsed->mmap_advice));
  CPU_LLM_RETURN_IF_ERROR(ParseLoaderMode(opt.loader, &parsed->loader));
  CPU_LLM_RETURN_IF_ERROR(ParseMatmulBackend(opt.matmul, &parsed->matmul));
  CPU_LLM_RETURN_IF_ERROR(ParsePrecision(opt.precision, &parsed->precision));
  if (opt.stochastic_rounding && parsed->precision != Precision::kBf16)
    return UsageError("--stochastic-rounding: applies to --precision bf16 only (got {})", opt.precision);
  return CheckMatmulPrecision(parsed->matmul, parsed->precision);
}

}  // namespace cpu_llm
