#include "bench/driver.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

#include "bench/flat_nested.h"
#include "bench/matmul_shapes.h"
#include "bench/machine.h"
#include "bench/peak.h"
#include "bench/process.h"
#include "bench/stats.h"
#include "bench/torch_runner.h"

namespace cpu_llm {

Status RunWorkerProcess(const Workload& workload, const BenchSwitches& sw, int warmup, int steps,
                        nlohmann::json* result) {
  std::string self;
  CPU_LLM_RETURN_IF_ERROR(SelfExecutable(&self));
  std::vector<std::string> argv = {self, "bench", "--worker", workload.name, "--threads", std::to_string(sw.threads),
                                   "--matmul", MatmulBackendName(sw.matmul)};
  if (!sw.profile) argv.push_back("--no-profile");
  if (sw.simd != "best") argv.insert(argv.end(), {"--simd", sw.simd});
  if (sw.precision != Precision::kFp32) argv.insert(argv.end(), {"--precision", PrecisionName(sw.precision)});
  if (sw.grad_accum != 1) argv.insert(argv.end(), {"--grad-accum", std::to_string(sw.grad_accum)});
  if (warmup > 0) argv.insert(argv.end(), {"--warmup", std::to_string(warmup)});
  if (steps > 0) argv.insert(argv.end(), {"--steps", std::to_string(steps)});
  std::string out;
  int code = 0;
  CPU_LLM_RETURN_IF_ERROR(RunCapture(argv, &out, &code));
  if (code != 0) return RuntimeError("bench worker for {} failed (exit status {})", workload.name, code);
  try {
    *result = nlohmann::json::parse(out);
  } catch (const nlohmann::json::exception& e) {
    return RuntimeError("bench worker for {}: unreadable result: {}", workload.name, e.what());
  }
  return Status();
}

nlohmann::json SummarizeRuns(const std::vector<nlohmann::json>& runs, double peak_gflops) {
  const nlohmann::json& first = runs.front();
  std::vector<double> ms;
  uint64_t peak_rss = 0;
  for (const nlohmann::json& r : runs) {
    for (double v : r.at("step_ms")) ms.push_back(v);
    peak_rss = std::max<uint64_t>(peak_rss, r.at("peak_rss_bytes").get<uint64_t>());
  }
  const nlohmann::json& cfg = first.at("config");
  // Tokens per update: results saved before accumulation existed have one micro-batch.
  const double tokens = cfg.at("B").get<double>() * cfg.at("T").get<double>() * cfg.value("grad_accum", 1);
  const double median = Median(ms);
  const double gflops = first.at("flops_per_token").get<double>() * tokens / (median / 1e3) / 1e9;
  nlohmann::json s = first;
  s.erase("step_ms");
  s["runs"] = runs.size();
  s["step_ms"] = ms;
  s["ms_median"] = median;
  s["ms_min"] = Min(ms);
  s["ms_max"] = Max(ms);
  s["tok_s"] = tokens / (median / 1e3);
  s["gflops"] = gflops;
  s["mfu"] = peak_gflops > 0 ? gflops / peak_gflops : 0.0;
  s["peak_rss_bytes"] = peak_rss;
  return s;
}

Status RunBaseline(const BaselineOptions& opt, nlohmann::json* out) {
  std::vector<Workload> workloads;
  if (opt.workloads.empty()) workloads = Workloads();
  for (const std::string& name : opt.workloads) {
    Workload w;
    CPU_LLM_RETURN_IF_ERROR(FindWorkload(name, &w));
    workloads.push_back(w);
  }
  if (opt.runs < 1) return UsageError("--runs: must be at least 1 (got {})", opt.runs);
  const int threads = opt.switches.threads > 0 ? opt.switches.threads : DefaultThreadCount();
  std::fprintf(stderr, "bench: measuring the machine's peak on %d threads\n", threads);
  const PeakFlops peak = MeasurePeak(threads);
  nlohmann::json result = {
      {"kind", "cpu_llm-bench-baseline"},
      {"machine", DescribeMachine()},
      {"peak", {{"threads", peak.threads}, {"fp32_gflops", peak.fp32_gflops}, {"fp32_isa", peak.fp32_isa},
                {"bf16_gflops", peak.bf16_gflops}}},
      {"switches", SwitchesToJson(opt.switches)},
      {"workloads", nlohmann::json::array()},
      {"pytorch", nlohmann::json::array()},
  };
  for (const Workload& w : workloads) {
    std::vector<nlohmann::json> runs;
    for (int r = 0; r < opt.runs; r++) {
      std::fprintf(stderr, "bench: %s, run %d/%d\n", w.name.c_str(), r + 1, opt.runs);
      nlohmann::json run;
      CPU_LLM_RETURN_IF_ERROR(RunWorkerProcess(w, opt.switches, opt.warmup, opt.steps, &run));
      runs.push_back(std::move(run));
    }
    nlohmann::json s = SummarizeRuns(runs, peak.fp32_gflops);
    s["description"] = w.description;
    result["workloads"].push_back(std::move(s));
    if (!opt.torch) continue;
    for (const std::string& dtype : opt.torch_dtypes) {
      if (dtype == "bf16" && !w.torch_bf16) {
        result["pytorch"].push_back({{"workload", w.name}, {"dtype", dtype},
                                     {"skipped", "bf16 not run on this workload (too slow without AVX512_BF16)"}});
        continue;
      }
      std::fprintf(stderr, "bench: %s, PyTorch %s\n", w.name.c_str(), dtype.c_str());
      nlohmann::json t;
      std::string skipped;
      // bf16 without bf16 hardware is slow in PyTorch: one warm-up and two timed steps.
      const int t_warmup = dtype == "bf16" ? 1 : opt.warmup;
      const int t_steps = dtype == "bf16" ? std::min(opt.steps > 0 ? opt.steps : w.steps, 2) : opt.steps;
      CPU_LLM_RETURN_IF_ERROR(RunTorchBench(opt.torch_script, w, dtype, threads, t_warmup, t_steps, &t, &skipped));
      if (!skipped.empty()) {
        std::fprintf(stderr, "bench: PyTorch skipped: %s\n", skipped.c_str());
        result["pytorch_skipped"] = skipped;
        break;
      }
      const double peak_for_dtype = dtype == "bf16" && peak.bf16_gflops > 0 ? peak.bf16_gflops : peak.fp32_gflops;
      nlohmann::json ts = SummarizeRuns({t}, peak_for_dtype);
      ts["workload"] = w.name;
      result["pytorch"].push_back(std::move(ts));
    }
  }
  if (opt.flat_nested) {
    std::fprintf(stderr, "bench: flat vs nested storage\n");
    FlatNestedResult fn;
    CPU_LLM_RETURN_IF_ERROR(RunFlatVsNested(kFlatNestedN, kFlatNestedC, kFlatNestedOC, kFlatNestedReps, &fn));
    result["flat_vs_nested"] = {{"N", fn.N}, {"C", fn.C}, {"OC", fn.OC}, {"reps", fn.reps},
                                {"nested_ms_median", fn.nested_ms_median}, {"nested_ms_min", fn.nested_ms_min},
                                {"nested_ms_max", fn.nested_ms_max}, {"flat_ms_median", fn.flat_ms_median},
                                {"flat_ms_min", fn.flat_ms_min}, {"flat_ms_max", fn.flat_ms_max},
                                {"max_abs_diff", fn.max_abs_diff}};
  }
  if (opt.matmul_shapes) {
    // The largest workload run: the one whose step the products dominate.
    const Workload& w = *std::max_element(workloads.begin(), workloads.end(), [](const Workload& a, const Workload& b) {
      ModelConfig ca, cb;
      return WorkloadConfig(a, &ca).ok() && WorkloadConfig(b, &cb).ok() && ParameterCount(ca) < ParameterCount(cb);
    });
    std::fprintf(stderr, "bench: matmul backends per product shape (%s)\n", w.name.c_str());
    nlohmann::json shapes;
    CPU_LLM_RETURN_IF_ERROR(RunMatmulShapes(w, threads, opt.matmul_shape_rounds, &shapes));
    result["matmul_shapes"] = std::move(shapes);
  }
  *out = std::move(result);
  return Status();
}

std::string BaselineTable(const nlohmann::json& b) {
  std::string t = fmt::format("peak: {:.1f} GFLOP/s fp32 ({}, {} threads){}\n", b["peak"]["fp32_gflops"].get<double>(),
                              b["peak"]["fp32_isa"].get<std::string>(), b["peak"]["threads"].get<int>(),
                              b["peak"]["bf16_gflops"].get<double>() > 0
                                  ? fmt::format(", {:.1f} GFLOP/s bf16", b["peak"]["bf16_gflops"].get<double>())
                                  : ", no bf16 dot-product instructions");
  t += fmt::format("{:<10} {:<8} {:>9} {:>19} {:>9} {:>8} {:>6} {:>9}\n", "workload", "impl", "ms/step", "(min-max)",
                   "tok/s", "GFLOP/s", "MFU", "peak RSS");
  auto row = [&](const nlohmann::json& w, const std::string& impl) {
    t += fmt::format("{:<10} {:<8} {:>9.1f} {:>19} {:>9.0f} {:>8.1f} {:>5.1f}% {:>6.0f} MB\n",
                     w["workload"].get<std::string>(), impl, w["ms_median"].get<double>(),
                     fmt::format("({:.1f}-{:.1f})", w["ms_min"].get<double>(), w["ms_max"].get<double>()),
                     w["tok_s"].get<double>(), w["gflops"].get<double>(), 100.0 * w["mfu"].get<double>(),
                     w["peak_rss_bytes"].get<double>() / 1e6);
  };
  for (const nlohmann::json& w : b["workloads"]) {
    row(w, "cpu_llm");
    for (const nlohmann::json& p : b["pytorch"])
      if (p["workload"] == w["workload"] && !p.contains("skipped")) row(p, "torch " + p["dtype"].get<std::string>());
  }
  if (b.contains("matmul_shapes")) {
    const nlohmann::json& ms = b["matmul_shapes"]["step_ms"];
    t += fmt::format("matmul products per {} step: tiled {:.0f} ms, OpenBLAS {:.0f} ms, oneDNN {:.0f} ms, "
                     "fastest per shape {:.0f} ms\n", b["matmul_shapes"]["workload"].get<std::string>(),
                     ms["tiled"].get<double>(), ms["blas"].get<double>(), ms["onednn"].get<double>(),
                     ms["per_shape_best"].get<double>());
  }
  if (b.contains("flat_vs_nested")) {
    const nlohmann::json& f = b["flat_vs_nested"];
    t += fmt::format("flat vs nested (matmul+bias+GELU fwd+bwd, N={} C={} OC={}): nested {:.2f} ms, flat {:.2f} ms, {:.2f}x\n",
                     f["N"].get<int>(), f["C"].get<int>(), f["OC"].get<int>(), f["nested_ms_median"].get<double>(),
                     f["flat_ms_median"].get<double>(),
                     f["nested_ms_median"].get<double>() / f["flat_ms_median"].get<double>());
  }
  return t;
}

}  // namespace cpu_llm
