#include "bench/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <tuple>

#include "bench/matmul_shapes.h"
#include "bench/plan_items.h"
#include "bench/accum_curve.h"
#include "bench/arch.h"
#include "bench/dist.h"
#include "bench/data_io.h"
#include "bench/stability.h"
#include "core/file_io.h"

namespace cpu_llm {
namespace {

using nlohmann::json;

std::string Mb(const json& bytes) { return fmt::format("{:.0f} MB", bytes.get<double>() / 1e6); }

std::string Spread(double median, double lo, double hi, int digits = 1) {
  return fmt::format("{:.{}f} ({:.{}f}–{:.{}f})", median, digits, lo, digits, hi, digits);
}

// (op, fwd+bwd ms) of a profile, largest first.
std::vector<std::pair<std::string, double>> OpShares(const json& profile) {
  std::vector<std::pair<std::string, double>> ops;
  for (const json& o : profile["ops"])
    ops.emplace_back(o["op"].get<std::string>(), o["fwd_ms"].get<double>() + o["bwd_ms"].get<double>());
  std::sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return ops;
}

std::string MachineSection(const json& b, const json& a) {
  const json& m = b["machine"];
  std::string simd;
  for (const json& s : m["simd"]) simd += (simd.empty() ? "" : ", ") + s.get<std::string>();
  const json& p = b["peak"];
  std::string out = "## Machine\n\n| | |\n|---|---|\n";
  out += fmt::format("| CPU | {} ({} logical CPUs) |\n", m["cpu"].get<std::string>(), m["logical_cpus"].get<int>());
  out += fmt::format("| SIMD the CPU offers | {} |\n", simd.empty() ? "none detected" : simd);
  out += fmt::format("| memory | {:.1f} GB |\n", m["memory_bytes"].get<double>() / 1e9);
  out += fmt::format("| OS | {} |\n| build | {} |\n", m["os"].get<std::string>(), m["build"].get<std::string>());
  // Results saved before the BLAS backends existed have no "blas" entry.
  if (m.contains("blas")) out += fmt::format("| BLAS libraries | {} |\n", m["blas"].get<std::string>());
  out += fmt::format("| measured peak, fp32 | {:.1f} GFLOP/s ({}, {} threads) |\n", p["fp32_gflops"].get<double>(),
                     p["fp32_isa"].get<std::string>(), p["threads"].get<int>());
  out += fmt::format("| measured peak, bf16 | {} |\n",
                     p["bf16_gflops"].get<double>() > 0 ? fmt::format("{:.1f} GFLOP/s", p["bf16_gflops"].get<double>())
                                                         : std::string("no AVX512_BF16 on this CPU"));
  out += fmt::format("| baseline measured | {} |\n", m["date"].get<std::string>());
  if (!a.is_null()) out += fmt::format("| ablation measured | {} |\n", a["machine"]["date"].get<std::string>());
  return out + "\n";
}

std::string BaselineSection(const json& b) {
  std::string out =
      "## Baseline: fp32 training, every switch at its default\n\n"
      "Milliseconds per optimizer step (forward, backward, gradient norm, AdamW, data): median over the timed "
      "steps of all runs, with min–max. PyTorch rows run tools/torch_bench.py (the same model in plain torch.nn, "
      "AdamW, same thread count) in the same bench session.\n\n"
      "| workload | implementation | ms/step (min–max) | tokens/s | GFLOP/s | MFU | peak RSS |\n"
      "|---|---|---|---|---|---|---|\n";
  auto row = [&](const json& w, const std::string& impl) {
    out += fmt::format("| {} | {} | {} | {:.0f} | {:.1f} | {:.1f}% | {} |\n", w["workload"].get<std::string>(), impl,
                       Spread(w["ms_median"], w["ms_min"], w["ms_max"]), w["tok_s"].get<double>(),
                       w["gflops"].get<double>(), 100.0 * w["mfu"].get<double>(), Mb(w["peak_rss_bytes"]));
  };
  for (const json& w : b["workloads"]) {
    row(w, "cpu_llm");
    for (const json& p : b["pytorch"]) {
      if (p["workload"] != w["workload"]) continue;
      if (p.contains("skipped")) {
        out += fmt::format("| {} | PyTorch {} | {} | | | | |\n", w["workload"].get<std::string>(),
                           p["dtype"].get<std::string>(), p["skipped"].get<std::string>());
        continue;
      }
      row(p, fmt::format("PyTorch {} {} ({})", p["torch_version"].get<std::string>(), p["dtype"].get<std::string>(),
                           p.value("blas_name", "unknown BLAS")));
    }
  }
  if (b.contains("pytorch_skipped"))
    out += fmt::format("\nPyTorch was skipped: {}.\n", b["pytorch_skipped"].get<std::string>());
  out += "\nMemory held by cpu_llm's arenas:\n\n| workload | model | parameters | gradients | AdamW state | activations |\n"
         "|---|---|---|---|---|---|\n";
  for (const json& w : b["workloads"]) {
    const json& by = w["bytes"];
    out += fmt::format("| {} | {} | {} | {} | {} | {} |\n", w["workload"].get<std::string>(),
                       w["description"].get<std::string>(), Mb(by["params"]), Mb(by["grads"]), Mb(by["optimizer"]),
                       Mb(by["activations"]));
  }
  bool first = true;
  for (const json& w : b["workloads"]) {
    for (const json& p : b["pytorch"])
      if (p["workload"] == w["workload"] && p["dtype"] == "fp32" && !p.contains("skipped")) {
        if (first) out += "\n";
        first = false;
        out += fmt::format("- {}: cpu_llm runs at {:.2f}x the speed of PyTorch fp32 and peaks at {:.2f}x its memory.\n",
                           w["workload"].get<std::string>(), p["ms_median"].get<double>() / w["ms_median"].get<double>(),
                           w["peak_rss_bytes"].get<double>() / p["peak_rss_bytes"].get<double>());
      }
  }
  return out + "\n";
}

std::string ProfileSection(const json& b) {
  std::string out =
      "## Where the time goes (built-in profiler)\n\nPer op class, forward and backward milliseconds per step "
      "and share of the step, from the baseline runs (the first run of each workload).\n\n";
  for (const json& w : b["workloads"]) {
    if (!w.contains("profile")) continue;
    const json& p = w["profile"];
    const double step = p["step_ms"].get<double>();
    out += fmt::format("### {} ({:.1f} ms/step over {} steps)\n\n| op | forward ms | backward ms | share |\n|---|---|---|---|\n",
                       w["workload"].get<std::string>(), step, p["steps"].get<int>());
    double covered = 0.0;
    for (const json& o : p["ops"]) {
      const double f = o["fwd_ms"].get<double>(), bw = o["bwd_ms"].get<double>();
      covered += f + bw;
      out += fmt::format("| {} | {:.2f} | {:.2f} | {:.1f}% |\n", o["op"].get<std::string>(), f, bw, 100.0 * (f + bw) / step);
    }
    out += fmt::format("| (untimed glue) | | | {:.1f}% |\n\n", 100.0 * (step - covered) / step);
    const auto shares = OpShares(p);
    out += "Largest: ";
    for (size_t i = 0; i < std::min<size_t>(5, shares.size()); i++)
      out += fmt::format("{}{} {:.1f}%", i ? ", " : "", shares[i].first, 100.0 * shares[i].second / step);
    out += ".\n\n";
  }
  return out;
}

std::string PairTable(const json& p, int runs) {
  const json &be = p["before"], &af = p["after"];
  // Results saved before the sides recorded their throughput show ms only.
  const bool tok = be.contains("tok_s") && af.contains("tok_s");
  auto row = [&](const char* side, const json& x) {
    return fmt::format("| {}: {} | {:.1f} |{} {} |\n", side, x["label"].get<std::string>(), x["ms_median"].get<double>(),
                       tok ? fmt::format(" {:.0f} |", x["tok_s"].get<double>()) : "", Mb(x["peak_rss_bytes"]));
  };
  std::string out = fmt::format(
      "Workload {}, {} alternating runs of each side ({} warm-up + {} timed steps per run){}:\n\n"
      "| | ms/step (median of run medians) |{} peak RSS |\n|---|---|{}---|\n",
      p["workload"].get<std::string>(), runs, p["warmup_steps"].get<int>(), p["steps"].get<int>(),
      p.contains("measured") ? ", measured " + p["measured"].get<std::string>() : std::string(),
      tok ? " tokens/s |" : "", tok ? "---|" : "");
  out += row("before", be) + row("after", af) + "\n";
  out += fmt::format("Speedup (after/before tokens per second, per pair of runs): **{:.3f}x** (min {:.3f}, max {:.3f}). ",
                     p["speedup_median"].get<double>(), p["speedup_min"].get<double>(), p["speedup_max"].get<double>());
  const double d = p["loss_max_abs_diff"].get<double>();
  out += d == 0.0 ? "Losses of the timed steps: bit-identical before and after.\n"
                  : fmt::format("Largest difference in the timed steps' losses between the two sides: {:.2e}.\n", d);
  return out;
}

// Mixed precision's pairs: what each side's arenas hold, and the issue's
// targets for GPT-2 124M in bf16 beside PyTorch's bf16 autocast from the
// baseline.
std::string PrecisionMemory(const json& p, const json& b) {
  const json &be = p["before"], &af = p["after"];
  if (!be.contains("bytes") || be["bytes"].is_null() || !af.contains("bytes") || af["bytes"].is_null()) return "";
  auto total = [](const json& by) {
    return by["params"].get<double>() + by["grads"].get<double>() + by["optimizer"].get<double>() +
           by["activations"].get<double>();
  };
  std::string out =
      "| side | parameters | gradients | AdamW state | activations | arenas total | peak RSS |\n"
      "|---|---|---|---|---|---|---|\n";
  for (const json* side : {&be, &af}) {
    const json& by = (*side)["bytes"];
    out += fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", (*side)["label"].get<std::string>(),
                       Mb(by["params"]), Mb(by["grads"]), Mb(by["optimizer"]), Mb(by["activations"]),
                       Mb(json(total(by))), Mb((*side)["peak_rss_bytes"]));
  }
  out += "\n";
  if (p["switch"] != "bf16" || p["workload"] != "gpt2-124m") return out;
  const json* base = nullptr;
  if (!b.is_null())
    for (const json& w : b["workloads"])
      if (w["workload"] == "gpt2-124m") base = &w;
  if (base) {
    const double tokens = (*base)["tok_s"].get<double>() * (*base)["ms_median"].get<double>() / 1000.0;
    const double tok_s = tokens / (af["ms_median"].get<double>() / 1000.0);
    out += fmt::format("Target: GPT-2 124M in bf16 at ≥ 480 tokens/s — measured **{:.0f} tokens/s**: {}. ", tok_s,
                       tok_s >= 480.0 ? "met" : "not met");
    // Without bf16 dot products the 16-bit operands are multiplied as fp32,
    // so the fp32 peak bounds the rate.
    const double peak = b["peak"]["fp32_gflops"].get<double>();
    const double gflop_per_token = (*base)["gflops"].get<double>() / (*base)["tok_s"].get<double>();
    if (b["peak"]["bf16_gflops"].get<double>() <= 0.0)
      out += fmt::format("This CPU has no bf16 FMA, so the ceiling is its fp32 peak: {:.1f} GFLOP/s ÷ {:.2f} GFLOP "
                         "per token = {:.0f} tokens/s at 100% MFU. ",
                         peak, gflop_per_token, peak / gflop_per_token);
    for (const json& t : b["pytorch"])
      if (t["workload"] == "gpt2-124m" && t["dtype"] == "bf16" && t.contains("skipped"))
        out += fmt::format("PyTorch bf16 autocast: {}. ", t["skipped"].get<std::string>());
      else if (t["workload"] == "gpt2-124m" && t["dtype"] == "bf16")
        out += fmt::format("PyTorch {} bf16 autocast in the baseline: {:.0f} tokens/s, peak RSS {} ({:.2f}x ours "
                           "in speed). ",
                           t["torch_version"].get<std::string>(), t["tok_s"].get<double>(), Mb(t["peak_rss_bytes"]),
                           tok_s / t["tok_s"].get<double>());
  }
  const double rss = af["peak_rss_bytes"].get<double>();
  out += fmt::format("Target: peak RSS ≤ 2.4 GB — measured **{:.2f} GB**: {}.\n\n", rss / 1e9,
                     rss <= 2.4e9 ? "met" : "not met");
  return out;
}

std::string PassFail(bool ok) { return ok ? "**PASS**" : "**FAIL**"; }

std::string ItemSection(const PlanItem& item, const json& b, const json& a, const ReportExtras& x,
                        const std::string& perf_top, const std::string& flamegraph_link) {
  const json& st = x.stability;
  std::string out = fmt::format("### {}. {} — {}\n\n{}\n\n**Switch:** {}\n\n", item.number, item.title, item.status,
                                item.what, item.how_to_switch);
  bool measured = false;
  if (!a.is_null())
    for (const json& p : a["pairs"])
      if (p["plan_item"] == item.number) {
        out += fmt::format("**Before/after** — {}. ", p["question"].get<std::string>());
        out += PairTable(p, a["runs"].get<int>()) + "\n";
        if (item.number == 1) out += PrecisionMemory(p, b);
        if (p["switch"] == "profiler")
          out += fmt::format("Profiler overhead: {:+.2f}% of the step (median pair).\n\n",
                             100.0 * (1.0 / p["speedup_median"].get<double>() - 1.0));
        measured = true;
      }
  if (item.number == 9 && b.contains("matmul_shapes")) {
    out += MatmulShapesMarkdown(b["matmul_shapes"]);
    measured = true;
  }
  if (item.number == 5 && b.contains("flat_vs_nested")) {
    const json& f = b["flat_vs_nested"];
    out += fmt::format(
        "**Before/after** — one layer, GELU(x·Wᵀ+b) forward and backward, N={} C={} OC={}, single thread, the same "
        "scalar loops over two storage layouts, {} alternating repetitions:\n\n| storage | ms (min–max) |\n|---|---|\n"
        "| nested std::vector<std::vector<float>> | {} |\n| flat arrays | {} |\n\n"
        "Nested time ÷ flat time (medians): **{:.2f}x** (above 1: flat is faster); the two give results that "
        "differ by at most {:.1e}.\n\n",
        f["N"].get<int>(), f["C"].get<int>(), f["OC"].get<int>(), f["reps"].get<int>(),
        Spread(f["nested_ms_median"], f["nested_ms_min"], f["nested_ms_max"], 2),
        Spread(f["flat_ms_median"], f["flat_ms_min"], f["flat_ms_max"], 2),
        f["nested_ms_median"].get<double>() / f["flat_ms_median"].get<double>(), f["max_abs_diff"].get<double>());
    measured = true;
  }
  if (item.number == 6) {
    std::string costs;
    for (const json& w : b["workloads"])
      if (w.contains("profile") && w["profile"].contains("overhead_fraction"))
        costs += fmt::format("{}{}: {:.0f} scopes per step × {:.0f} ns = {:.4f}% of the step", costs.empty() ? "" : "; ",
                             w["workload"].get<std::string>(), w["profile"]["scopes_per_step"].get<double>(),
                             w["profile"]["scope_ns"].get<double>(),
                             100.0 * w["profile"]["overhead_fraction"].get<double>());
    if (!costs.empty())
      out += "**The profiler's cost, measured directly** (timed scopes per step × the measured cost of one "
             "scope, which bounds it far below the noise of whole-run comparisons): " + costs + ".\n\n";
  }
  if (item.number == 6 && !perf_top.empty()) {
    out += "**perf findings** (tools/perf_profile.sh on the gpt2-124m training step; how-to in docs/PROFILING.md):\n\n```\n" +
           perf_top + (perf_top.back() == '\n' ? "" : "\n") + "```\n\n";
    if (!flamegraph_link.empty()) out += fmt::format("Flame graph: [{}]({}).\n\n", flamegraph_link, flamegraph_link);
  }
  if (item.number == 1 && !st.is_null()) {
    const StabilityVerdict v = JudgeStability(st);
    out += fmt::format(
        "**Stability** ({} steps per precision, same seed): final val loss within {:g}% of fp32: {}; no divergence: "
        "{}. Curves and numbers under [Mixed precision stability](#mixed-precision-stability).\n\n",
        st["steps"].get<int>(), kStabilityMaxDiffPct, PassFail(v.within), PassFail(v.no_divergence));
    measured = true;
  }
  if (item.number == 2 && !x.data_io.is_null()) {
    out += DataIoMmapSection(x.data_io);
    measured = true;
  }
  if (item.number == 7 && !x.data_io.is_null()) {
    out += DataIoAsyncSection(x.data_io);
    measured = true;
  }
  if (item.number == 10 && !x.arch.is_null()) {
    out += ArchSection(x.arch);
    measured = true;
  }
  if (item.number == 10 && !x.arch_long.is_null()) {
    out += "**The finalists, longer** — the same comparison with a longer budget, for the baseline and the variants "
           "that led above:\n\n";
    out += ArchSection(x.arch_long);
    measured = true;
  }
  if (item.number == 8 && !x.dist.is_null()) {
    out += DistSection(x.dist);
    measured = true;
  }
  if (item.number == 3 && !x.accum_curve.is_null()) {
    out += AccumCurveSection(x.accum_curve, x.accum_plots);
    measured = true;
  }
  if (!measured && item.number != 6) out += "**Before/after:** nothing to measure yet.\n\n";
  out += fmt::format("**Validation:** {}\n\n", item.validation);
  return out;
}

std::string StabilitySection(const json& st, const std::vector<std::string>& plots) {
  std::string args, names;
  for (const json& x : st["train_args"]) args.append(" ").append(x.get<std::string>());
  for (const json& r : st["runs"])
    if (r["precision"] != "fp32") names += (names.empty() ? "" : " and ") + r["precision"].get<std::string>();
  std::string out = fmt::format(
      "## Mixed precision stability\n\n"
      "`cpu_llm bench --stability` trains the same model on the same data with the same seed once per precision, "
      "each run a fresh `cpu_llm train --precision P{}` (model: {}; batch: {}), and compares the final "
      "validation losses with fp32's. Measured {} on {}.\n\n"
      "| precision | final val loss | vs fp32 | lowest val loss | skipped steps (fp16) | final loss scale | wall time | "
      "diverged |\n|---|---|---|---|---|---|---|---|\n",
      args, st.value("model", "?"), st.value("batch", "?"), st["machine"]["date"].get<std::string>(),
      st["machine"].value("cpu", "an unrecorded CPU"));
  auto num = [](const json& v, const char* f) { return v.is_number() ? fmt::format(fmt::runtime(f), v.get<double>()) : "n/a"; };
  for (const json& r : st["runs"])
    out += fmt::format("| {} | {} | {} | {} | {} | {} | {:.0f} s | {} |\n", r["precision"].get<std::string>(),
                       num(r["final_val_loss"], "{:.4f}"), r["precision"] == "fp32" ? "reference" : SignedPct(r["val_loss_diff_pct"]),
                       num(r["min_val_loss"], "{:.4f}"), r["skipped_steps"].get<int64_t>(),
                       num(r["final_loss_scale"], "{:g}"), r["wall_s"].get<double>(),
                       r["diverged"].get<bool>() ? "yes" : "no");
  const StabilityVerdict v = JudgeStability(st);
  out += fmt::format("\n- {} final val loss within {:g}% of fp32: {} ({})\n", names.empty() ? "16-bit" : names,
                     kStabilityMaxDiffPct, PassFail(v.within), v.within_detail);
  out += fmt::format("- no divergence (every loss finite, no final val loss more than {:.0f}% above the run's lowest): "
                     "{}{}\n",
                     100 * kStabilityDivergenceRise, PassFail(v.no_divergence),
                     v.no_divergence ? "" : " (" + v.divergence_detail + ")");
  if (st["steps"].get<int>() < 1000)
    out += fmt::format("\nOnly {} steps per run: the requirement asks for at least 1000.\n", st["steps"].get<int>());
  out += "\n";
  for (const std::string& link : plots) {
    const std::string stem = std::filesystem::path(link).stem().string();
    const std::string alt = stem.find("val") != std::string::npos ? "Validation loss by precision"
                                                                   : "Training loss by precision (EMA-smoothed)";
    out += fmt::format("![{}]({})\n\n", alt, link);
  }
  return out;
}

}  // namespace

