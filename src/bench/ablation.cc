#include "bench/ablation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "bench/driver.h"
#include "bench/machine.h"
#include "bench/stats.h"

namespace cpu_llm {

std::vector<AblationPair> AblationPairs(int threads) {
  std::vector<AblationPair> pairs;
  BenchSwitches base;
  base.threads = threads;
  {
    AblationPair p{"matmul", 4, "What the register-tiled SIMD matmul buys over plain loops", "tiny",
                   "naive loops", "tiled SIMD", base, base, 1, 3};
    p.before.matmul = MatmulBackend::kNaive;
    p.after.matmul = MatmulBackend::kTiled;
    pairs.push_back(p);
  }
  // Every Highway kernel (the tiled matmul included) on its plain-C++ target
  // against the one dispatch picks: what the SIMD instructions themselves buy.
  {
    AblationPair p{"simd", 4, "What run-time-dispatched SIMD buys over the same kernels' scalar target", "d6",
                   "scalar target", "best target", base, base, 1, 2};
    p.before.matmul = p.after.matmul = MatmulBackend::kTiled;
    p.before.simd = "scalar";
    pairs.push_back(p);
  }
  // The library backends against the built-in kernel. On d6 rather than GPT-2
  // 124M, whose 5x2 runs would take half an hour on 2 cores; `bench --workload
  // gpt2-124m --matmul blas` measures that one.
  {
    AblationPair p{"blas", 9, "OpenBLAS's sgemm in place of the built-in GEMM", "d6", "tiled SIMD", "OpenBLAS",
                   base, base, 1, 4};
    p.before.matmul = MatmulBackend::kTiled;
    p.after.matmul = MatmulBackend::kBlas;
    pairs.push_back(p);
  }
  {
    AblationPair p{"onednn", 9, "oneDNN's sgemm in place of the built-in GEMM", "d6", "tiled SIMD", "oneDNN",
                   base, base, 1, 4};
    p.before.matmul = MatmulBackend::kTiled;
    p.after.matmul = MatmulBackend::kOneDnn;
    pairs.push_back(p);
  }
  if (threads > 1) {
    AblationPair p{"threads", 8, fmt::format("Scaling from 1 to {} threads", threads), "d6", "1 thread",
                   fmt::format("{} threads", threads), base, base, 1, 4};
    p.before.threads = 1;
    pairs.push_back(p);
  }
  // The target shape too, with fewer steps: 5 pairs take ~5 minutes.
  if (threads > 1) {
    AblationPair p{"threads-124m", 8, fmt::format("Scaling from 1 to {} threads on GPT-2 124M", threads), "gpt2-124m",
                   "1 thread", fmt::format("{} threads", threads), base, base, 1, 2};
    p.before.threads = 1;
    pairs.push_back(p);
  }
  // Mixed precision on the target shape: on a CPU without AVX512-BF16
  // the 16-bit operands are widened to fp32 for the FMAs, so this measures
  // the cost of the rounding and the memory the 16-bit activations save.
  {
    AblationPair p{"bf16", 1, "bf16 products and saved activations (fp32 sums and master weights) on GPT-2 124M",
                   "gpt2-124m", "fp32", "bf16", base, base, 1, 2};
    p.after.precision = Precision::kBf16;
    pairs.push_back(p);
  }
  {
    AblationPair p{"fp16", 1, "fp16 products and saved activations with dynamic loss scaling", "d6", "fp32", "fp16",
                   base, base, 1, 4};
    p.after.precision = Precision::kFp16;
    pairs.push_back(p);
  }
  // Accumulation at a fixed micro-batch: tokens/s and memory as N grows.
  for (int n : {4, 16}) {
    AblationPair p{fmt::format("accum-{}", n), 3,
                   fmt::format("{} accumulated micro-batches per update against one, same micro-batch", n), "tiny",
                   "1 micro-batch", fmt::format("{} micro-batches", n), base, base, 1, 3};
    p.after.grad_accum = n;
    pairs.push_back(p);
  }
  {
    AblationPair p{"profiler", 6, "The cost of leaving the built-in profiler on", "d6", "profiler off",
                   "profiler on", base, base, 1, 4};
    p.before.profile = false;
    pairs.push_back(p);
  }
  return pairs;
}

namespace {

struct Side {
  std::vector<double> run_ms;  // median step time of each run
  std::vector<float> losses;   // of the first run
  uint64_t peak_rss = 0;
  nlohmann::json bytes;        // held per arena (the same in every run)
  double tokens_per_step = 0;  // B x T x micro-batches
};

Status RunSide(const Workload& w, const BenchSwitches& sw, int warmup, int steps, Side* side) {
  nlohmann::json r;
  CPU_LLM_RETURN_IF_ERROR(RunWorkerProcess(w, sw, warmup, steps, &r));
  side->run_ms.push_back(Median(r.at("step_ms").get<std::vector<double>>()));
  if (side->losses.empty()) side->losses = r.at("losses").get<std::vector<float>>();
  side->peak_rss = std::max<uint64_t>(side->peak_rss, r.at("peak_rss_bytes").get<uint64_t>());
  side->bytes = r.value("bytes", nlohmann::json());
  const nlohmann::json& cfg = r.at("config");
  side->tokens_per_step = cfg.at("B").get<double>() * cfg.at("T").get<double>() * cfg.value("grad_accum", 1);
  return Status();
}

nlohmann::json SideJson(const std::string& label, const BenchSwitches& sw, const Side& s) {
  return {{"label", label}, {"switches", SwitchesToJson(sw)}, {"run_ms", s.run_ms}, {"ms_median", Median(s.run_ms)},
          {"peak_rss_bytes", s.peak_rss}, {"losses", s.losses}, {"bytes", s.bytes},
          {"tokens_per_step", s.tokens_per_step}, {"tok_s", s.tokens_per_step / (Median(s.run_ms) / 1000.0)}};
}

}  // namespace

Status RunAblation(const AblationOptions& opt, nlohmann::json* out) {
  if (opt.runs < 1) return UsageError("--runs: must be at least 1 (got {})", opt.runs);
  const std::vector<AblationPair> all = AblationPairs(DefaultThreadCount());
  std::vector<AblationPair> pairs;
  for (const AblationPair& p : all)
    if (opt.switches.empty() || std::find(opt.switches.begin(), opt.switches.end(), p.name) != opt.switches.end())
      pairs.push_back(p);
  for (const std::string& name : opt.switches) {
    bool known = false;
    for (const AblationPair& p : all) known |= p.name == name;
    if (!known) {
      std::string names;
      for (const AblationPair& p : all) names += (names.empty() ? "" : ", ") + p.name;
      return UsageError("--switch: unknown switch '{}' (this machine has: {})", name, names);
    }
  }
  nlohmann::json result = {{"kind", "cpu_llm-bench-ablation"}, {"machine", DescribeMachine()},
                           {"runs", opt.runs}, {"pairs", nlohmann::json::array()}};
  for (const AblationPair& p : pairs) {
    Workload w;
    CPU_LLM_RETURN_IF_ERROR(FindWorkload(opt.workload.empty() ? p.workload : opt.workload, &w));
    const int warmup = opt.warmup > 0 ? opt.warmup : p.warmup, steps = opt.steps > 0 ? opt.steps : p.steps;
    Side before, after;
    for (int r = 0; r < opt.runs; r++) {
      std::fprintf(stderr, "bench --ablation: %s on %s, pair %d/%d\n", p.name.c_str(), w.name.c_str(), r + 1,
                   opt.runs);
      // ABBA: the side that runs first alternates.
      if (r % 2 == 0) {
        CPU_LLM_RETURN_IF_ERROR(RunSide(w, p.before, warmup, steps, &before));
        CPU_LLM_RETURN_IF_ERROR(RunSide(w, p.after, warmup, steps, &after));
      } else {
        CPU_LLM_RETURN_IF_ERROR(RunSide(w, p.after, warmup, steps, &after));
        CPU_LLM_RETURN_IF_ERROR(RunSide(w, p.before, warmup, steps, &before));
      }
    }
    std::vector<double> speedup;
    // Throughput ratio: the step-time ratio when both sides process the same
    // tokens per step, and still meaningful when they do not (accumulation).
    for (int r = 0; r < opt.runs; r++)
      speedup.push_back((after.tokens_per_step / after.run_ms[r]) / (before.tokens_per_step / before.run_ms[r]));
    // Same seed, same data: the two sides' losses show what the switch does
    // to the numbers (0 = bit-identical training).
    double loss_diff = 0.0;
    for (size_t i = 0; i < std::min(before.losses.size(), after.losses.size()); i++)
      loss_diff = std::max(loss_diff, std::fabs(static_cast<double>(before.losses[i]) - after.losses[i]));
    result["pairs"].push_back({{"switch", p.name},
                               {"plan_item", p.plan_item},
                               {"question", p.question},
                               {"workload", w.name},
                               {"warmup_steps", warmup},
                               {"steps", steps},
                               {"before", SideJson(p.before_label, p.before, before)},
                               {"after", SideJson(p.after_label, p.after, after)},
                               {"speedup_median", Median(speedup)},
                               {"speedup_min", Min(speedup)},
                               {"speedup_max", Max(speedup)},
                               {"speedups", speedup},
                               {"loss_max_abs_diff", loss_diff}});
  }
  *out = std::move(result);
  return Status();
}

nlohmann::json MergeAblation(const nlohmann::json& earlier, const nlohmann::json& fresh) {
  nlohmann::json merged = earlier;
  const nlohmann::json date = fresh["machine"]["date"];
  for (nlohmann::json& p : merged["pairs"])
    if (!p.contains("measured")) p["measured"] = earlier["machine"]["date"];
  for (nlohmann::json p : fresh["pairs"]) {
    p["measured"] = date;
    bool replaced = false;
    for (nlohmann::json& q : merged["pairs"])
      if (q["switch"] == p["switch"]) q = p, replaced = true;
    if (!replaced) merged["pairs"].push_back(p);
  }
  std::vector<std::string> order;
  for (const AblationPair& p : AblationPairs(DefaultThreadCount())) order.push_back(p.name);
  auto rank = [&](const nlohmann::json& p) {
    return std::find(order.begin(), order.end(), p["switch"].get<std::string>()) - order.begin();
  };
  std::stable_sort(merged["pairs"].begin(), merged["pairs"].end(),
                   [&](const nlohmann::json& a, const nlohmann::json& b) { return rank(a) < rank(b); });
  return merged;
}

std::string AblationTable(const nlohmann::json& a) {
  std::string t = fmt::format("{:<9} {:<10} {:<14} {:>10} {:<14} {:>10} {:>8} {:>15} {:>10}\n", "switch", "workload",
                              "before", "ms/step", "after", "ms/step", "speedup", "(min-max)", "|dloss|");
  for (const nlohmann::json& p : a["pairs"])
    t += fmt::format("{:<9} {:<10} {:<14} {:>10.1f} {:<14} {:>10.1f} {:>7.3f}x {:>15} {:>10.2e}\n",
                     p["switch"].get<std::string>(), p["workload"].get<std::string>(),
                     p["before"]["label"].get<std::string>(), p["before"]["ms_median"].get<double>(),
                     p["after"]["label"].get<std::string>(), p["after"]["ms_median"].get<double>(),
                     p["speedup_median"].get<double>(),
                     fmt::format("({:.3f}-{:.3f})", p["speedup_min"].get<double>(), p["speedup_max"].get<double>()),
                     p["loss_max_abs_diff"].get<double>());
  return t;
}

}  // namespace cpu_llm
