#include "train/trainer.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "core/file_io.h"
#include "core/profiler.h"
#include "core/sysinfo.h"
#include "core/rng.h"
#include "core/timer.h"
#include "data/corpus.h"
#include "data/async_loader.h"
#include "data/loader.h"
#include "data/text_loader.h"
#include "data/shard.h"
#include "data/tokenizer.h"
#include "kernels/matmul.h"
#include "kernels/simd_targets.h"
#include "model/gpt2.h"
#include "train/checkpoint.h"
#include "train/metrics.h"
#include "train/sampler.h"
#include "train/step.h"
#include "train/train_data.h"

namespace cpu_llm {
namespace {

Status ResolveModelConfig(const TrainOptions& opt, const Tokenizer& tok, ModelConfig* cfg) {
  CPU_LLM_RETURN_IF_ERROR(ConfigFromName(opt.model, cfg));
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

// token_map (null: no pruning) maps the val tokens to model ids;
// *unknown_targets counts the targets outside the pruned vocabulary.
Status Evaluate(const Context& train_ctx, GPT2& model, BatchSource& val, const TokenMap* token_map, int n_batches,
                int B, int T, std::vector<int32_t>& inputs, std::vector<int32_t>& targets, float* val_loss,
                int64_t* unknown_targets) {
  Context ctx = train_ctx;
  ctx.profiler = nullptr;  // the profile covers training steps only
  CPU_LLM_RETURN_IF_ERROR(val.Reset());
  double sum = 0.0;
  *unknown_targets = 0;
  for (int i = 0; i < n_batches; i++) {
    CPU_LLM_RETURN_IF_ERROR(val.Next(inputs.data(), targets.data()));
    if (token_map) {
      token_map->MapInPlace(inputs.data(), static_cast<int64_t>(B) * T);
      *unknown_targets += token_map->MapInPlace(targets.data(), static_cast<int64_t>(B) * T);
    }
    float loss = 0.0f;
    CPU_LLM_RETURN_IF_ERROR(model.Forward(ctx, inputs.data(), targets.data(), B, T, &loss));
    sum += loss;
  }
  *val_loss = static_cast<float>(sum / n_batches);
  return Status();
}

// Refuses a configuration that cannot fit in this machine's memory before
// allocating any of it: parameters, gradients, two AdamW moments, activations.
Status CheckMemory(const ModelConfig& cfg, int B, int T, int threads, Precision precision) {
  CPU_LLM_RETURN_IF_ERROR(CheckBatchTokens(B, T));
  const double need = 16.0 * ParameterCount(cfg) + ActivationBytes(cfg, B, T, threads, precision);
  const double have = static_cast<double>(PhysicalMemoryBytes());
  if (need > have)
    return RuntimeError("training {} at B={} T={} needs {:.1f} GB of memory, this machine has {:.1f} GB",
                        DescribeConfig(cfg), B, T, need / 1e9, have / 1e9);
  return Status();
}

// The options that parse into values come back parsed.
struct ParsedOptions {
  TokenFileFormat data_format = TokenFileFormat::kLlmc;
  DataAccess data_access = DataAccess::kRead;
  MmapAdvice mmap_advice = MmapAdvice::kNormal;
  LoaderMode loader = LoaderMode::kSync;
  int grad_accum = 1;
  MatmulBackend matmul = MatmulBackend::kTiled;
  Precision precision = Precision::kFp32;
};

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
  if (opt.val_every < 0 || opt.val_batches <= 0)
    return UsageError("--val-every must be >= 0 and --val-batches > 0 (got {} and {})", opt.val_every, opt.val_batches);
  if (!(opt.val_fraction > 0.0 && opt.val_fraction < 0.5))
    return UsageError("--val-fraction: must be in (0, 0.5) (got {})", opt.val_fraction);
  if (opt.threads < 0) return UsageError("--threads: must not be negative (got {})", opt.threads);
  if (opt.checkpoint_every < 0) return UsageError("--checkpoint-every: must not be negative (got {})", opt.checkpoint_every);
  if (opt.resume && !opt.init_from.empty()) return UsageError("--resume and --init-from cannot be combined");
  if (opt.prune_vocab < 0) return UsageError("--prune-vocab: must not be negative (got {})", opt.prune_vocab);
  if (opt.prune_vocab > 0 && opt.vocab_size) return UsageError("--prune-vocab and --vocab cannot be combined");
  if (!opt.vocab_map.empty() && opt.vocab_size) return UsageError("--vocab-map and --vocab cannot be combined");
  if (!opt.vocab_map.empty() && opt.prune_vocab > 0)
    return UsageError("--vocab-map and --prune-vocab cannot be combined (the map already says what is kept)");
  if (IsTextFormat(opt.data_format)) {
    if (opt.train_data.empty()) return UsageError("--data-format {}: give the files with --train-data", opt.data_format);
    if (opt.shuffle) return UsageError("--shuffle: needs token files (text is read in order; `prepare` it to shuffle)");
  } else {
    CPU_LLM_RETURN_IF_ERROR(ParseTokenFileFormat(opt.data_format, &parsed->data_format));
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

}  // namespace

// Steps (after the first) whose speed plans a time-budgeted run.
constexpr int kBudgetProbeSteps = 5;
constexpr int kBudgetReplanEvery = 25;

Status RunTraining(const TrainOptions& opt) {
  Timer setup_timer;
  ParsedOptions parsed;
  CPU_LLM_RETURN_IF_ERROR(CheckOptions(opt, &parsed));
  const int threads = opt.threads > 0 ? opt.threads : DefaultThreadCount();
  Profiler profiler;
  const Context ctx{threads, opt.profile ? &profiler : nullptr, parsed.matmul, parsed.precision};
  std::unique_ptr<Tokenizer> tok;
  CPU_LLM_RETURN_IF_ERROR(MakeTokenizer(opt.tokenizer, &tok));
  CPU_LLM_RETURN_IF_ERROR(EnsureWritableDir(opt.out_dir));

  // The model's shape: from the checkpoint (a resumed run, --init-from) or the options.
  TrainState state;
  std::string resume_state, model_path = opt.init_from;
  if (opt.resume) {
    resume_state = FindLatestState(opt.out_dir);
    if (resume_state.empty()) return RuntimeError("{}: --resume: no checkpoint found in this folder", opt.out_dir);
    // state_<step>.bin is written after model_<step>.bin, which it names.
    model_path = opt.out_dir + "/model_" + std::filesystem::path(resume_state).filename().string().substr(6);
  }
  ModelConfig cfg;
  if (!model_path.empty()) {
    CPU_LLM_RETURN_IF_ERROR(ReadModelConfig(model_path, &cfg));
    if (opt.seq_len > cfg.max_seq_len)
      return UsageError("--seq-len: {} exceeds the model's maximum sequence length {} ({})", opt.seq_len,
                        cfg.max_seq_len, model_path);
  } else {
    CPU_LLM_RETURN_IF_ERROR(ResolveModelConfig(opt, *tok, &cfg));
  }

  // Vocabulary pruning (plan item 10): a new run counts its training data
  // for the map, a resumed one reads the map its checkpoints were made with.
  const std::string map_path = opt.out_dir + "/vocab_map.bin";
  std::optional<TokenMap> token_map;
  if (!resume_state.empty() && std::filesystem::exists(map_path)) {
    token_map.emplace();
    CPU_LLM_RETURN_IF_ERROR(token_map->Load(map_path));
    if (token_map->source_vocab() != tok->vocab_size() || token_map->model_vocab() != cfg.vocab_size)
      return RuntimeError("{}: maps {} tokenizer ids to {}, but the tokenizer has {} and {} holds {}", map_path,
                          token_map->source_vocab(), token_map->model_vocab(), tok->vocab_size(), model_path,
                          cfg.vocab_size);
  } else if ((opt.prune_vocab > 0 || !opt.vocab_map.empty()) && !model_path.empty()) {
    return UsageError("{}: applies to a new model ({} was trained on the full vocabulary)",
                      opt.prune_vocab > 0 ? "--prune-vocab" : "--vocab-map", model_path);
  } else if (!opt.vocab_map.empty()) {
    // A map from `prepare`: the counting pass was done while the shards were written.
    token_map.emplace();
    CPU_LLM_RETURN_IF_ERROR(token_map->Load(opt.vocab_map));
    if (token_map->source_vocab() != tok->vocab_size())
      return UsageError("--vocab-map: {} maps {} tokenizer ids, the {} tokenizer has {}", opt.vocab_map,
                        token_map->source_vocab(), tok->name(), tok->vocab_size());
    if (std::filesystem::absolute(opt.vocab_map).lexically_normal() != std::filesystem::absolute(map_path).lexically_normal())
      CPU_LLM_RETURN_IF_ERROR(token_map->Save(map_path));
    cfg.vocab_size = token_map->model_vocab();
    cfg.padded_vocab_size = PadVocab(cfg.vocab_size);
  } else if (cfg.vocab_size < tok->vocab_size() && opt.prune_vocab == 0) {
    return RuntimeError("{}: the model's vocabulary ({}) is smaller than the {} tokenizer's ({})", model_path,
                        cfg.vocab_size, tok->name(), tok->vocab_size());
  }
  const bool pruning = token_map.has_value() || opt.prune_vocab > 0;
  const int B = opt.batch, T = opt.seq_len;

  DataSources data;
  LoaderOptions lo = BatchShape(B, T, pruning ? tok->vocab_size() : cfg.vocab_size);
  lo.format = parsed.data_format;
  lo.access = parsed.data_access;
  lo.advice = parsed.mmap_advice;
  lo.order.shuffle = opt.shuffle;
  lo.order.seed = opt.seed;
  CPU_LLM_RETURN_IF_ERROR(OpenData(opt, lo, *tok, &data));
  const int64_t data_order = IsTextFormat(opt.data_format) ? kDataText : opt.shuffle ? kDataShuffled : kDataInOrder;
  auto order_name = [](int64_t order) {
    return order == kDataText ? "as text tokenized on the fly" : order == kDataShuffled ? "shuffled" : "in order";
  };
  if (pruning && !token_map) {
    token_map.emplace();
    CPU_LLM_RETURN_IF_ERROR(BuildTokenMap(data, opt.prune_vocab, *tok, &*token_map));
    CPU_LLM_RETURN_IF_ERROR(token_map->Save(map_path));
    cfg.vocab_size = token_map->model_vocab();
    cfg.padded_vocab_size = PadVocab(cfg.vocab_size);
  }

  GPT2 model;
  if (!model_path.empty()) {
    CPU_LLM_RETURN_IF_ERROR(LoadModel(model_path, &model));
  } else {
    CPU_LLM_RETURN_IF_ERROR(CheckMemory(cfg, B, T, threads, ctx.precision));
    CPU_LLM_RETURN_IF_ERROR(model.Init(cfg));
    Rng init_rng(opt.seed);
    model.InitWeights(init_rng);
  }
  const int64_t tokenizer_id = tok->name() == "gpt2" ? 1 : 0;  // state file slot [11]
  cfg = model.config();
  if (opt.export_bf16 && !IsGpt2Block(cfg))
    return UsageError("--export-bf16: llm.c's bf16 files hold GPT-2's block only; this model's block differs");
  CPU_LLM_RETURN_IF_ERROR(CheckMemory(cfg, B, T, ctx.n_threads, ctx.precision));
  CPU_LLM_RETURN_IF_ERROR(model.PrepareBatch(B, T, ctx.n_threads, ctx.precision));

  AdamW adamw;
  adamw.Init(cfg, opt.adamw);
  Rng rng(opt.seed ^ 0x5EED5EEDull);
  if (!resume_state.empty()) {
    CPU_LLM_RETURN_IF_ERROR(LoadState(resume_state, &state, &adamw));
    if ("model_" + std::filesystem::path(resume_state).filename().string().substr(6) != state.model_file)
      return RuntimeError("{}: names model file '{}', not the one beside it", resume_state, state.model_file);
    if (state.tokenizer_id != tokenizer_id)
      return UsageError("--tokenizer: the checkpoint was trained with the {} tokenizer", state.tokenizer_id ? "gpt2" : "bytes");
    if (state.batch != B || state.seq_len != T)
      return UsageError("--resume: the checkpoint was trained with B={} T={}; pass the same --batch and --seq-len",
                        state.batch, state.seq_len);
    if (state.data_order != data_order)
      return UsageError("--resume: the checkpoint read its data {}, this run would read it {} (see --shuffle, "
                        "--data-format)", order_name(state.data_order), order_name(data_order));
    if (state.seed != static_cast<int64_t>(opt.seed) && opt.shuffle)
      return UsageError("--resume: the checkpoint shuffled its data with --seed {}", state.seed);
    LoaderPosition pos = state.data;
    if (state.v1_data)
      CPU_LLM_RETURN_IF_ERROR(data.train_tokens.InOrderPosition(state.v1_source, state.v1_offset, state.data.epoch, &pos));
    CPU_LLM_RETURN_IF_ERROR(data.train->Seek(pos));
    rng.set_state(state.rng_state);
  }
  // fp16 gradients need loss scaling; a resumed fp16 run goes on with its scale.
  std::optional<DynamicLossScaler> scaler;
  if (ctx.precision == Precision::kFp16) {
    scaler.emplace();
    if (state.loss_scale > 0.0f)
      scaler->Restore(state.loss_scale, static_cast<int>(state.clean_steps), state.skipped_steps);
  }
  int64_t skipped_steps = state.skipped_steps;

  MetricsLog metrics;
  CPU_LLM_RETURN_IF_ERROR(metrics.Open(opt.out_dir + "/metrics.jsonl"));
  fmt::print("model: {}\n", DescribeConfig(cfg));
  if (token_map)
    fmt::print("vocabulary: pruned to the {} of {} {} ids seen at least {} time(s) in the training data, plus one "
               "'unknown' (map: {})\n",
               token_map->model_vocab() - 1, tok->vocab_size(), tok->name(), token_map->min_count(), map_path);
  // The loader the steps read from: the shards themselves, or a thread
  // reading them ahead (started after a resume's Seek, at that position).
  AsyncLoader async_data;
  BatchSource* batches = data.train;
  if (parsed.loader == LoaderMode::kAsync) {
    CPU_LLM_RETURN_IF_ERROR(async_data.Start(data.train, B, T, opt.loader_depth));
    batches = &async_data;
  }
  fmt::print("data: train {}{}\n", batches->description(), data.val ? ", val " + data.val->description() : "");
  const int grad_accum = parsed.grad_accum;
  const int64_t tokens_per_step = static_cast<int64_t>(grad_accum) * B * T;
  fmt::print("batch: B={} T={}{} ({} tokens/step), threads {}, steps {}{}\n", B, T,
             grad_accum > 1 ? fmt::format(" x {} accumulated micro-batches", grad_accum) : "",
             tokens_per_step, ctx.n_threads, opt.steps,
             resume_state.empty() ? "" : fmt::format(", resuming at step {}", state.step));
  fmt::print("kernels: matmul {}, SIMD {}\n", MatmulBackendName(ctx.matmul), SimdTargetName(DispatchedSimdTarget()));
  if (ctx.precision != Precision::kFp32)
    fmt::print("precision: {} products with fp32 sums, {} saved activations, fp32 master weights{}{}\n",
               PrecisionName(ctx.precision), PrecisionName(ctx.precision),
               opt.stochastic_rounding ? ", weights rounded stochastically" : "",
               scaler ? fmt::format(", dynamic loss scaling from {:g}", scaler->scale()) : "");
  fmt::print("memory: params {:.1f} MB, grads {:.1f} MB, adamw {:.1f} MB, activations {:.1f} MB\n",
             model.param_bytes() / 1e6, model.grad_bytes() / 1e6, adamw.state_bytes() / 1e6,
             model.activation_bytes() / 1e6);
  // Start-up is what the mmap switch (plan item 2) saves on big shards.
  fmt::print("setup: {:.1f} ms (model, data, optimizer), RSS {:.1f} MB\n", setup_timer.Ms(), CurrentRssBytes() / 1e6);
  std::fflush(stdout);

  LrSchedule schedule{opt.lr, opt.warmup, std::max(opt.steps, 1), opt.lr_final_frac};
  // With a time budget the run plans its step count from the speed of its
  // first steps, so that the schedule decays within the budget.
  int total_steps = opt.steps;
  Timer run_timer;
  double timed_ms = 0.0;
  int timed_steps = 0;
  std::vector<int32_t> inputs((size_t)B * T), targets((size_t)B * T);
  auto save = [&](int step) -> Status {
    TrainState st;
    st.step = step;
    st.rng_state = rng.state();
    st.data = batches->position();
    st.data_order = data_order;
    st.batch = B;
    st.seq_len = T;
    st.seed = static_cast<int64_t>(opt.seed);
    st.tokenizer_id = tokenizer_id;
    if (scaler) {
      st.loss_scale = scaler->scale();
      st.clean_steps = scaler->clean_steps();
    }
    st.skipped_steps = skipped_steps;
    std::string path;
    CPU_LLM_RETURN_IF_ERROR(SaveCheckpoint(opt.out_dir, model, adamw, st, &path));
    fmt::print("checkpoint: {}\n", path);
    if (opt.export_bf16) {
      const std::string bf16_path = fmt::format("{}/model_{:08d}.bf16.bin", opt.out_dir, step);
      CPU_LLM_RETURN_IF_ERROR(SaveModel(bf16_path, model, WeightFormat::kBf16));
      fmt::print("bf16 model: {}\n", bf16_path);
    }
    return Status();
  };
  auto validate = [&](int step) -> Status {
    if (!data.val) return Status();
    float val_loss = 0.0f;
    int64_t unknown = 0;
    CPU_LLM_RETURN_IF_ERROR(Evaluate(ctx, model, *data.val, token_map ? &*token_map : nullptr, opt.val_batches, B, T,
                                     inputs, targets, &val_loss, &unknown));
    fmt::print("step {:5d} | val loss {:.4f}{}\n", step, val_loss,
               unknown ? fmt::format(" ({} val targets outside the pruned vocabulary)", unknown) : "");
    return metrics.Append({{"step", step}, {"val_loss", val_loss}});
  };

  // Micro-batches come from the loader one at a time (TrainStepAccumulated
  // times the wait), so memory does not grow with --grad-accum.
  const MicroBatchFn read = LoaderMicroBatches(*batches, inputs.data(), targets.data());
  double data_ms = 0.0, data_ms_total = 0.0, step_ms_total = 0.0;  // time the steps waited for batches
  const MicroBatchFn next = [&](int i, const int32_t** in, const int32_t** tg) {
    Timer wait;
    Status s = read(i, in, tg);
    if (s.ok() && token_map) {  // into the trainer's own buffers, which *in and *tg point at
      token_map->MapInPlace(inputs.data(), static_cast<int64_t>(B) * T);
      token_map->MapInPlace(targets.data(), static_cast<int64_t>(B) * T);
    }
    data_ms += wait.Ms();
    return s;
  };
  int last_step = static_cast<int>(state.step);
  for (int step = static_cast<int>(state.step) + 1; step <= total_steps; step++) {
    Timer timer;
    const float lr = schedule.At(step);
    StepStats stats;
    const int update = static_cast<int>(step - skipped_steps);
    // Stochastic rounding draws new noise each step, reproducibly from the seed.
    Context step_ctx = ctx;
    if (opt.stochastic_rounding) {
      step_ctx.sr_weights = model.params();
      step_ctx.sr_weights_n = model.num_params();
      step_ctx.sr_seed = Rng(opt.seed ^ (static_cast<uint64_t>(step) << 20)).NextU64();
    }
    data_ms = 0.0;
    CPU_LLM_RETURN_IF_ERROR(TrainStepAccumulated(step_ctx, model, adamw, next, grad_accum, B, T, lr, update,
                                                 scaler ? &*scaler : nullptr, &stats));
    const float loss = stats.loss, norm = stats.grad_norm;
    if (stats.skipped) {
      skipped_steps++;
      fmt::print("step {:5d}: gradients overflowed fp16 at loss scale {:g}: update skipped, scale now {:g} "
                 "({} skipped so far)\n",
                 step, stats.loss_scale, scaler->scale(), skipped_steps);
    }
    const double ms = timer.Ms();
    // The first step of a run waits for a cold start: the share is of the steady state.
    if (step != static_cast<int>(state.step) + 1) {
      data_ms_total += data_ms;
      step_ms_total += ms;
    }
    // The first step pays for page faults and cold caches: profile the rest.
    if (step == static_cast<int>(state.step) + 1) profiler.Reset();
    else profiler.AddStep(static_cast<int64_t>(ms * 1e6));
    const double tok_s = static_cast<double>(tokens_per_step) / (ms / 1000.0);
    // Loss scaling guards fp16's gradients, not its forward: an activation
    // past 65504 is infinite whatever the scale, so skipping would not help.
    if (!std::isfinite(loss))
      return RuntimeError("step {}: the loss is not finite ({}){}", step, loss,
                          ctx.precision == Precision::kFp16
                              ? "; fp16 holds at most 65504, so an activation may have overflowed: try bf16"
                              : "");
    last_step = step;
    if (opt.time_budget_s > 0.0 && step != static_cast<int>(state.step) + 1) {
      timed_ms += ms;
      // Planned after the probe, then re-planned now and then from the mean
      // so far, so a slow start (a busy machine) does not leave budget unused.
      if (++timed_steps == kBudgetProbeSteps || (timed_steps > kBudgetProbeSteps && timed_steps % kBudgetReplanEvery == 0)) {
        const double left_ms = opt.time_budget_s * 1000.0 - run_timer.Ms();
        total_steps = std::min(opt.steps, step + std::max(0, static_cast<int>(left_ms / (timed_ms / timed_steps))));
        schedule.total = std::max(total_steps, 1);
        if (timed_steps == kBudgetProbeSteps)
          fmt::print("time budget: {:.0f} s, {:.1f} ms/step: {} steps planned\n", opt.time_budget_s,
                     timed_ms / timed_steps, total_steps);
      }
    }
    if (opt.log_every > 0 && (step % opt.log_every == 0 || step == 1 || step == total_steps)) {
      fmt::print("step {:5d}/{} | loss {:.4f} | lr {:.2e} | norm {:.4f}{} | {:.1f} ms | {:.0f} tok/s\n", step,
                 total_steps, loss, lr, norm, scaler ? fmt::format(" | scale {:g}", stats.loss_scale) : "", ms, tok_s);
      std::fflush(stdout);
    }
    nlohmann::json record = {{"step", step}, {"loss", loss}, {"lr", lr}, {"grad_norm", norm}, {"ms", ms}, {"data_ms", data_ms}, {"tok_s", tok_s}};
    if (scaler) {
      record["loss_scale"] = stats.loss_scale;
      record["skipped"] = stats.skipped;
    }
    CPU_LLM_RETURN_IF_ERROR(metrics.Append(record));
    if (opt.val_every > 0 && step % opt.val_every == 0 && step != total_steps) CPU_LLM_RETURN_IF_ERROR(validate(step));
    if (opt.checkpoint_every > 0 && step % opt.checkpoint_every == 0 && step != total_steps)
      CPU_LLM_RETURN_IF_ERROR(save(step));
  }
  const int final_step = std::max(last_step, static_cast<int>(state.step));
  if (opt.time_budget_s > 0.0)
    fmt::print("time budget: {} steps in {:.1f} s of {:.0f} s\n", final_step - static_cast<int>(state.step),
               run_timer.Ms() / 1000.0, opt.time_budget_s);
  CPU_LLM_RETURN_IF_ERROR(validate(final_step));
  CPU_LLM_RETURN_IF_ERROR(save(final_step));
  if (step_ms_total > 0.0)
    fmt::print("data wait: {:.1f} ms of {:.1f} ms of steps after the first ({:.2f}%, {} loader)\n", data_ms_total,
               step_ms_total,
               100.0 * data_ms_total / step_ms_total, parsed.loader == LoaderMode::kAsync ? "async" : "sync");
  fmt::print("peak RSS: {:.1f} MB\n", PeakRssBytes() / 1e6);
  if (opt.profile) fmt::print("{}", profiler.Report());

  if (opt.sample_tokens > 0) {
    SampleOptions so;
    so.max_new_tokens = opt.sample_tokens;
    so.temperature = opt.sample_temperature;
    so.top_k = opt.sample_top_k;
    fmt::print("sample:\n{}", opt.sample_prompt);
    CPU_LLM_RETURN_IF_ERROR(GenerateText(ctx, model, *tok, token_map ? &*token_map : nullptr, opt.sample_prompt, so,
                                         rng, [&](const std::string& text) {
                                           fmt::print("{}", text);
                                           std::fflush(stdout);
                                         }));
    fmt::print("\n");
  }
  return Status();
}

}  // namespace cpu_llm
