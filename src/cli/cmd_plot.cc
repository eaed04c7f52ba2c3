// `plot`: a run folder's curves as SVG (train/run_plot.h), for a finished
// run, one still training, or one copied from another machine.
#include <memory>

#include <fmt/format.h>

#include "cli/commands.h"
#include "core/file_io.h"
#include "train/run_plot.h"

namespace cpu_llm {
namespace {

struct PlotArgs {
  std::string run_dir;
  std::string out_dir;  // empty: the run folder
};

Status RunPlot(const PlotArgs& a) {
  const std::string out = a.out_dir.empty() ? a.run_dir : a.out_dir;
  if (!a.out_dir.empty()) CPU_LLM_RETURN_IF_ERROR(EnsureWritableDir(out));
  std::vector<std::string> written;
  CPU_LLM_RETURN_IF_ERROR(PlotRun(a.run_dir, out, &written));
  for (const std::string& path : written) fmt::print("wrote {}\n", path);
  return Status();
}

}  // namespace

CommandRunner AddPlotCommand(CLI::App& root) {
  auto a = std::make_shared<PlotArgs>();
  CLI::App* app = root.add_subcommand(
      "plot", "Draw a run folder's metrics.jsonl as SVG: loss.svg (train and val), lr.svg, tok_s.svg.");
  app->get_formatter()->column_width(34);
  app->add_option("run_dir", a->run_dir, "Run folder (train --out)")->required();
  app->add_option("-o,--out", a->out_dir, "Folder for the SVG files (default: the run folder)");
  return [a] { return RunPlot(*a); };
}

}  // namespace cpu_llm
