// `export`: a checkpoint to another tool's format; `import`: back again.
// Every export format is one row of kExportFormats sharing the flag checks;
// the in-memory writers also share the checkpoint loading and the
// pruned-vocabulary expansion, GGUF's (io/gguf_export.h) does its own, as it
// also refuses vocabularies llama.cpp has no tokenizer for.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "data/token_map.h"
#include "io/gguf_export.h"
#include "io/hf_export.h"
#include "train/checkpoint.h"
#include "train/vocab_export.h"

namespace cpu_llm {
namespace {

struct ExportArgs {
  std::string checkpoint;
  std::string format;
  std::string out;
  std::string dtype;  // empty: the format's default
};

// What every writer gets: the model (in the tokenizer's full vocabulary) and
// notes on where it came from, for formats with room for them.
struct ExportJob {
  const GPT2* model = nullptr;
  const ExportArgs* args = nullptr;
  nlohmann::ordered_json notes;
};

Status WriteSafetensorsDir(const ExportJob& job) {
  StDtype dtype = StDtype::kF32;
  if (!job.args->dtype.empty()) CPU_LLM_RETURN_IF_ERROR(ParseStDtype(job.args->dtype, &dtype));
  CPU_LLM_RETURN_IF_ERROR(ExportHfSafetensors(*job.model, job.args->out, dtype, job.notes));
  std::printf("exported %s/%s and %s/%s (%s)\n", job.args->out.c_str(), kHfWeightsName, job.args->out.c_str(),
              kHfConfigName, StDtypeName(dtype));
  return Status();
}

Status WriteLlmc(const ExportJob& job, WeightFormat format) {
  CPU_LLM_RETURN_IF_ERROR(SaveModel(job.args->out, *job.model, format));
  std::printf("exported %s\n", job.args->out.c_str());
  return Status();
}

Status WriteGgufFile(const ExportArgs& a) {
  GgufDtype dtype = GgufDtype::kF32;
  if (!a.dtype.empty()) CPU_LLM_RETURN_IF_ERROR(ParseGgufDtype(a.dtype, &dtype));
  GgufExportSummary s;
  CPU_LLM_RETURN_IF_ERROR(ExportGguf(a.checkpoint, a.out, dtype, &s));
  std::printf("exported %s: GGUF v3, architecture %s, %lld tensors (matrices %s, 1-D tensors f32), %d tokens%s\n",
              a.out.c_str(), s.arch.c_str(), static_cast<long long>(s.tensors), GgufDtypeName(dtype), s.vocab,
              s.expanded_vocab ? " (pruned vocabulary put back into GPT-2 ids)" : "");
  std::printf("validated %s: structure, %s hyperparameters, tensor names and shapes, tokenizer: OK\n", a.out.c_str(),
              s.arch.c_str());
  return Status();
}

struct ExportFormat {
  const char* name;
  const char* out_help;  // what --out names
  bool takes_dtype;      // --dtype is the writer's to parse
  Status (*write)(const ExportJob& job);  // given the loaded (expanded) model
  Status (*write_file)(const ExportArgs& args) = nullptr;  // or: loads the checkpoint itself
};

constexpr ExportFormat kExportFormats[] = {
    {"safetensors", "a folder: model.safetensors + config.json (Hugging Face GPT-2 or Llama)", true, WriteSafetensorsDir},
    {"llmc-fp32", "a file: llm.c model, version 3 (fp32)", false,
     [](const ExportJob& j) { return WriteLlmc(j, WeightFormat::kFp32); }},
    {"llmc-bf16", "a file: llm.c model, version 5 (bf16)", false,
     [](const ExportJob& j) { return WriteLlmc(j, WeightFormat::kBf16); }},
    {"gguf", "a file: GGUF v3 for llama.cpp (gpt2 or llama architecture, GPT-2 tokenizer), validated after writing",
     true, nullptr, WriteGgufFile},
};

std::string FormatNames() {
  std::string s;
  for (const ExportFormat& f : kExportFormats) s += (s.empty() ? "" : ", ") + std::string(f.name);
  return s;
}

Status RunExport(const ExportArgs& a) {
  const ExportFormat* format = nullptr;
  for (const ExportFormat& f : kExportFormats)
    if (a.format == f.name) format = &f;
  if (!format) return UsageError("--format: unknown format '{}' (expected {})", a.format, FormatNames());
  if (!a.dtype.empty() && !format->takes_dtype)
    return UsageError("--dtype: not used by --format {} (its name says how it stores the weights)", a.format);
  if (a.out.empty()) return UsageError("--out: must not be empty");
  if (format->write_file) return format->write_file(a);
  GPT2 model;
  CPU_LLM_RETURN_IF_ERROR(LoadModel(a.checkpoint, &model));
  ExportJob job;
  job.args = &a;
  job.model = &model;
  job.notes["cpu_llm_checkpoint"] = std::filesystem::path(a.checkpoint).filename().string();
  // Exports are for other tools, which know the tokenizer's ids only: a model
  // trained on a pruned vocabulary goes back to the full one, as the
  // trainer's --export-bf16 does (train/vocab_export.h).
  GPT2 expanded;
  const std::string map_path = (std::filesystem::path(a.checkpoint).parent_path() / "vocab_map.bin").string();
  std::error_code ec;
  if (std::filesystem::exists(map_path, ec)) {
    TokenMap map;
    CPU_LLM_RETURN_IF_ERROR(map.Load(map_path));
    if (map.model_vocab() == model.config().vocab_size) {
      CPU_LLM_RETURN_IF_ERROR(ExpandVocabulary(model, map, &expanded));
      job.model = &expanded;
      job.notes["cpu_llm_vocabulary"] =
          fmt::format("expanded from a pruned vocabulary of {} ids (vocab_map.bin) to the tokenizer's {}; ids the "
                      "training data never had share the unknown token's row",
                      map.model_vocab(), map.source_vocab());
    }
  }
  return format->write(job);
}

struct ImportArgs {
  std::string format;
  std::string in;
  std::string out;
};

Status RunImport(const ImportArgs& a) {
  if (a.format != "safetensors") return UsageError("--format: unknown format '{}' (expected safetensors)", a.format);
  GPT2 model;
  HfArch arch;
  CPU_LLM_RETURN_IF_ERROR(ImportHfSafetensors(a.in, &model, &arch));
  CPU_LLM_RETURN_IF_ERROR(SaveModel(a.out, model));
  std::printf("imported %s (%s: %s) to %s\n", a.in.c_str(), arch == HfArch::kGpt2 ? "GPT-2" : "Llama",
              DescribeConfig(model.config()).c_str(), a.out.c_str());
  return Status();
}

}  // namespace

CommandRunner AddExportCommand(CLI::App& root) {
  auto a = std::make_shared<ExportArgs>();
  CLI::App* app = root.add_subcommand("export", "Write a checkpoint in another tool's format.");
  app->get_formatter()->column_width(34);
  app->add_option("-c,--checkpoint", a->checkpoint, "Model checkpoint (model_*.bin)")->required();
  std::string formats;
  for (const ExportFormat& f : kExportFormats) formats += fmt::format("\n  {}: --out is {}", f.name, f.out_help);
  app->add_option("--format", a->format, "Output format:" + formats)->required();
  app->add_option("-o,--out", a->out, "Output folder or file (see --format)")->required();
  app->add_option("--dtype", a->dtype, "safetensors, gguf: f32 (default), f16 or bf16 (gguf: for the matrices)");
  return [a] { return RunExport(*a); };
}

CommandRunner AddImportCommand(CLI::App& root) {
  auto a = std::make_shared<ImportArgs>();
  CLI::App* app = root.add_subcommand("import", "Read another tool's model into an llm.c-format checkpoint.");
  app->get_formatter()->column_width(34);
  app->add_option("--format", a->format, "Input format: safetensors (Hugging Face GPT-2 or Llama)")->required();
  app->add_option("-i,--in", a->in, "Folder with model.safetensors + config.json, or the .safetensors file")->required();
  app->add_option("-o,--out", a->out, "Model file to write (fp32)")->required();
  return [a] { return RunImport(*a); };
}

}  // namespace cpu_llm
