// Our parameters under Hugging Face transformers' names and layouts, both
// ways, so a model exports to a folder GPT2LMHeadModel / LlamaForCausalLM
// .from_pretrained() loads, and such a folder imports back to a model file.
//
// GPT-2's block maps to GPT2LMHeadModel: its Conv1D layers keep weights as
// (in, out), the transpose of our (out, in), so c_attn, attn.c_proj, c_fc and
// mlp.c_proj are transposed on the way out and back on the way in. The
// Llama-style block (RMSNorm, SwiGLU, RoPE, no biases) maps to
// LlamaForCausalLM, whose nn.Linear weights are (out, in) like ours: our fused
// qkvw splits into q/k/v_proj and fcw into gate_proj (its first H rows) and
// up_proj. Our RoPE is HF's rotate-half convention with the same frequencies
// and our RMSNorm eps is 1e-5, so the mapping is exact. Any other
// combination of block options has no HF class and is refused.
//
// The vocabulary padding (rows V..Vp-1 of wte and of an untied head) is cut
// off: HF's vocab_size is V. Import pads it back to PadVocab(V) with zeros.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "io/safetensors.h"
#include "model/gpt2.h"

namespace cpu_llm {

enum class HfArch { kGpt2, kLlama };

// The HF architecture that expresses cfg's block exactly, or a usage error
// that names the options HF has no equivalent for.
Status HfArchFor(const ModelConfig& cfg, HfArch* arch);

// One HF tensor as a block of one of our parameter tensors: rows x cols
// floats, row-major, starting `offset` floats into tensor `param` (ParamView
// order). transpose: HF stores it as (cols, rows). vector: 1-D in HF.
struct HfTensorSpec {
  std::string name;
  int param = 0;
  int64_t offset = 0;
  int64_t rows = 0, cols = 0;
  bool transpose = false;
  bool vector = false;
  std::vector<int64_t> hf_shape() const;
};
// Every HF tensor of a model of this config, in HF's state_dict order.
std::vector<HfTensorSpec> HfTensorSpecs(const ModelConfig& cfg, HfArch arch);

// The model's weights as HF tensors in `dtype`.
std::vector<StTensorOut> ToHfTensors(const GPT2& model, HfArch arch, StDtype dtype);
// Fills an Init'ed model's weights from an HF file: every tensor present with
// the expected shape, nothing unknown besides HF's non-parameter buffers;
// the vocabulary padding is zeroed.
Status FromHfTensors(const SafetensorsFile& file, HfArch arch, GPT2* model);

// config.json for the model (transformers' GPT2Config / LlamaConfig fields).
// `extra` keys (cpu_llm's notes) are added as they are.
nlohmann::ordered_json HfConfigJson(const ModelConfig& cfg, HfArch arch, StDtype dtype,
                                    const nlohmann::ordered_json& extra);
// The model config a config.json describes, refusing anything our model
// cannot run exactly (another norm eps, attention scaling, grouped KV heads,
// RoPE scaling, ...). `path` names the file in errors.
Status ConfigFromHfJson(const std::string& path, const nlohmann::json& j, ModelConfig* cfg, HfArch* arch);

}  // namespace cpu_llm
