#include "bench/worker.h"

#include <cmath>
#include <memory>
#include <optional>
#include <vector>

#include "core/profiler.h"
#include "core/rng.h"
#include "core/sysinfo.h"
#include "core/timer.h"
#include "data/corpus.h"
#include "data/loader.h"
#include "data/tokenizer.h"
#include "kernels/matmul.h"
#include "kernels/simd_targets.h"
#include "model/gpt2.h"
#include "optim/adamw.h"
#include "train/step.h"

namespace cpu_llm {

nlohmann::json SwitchesToJson(const BenchSwitches& sw) {
  return {{"threads", sw.threads}, {"matmul", MatmulBackendName(sw.matmul)}, {"profile", sw.profile},
          {"simd", sw.simd}, {"precision", PrecisionName(sw.precision)}, {"grad_accum", sw.grad_accum}};
}

Status SwitchesFromJson(const nlohmann::json& j, BenchSwitches* sw) {
  if (!j.is_object()) return RuntimeError("bench switches: not a JSON object");
  sw->threads = j.value("threads", 0);
  sw->profile = j.value("profile", true);
  sw->simd = j.value("simd", std::string("best"));
  sw->grad_accum = j.value("grad_accum", 1);
  // Results saved before mixed precision existed are fp32.
  CPU_LLM_RETURN_IF_ERROR(ParsePrecision(j.value("precision", std::string("fp32")), &sw->precision));
  return ParseMatmulBackend(j.value("matmul", std::string("tiled")), &sw->matmul);
}

namespace {

nlohmann::json ProfileToJson(const Profiler& p) {
  nlohmann::json ops = nlohmann::json::array();
  const double per_step = 1e6 * static_cast<double>(p.steps());
  for (int i = 0; i < static_cast<int>(Op::kCount); i++) {
    const Op op = static_cast<Op>(i);
    const int64_t f = p.ns(op, Pass::kForward), b = p.ns(op, Pass::kBackward);
    if (f + b == 0) continue;
    ops.push_back({{"op", OpName(op)}, {"fwd_ms", f / per_step}, {"bwd_ms", b / per_step}});
  }
  // The profiler's own cost: scopes per step times the measured cost of one.
  const double scopes_per_step = static_cast<double>(p.scopes()) / static_cast<double>(p.steps());
  const double scope_ns = MeasureScopeCostNs();
  return {{"steps", p.steps()},
          {"step_ms", p.step_ns() / per_step},
          {"ops", ops},
          {"scopes_per_step", scopes_per_step},
          {"scope_ns", scope_ns},
          {"overhead_fraction", scopes_per_step * scope_ns / (p.step_ns() / static_cast<double>(p.steps()))}};
}

}  // namespace

Status RunWorkload(const Workload& workload, const BenchSwitches& sw, nlohmann::json* result) {
  CPU_LLM_RETURN_IF_ERROR(LimitSimdTarget(sw.simd));  // a worker is its own process
  const int threads = sw.threads > 0 ? sw.threads : DefaultThreadCount();
  Profiler profiler;
  const Context ctx{threads, sw.profile ? &profiler : nullptr, sw.matmul, sw.precision};
  CPU_LLM_RETURN_IF_ERROR(CheckMatmulPrecision(sw.matmul, sw.precision));
  const int B = workload.B, T = workload.T;
  Timer setup;

  ModelConfig cfg;
  CPU_LLM_RETURN_IF_ERROR(WorkloadConfig(workload, &cfg));
  std::unique_ptr<Tokenizer> tok;
  CPU_LLM_RETURN_IF_ERROR(MakeTokenizer("gpt2", &tok));
  DataLoader train, val;
  CPU_LLM_RETURN_IF_ERROR(OpenBundledCorpus(*tok, 0.05, 1337, BatchShape(B, T, cfg.vocab_size), &train, &val));

  GPT2 model;
  CPU_LLM_RETURN_IF_ERROR(model.Init(cfg));
  Rng rng(1337);
  model.InitWeights(rng);
  CPU_LLM_RETURN_IF_ERROR(model.PrepareBatch(B, T, threads, sw.precision));
  std::optional<DynamicLossScaler> scaler;
  if (sw.precision == Precision::kFp16) scaler.emplace();
  AdamW adamw;
  adamw.Init(cfg, AdamWConfig());
  const double setup_ms = setup.Ms();

  // A constant learning rate: the schedule does not change the step's cost.
  constexpr float kLr = 3e-4f;
  std::vector<int32_t> inputs((size_t)B * T), targets((size_t)B * T);
  std::vector<double> step_ms;
  std::vector<float> losses;
  int skipped = 0;
  const MicroBatchFn next = LoaderMicroBatches(train, inputs.data(), targets.data());
  const int total = workload.warmup_steps + workload.steps;
  for (int step = 1; step <= total; step++) {
    if (step == workload.warmup_steps + 1) profiler.Reset();
    Timer timer;
    StepStats stats;
    CPU_LLM_RETURN_IF_ERROR(TrainStepAccumulated(ctx, model, adamw, next, sw.grad_accum, B, T, kLr, step - skipped,
                                                 scaler ? &*scaler : nullptr, &stats));
    skipped += stats.skipped;
    const double ms = timer.Ms();
    if (!std::isfinite(stats.loss)) return RuntimeError("bench {}: step {}: the loss is not finite", workload.name, step);
    if (step <= workload.warmup_steps) continue;
    profiler.AddStep(static_cast<int64_t>(ms * 1e6));
    step_ms.push_back(ms);
    losses.push_back(stats.loss);
  }

  nlohmann::json j = {
      {"workload", workload.name},
      {"switches", SwitchesToJson(sw)},
      {"threads", threads},
      {"config",
       {{"n_layer", cfg.n_layer}, {"n_head", cfg.n_head}, {"n_embd", cfg.n_embd}, {"vocab_size", cfg.vocab_size},
        {"padded_vocab_size", cfg.padded_vocab_size}, {"max_seq_len", cfg.max_seq_len}, {"B", B}, {"T", T},
        {"grad_accum", sw.grad_accum},
        {"params", ParameterCount(cfg)}}},
      {"flops_per_token", TrainFlopsPerToken(cfg, T)},
      {"setup_ms", setup_ms},
      {"warmup_steps", workload.warmup_steps},
      {"step_ms", step_ms},
      {"losses", losses},
      {"skipped_steps", skipped},
      {"peak_rss_bytes", PeakRssBytes()},
      {"bytes",
       {{"params", model.param_bytes()}, {"grads", model.grad_bytes()}, {"optimizer", adamw.state_bytes()},
        {"activations", model.activation_bytes()}}},
  };
  if (sw.profile) j["profile"] = ProfileToJson(profiler);
  *result = std::move(j);
  return Status();
}

}  // namespace cpu_llm
