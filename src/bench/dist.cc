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

// How the ranks are started: in this process's network (shared memory
// between ranks), or one per network namespace (TCP/IP, tools/mpi_netns.sh).
enum class Launch { kSingle, kMpirun, kNetns };

struct Setup {
  const char* label;
  int ranks, threads, batch;
  Launch launch;
};
constexpr Setup kSetups[] = {
    {"1 rank x 1 thread", 1, 1, 16, Launch::kSingle},
    {"2 ranks x 1 thread", 2, 1, 8, Launch::kMpirun},
    {"1 rank x 2 threads", 1, 2, 16, Launch::kSingle},
    {"2 ranks x 1 thread, TCP between network namespaces", 2, 1, 8, Launch::kNetns},
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
  const std::string netns_script = std::string(CPU_LLM_SOURCE_DIR) + "/tools/mpi_netns.sh";
  if (opt.netns && ::access(netns_script.c_str(), R_OK) != 0)
    return RuntimeError("{}: not found (--dist-netns runs it)", netns_script);
  TempFolder tmp;
  CPU_LLM_RETURN_IF_ERROR(tmp.Create("cpu_llm_dist"));
  json result = {{"kind", "cpu_llm-bench-dist"}, {"machine", DescribeMachine()}, {"steps", opt.steps},
                 {"runs_per_setup", opt.runs}, {"setups", json::array()}};
  std::vector<const Setup*> setups;
  for (const Setup& s : kSetups)
    if (s.launch != Launch::kNetns || opt.netns) setups.push_back(&s);
  std::vector<std::vector<double>> tok_s(setups.size()), comm(setups.size());
  std::vector<std::string> models(setups.size());
  for (int run = 0; run < opt.runs; run++) {
    for (size_t i = 0; i < setups.size(); i++) {
      const Setup& s = *setups[i];
      const std::string dir = tmp.path() + "/run";
      std::vector<std::string> argv;
      // Each rank on a core of its own where there are enough; allowed as
      // root (containers), without the cross-memory copy containers forbid.
      const bool cores_enough = std::thread::hardware_concurrency() >= static_cast<unsigned>(s.ranks);
      if (s.launch == Launch::kMpirun)
        argv = {"/usr/bin/env", "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
                "OMPI_MCA_btl_vader_single_copy_mechanism=none", "OMPI_MCA_rmaps_base_oversubscribe=1", mpirun,
                "--bind-to", cores_enough ? "core" : "none", "-np", std::to_string(s.ranks), self, "train"};
      else if (s.launch == Launch::kNetns)
        argv = {"/usr/bin/env", "RUN_DIR=" + dir, "bash", netns_script};  // it adds the binary and --out
      else
        argv = {self, "train"};
      const std::vector<std::string> train = {
          "--model", "d3", "--batch", std::to_string(s.batch), "--threads", std::to_string(s.threads), "--steps",
          std::to_string(opt.steps), "--val-every", "0", "--val-batches", "1", "--log-every", "0", "--sample-tokens",
          "0"};
      argv.insert(argv.end(), train.begin(), train.end());
      if (s.launch != Launch::kNetns) argv.insert(argv.end(), {"--out", dir});
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
  for (size_t i = 0; i < setups.size(); i++) {
    const Setup& s = *setups[i];
    result["setups"].push_back({{"label", s.label}, {"ranks", s.ranks}, {"threads", s.threads},
                                {"batch_per_rank", s.batch}, {"model", models[i]}, {"tok_s", tok_s[i]},
                                {"tok_s_median", Median(tok_s[i])}, {"comm_share", comm[i]},
                                {"comm_share_median", Median(comm[i])}});
  }
  *out = std::move(result);
  return Status();
}

std::string DistTable(const json& r) {
  std::string t = fmt::format("{:<52} {:>8} {:>10}\n", "setup", "tok/s", "comm wait");
  for (const json& s : r["setups"])
    t += fmt::format("{:<52} {:>8.0f} {:>9.1f}%\n", s["label"].get<std::string>(), s["tok_s_median"].get<double>(),
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
        "better than threads here; below: threads do).",
        two / one, two / threads);
    if (setups.size() >= 4)
      out += fmt::format(
          " Across network namespaces (tools/mpi_netns.sh: each rank in its own namespace, the gradients over "
          "TCP/IP through a bridge, as between two hosts, with mpirun starting the remote rank through `ip netns "
          "exec` where it would use ssh): {:.2f}× of the shared-memory run.",
          setups[3]["tok_s_median"].get<double>() / two);
    out += "\n\n";
  }
  return out;
}

}  // namespace cpu_llm
