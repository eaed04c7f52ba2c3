// `info`: what a file is (io/file_info.h) and what training its model takes.
#include <memory>

#include <fmt/format.h>

#include "cli/commands.h"
#include "io/file_info.h"

namespace cpu_llm {
namespace {

struct InfoArgs {
  std::string path;
  int batch = 16, seq_len = 0, threads = 0;
  std::string precision = "fp32";
};

Status RunInfo(const InfoArgs& a) {
  if (a.batch <= 0) return UsageError("--batch: must be positive (got {})", a.batch);
  if (a.seq_len < 0) return UsageError("--seq-len: must not be negative (got {})", a.seq_len);
  if (a.threads < 0) return UsageError("--threads: must not be negative (got {})", a.threads);
  InfoOptions opt;
  opt.batch = a.batch;
  opt.seq_len = a.seq_len;
  opt.threads = a.threads;
  CPU_LLM_RETURN_IF_ERROR(ParsePrecision(a.precision, &opt.precision));
  std::string text;
  CPU_LLM_RETURN_IF_ERROR(DescribeFile(a.path, opt, &text));
  fmt::print("{}", text);
  return Status();
}

}  // namespace

CommandRunner AddInfoCommand(CLI::App& root) {
  auto a = std::make_shared<InfoArgs>();
  CLI::App* app = root.add_subcommand(
      "info",
      "Say what a file is: an llm.c model, token shard or tokenizer file, a cpu_llm state file or vocabulary map, GGUF "
      "or safetensors (or a run or Hugging Face folder); for a model, its parameters, the memory training it takes "
      "and its FLOPs per token.");
  app->get_formatter()->column_width(34);
  app->add_option("file", a->path, "File or folder to describe")->required();
  app->add_option("-b,--batch", a->batch, "Batch B the training figures are for")->capture_default_str();
  app->add_option("-t,--seq-len", a->seq_len, "Sequence length T (default: a state file's T, else the model's context)");
  app->add_option("--precision", a->precision, "Precision of the training figures: fp32, bf16 or fp16")
      ->capture_default_str();
  app->add_option("--threads", a->threads, "Threads (per-thread scratch memory; 0: all cores)")->capture_default_str();
  return [a] { return RunInfo(*a); };
}

}  // namespace cpu_llm
