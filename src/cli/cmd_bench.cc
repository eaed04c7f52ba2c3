#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "bench/ablation.h"
#include "bench/accum_curve.h"
#include "bench/dist.h"
#include "bench/arch.h"
#include "bench/data_io.h"
#include "bench/driver.h"
#include "bench/report.h"
#include "bench/stability.h"
#include "bench/torch_runner.h"
#include "cli/commands.h"
#include "core/file_io.h"
#include "kernels/matmul.h"

namespace cpu_llm {
namespace {

struct BenchArgs {
  std::vector<std::string> workloads;
  int runs = 0;  // 0: 1 for the baseline, 5 for --ablation
  int warmup = 0, steps = 0;
  int threads = 0;
  std::string matmul = "tiled";
  std::string simd = "best";
  std::string precision = "fp32";
  int grad_accum = 1;
  bool merge = false;
  bool no_profile = false;
  bool torch = false;
  std::string torch_script = DefaultTorchScript();
  std::vector<std::string> torch_dtypes = {"fp32", "bf16"};
  bool no_flat_nested = false;
  bool no_matmul_shapes = false;
  bool ablation = false;
  std::vector<std::string> switches;
  bool stability = false;
  int stability_steps = 1000;
  std::string stability_args;
  std::string plot_dir;  // default: the folder of --json, else the current one
  bool data_io = false;
  DataIoOptions data_io_opt;
  bool accum_curve = false;
  bool dist = false;
  int dist_steps = 30;
  bool dist_netns = false;
  int accum_steps = 300;
  bool arch = false;
  ArchOptions arch_opt;
  std::string json_out;
  std::string report, from_dir;
  bool list = false;
  std::string worker;  // internal: one run of one workload, JSON on stdout
};

Status WriteJson(const std::string& path, const nlohmann::json& j) {
  const std::string text = j.dump(1) + "\n";
  return WriteFileAtomic(path, text.data(), text.size());
}

Status WriteStabilityPlots(const BenchArgs& a, const nlohmann::json& result) {
  std::string dir = a.plot_dir;
  if (dir.empty()) dir = std::filesystem::path(a.json_out).parent_path().string();
  if (dir.empty()) dir = ".";
  CPU_LLM_RETURN_IF_ERROR(EnsureWritableDir(dir));
  for (const auto& [name, svg] : {std::pair{kStabilityTrainSvg, StabilityTrainLossSvg(result)},
                                  std::pair{kStabilityValSvg, StabilityValLossSvg(result)}}) {
    const std::string path = dir + "/" + name;
    CPU_LLM_RETURN_IF_ERROR(WriteFileAtomic(path, svg.data(), svg.size()));
    fmt::print("wrote {}\n", path);
  }
  return Status();
}

Status RunBench(const BenchArgs& a) {
  if (a.runs < 0 || a.warmup < 0 || a.steps < 0 || a.threads < 0)
    return UsageError("--runs, --warmup, --steps and --threads must not be negative");
  BenchSwitches sw;
  sw.threads = a.threads;
  sw.profile = !a.no_profile;
  sw.simd = a.simd;
  CPU_LLM_RETURN_IF_ERROR(ParseMatmulBackend(a.matmul, &sw.matmul));
  CPU_LLM_RETURN_IF_ERROR(ParsePrecision(a.precision, &sw.precision));
  if (a.grad_accum < 1) return UsageError("--grad-accum: must be at least 1 (got {})", a.grad_accum);
  sw.grad_accum = a.grad_accum;
  CPU_LLM_RETURN_IF_ERROR(CheckMatmulPrecision(sw.matmul, sw.precision));

  if (!a.worker.empty()) {
    Workload w;
    CPU_LLM_RETURN_IF_ERROR(FindWorkload(a.worker, &w));
    if (a.warmup > 0) w.warmup_steps = a.warmup;
    if (a.steps > 0) w.steps = a.steps;
    nlohmann::json result;
    CPU_LLM_RETURN_IF_ERROR(RunWorkload(w, sw, &result));
    fmt::print("{}\n", result.dump());
    return Status();
  }
  if (a.list) {
    fmt::print("workloads:\n");
    for (const Workload& w : Workloads())
      fmt::print("  {:<10} {} (warm-up {}, {} timed steps)\n", w.name, w.description, w.warmup_steps, w.steps);
    fmt::print("switches (--ablation):\n");
    for (const AblationPair& p : AblationPairs(DefaultThreadCount()))
      fmt::print("  {:<10} plan item {}: {} -> {} on {}\n", p.name, p.plan_item, p.before_label, p.after_label,
                 p.workload);
    return Status();
  }
  if (!a.report.empty()) {
    if (a.from_dir.empty()) return UsageError("--report needs --from DIR (the folder of bench JSON files)");
    return WriteReport(a.from_dir, a.report);
  }

  nlohmann::json result;
  if (a.stability + a.ablation + a.data_io + a.accum_curve + a.arch + a.dist > 1)
    return UsageError("--stability, --ablation, --data-io, --accum-curve, --arch and --dist are separate runs: give one");
  if (a.dist) {
    DistOptions opt;
    opt.steps = a.dist_steps;
    opt.runs = a.runs > 0 ? a.runs : 3;
    opt.netns = a.dist_netns;
    CPU_LLM_RETURN_IF_ERROR(RunDist(opt, &result));
    fmt::print("{}", DistTable(result));
  } else if (a.arch) {
    ArchOptions opt = a.arch_opt;
    opt.threads = a.threads;
    CPU_LLM_RETURN_IF_ERROR(RunArch(opt, &result));
    fmt::print("{}", ArchTable(result));
  } else if (a.data_io) {
    DataIoOptions opt = a.data_io_opt;
    opt.runs = a.runs > 0 ? a.runs : 3;
    if (a.steps > 0) opt.steps = a.steps;
    opt.threads = a.threads;
    CPU_LLM_RETURN_IF_ERROR(RunDataIo(opt, &result));
    fmt::print("{}", DataIoTable(result));
  } else if (a.accum_curve) {
    AccumCurveOptions opt;
    opt.steps = a.accum_steps;
    opt.threads = a.threads;
    CPU_LLM_RETURN_IF_ERROR(RunAccumCurve(opt, &result));
    fmt::print("{}", AccumCurveTable(result));
    std::string dir = a.plot_dir.empty() ? std::filesystem::path(a.json_out).parent_path().string() : a.plot_dir;
    if (dir.empty()) dir = ".";
    CPU_LLM_RETURN_IF_ERROR(EnsureWritableDir(dir));
    const std::string svg = AccumCurveSvg(result), path = dir + "/" + kAccumCurveSvg;
    CPU_LLM_RETURN_IF_ERROR(WriteFileAtomic(path, svg.data(), svg.size()));
    fmt::print("wrote {}\n", path);
  } else if (a.stability) {
    StabilityOptions opt;
    opt.steps = a.stability_steps;
    opt.threads = a.threads;
    opt.train_args = SplitArgs(a.stability_args);
    CPU_LLM_RETURN_IF_ERROR(RunStability(opt, &result));
    fmt::print("{}", StabilityTable(result));
    CPU_LLM_RETURN_IF_ERROR(WriteStabilityPlots(a, result));
  } else if (a.ablation) {
    AblationOptions opt;
    opt.switches = a.switches;
    if (a.workloads.size() > 1) return UsageError("--ablation takes at most one --workload");
    if (!a.workloads.empty()) opt.workload = a.workloads.front();
    opt.runs = a.runs > 0 ? a.runs : 5;
    opt.warmup = a.warmup;
    opt.steps = a.steps;
    CPU_LLM_RETURN_IF_ERROR(RunAblation(opt, &result));
    fmt::print("{}", AblationTable(result));
    if (a.merge && !a.json_out.empty() && std::filesystem::exists(a.json_out)) {
      nlohmann::json earlier;
      CPU_LLM_RETURN_IF_ERROR(ReadJsonFile(a.json_out, &earlier));
      if (earlier.value("kind", "") != "cpu_llm-bench-ablation")
        return RuntimeError("{}: --merge: not a bench ablation result", a.json_out);
      result = MergeAblation(earlier, result);
    }
  } else {
    BaselineOptions opt;
    opt.workloads = a.workloads;
    opt.runs = a.runs > 0 ? a.runs : 1;
    opt.warmup = a.warmup;
    opt.steps = a.steps;
    opt.switches = sw;
    opt.torch = a.torch;
    opt.torch_script = a.torch_script;
    opt.torch_dtypes = a.torch_dtypes;
    opt.flat_nested = !a.no_flat_nested;
    opt.matmul_shapes = !a.no_matmul_shapes;
    CPU_LLM_RETURN_IF_ERROR(RunBaseline(opt, &result));
    fmt::print("{}", BaselineTable(result));
    for (const nlohmann::json& w : result["workloads"])
      if (w.contains("profile")) fmt::print("\nprofile of {}:\n{}", w["workload"].get<std::string>(), ProfileTable(w["profile"]));
  }
  if (!a.json_out.empty()) {
    CPU_LLM_RETURN_IF_ERROR(WriteJson(a.json_out, result));
    fmt::print("wrote {}\n", a.json_out);
  }
  return Status();
}

}  // namespace

CommandRunner AddBenchCommand(CLI::App& root) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* app = root.add_subcommand(
      "bench",
      "Measure training speed and memory on named workloads (each run in a fresh process), compare "
      "switches before/after (--ablation), check that mixed precision trains like fp32 (--stability), or write "
      "docs/OPTIMIZATIONS.md from saved results (--report), measure the data path (--data-io), accumulation's loss curve (--accum-curve), the architecture variants (--arch) and data-parallel training (--dist).");
  app->get_formatter()->column_width(34);
  app->add_option("--workload", a->workloads, "Workload(s) to run (default: all): " + WorkloadNamesHelp());
  app->add_option("--runs", a->runs, "Worker processes per workload (default 1), or per side with --ablation (default 5)");
  app->add_option("--warmup", a->warmup, "Untimed steps per run (default: the workload's)");
  app->add_option("--steps", a->steps, "Timed steps per run (default: the workload's; with --data-io: per train run, default 60)");
  app->add_option("--threads", a->threads, "Threads (0: all cores)")->capture_default_str();
  app->add_option("--matmul", a->matmul, "Matmul kernels: tiled, naive, blas (OpenBLAS) or onednn")->capture_default_str();
  app->add_flag("--no-profile", a->no_profile, "Turn the per-op profiler off");
  app->add_option("--precision", a->precision, "Precision of the linear layers: fp32, bf16 or fp16")->capture_default_str();
  app->add_option("--grad-accum", a->grad_accum, "Micro-batches of the workload's batch per update")->capture_default_str();
  app->add_option("--simd", a->simd, "SIMD target of the Highway kernels: best, or one name (avx2, sse4, scalar...)")
      ->capture_default_str();
  app->add_flag("--torch", a->torch, "Also run PyTorch on the same workloads (tools/torch_bench.py; skipped without torch)");
  app->add_option("--torch-script", a->torch_script, "Path of torch_bench.py")->capture_default_str();
  app->add_option("--torch-dtypes", a->torch_dtypes, "PyTorch precisions: fp32, bf16")->delimiter(',')->capture_default_str();
  app->add_flag("--no-flat-nested", a->no_flat_nested, "Skip the flat-vs-nested storage benchmark");
  app->add_flag("--no-matmul-shapes", a->no_matmul_shapes, "Skip the per-shape timing of the matmul backends");
  app->add_flag("--ablation", a->ablation, "Run before/after pairs of each switch, alternating, and report the ratios");
  app->add_option("--switch", a->switches, "With --ablation: only these switches (see --list)");
  app->add_flag("--merge", a->merge, "With --ablation and --json: replace only these switches' pairs in that file");
  CLI::Option* stability =
      app->add_flag("--stability", a->stability,
                    "Train the same model in fp32, bf16 and fp16 (same seed and data), compare the final val losses "
                    "and plot the loss curves (SVG)");
  app->add_option("--stability-steps", a->stability_steps, "With --stability: training steps per precision")
      ->capture_default_str()
      ->needs(stability);
  app->add_option("--stability-args", a->stability_args,
                  "With --stability: more `train` arguments for every run, e.g. \"--model d1 --batch 2\" "
                  "(default: d3, GPT-2's block, on the bundled corpus)")
      ->needs(stability);
  app->add_option("--plot-dir", a->plot_dir,
                  "With --stability or --accum-curve: folder for the SVG plots (default: that of --json)");
  CLI::Option* data_io = app->add_flag(
      "--data-io", a->data_io,
      "Generate a big token dataset (deleted after) and measure read vs mmap (start-up, peak RSS as it grows, "
      "madvise hints) and sync vs async loading (data wait, tokens/s, also on raw text), each run from a cold cache");
  app->add_option("--data-dir", a->data_io_opt.parent_dir, "With --data-io: where to generate the data (default: /tmp)")
      ->needs(data_io);
  app->add_option("--data-shards", a->data_io_opt.shards, "With --data-io: number of shards")
      ->capture_default_str()
      ->needs(data_io);
  app->add_option("--data-shard-tokens", a->data_io_opt.shard_tokens, "With --data-io: tokens per shard")
      ->capture_default_str()
      ->needs(data_io);
  app->add_option("--data-io-parts", a->data_io_opt.parts, "With --data-io: growth, single, advice, loader, text")
      ->delimiter(',')
      ->capture_default_str()
      ->needs(data_io);
  CLI::Option* arch = app->add_flag("--arch", a->arch,
                                    "Train each architecture variant (block options, smaller model, pruned vocabulary) "
                                    "for the same time and compare speed, memory and validation loss");
  app->add_option("--arch-budget", a->arch_opt.budget_s, "With --arch: seconds of training per variant")
      ->capture_default_str()
      ->needs(arch);
  app->add_option("--arch-variants", a->arch_opt.variants, "With --arch: only these variants (default: all)")
      ->delimiter(',')
      ->needs(arch);
  CLI::Option* dist = app->add_flag("--dist", a->dist,
                                    "Train 1 rank x 1 thread, 2 ranks x 1 thread (mpirun) and 1 rank x 2 threads at "
                                    "the same global batch; tokens/s and the share of time waiting on communication");
  app->add_option("--dist-steps", a->dist_steps, "With --dist: training steps per run")
      ->capture_default_str()
      ->needs(dist);
  app->add_flag("--dist-netns", a->dist_netns,
                "With --dist: also 2 ranks in two network namespaces, talking TCP (tools/mpi_netns.sh; needs root)")
      ->needs(dist);
  CLI::Option* accum = app->add_flag("--accum-curve", a->accum_curve,
                                     "Train B=8 and B=2 x 4 accumulated with the same seed and compare the loss curves");
  app->add_option("--accum-steps", a->accum_steps, "With --accum-curve: training steps per run")
      ->capture_default_str()
      ->needs(accum);
  app->add_option("--json", a->json_out, "Write the results as JSON to this file");
  app->add_option("--report", a->report, "Write the Markdown report (docs/OPTIMIZATIONS.md) from the JSON in --from");
  app->add_option("--from", a->from_dir, "Folder holding baseline.json, ablation.json and stability.json (with --report)");
  app->add_flag("--list", a->list, "List the workloads and switches");
  app->add_option("--worker", a->worker, "Internal: run one workload in this process, JSON on stdout")
      ->group("");  // hidden
  return [a] { return RunBench(*a); };
}

}  // namespace cpu_llm
