// `cpu_llm export`: a checkpoint as a file another tool runs. Here: GGUF for
// llama.cpp (io/gguf_export.h), which the command validates after writing.
#include <fmt/format.h>

#include <memory>

#include "cli/commands.h"
#include "io/gguf_export.h"

namespace cpu_llm {
namespace {

struct ExportArgs {
  std::string checkpoint;
  std::string format;
  std::string out;
  std::string dtype = "f32";
};

Status RunExport(const ExportArgs& a) {
  if (a.format != "gguf") return UsageError("--format: '{}' is not supported (supported: gguf)", a.format);
  GgufDtype dtype;
  CPU_LLM_RETURN_IF_ERROR(ParseGgufDtype(a.dtype, &dtype));
  GgufExportSummary s;
  CPU_LLM_RETURN_IF_ERROR(ExportGguf(a.checkpoint, a.out, dtype, &s));
  fmt::print("wrote {}: GGUF v3, architecture {}, {} tensors ({} matrices, 1-D tensors f32), {} tokens{}\n", a.out,
             s.arch, s.tensors, a.dtype, s.vocab, s.expanded_vocab ? " (pruned vocabulary put back into GPT-2 ids)" : "");
  fmt::print("validated {}: structure, {} hyperparameters, tensor names and shapes, tokenizer: OK\n", a.out, s.arch);
  return Status();
}

}  // namespace

CommandRunner AddExportCommand(CLI::App& root) {
  auto a = std::make_shared<ExportArgs>();
  CLI::App* app = root.add_subcommand("export", "Write a checkpoint in another tool's format (gguf: llama.cpp).");
  app->add_option("--checkpoint", a->checkpoint, "Model file (model_*.bin)")->required();
  app->add_option("--format", a->format, "Output format: gguf")->required();
  app->add_option("--out", a->out, "Output file")->required();
  app->add_option("--dtype", a->dtype, "gguf: f32, f16 or bf16 for the matrices (1-D tensors stay f32)")
      ->capture_default_str();
  return [a] { return RunExport(*a); };
}

}  // namespace cpu_llm
