// config.json both ways, and which HF architecture (if any) a block is.
#include <cmath>
#include <string>

#include "io/hf_layout.h"

namespace cpu_llm {
namespace {

constexpr double kNormEps = 1e-5;  // our LayerNorm's and RMSNorm's (kernels/layernorm.cc, model/block_ops.cc)
constexpr int kGpt2Vocab = 50257, kGpt2Eot = 50256;

const char* TorchDtype(StDtype d) {
  switch (d) {
    case StDtype::kF32: return "float32";
    case StDtype::kF16: return "float16";
    case StDtype::kBF16: return "bfloat16";
  }
  return "float32";
}

// Reads j[key] as a positive int into *out (`fallback` when absent, if >= 0).
Status GetInt(const std::string& path, const nlohmann::json& j, const char* key, int fallback, int* out) {
  if (!j.contains(key) || j[key].is_null()) {
    if (fallback < 0) return RuntimeError("{}: missing \"{}\"", path, key);
    *out = fallback;
    return Status();
  }
  if (!j[key].is_number_integer() || j[key].get<int64_t>() <= 0 || j[key].get<int64_t>() > (1 << 24))
    return RuntimeError("{}: \"{}\" must be a positive integer (got {})", path, key, j[key].dump());
  *out = j[key].get<int>();
  return Status();
}

// j[key], when present, must equal `want` (a value our model hard-codes).
template <typename T>
Status Expect(const std::string& path, const nlohmann::json& j, const char* key, const T& want, const char* why) {
  if (!j.contains(key) || j[key].is_null()) return Status();
  if (j[key] != nlohmann::json(want))
    return RuntimeError("{}: \"{}\" is {}; cpu_llm supports only {} ({})", path, key, j[key].dump(),
                        nlohmann::json(want).dump(), why);
  return Status();
}

Status ExpectEps(const std::string& path, const nlohmann::json& j, const char* key) {
  if (!j.contains(key)) return Status();
  if (!j[key].is_number() || std::fabs(j[key].get<double>() - kNormEps) > 1e-12)
    return RuntimeError("{}: \"{}\" is {}; cpu_llm's norms use 1e-05", path, key, j[key].dump());
  return Status();
}

bool GetBool(const nlohmann::json& j, const char* key, bool fallback) {
  return j.contains(key) && j[key].is_boolean() ? j[key].get<bool>() : fallback;
}

}  // namespace

Status HfArchFor(const ModelConfig& c, HfArch* arch) {
  if (c.norm == NormKind::kLayerNorm && c.mlp == MlpKind::kGelu && c.pos == PosKind::kLearned && c.bias) {
    *arch = HfArch::kGpt2;
    return Status();
  }
  if (c.norm == NormKind::kRmsNorm && c.mlp == MlpKind::kSwiGlu && c.pos == PosKind::kRope && !c.bias) {
    *arch = HfArch::kLlama;
    return Status();
  }
  return UsageError(
      "--format safetensors: the block norm={} mlp={} pos={} bias={} has no Hugging Face architecture; exportable are "
      "GPT-2's (layernorm, gelu, learned, biases) and Llama's (rmsnorm, swiglu, rope, no biases)",
      NormName(c.norm), MlpName(c.mlp), PosName(c.pos), c.bias ? "yes" : "no");
}

nlohmann::ordered_json HfConfigJson(const ModelConfig& c, HfArch arch, StDtype dtype,
                                    const nlohmann::ordered_json& extra) {
  nlohmann::ordered_json j;
  if (arch == HfArch::kGpt2) {
    j["architectures"] = {"GPT2LMHeadModel"};
    j["model_type"] = "gpt2";
    j["vocab_size"] = c.vocab_size;
    j["n_positions"] = c.max_seq_len;
    j["n_ctx"] = c.max_seq_len;
    j["n_embd"] = c.n_embd;
    j["n_layer"] = c.n_layer;
    j["n_head"] = c.n_head;
    // null is HF's 4 * n_embd.
    j["n_inner"] = MlpHidden(c) == 4 * c.n_embd ? nlohmann::ordered_json() : nlohmann::ordered_json(MlpHidden(c));
    j["activation_function"] = "gelu_new";  // the tanh approximation, kernels/gelu.h
    j["layer_norm_epsilon"] = kNormEps;
    // We train without dropout; 0 keeps a model fine-tuned in HF the same.
    j["resid_pdrop"] = 0.0;
    j["embd_pdrop"] = 0.0;
    j["attn_pdrop"] = 0.0;
    j["initializer_range"] = 0.02;
    j["scale_attn_weights"] = true;
    j["scale_attn_by_inverse_layer_idx"] = false;
    j["reorder_and_upcast_attn"] = false;
  } else {
    j["architectures"] = {"LlamaForCausalLM"};
    j["model_type"] = "llama";
    j["vocab_size"] = c.vocab_size;
    j["hidden_size"] = c.n_embd;
    j["intermediate_size"] = MlpHidden(c);
    j["num_hidden_layers"] = c.n_layer;
    j["num_attention_heads"] = c.n_head;
    j["num_key_value_heads"] = c.n_head;
    j["head_dim"] = c.n_embd / c.n_head;
    j["max_position_embeddings"] = c.max_seq_len;
    j["hidden_act"] = "silu";
    j["rms_norm_eps"] = kNormEps;
    j["rope_theta"] = static_cast<double>(c.rope_theta);
    j["rope_scaling"] = nullptr;
    j["attention_bias"] = false;
    j["mlp_bias"] = false;
    j["attention_dropout"] = 0.0;
    j["initializer_range"] = 0.02;
  }
  j["tie_word_embeddings"] = c.tied_head;
  if (c.vocab_size == kGpt2Vocab) {  // GPT-2's tokenizer: <|endoftext|> begins and ends
    j["bos_token_id"] = kGpt2Eot;
    j["eos_token_id"] = kGpt2Eot;
  }
  j["torch_dtype"] = TorchDtype(dtype);
  j["use_cache"] = true;
  for (auto& [k, v] : extra.items()) j[k] = v;
  return j;
}

Status ConfigFromHfJson(const std::string& path, const nlohmann::json& j, ModelConfig* cfg, HfArch* arch) {
  if (!j.is_object()) return RuntimeError("{}: not a JSON object", path);
  const std::string type = j.contains("model_type") && j["model_type"].is_string() ? j["model_type"].get<std::string>() : "";
  ModelConfig c;
  if (type == "gpt2") {
    *arch = HfArch::kGpt2;
    int n_pos = 0;
    CPU_LLM_RETURN_IF_ERROR(GetInt(path, j, "vocab_size", -1, &c.vocab_size));
    CPU_LLM_RETURN_IF_ERROR(GetInt(path, j, "n_positions", -1, &n_pos));
    c.max_seq_len = n_pos;
    CPU_LLM_RETURN_IF_ERROR(GetInt(path, j, "n_embd", -1, &c.n_embd));
    CPU_LLM_RETURN_IF_ERROR(GetInt(path, j, "n_layer", -1, &c.n_layer));
    CPU_LLM_RETURN_IF_ERROR(GetInt(path, j, "n_head", -1, &c.n_head));
    int inner = 0;
    CPU_LLM_RETURN_IF_ERROR(GetInt(path, j, "n_inner", 0, &inner));
    c.mlp_hidden = inner == 4 * c.n_embd ? 0 : inner;
    const std::string act = j.contains("activation_function") && j["activation_function"].is_string()
                                ? j["activation_function"].get<std::string>() : "gelu_new";
    // Both are the tanh approximation our GELU computes.
    if (act != "gelu_new" && act != "gelu_pytorch_tanh")
      return RuntimeError("{}: \"activation_function\" is \"{}\"; cpu_llm's GELU is the tanh approximation (gelu_new)", path, act);
    CPU_LLM_RETURN_IF_ERROR(ExpectEps(path, j, "layer_norm_epsilon"));
    CPU_LLM_RETURN_IF_ERROR(Expect(path, j, "scale_attn_weights", true, "attention scaled by 1/sqrt(head size)"));
    CPU_LLM_RETURN_IF_ERROR(Expect(path, j, "scale_attn_by_inverse_layer_idx", false, "the same scale in every layer"));
    c.tied_head = GetBool(j, "tie_word_embeddings", true);
  } else if (type == "llama") {
    *arch = HfArch::kLlama;
    c.norm = NormKind::kRmsNorm;
    c.mlp = MlpKind::kSwiGlu;
    c.pos = PosKind::kRope;
    c.bias = false;
    CPU_LLM_RETURN_IF_ERROR(GetInt(path, j, "vocab_size", -1, &c.vocab_size));
    CPU_LLM_RETURN_IF_ERROR(GetInt(path, j, "max_position_embeddings", -1, &c.max_seq_len));
    CPU_LLM_RETURN_IF_ERROR(GetInt(path, j, "hidden_size", -1, &c.n_embd));
    CPU_LLM_RETURN_IF_ERROR(GetInt(path, j, "num_hidden_layers", -1, &c.n_layer));
    CPU_LLM_RETURN_IF_ERROR(GetInt(path, j, "num_attention_heads", -1, &c.n_head));
    CPU_LLM_RETURN_IF_ERROR(GetInt(path, j, "intermediate_size", -1, &c.mlp_hidden));
    int kv_heads = 0, head_dim = 0;
    CPU_LLM_RETURN_IF_ERROR(GetInt(path, j, "num_key_value_heads", c.n_head, &kv_heads));
    if (kv_heads != c.n_head)
      return RuntimeError("{}: num_key_value_heads {} differs from num_attention_heads {}; cpu_llm has no grouped-query "
                          "attention", path, kv_heads, c.n_head);
    CPU_LLM_RETURN_IF_ERROR(GetInt(path, j, "head_dim", c.n_embd / c.n_head, &head_dim));
    if (head_dim * c.n_head != c.n_embd)
      return RuntimeError("{}: head_dim {} x {} heads is not hidden_size {}", path, head_dim, c.n_head, c.n_embd);
    CPU_LLM_RETURN_IF_ERROR(ExpectEps(path, j, "rms_norm_eps"));
    CPU_LLM_RETURN_IF_ERROR(Expect(path, j, "hidden_act", "silu", "SwiGLU's gate is SiLU"));
    CPU_LLM_RETURN_IF_ERROR(Expect(path, j, "attention_bias", false, "no biases"));
    CPU_LLM_RETURN_IF_ERROR(Expect(path, j, "mlp_bias", false, "no biases"));
    if (j.contains("rope_scaling") && !j["rope_scaling"].is_null())
      return RuntimeError("{}: \"rope_scaling\" is set; cpu_llm's RoPE has no scaling", path);
    if (j.contains("rope_theta")) {
      if (!j["rope_theta"].is_number()) return RuntimeError("{}: \"rope_theta\" is not a number", path);
      c.rope_theta = j["rope_theta"].get<float>();
    }
    c.tied_head = GetBool(j, "tie_word_embeddings", false);
  } else {
    return RuntimeError("{}: model_type \"{}\" is not supported (expected gpt2 or llama)", path, type);
  }
  c.padded_vocab_size = PadVocab(c.vocab_size);
  Status s = ValidateConfig(c);
  if (!s.ok()) return RuntimeError("{}: {}", path, s.message());
  *cfg = c;
  return Status();
}

}  // namespace cpu_llm
