// A Hugging Face folder as `cpu_llm import` reads it: config.json (GPT-2 or
// Llama, with every setting our model cannot reproduce refused) and
// model.safetensors (names, shapes, Conv1D transposes). The input is both
// files, split at the first NUL byte (which a config.json never holds).
// Checked: an import that succeeds gives a model that exports and imports
// back to the same parameters, bit for bit.
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "fuzz_util.h"
#include "io/hf_export.h"

using namespace cpu_llm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* bytes = reinterpret_cast<const char*>(data);
  const char* nul = static_cast<const char*>(std::memchr(bytes, 0, size));
  if (!nul) return 0;
  const std::string_view config(bytes, nul - bytes), weights(nul + 1, size - (nul + 1 - bytes));
  const std::string dir = fuzz::Temp().Path("hf");
  std::filesystem::create_directories(dir);
  fuzz::WriteInput(config, "hf/config.json");
  fuzz::WriteInput(weights, "hf/model.safetensors");
  GPT2 model;
  if (!ImportHfSafetensors(dir, &model).ok()) return 0;
  FUZZ_CHECK(model.num_params() > 0);
  const std::string again = fuzz::Temp().Path("hf_again");
  FUZZ_CHECK(ExportHfSafetensors(model, again, StDtype::kF32, nlohmann::ordered_json::object()).ok());
  GPT2 back;
  FUZZ_CHECK(ImportHfSafetensors(again, &back).ok());
  FUZZ_CHECK(back.num_params() == model.num_params());
  FUZZ_CHECK(std::memcmp(back.params(), model.params(), model.num_params() * sizeof(float)) == 0);
  return 0;
}
