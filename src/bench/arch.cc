#include "bench/arch.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

#include "bench/machine.h"
#include "bench/process.h"
#include "bench/stability.h"
#include "core/file_io.h"

namespace cpu_llm {
namespace {

using nlohmann::json;

struct Variant {
  const char* name;
  const char* what;
  std::vector<std::string> args;  // on top of d3 (GPT-2's block) on the bundled corpus
};

const std::vector<Variant>& Variants() {
  static const std::vector<Variant> v = {
      {"gpt2", "GPT-2's block (the baseline)", {}},
      {"relu2", "squared-ReLU MLP", {"--mlp", "relu2"}},
      {"silu", "SiLU MLP", {"--mlp", "silu"}},
      {"swiglu", "SwiGLU MLP (8C/3 wide)", {"--mlp", "swiglu"}},
      {"rmsnorm", "RMSNorm", {"--norm", "rmsnorm"}},
      {"rope", "rotary positions", {"--pos", "rope"}},
      {"no-bias", "no biases", {"--bias", "off"}},
      {"untied", "untied LM head", {"--head", "untied"}},
      {"llama", "Llama-style block (RMSNorm, SwiGLU, RoPE, no biases, untied head)", {"--model", "llama-d3"}},
      {"d2", "a smaller model (2 layers, C=128)", {"--model", "d2"}},
      {"pruned", "vocabulary pruned to the corpus's tokens", {"--prune-vocab", "1"}},
      {"llama-pruned", "Llama-style block, pruned vocabulary", {"--model", "llama-d3", "--prune-vocab", "1"}},
  };
  return v;
}

constexpr int kValEvery = 25;
// The variant `train` runs without --model (kDefaultModel, pruned).
constexpr const char* kDefaultVariant = "llama-pruned";

double Num(const json& v) { return v.is_number() ? v.get<double>() : std::numeric_limits<double>::quiet_NaN(); }

// The description from this build's table (the labels are words, not
// measurements), else the one the result carries.
std::string What(const json& run) {
  for (const Variant& v : Variants())
    if (run["variant"] == v.name) return v.what;
  return run.value("what", "");
}

std::string Loss(const json& v) { return v.is_number() ? fmt::format("{:.4f}", v.get<double>()) : "—"; }

}  // namespace

std::vector<std::string> ArchVariantNames() {
  std::vector<std::string> names;
  for (const Variant& v : Variants()) names.push_back(v.name);
  return names;
}

Status RunArch(const ArchOptions& opt, json* out) {
  if (!(opt.budget_s >= 10.0)) return UsageError("--arch-budget: at least 10 seconds (got {})", opt.budget_s);
  std::vector<const Variant*> chosen;
  for (const Variant& v : Variants())
    if (opt.variants.empty() || std::find(opt.variants.begin(), opt.variants.end(), v.name) != opt.variants.end())
      chosen.push_back(&v);
  for (const std::string& name : opt.variants)
    if (std::none_of(Variants().begin(), Variants().end(), [&](const Variant& v) { return name == v.name; }))
      return UsageError("--arch-variants: unknown variant '{}'", name);
  std::string self;
  CPU_LLM_RETURN_IF_ERROR(SelfExecutable(&self));
  TempFolder tmp;
  CPU_LLM_RETURN_IF_ERROR(tmp.Create("cpu_llm_arch"));
  json result = {{"kind", "cpu_llm-bench-arch"}, {"machine", DescribeMachine()}, {"budget_s", opt.budget_s},
                 {"val_every", kValEvery}, {"runs", json::array()}};
  for (size_t i = 0; i < chosen.size(); i++) {
    const Variant& v = *chosen[i];
    const std::string dir = tmp.path() + "/run";
    std::vector<std::string> argv = {self, "train", "--time-budget", fmt::format("{}", opt.budget_s), "--steps",
                                     "1000000", "--val-every", std::to_string(kValEvery), "--log-every", "1000",
                                     "--sample-tokens", "0", "--threads", std::to_string(opt.threads), "--out", dir};
    // On top of d3 (GPT-2's block), not the default model, which is one of the variants.
    if (std::find(v.args.begin(), v.args.end(), "--model") == v.args.end()) argv.insert(argv.end(), {"--model", "d3"});
    argv.insert(argv.end(), v.args.begin(), v.args.end());
    std::fprintf(stderr, "bench --arch: %s (%zu/%zu), %.0f s\n", v.name, i + 1, chosen.size(), opt.budget_s);
    std::string output;
    int code = 0;
    CPU_LLM_RETURN_IF_ERROR(RunCapture(argv, &output, &code));
    if (code != 0) return RuntimeError("--arch: the {} run failed (exit status {})", v.name, code);
    std::vector<uint8_t> bytes;
    CPU_LLM_RETURN_IF_ERROR(ReadFileBytes(dir + "/metrics.jsonl", &bytes));
    json run = {{"variant", v.name}, {"what", v.what}, {"args", v.args}, {"model", OutputLine(output, "model: ")},
                {"peak_rss_mb", std::atof(OutputLine(output, "peak RSS: ").c_str())}};
    const std::string metrics(bytes.begin(), bytes.end());
    CPU_LLM_RETURN_IF_ERROR(ParseMetrics(metrics, dir + "/metrics.jsonl", &run));
    run["tok_s"] = SteadyTokensPerSecond(metrics);
    const std::string params = OutputLine(output, "model: ");
    const size_t at = params.find("params=");
    run["params_m"] = at == std::string::npos ? 0.0 : std::atof(params.c_str() + at + 7);
    double best = std::numeric_limits<double>::infinity();
    for (const json& x : run["val_loss"]) best = std::min(best, Num(x));
    run["best_val_loss"] = best;
    std::fprintf(stderr, "bench --arch: %s: %zu steps, best val loss %.4f\n", v.name, run["steps"].size(), best);
    result["runs"].push_back(std::move(run));
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  // The same number of tokens: the last validation step every run reached.
  int64_t common = std::numeric_limits<int64_t>::max();
  for (const json& r : result["runs"]) {
    int64_t last = 0;
    for (const json& s : r["val_steps"])
      if (s.get<int64_t>() % kValEvery == 0) last = std::max(last, s.get<int64_t>());
    common = std::min(common, last);
  }
  result["common_step"] = common;
  for (json& r : result["runs"]) {
    r["val_loss_at_common_step"] = nullptr;
    for (size_t k = 0; k < r["val_steps"].size(); k++)
      if (r["val_steps"][k].get<int64_t>() == common) r["val_loss_at_common_step"] = r["val_loss"][k];
  }
  *out = std::move(result);
  return Status();
}

std::string ArchTable(const json& r) {
  std::string t = fmt::format("{:<14} {:>8} {:>9} {:>9} {:>7} {:>10} {:>12}\n", "variant", "params M", "tok/s",
                              "RSS MB", "steps", "best val", fmt::format("val @{}", r["common_step"].get<int64_t>()));
  for (const json& x : r["runs"])
    t += fmt::format("{:<14} {:>8.2f} {:>9.0f} {:>9.0f} {:>7} {:>10.4f} {:>12.4f}\n", x["variant"].get<std::string>(),
                     x["params_m"].get<double>(), x["tok_s"].get<double>(), x["peak_rss_mb"].get<double>(),
                     x["steps"].size(), Num(x["best_val_loss"]), Num(x["val_loss_at_common_step"]));
  return t;
}

std::string ArchSection(const json& r) {
  const int64_t common = r["common_step"].get<int64_t>();
  std::string out = fmt::format(
      "**Variants, measured** — `cpu_llm bench --arch`: the d3 shape (3 layers, C=192; B=16, T=64) on the bundled "
      "corpus, "
      "each variant for the same **{:.0f} s** of training on this machine (the step count that fits is planned from "
      "the first steps' speed, and the learning-rate schedule decays over it), validated every {} steps. \"Val at "
      "step {}\" compares them after the same number of tokens ({} steps × 1024). Pruned variants validate on the "
      "pruned vocabulary (a val token the training split never had counts as the one 'unknown' id).\n\n"
      "| variant | what | params | tokens/s | peak RSS | steps in budget | best val loss | val loss at step {} |\n"
      "|---|---|---|---|---|---|---|---|\n",
      r["budget_s"].get<double>(), r["val_every"].get<int>(), common, common, common);
  const json* best = nullptr;
  for (const json& x : r["runs"]) {
    out += fmt::format("| {} | {} | {:.2f}M | {:.0f} | {:.0f} MB | {} | {} | {} |\n",
                       x["variant"].get<std::string>(), What(x), x["params_m"].get<double>(),
                       x["tok_s"].get<double>(), x["peak_rss_mb"].get<double>(), x["steps"].size(),
                       Loss(x["best_val_loss"]), Loss(x["val_loss_at_common_step"]));
    if (!best || Num(x["best_val_loss"]) < Num((*best)["best_val_loss"])) best = &x;
  }
  if (best) {
    out += fmt::format("\nBest loss in the same CPU time: **{}** ({}), val loss {:.4f}. One run per variant: "
                       "differences of a few hundredths are within run-to-run noise. ",
                       (*best)["variant"].get<std::string>(), What(*best), Num((*best)["best_val_loss"]));
    // The default model of `train` (trainer.h kDefaultModel + pruning) is this variant.
    out += (*best)["variant"] == kDefaultVariant
               ? "It is `train`'s default model (no `--model`).\n\n"
               : fmt::format("`train`'s default model is {}, not the best here.\n\n", kDefaultVariant);
  }
  return out;
}

}  // namespace cpu_llm