std::string RenderReport(const json& b, const json& a, const std::string& perf_top, const std::string& results_link,
                         const std::string& flamegraph_link, const ReportExtras& extras) {
  std::string out = fmt::format(
      "# Optimizations, measured\n\n"
      "Generated by `cpu_llm bench --report` from the bench results in [{0}]({0}) — do not edit by hand; "
      "`tools/bench_all.sh` reruns the measurements and regenerates this file.\n\n",
      results_link);
  out +=
      "How the numbers are made: every run is a fresh `cpu_llm bench --worker` process (clean caches, allocator "
      "and peak RSS) that trains on the bundled corpus: warm-up steps, then timed optimizer steps. Training FLOPs "
      "per token = 6 × (parameters except position embeddings) + 12 × layers × T × C (attention scores and mixing, "
      "full T×T as in PaLM's MFU); MFU = achieved FLOP/s ÷ the peak the bench measured on this machine. "
      "Before/after pairs alternate their runs (ABBA) so machine noise lands on both sides; each pair of runs "
      "gives one ratio; the report shows the median ratio and its min–max.\n\n";
  out += MachineSection(b, a);
  out += BaselineSection(b);
  out += ProfileSection(b);
  out += "## The plan, item by item\n\n";
  for (const PlanItem& item : PlanItems()) out += ItemSection(item, b, a, extras, perf_top, flamegraph_link);
  if (!extras.stability.is_null()) out += StabilitySection(extras.stability, extras.stability_plots);
  return out;
}

