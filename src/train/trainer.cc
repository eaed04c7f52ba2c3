#include "train/trainer.h"

#include <fmt/ranges.h>

#include <cmath>
#include <cstdio>
#include <unistd.h>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "core/anomaly.h"
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
#include "dist/grad_averager.h"
#include "kernels/matmul.h"
#include "kernels/simd_targets.h"
#include "model/gpt2.h"
#include "train/checkpoint.h"
#include "train/metrics.h"
#include "train/run_config.h"
#include "train/run_plot.h"
#include "train/sampler.h"
#include "train/step.h"
#include "train/train_data.h"
#include "train/train_options.h"
#include "train/train_progress.h"
#include "train/vocab_export.h"

namespace cpu_llm {
namespace {

// token_map (null: no pruning) maps the val tokens to model ids;
// *unknown_targets counts the targets outside the pruned vocabulary.
// With several ranks, each evaluates its share of the n_batches (its loader
// holds every world-th batch) and the sums are reduced.
Status Evaluate(const Context& train_ctx, Communicator& comm, GPT2& model, BatchSource& val, const TokenMap* token_map,
                int n_batches, int B, int T, std::vector<int32_t>& inputs, std::vector<int32_t>& targets,
                float* val_loss, int64_t* unknown_targets) {
  Context ctx = train_ctx;
  ctx.profiler = nullptr;  // the profile covers training steps only
  CPU_LLM_RETURN_IF_ERROR(val.Reset());
  double sums[3] = {0.0, 0.0, 0.0};  // loss, batches, unknown targets
  for (int i = comm.rank(); i < n_batches; i += comm.world()) {
    CPU_LLM_RETURN_IF_ERROR(val.Next(inputs.data(), targets.data()));
    if (token_map) {
      token_map->MapInPlace(inputs.data(), static_cast<int64_t>(B) * T);
      sums[2] += static_cast<double>(token_map->MapInPlace(targets.data(), static_cast<int64_t>(B) * T));
    }
    float loss = 0.0f;
    CPU_LLM_RETURN_IF_ERROR(model.Forward(ctx, inputs.data(), targets.data(), B, T, &loss));
    sums[0] += loss;
    sums[1] += 1.0;
  }
  if (comm.world() > 1) CPU_LLM_RETURN_IF_ERROR(comm.AllreduceSum(sums, 3));
  *val_loss = static_cast<float>(sums[0] / sums[1]);
  *unknown_targets = static_cast<int64_t>(sums[2]);
  return Status();
}

}  // namespace

// Steps (after the first) whose speed plans a time-budgeted run.
constexpr int kBudgetProbeSteps = 5;
constexpr int kBudgetReplanEvery = 25;

Status RunTraining(const TrainOptions& opt, Communicator* comm_or_null) {
  Timer setup_timer;
  LocalCommunicator alone;
  Communicator& comm = comm_or_null ? *comm_or_null : alone;
  const bool root = comm.is_root(), parallel = comm.world() > 1;
  ParsedOptions parsed;
  CPU_LLM_RETURN_IF_ERROR(CheckOptions(opt, &parsed));
  if (parallel && IsTextFormat(opt.data_format))
    return UsageError("--data-format {}: a data-parallel run needs token files (`prepare` the text first)",
                      opt.data_format);
  // Ranks on one machine share its cores: by default each takes its part.
  const int threads = opt.threads > 0 ? opt.threads : std::max(1, DefaultThreadCount() / comm.local_ranks());
  Profiler profiler;
  const Context ctx{threads, opt.profile ? &profiler : nullptr, parsed.matmul, parsed.precision};
  std::unique_ptr<Tokenizer> tok;
  CPU_LLM_RETURN_IF_ERROR(MakeTokenizer(opt.tokenizer, &tok));
  CPU_LLM_RETURN_IF_ERROR(EnsureWritableDir(opt.out_dir));

  // The model's shape: from the checkpoint (a resumed run, --init-from) or the options.
  TrainState state;
  std::string resume_state, model_path = opt.init_from;
  if (root) RemoveStaleTempFiles(opt.out_dir);  // left by a writer that was killed
  if (opt.resume) {
    // The newest checkpoint that reads back whole; a damaged one (a disk
    // error, a file edited by hand) is reported and the one before is used.
    // state_<step>.bin is written after model_<step>.bin, which it names.
    std::string skipped;
    for (const std::string& state_path : FindStates(opt.out_dir)) {
      const std::string model = opt.out_dir + "/model_" + std::filesystem::path(state_path).filename().string().substr(6);
      ModelConfig probe;
      Status ok = VerifyStateFile(state_path);
      if (ok.ok()) ok = ReadModelConfig(model, &probe);
      if (ok.ok()) {
        resume_state = state_path;
        model_path = model;
        break;
      }
      fmt::print("resume: skipping a damaged checkpoint: {}\n", ok.message());
      if (skipped.empty()) skipped = ok.message();
    }
    if (resume_state.empty())
      return RuntimeError("{}: --resume: no complete checkpoint found in this folder{}", opt.out_dir,
                          skipped.empty() ? "" : " (" + skipped + ")");
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
  // The default model prunes when it can: a new model on token data.
  int64_t prune_vocab = opt.prune_vocab;
  if (prune_vocab == kPruneAuto)
    prune_vocab = opt.model.empty() && model_path.empty() && !opt.vocab_size && opt.vocab_map.empty() &&
                          !IsTextFormat(opt.data_format)
                      ? 1
                      : 0;
  const std::string map_path = opt.out_dir + "/vocab_map.bin";
  std::optional<TokenMap> token_map;
  if (!resume_state.empty() && std::filesystem::exists(map_path)) {
    token_map.emplace();
    CPU_LLM_RETURN_IF_ERROR(token_map->Load(map_path));
    if (token_map->source_vocab() != tok->vocab_size() || token_map->model_vocab() != cfg.vocab_size)
      return RuntimeError("{}: maps {} tokenizer ids to {}, but the tokenizer has {} and {} holds {}", map_path,
                          token_map->source_vocab(), token_map->model_vocab(), tok->vocab_size(), model_path,
                          cfg.vocab_size);
  } else if ((prune_vocab > 0 || !opt.vocab_map.empty()) && !model_path.empty()) {
    return UsageError("{}: applies to a new model ({} was trained on the full vocabulary)",
                      prune_vocab > 0 ? "--prune-vocab" : "--vocab-map", model_path);
  } else if (!opt.vocab_map.empty()) {
    // A map from `prepare`: the counting pass was done while the shards were written.
    token_map.emplace();
    CPU_LLM_RETURN_IF_ERROR(token_map->Load(opt.vocab_map));
    if (token_map->source_vocab() != tok->vocab_size())
      return UsageError("--vocab-map: {} maps {} tokenizer ids, the {} tokenizer has {}", opt.vocab_map,
                        token_map->source_vocab(), tok->name(), tok->vocab_size());
    if (root && std::filesystem::absolute(opt.vocab_map).lexically_normal() !=
                    std::filesystem::absolute(map_path).lexically_normal())
      CPU_LLM_RETURN_IF_ERROR(token_map->Save(map_path));
    cfg.vocab_size = token_map->model_vocab();
    cfg.padded_vocab_size = PadVocab(cfg.vocab_size);
  } else if (cfg.vocab_size < tok->vocab_size() && prune_vocab == 0) {
    // A run with a pruned vocabulary wrote its map beside its checkpoints.
    if (!resume_state.empty())
      return RuntimeError("{}: not found: the checkpoint {} has a pruned vocabulary ({} of the {} tokenizer's {} ids) "
                          "and resumes only with the map its run wrote beside it",
                          map_path, model_path, cfg.vocab_size, tok->name(), tok->vocab_size());
    return RuntimeError("{}: the model's vocabulary ({}) is smaller than the {} tokenizer's ({})", model_path,
                        cfg.vocab_size, tok->name(), tok->vocab_size());
  }
  const bool pruning = token_map.has_value() || prune_vocab > 0;
  const int B = opt.batch, T = opt.seq_len;

  DataSources data;
  LoaderOptions lo = BatchShape(B, T, pruning ? tok->vocab_size() : cfg.vocab_size);
  lo.format = parsed.data_format;
  lo.access = parsed.data_access;
  lo.advice = parsed.mmap_advice;
  lo.order.shuffle = opt.shuffle;
  lo.order.seed = opt.seed;
  lo.order.rank = comm.rank();  // each rank reads every world-th batch (WindowOrder)
  lo.order.world = comm.world();
  CPU_LLM_RETURN_IF_ERROR(OpenData(opt, lo, *tok, &data));
  const int64_t data_order = IsTextFormat(opt.data_format) ? kDataText : opt.shuffle ? kDataShuffled : kDataInOrder;
  auto order_name = [](int64_t order) {
    return order == kDataText ? "as text tokenized on the fly" : order == kDataShuffled ? "shuffled" : "in order";
  };
  if (pruning && !token_map) {
    token_map.emplace();
    CPU_LLM_RETURN_IF_ERROR(BuildTokenMap(data, prune_vocab, *tok, &*token_map));
    if (root) CPU_LLM_RETURN_IF_ERROR(token_map->Save(map_path));
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
  // The options as this run really goes, for `--config` to make it again:
  // beside the checkpoints and inside each state file.
  const TrainOptions resolved = ResolveRunOptions(opt, cfg, prune_vocab, parsed.grad_accum);
  const std::string run_config = RunConfigJson(resolved), config_path = opt.out_dir + "/train_config.json";
  if (root) CPU_LLM_RETURN_IF_ERROR(WriteFileAtomic(config_path, run_config.data(), run_config.size()));
  // Data parallel: every rank starts from rank 0's weights (a resumed run's
  // ranks read the same checkpoint; the broadcast makes sure) and averages
  // its gradients with the others' during backward.
  GradientAverager averager;
  if (parallel) {
    CPU_LLM_RETURN_IF_ERROR(comm.Broadcast(model.params(), model.num_params() * int64_t{sizeof(float)}, 0));
    if (!(opt.bucket_mb > 0.0)) return UsageError("--bucket-mb: must be positive (got {})", opt.bucket_mb);
    CPU_LLM_RETURN_IF_ERROR(
        averager.Init(&comm, cfg, model.grads(), static_cast<int64_t>(opt.bucket_mb * 1e6 / sizeof(float)) + 1));
  }

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
    const std::string changed = state.run_config.empty() ? "" : DiffRunConfigs(state.run_config, run_config);
    if (!changed.empty()) fmt::print("resume: options changed since the checkpoint: {}\n", changed);
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
  if (root)
    CPU_LLM_RETURN_IF_ERROR(metrics.Open(opt.out_dir + "/metrics.jsonl", resume_state.empty() ? -1 : state.step));
  auto log_metrics = [&](const nlohmann::json& record) { return root ? metrics.Append(record) : Status(); };
  fmt::print("config: {}\n{}", config_path, DescribeRunConfig(resolved));
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
  // Every rank's batch counts: tokens/s is the job's.
  const int64_t tokens_per_step = static_cast<int64_t>(grad_accum) * B * T * comm.world();
  fmt::print("batch: B={} T={}{}{} ({} tokens/step), threads {}, steps {}{}\n", B, T,
             grad_accum > 1 ? fmt::format(" x {} accumulated micro-batches", grad_accum) : "",
             parallel ? fmt::format(" x {} ranks", comm.world()) : "",
             tokens_per_step, ctx.n_threads, opt.steps,
             resume_state.empty() ? "" : fmt::format(", resuming at step {}", state.step));
  if (parallel)
    fmt::print("data parallel: {} ranks ({} on this machine), {} threads each, gradients averaged in {} bucket(s) of "
               "~{:g} MB during backward\n",
               comm.world(), comm.local_ranks(), ctx.n_threads, averager.num_buckets(), opt.bucket_mb);
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
  // Only rank 0 speaks (the others' stdout is /dev/null). mpirun hands its
  // ranks a pseudo-terminal whatever its own output is: no status line there.
  TrainProgress progress(stdout, root && !parallel && !opt.quiet && ::isatty(STDOUT_FILENO) == 1,
                         static_cast<int>(state.step), total_steps, tokens_per_step);
  Timer run_timer;
  double timed_ms = 0.0;
  int timed_steps = 0;
  std::vector<int32_t> inputs((size_t)B * T), targets((size_t)B * T);
  int last_saved = -1;  // the step of the last checkpoint this run wrote
  auto save = [&](int step) -> Status {
    last_saved = step;
    if (!root) return Status();
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
    st.run_config = run_config;
    std::string path;
    CPU_LLM_RETURN_IF_ERROR(SaveCheckpoint(opt.out_dir, model, adamw, st, &path));
    progress.Print(fmt::format("checkpoint: {}\n", path));
    if (opt.export_bf16) {
      // For llm.c: GPT-2 ids, so a pruned vocabulary goes back to the tokenizer's.
      const std::string bf16_path = fmt::format("{}/model_{:08d}.bf16.bin", opt.out_dir, step);
      GPT2 expanded;
      if (token_map) CPU_LLM_RETURN_IF_ERROR(ExpandVocabulary(model, *token_map, &expanded));
      CPU_LLM_RETURN_IF_ERROR(SaveModel(bf16_path, token_map ? expanded : model, WeightFormat::kBf16));
      progress.Print(fmt::format("bf16 model: {}{}\n", bf16_path,
                                 token_map ? fmt::format(" (in the {} tokenizer's {} ids)", tok->name(), tok->vocab_size())
                                           : ""));
    }
    // Older ones go only once the new one is complete.
    return PruneCheckpoints(opt.out_dir, opt.keep_checkpoints);
  };
  auto validate = [&](int step) -> Status {
    if (!data.val) return Status();
    float val_loss = 0.0f;
    int64_t unknown = 0;
    CPU_LLM_RETURN_IF_ERROR(Evaluate(ctx, comm, model, *data.val, token_map ? &*token_map : nullptr, opt.val_batches, B, T,
                                     inputs, targets, &val_loss, &unknown));
    progress.Print(fmt::format("step {:5d} | val loss {:.4f}{}\n", step, val_loss,
                               unknown ? fmt::format(" ({} val targets outside the pruned vocabulary)", unknown) : ""));
    return log_metrics({{"step", step}, {"val_loss", val_loss}});
  };

  // Micro-batches come from the loader one at a time (TrainStepAccumulated
  // times the wait), so memory does not grow with --grad-accum.
  const MicroBatchFn read = LoaderMicroBatches(*batches, inputs.data(), targets.data());
  double data_ms = 0.0, data_ms_total = 0.0, step_ms_total = 0.0;  // time the steps waited for batches
  double comm_ms_total = 0.0;  // ... and for the gradient all-reduce
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
  // Steps in a row whose loss or gradient went non-finite (skipped updates).
  int bad_in_row = 0;
  AnomalyDetector detector;
  // The first non-finite op of the step just taken: the detector's, or with
  // it off a checked replay of the step's last micro-batch (the weights are
  // the ones the step saw: a bad step does not update them).
  auto trace = [&](const Context& step_ctx, float loss_scale) {
    std::string where = opt.detect_anomaly ? detector.Describe()
                                           : TraceNonFinite(step_ctx, model, inputs.data(), targets.data(), B, T,
                                                            loss_scale / static_cast<float>(grad_accum));
    if (where.empty()) where = "none in the last micro-batch (an earlier one of the step, or another rank's)";
    if (where.find("16-bit store") != std::string::npos) where += " (fp16 holds at most 65504: try bf16)";
    const std::string weights = NonFiniteParams(model);
    return where + (weights.empty() ? "" : "; non-finite weights: " + weights);
  };
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
    if (opt.detect_anomaly) {
      detector.Reset();
      step_ctx.anomaly = &detector;
    }
    data_ms = 0.0;
    CPU_LLM_RETURN_IF_ERROR(TrainStepAccumulated(step_ctx, model, adamw, next, grad_accum, B, T, lr, update,
                                                 scaler ? &*scaler : nullptr, &stats, parallel ? &averager : nullptr));
    const double comm_ms = parallel ? averager.wait_ms() : 0.0;
    const float loss = stats.loss, norm = stats.grad_norm;
    if (stats.nonfinite) {
      skipped_steps++;  // AdamW's update count stays where it was
      bad_in_row++;
      const std::string what = fmt::format("loss {}, gradient norm {}", loss, norm);
      if (bad_in_row >= opt.max_bad_steps)
        return RuntimeError("step {}: {} step(s) in a row with a non-finite loss or gradient ({}), stopping "
                            "(--max-bad-steps {}); first non-finite output: {}",
                            step, bad_in_row, what, opt.max_bad_steps, trace(step_ctx, stats.loss_scale));
      progress.Print(fmt::format("step {:5d}: {}: update skipped ({} of --max-bad-steps {} in a row){}\n", step, what,
                                 bad_in_row, opt.max_bad_steps,
                                 opt.detect_anomaly ? "; first non-finite output: " + trace(step_ctx, stats.loss_scale)
                                                    : ""));
    } else if (stats.skipped) {
      skipped_steps++;
      progress.Print(fmt::format("step {:5d}: gradients overflowed fp16 at loss scale {:g}: update skipped, scale now "
                                 "{:g} ({} skipped so far)\n",
                                 step, stats.loss_scale, scaler->scale(), skipped_steps));
    }
    const double ms = timer.Ms();
    // The first step of a run waits for a cold start: the share is of the steady state.
    if (step != static_cast<int>(state.step) + 1) {
      data_ms_total += data_ms;
      comm_ms_total += comm_ms;
      step_ms_total += ms;
    }
    // The first step pays for page faults and cold caches: profile the rest.
    if (step == static_cast<int>(state.step) + 1) profiler.Reset();
    else profiler.AddStep(static_cast<int64_t>(ms * 1e6));
    const double tok_s = static_cast<double>(tokens_per_step) / (ms / 1000.0);
    if (!stats.nonfinite) bad_in_row = 0;
    last_step = step;
    if (opt.time_budget_s > 0.0 && step != static_cast<int>(state.step) + 1) {
      timed_ms += ms;
      // Planned after the probe, then re-planned now and then from the mean
      // so far, so a slow start (a busy machine) does not leave budget unused.
      if (++timed_steps == kBudgetProbeSteps || (timed_steps > kBudgetProbeSteps && timed_steps % kBudgetReplanEvery == 0)) {
        const double left_ms = opt.time_budget_s * 1000.0 - run_timer.Ms();
        total_steps = std::min(opt.steps, step + std::max(0, static_cast<int>(left_ms / (timed_ms / timed_steps))));
        // The ranks must agree on when to stop: rank 0's plan holds.
        if (parallel) CPU_LLM_RETURN_IF_ERROR(comm.Broadcast(&total_steps, sizeof(total_steps), 0));
        schedule.total = std::max(total_steps, 1);
        progress.set_total_steps(total_steps);
        if (timed_steps == kBudgetProbeSteps)
          progress.Print(fmt::format("time budget: {:.0f} s, {:.1f} ms/step: {} steps planned\n", opt.time_budget_s,
                                     timed_ms / timed_steps, total_steps));
      }
    }
    progress.Step(step, loss, run_timer.Ms());
    if (!opt.quiet && opt.log_every > 0 && (step % opt.log_every == 0 || step == 1 || step == total_steps)) {
      const std::string eta = progress.Eta();
      progress.Print(fmt::format("step {:5d}/{} | loss {:.4f} | lr {:.2e} | norm {:.4f}{} | {:.1f} ms | {:.0f} tok/s{}\n",
                                 step, total_steps, loss, lr, norm,
                                 scaler ? fmt::format(" | scale {:g}", stats.loss_scale) : "", ms, tok_s,
                                 step < total_steps && !eta.empty() ? " | " + eta : ""));
    }
    nlohmann::json record = {{"step", step}, {"loss", loss}, {"lr", lr}, {"grad_norm", norm}, {"ms", ms}, {"data_ms", data_ms}, {"tok_s", tok_s}};
    if (parallel) record["comm_ms"] = comm_ms;
    if (scaler) record["loss_scale"] = stats.loss_scale;
    if (scaler || stats.skipped) record["skipped"] = stats.skipped;
    if (stats.nonfinite) record["nonfinite"] = true;
    CPU_LLM_RETURN_IF_ERROR(log_metrics(record));
    if (opt.val_every > 0 && step % opt.val_every == 0 && step != total_steps) CPU_LLM_RETURN_IF_ERROR(validate(step));
    // Not inside a run of bad steps: a checkpoint must never push out
    // (--keep-checkpoints) the good ones a blow-up would be resumed from.
    if (opt.checkpoint_every > 0 && step % opt.checkpoint_every == 0 && step != total_steps && bad_in_row == 0)
      CPU_LLM_RETURN_IF_ERROR(save(step));
    // SIGINT/SIGTERM (cmd_train.cc): this step is done; keep it and stop.
    // Ranks would see a signal at different steps, so a data-parallel run
    // leaves it to mpirun, which ends the job (checkpoints stay whole).
    if (!parallel && opt.stop_requested && opt.stop_requested->load(std::memory_order_relaxed)) {
      if (last_saved != step && bad_in_row == 0) CPU_LLM_RETURN_IF_ERROR(save(step));
      progress.Finish();
      fmt::print("stopped by a signal after step {} of {}: resume with --resume\n", step, total_steps);
      return Status();
    }
  }
  progress.Finish();
  const int final_step = std::max(last_step, static_cast<int>(state.step));
  if (bad_in_row > 0)
    return RuntimeError("step {}: the run ended inside {} non-finite step(s) in a row: no final checkpoint (the last "
                        "good one stays); first non-finite output: {}",
                        final_step, bad_in_row, trace(ctx, scaler ? scaler->scale() : 1.0f));
  if (opt.time_budget_s > 0.0)
    fmt::print("time budget: {} steps in {:.1f} s of {:.0f} s\n", final_step - static_cast<int>(state.step),
               run_timer.Ms() / 1000.0, opt.time_budget_s);
  CPU_LLM_RETURN_IF_ERROR(validate(final_step));
  CPU_LLM_RETURN_IF_ERROR(save(final_step));
  if (root && final_step > 0) {
    // The curves beside the checkpoint; `cpu_llm plot` redraws them any time.
    std::vector<std::string> plots;
    CPU_LLM_RETURN_IF_ERROR(PlotRun(opt.out_dir, opt.out_dir, &plots));
    fmt::print("plots: {}\n", fmt::join(plots, " "));
  }
  if (step_ms_total > 0.0)
    fmt::print("data wait: {:.1f} ms of {:.1f} ms of steps after the first ({:.2f}%, {} loader)\n", data_ms_total,
               step_ms_total,
               100.0 * data_ms_total / step_ms_total, parsed.loader == LoaderMode::kAsync ? "async" : "sync");
  if (parallel && step_ms_total > 0.0)
    fmt::print("comm wait: {:.1f} ms of {:.1f} ms of steps after the first ({:.2f}%, {} ranks)\n", comm_ms_total,
               step_ms_total, 100.0 * comm_ms_total / step_ms_total, comm.world());
  fmt::print("peak RSS: {:.1f} MB\n", PeakRssBytes() / 1e6);
  if (opt.profile) fmt::print("{}", profiler.Report());

  if (opt.sample_tokens > 0 && root) {
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
