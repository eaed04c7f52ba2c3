// A model as a Hugging Face folder (model.safetensors + config.json) and
// back. The layout is hf_layout.h's; this file adds the files around it.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "io/hf_layout.h"
#include "io/safetensors.h"
#include "model/gpt2.h"

namespace cpu_llm {

constexpr const char* kHfWeightsName = "model.safetensors";
constexpr const char* kHfConfigName = "config.json";

// Writes dir/model.safetensors then dir/config.json, each atomically: a
// config.json on disk always has its complete weights beside it (the same
// order as a checkpoint's model and state files). `notes` go into
// config.json (and, as strings, the safetensors metadata) as they are.
// A block HF cannot express is a usage error and writes nothing.
Status ExportHfSafetensors(const GPT2& model, const std::string& dir, StDtype dtype,
                           const nlohmann::ordered_json& notes);

// Reads an HF folder (or its model.safetensors, with config.json beside it)
// into `model`, initialised here with the config.json's shape and the
// vocabulary padded as our init pads it.
Status ImportHfSafetensors(const std::string& dir_or_file, GPT2* model, HfArch* arch = nullptr);

}  // namespace cpu_llm
