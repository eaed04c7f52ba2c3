#include "io/hf_export.h"

#include <filesystem>
#include <map>

#include "core/file_io.h"

namespace cpu_llm {

Status ExportHfSafetensors(const GPT2& model, const std::string& dir, StDtype dtype,
                           const nlohmann::ordered_json& notes) {
  HfArch arch;
  CPU_LLM_RETURN_IF_ERROR(HfArchFor(model.config(), &arch));
  CPU_LLM_RETURN_IF_ERROR(EnsureWritableDir(dir));
  // transformers refuses a safetensors file whose metadata lacks format "pt".
  std::map<std::string, std::string> metadata = {{"format", "pt"}};
  for (auto& [k, v] : notes.items()) metadata[k] = v.is_string() ? v.get<std::string>() : v.dump();
  const std::filesystem::path d(dir);
  CPU_LLM_RETURN_IF_ERROR(
      WriteSafetensors((d / kHfWeightsName).string(), ToHfTensors(model, arch, dtype), metadata));
  const std::string text = HfConfigJson(model.config(), arch, dtype, notes).dump(2) + "\n";
  return WriteFileAtomic((d / kHfConfigName).string(), text.data(), text.size());
}

Status ImportHfSafetensors(const std::string& in, GPT2* model, HfArch* arch_out) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool is_dir = fs::is_directory(in, ec);
  if (!is_dir && !fs::exists(in, ec)) return RuntimeError("{}: no such file or folder", in);
  const fs::path weights = is_dir ? fs::path(in) / kHfWeightsName : fs::path(in);
  const fs::path config = (is_dir ? fs::path(in) : weights.parent_path()) / kHfConfigName;
  if (is_dir && !fs::exists(weights, ec)) {
    if (fs::exists(fs::path(in) / "model.safetensors.index.json", ec))
      return RuntimeError("{}: sharded safetensors (model.safetensors.index.json) are not supported; merge the shards "
                          "into one model.safetensors", in);
    return RuntimeError("{}: no {} in this folder", in, kHfWeightsName);
  }
  std::vector<uint8_t> text;
  CPU_LLM_RETURN_IF_ERROR(ReadFileBytes(config.string(), &text));
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return RuntimeError("{}: not valid JSON", config.string());
  ModelConfig cfg;
  HfArch arch;
  CPU_LLM_RETURN_IF_ERROR(ConfigFromHfJson(config.string(), j, &cfg, &arch));
  SafetensorsFile file;
  CPU_LLM_RETURN_IF_ERROR(file.Open(weights.string()));
  CPU_LLM_RETURN_IF_ERROR(model->Init(cfg));
  CPU_LLM_RETURN_IF_ERROR(FromHfTensors(file, arch, model));
  if (arch_out) *arch_out = arch;
  return Status();
}

}  // namespace cpu_llm