std::string ProfileTable(const json& profile) {
  const double step = profile["step_ms"].get<double>();
  std::string t = fmt::format("  {:<18} {:>10} {:>10} {:>7}\n", "op", "fwd ms", "bwd ms", "share");
  for (const json& o : profile["ops"])
    t += fmt::format("  {:<18} {:>10.2f} {:>10.2f} {:>6.1f}%\n", o["op"].get<std::string>(), o["fwd_ms"].get<double>(),
                     o["bwd_ms"].get<double>(), 100.0 * (o["fwd_ms"].get<double>() + o["bwd_ms"].get<double>()) / step);
  return t;
}

static Status ReadText(const std::string& path, std::string* text) {
  std::vector<uint8_t> bytes;
  CPU_LLM_RETURN_IF_ERROR(ReadFileBytes(path, &bytes));
  text->assign(bytes.begin(), bytes.end());
  return Status();
}

Status ReadJsonFile(const std::string& path, json* j) {
  std::string text;
  CPU_LLM_RETURN_IF_ERROR(ReadText(path, &text));
  try {
    *j = json::parse(text);
  } catch (const json::exception& e) {
    return RuntimeError("{}: not valid JSON: {}", path, e.what());
  }
  return Status();
}

Status WriteReport(const std::string& from_dir, const std::string& out_path) {
  namespace fs = std::filesystem;
  auto read_json = [](const std::string& path, bool required, json* j) -> Status {
    if (!fs::exists(path)) return required ? RuntimeError("{}: not found (run the bench with --json first)", path) : Status();
    return ReadJsonFile(path, j);
  };
  json baseline, ablation;
  ReportExtras x;
  json& stability = x.stability;
  CPU_LLM_RETURN_IF_ERROR(read_json(from_dir + "/baseline.json", true, &baseline));
  CPU_LLM_RETURN_IF_ERROR(read_json(from_dir + "/ablation.json", false, &ablation));
  CPU_LLM_RETURN_IF_ERROR(read_json(from_dir + "/stability.json", false, &stability));
  CPU_LLM_RETURN_IF_ERROR(read_json(from_dir + "/data_io.json", false, &x.data_io));
  CPU_LLM_RETURN_IF_ERROR(read_json(from_dir + "/accum_curve.json", false, &x.accum_curve));
  CPU_LLM_RETURN_IF_ERROR(read_json(from_dir + "/arch.json", false, &x.arch));
  CPU_LLM_RETURN_IF_ERROR(read_json(from_dir + "/arch_long.json", false, &x.arch_long));
  CPU_LLM_RETURN_IF_ERROR(read_json(from_dir + "/dist.json", false, &x.dist));
  for (const auto& [j, name, kind] : {std::tuple{&x.arch, "arch.json", "cpu_llm-bench-arch"},
                                      std::tuple{&x.arch_long, "arch_long.json", "cpu_llm-bench-arch"},
                                      std::tuple{&x.dist, "dist.json", "cpu_llm-bench-dist"}})
    if (!j->is_null() && j->value("kind", "") != kind)
      return RuntimeError("{}/{}: not a bench {} result", from_dir, name, kind + 14);
  if (!x.data_io.is_null() && x.data_io.value("kind", "") != "cpu_llm-bench-data-io")
    return RuntimeError("{}/data_io.json: not a bench data-io result", from_dir);
  if (!x.accum_curve.is_null() && x.accum_curve.value("kind", "") != "cpu_llm-bench-accum-curve")
    return RuntimeError("{}/accum_curve.json: not a bench accum-curve result", from_dir);
  if (baseline.value("kind", "") != "cpu_llm-bench-baseline")
    return RuntimeError("{}/baseline.json: not a bench baseline result", from_dir);
  if (!ablation.is_null() && ablation.value("kind", "") != "cpu_llm-bench-ablation")
    return RuntimeError("{}/ablation.json: not a bench ablation result", from_dir);
  if (!stability.is_null() && stability.value("kind", "") != "cpu_llm-bench-stability")
    return RuntimeError("{}/stability.json: not a bench stability result", from_dir);
  std::string perf_top;
  const std::string perf_path = from_dir + "/perf_gpt2-124m.top.txt";
  if (fs::exists(perf_path)) CPU_LLM_RETURN_IF_ERROR(ReadText(perf_path, &perf_top));
  const fs::path out_dir = fs::absolute(out_path).parent_path();
  const std::string results_link = fs::relative(fs::absolute(from_dir), out_dir).string();
  const std::string svg = from_dir + "/perf_gpt2-124m.svg";
  const std::string svg_link = fs::exists(svg) ? fs::relative(fs::absolute(svg), out_dir).string() : "";
  auto plots = [&](const json& result, std::vector<const char*> names, std::vector<std::string>* links) {
    if (result.is_null()) return;
    for (const char* name : names) {
      const std::string path = from_dir + "/" + name;
      if (fs::exists(path)) links->push_back(fs::relative(fs::absolute(path), out_dir).string());
    }
  };
  plots(stability, {kStabilityTrainSvg, kStabilityValSvg}, &x.stability_plots);
  plots(x.accum_curve, {kAccumCurveSvg}, &x.accum_plots);
  const std::string text = RenderReport(baseline, ablation, perf_top, results_link, svg_link, x);
  return WriteFileAtomic(out_path, text.data(), text.size());
}

}  // namespace cpu_llm
