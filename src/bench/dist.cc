#include "bench/dist.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <thread>

#include "bench/machine.h"
#include "bench/process.h"
#include "bench/stability.h"
#include "bench/stats.h"
#include "core/file_io.h"

namespace cpu_llm {
namespace {

using nlohmann::json;

struct Setup {
  const char* label;
  int ranks, threads, batch;
};
constexpr Setup kSetups[] = {
    {"1 rank x 1 thread", 1, 1, 16},
    {"2 ranks x 1 thread", 2, 1, 8},
    {"1 rank x 2 threads", 1, 2, 16},
};

Status FindOnPath(const std::string& name, std::string* path) {
  const char* env = std::getenv("PATH");
  std::stringstream dirs(env ? env : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string p = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) {
      *path = p;
      return Status();
    }
  }
  return UsageError("--dist: {} not found on PATH (Debian: apt-get install openmpi-bin)", name);
}

// The share of step time after the first step spent waiting for the
// all-reduce (metrics' comm_ms over ms).
double CommShare(const std::string& jsonl) {
  std::stringstream lines(jsonl);
  double comm = 0.0, total = 0.0;
  bool first = true;
  for (std::string line; std::getline(lines, line);) {
    const json r = json::parse(line, nullptr, false);
    if (!r.is_object() || !r.contains("ms")) continue;
    if (first) {
      first = false;
      continue;
    }
    comm += r.value("comm_ms", 0.0);
    total += r["ms"].get<double>();
  }
  return total > 0.0 ? comm / total : 0.0;
}

}  // namespace

Status RunDist(const DistOptions& opt, json* out) {
  if (opt.steps < 3) return UsageError("--dist-steps: at least 3 (got {})", opt.steps);
  if (opt.runs < 1) return UsageError("--runs: at least 1 (got {})", opt.runs);
  std::string self, mpirun = opt.mpirun;
  CPU_LLM_RETURN_IF_ERROR(SelfExecutable(&self));
  if (mpirun.empty()) CPU_LLM_RETURN_IF_ERROR(FindOnPath("mpirun", &mpirun));
  TempFolder tmp;
  CPU_LLM_RETURN_IF_ERROR(tmp.Create("cpu_llm_dist"));
  json result = {{"kind", "cpu_llm-bench-dist"}, {"machine", DescribeMachine()}, {"steps", opt.steps},
                 {"runs_per_setup", opt.runs}, {"setups", json::array()}};
  std::vector<std::vector<double>> tok_s(std::size(kSetups)), comm(std::size(kSetups));
  std::vector<std::string> models(std::size(kSetups));
  for (int run = 0; run < opt.runs; run++) {
    for (size_t i = 0; i < std::size(kSetups); i++) {
      const Setup& s = kSetups[i];
      const std::string dir = tmp.path() + "/run";
      std::vector<std::string> argv;
      // Each rank on a core of its own where there are enough; allowed as
      // root (containers), without the cross-memory copy containers forbid.
      const bool cores_enough = std::thread::hardware_concurrency() >= static_cast<unsigned>(s.ranks);
      if (s.ranks > 1)
        argv = {"/usr/bin/env", "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
                "OMPI_MCA_btl_vader_single_copy_mechanism=none", "OMPI_MCA_rmaps_base_oversubscribe=1", mpirun,
                "--bind-to", cores_enough ? "core" : "none", "-np", std::to_string(s.ranks)};
      for (const std::string& a :
           {self, std::string("train"), std::string("--model"), std::string("d3"), std::string("--batch"), std::to_string(s.batch), std::string("--threads"),
            std::to_string(s.threads), std::string("--steps"), std::to_string(opt.steps), std::string("--val-every"),
            std::string("0"), std::string("--val-batches"), std::string("1"), std::string("--log-every"),
            std::string("0"), std::string("--sample-tokens"), std::string("0"), std::string("--out"), dir})
        argv.push_back(a);
      std::fprintf(stderr, "bench --dist: %s, run %d/%d\n", s.label, run + 1, opt.runs);
      std::string output;
      int code = 0;
      CPU_LLM_RETURN_IF_ERROR(RunCapture(argv, &output, &code));
      if (code != 0) return RuntimeError("--dist: the {} run failed (exit status {}): {}", s.label, code, output);
      std::vector<uint8_t> bytes;
      CPU_LLM_RETURN_IF_ERROR(ReadFileBytes(dir + "/metrics.jsonl", &bytes));
      const std::string metrics(bytes.begin(), bytes.end());
      tok_s[i].push_back(SteadyTokensPerSecond(metrics));
      comm[i].push_back(CommShare(metrics));
      models[i] = OutputLine(output, "model: ");
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }
  for (size_t i = 0; i < std::size(kSetups); i++) {
    const Setup& s = kSetups[i];
    result["setups"].push_back({{"label", s.label}, {"ranks", s.ranks}, {"threads", s.threads},
                                {"batch_per_rank", s.batch}, {"model", models[i]}, {"tok_s", tok_s[i]},
                                {"tok_s_median", Median(tok_s[i])}, {"comm_share", comm[i]},
                                {"comm_share_median", Median(comm[i])}});
  }
  *out = std::move(result);
  return Status();
}

std::string DistTable(const json& r) {
  std::string t = fmt::format("{:<22} {:>10} {:>12}\n", "setup", "tok/s", "comm wait");
  for (const json& s : r["setups"])
    t += fmt::format("{:<22} {:>10.0f} {:>11.1f}%\n", s["label"].get<std::string>(), s["tok_s_median"].get<double>(),
                     100.0 * s["comm_share_median"].get<double>());
  return t;
}

std::string DistSection(const json& r) {
  const json& setups = r["setups"];
  std::string out = fmt::format(
      "**Gradient reduction across processes, measured** — `cpu_llm bench --dist`: d3 (GPT-2's block, 3 layers, "
      "C=192) on the bundled corpus, one global batch of 16 × 64 tokens per step, {} steps per run, {} runs per setup interleaved, medians "
      "(tokens/s over steps after the first). Two ranks under `mpirun` each train on B=8 and average their "
      "gradients with non-blocking all-reduces started layer by layer during backward; \"comm wait\" is the share of "
      "the step spent waiting for them after backward.\n\n"
      "| setup | tokens/s | comm wait |\n|---|---|---|\n",
      r["steps"].get<int>(), r["runs_per_setup"].get<int>());
  for (const json& s : setups)
    out += fmt::format("| {} | {:.0f} | {} |\n", s["label"].get<std::string>(), s["tok_s_median"].get<double>(),
                       s["ranks"].get<int>() > 1 ? fmt::format("{:.1f}%", 100.0 * s["comm_share_median"].get<double>())
                                                 : "—");
  if (setups.size() >= 3) {
    const double one = setups[0]["tok_s_median"].get<double>(), two = setups[1]["tok_s_median"].get<double>(),
                 threads = setups[2]["tok_s_median"].get<double>();
    out += fmt::format(
        "\n2 ranks over 1: **{:.2f}×**; 2 ranks against 1 rank with 2 threads: {:.2f}× (above 1: processes scale "
        "better than threads here; below: threads do).\n\n",
        two / one, two / threads);
  }
  return out;
}

}  // namespace cpu_llm
