#include "io/hf_layout.h"

#include <algorithm>
#include <cstring>
#include <set>

#include <fmt/format.h>

namespace cpu_llm {
namespace {

// ParamView indices (llm.c order; see model/gpt2.h).
enum : int {
  kWte, kWpe, kLn1w, kLn1b, kQkvw, kQkvb, kAttprojw, kAttprojb, kLn2w,
  kLn2b, kFcw, kFcb, kFcprojw, kFcprojb, kLnfw, kLnfb, kLmheadw
};

// Start of each parameter tensor within the flat parameter array.
std::array<int64_t, kNumParamTensors> ParamOffsets(const ModelConfig& cfg) {
  const auto sizes = ParamSizes(cfg);
  std::array<int64_t, kNumParamTensors> at{};
  int64_t o = 0;
  for (int i = 0; i < kNumParamTensors; i++) {
    at[i] = o;
    o += sizes[i];
  }
  return at;
}

// HF names that are buffers, not parameters: GPT-2's causal masks (older
// transformers saved them) and Llama's rotary frequencies. Import skips them.
bool IsHfBuffer(const std::string& name) {
  auto ends = [&](const char* s) {
    const size_t n = std::strlen(s);
    return name.size() >= n && name.compare(name.size() - n, n, s) == 0;
  };
  return ends(".attn.bias") || ends(".attn.masked_bias") || ends(".rotary_emb.inv_freq");
}

}  // namespace

std::vector<int64_t> HfTensorSpec::hf_shape() const {
  if (vector) return {rows * cols};
  return transpose ? std::vector<int64_t>{cols, rows} : std::vector<int64_t>{rows, cols};
}

std::vector<HfTensorSpec> HfTensorSpecs(const ModelConfig& cfg, HfArch arch) {
  const int64_t V = cfg.vocab_size, C = cfg.n_embd, T = cfg.max_seq_len, H = MlpHidden(cfg), F = MlpFcRows(cfg);
  std::vector<HfTensorSpec> s;
  // A matrix block of our (rows, cols); HF's Conv1D wants it transposed.
  auto mat = [&](std::string name, int p, int64_t off, int64_t r, int64_t c, bool tr) {
    s.push_back({std::move(name), p, off, r, c, tr, false});
  };
  auto vec = [&](std::string name, int p, int64_t off, int64_t n) { s.push_back({std::move(name), p, off, 1, n, false, true}); };
  if (arch == HfArch::kGpt2) {
    mat("wte.weight", kWte, 0, V, C, false);  // the first V rows: the padding stays behind
    mat("wpe.weight", kWpe, 0, T, C, false);
    for (int64_t l = 0; l < cfg.n_layer; l++) {
      const std::string h = fmt::format("h.{}.", l);
      vec(h + "ln_1.weight", kLn1w, l * C, C);
      vec(h + "ln_1.bias", kLn1b, l * C, C);
      mat(h + "attn.c_attn.weight", kQkvw, l * 3 * C * C, 3 * C, C, true);
      vec(h + "attn.c_attn.bias", kQkvb, l * 3 * C, 3 * C);
      mat(h + "attn.c_proj.weight", kAttprojw, l * C * C, C, C, true);
      vec(h + "attn.c_proj.bias", kAttprojb, l * C, C);
      vec(h + "ln_2.weight", kLn2w, l * C, C);
      vec(h + "ln_2.bias", kLn2b, l * C, C);
      mat(h + "mlp.c_fc.weight", kFcw, l * F * C, F, C, true);
      vec(h + "mlp.c_fc.bias", kFcb, l * F, F);
      mat(h + "mlp.c_proj.weight", kFcprojw, l * C * H, C, H, true);
      vec(h + "mlp.c_proj.bias", kFcprojb, l * C, C);
    }
    vec("ln_f.weight", kLnfw, 0, C);
    vec("ln_f.bias", kLnfb, 0, C);
  } else {
    mat("model.embed_tokens.weight", kWte, 0, V, C, false);
    for (int64_t l = 0; l < cfg.n_layer; l++) {
      const std::string p = fmt::format("model.layers.{}.", l);
      const int64_t qkv = l * 3 * C * C, fc = l * F * C;
      vec(p + "input_layernorm.weight", kLn1w, l * C, C);
      // qkvw rows are q | k | v (what attention reads), each (C, C).
      mat(p + "self_attn.q_proj.weight", kQkvw, qkv, C, C, false);
      mat(p + "self_attn.k_proj.weight", kQkvw, qkv + C * C, C, C, false);
      mat(p + "self_attn.v_proj.weight", kQkvw, qkv + 2 * C * C, C, C, false);
      mat(p + "self_attn.o_proj.weight", kAttprojw, l * C * C, C, C, false);
      vec(p + "post_attention_layernorm.weight", kLn2w, l * C, C);
      // fcw rows are gate | up (swiglu_forward's order), each (H, C).
      mat(p + "mlp.gate_proj.weight", kFcw, fc, H, C, false);
      mat(p + "mlp.up_proj.weight", kFcw, fc + H * C, H, C, false);
      mat(p + "mlp.down_proj.weight", kFcprojw, l * C * H, C, H, false);
    }
    vec("model.norm.weight", kLnfw, 0, C);
  }
  if (!cfg.tied_head) mat("lm_head.weight", kLmheadw, 0, V, C, false);
  return s;
}

std::vector<StTensorOut> ToHfTensors(const GPT2& model, HfArch arch, StDtype dtype) {
  const auto at = ParamOffsets(model.config());
  std::vector<StTensorOut> out;
  for (const HfTensorSpec& spec : HfTensorSpecs(model.config(), arch)) {
    StTensorOut t;
    t.name = spec.name;
    t.dtype = dtype;
    t.shape = spec.hf_shape();
    const float* src = model.params() + at[spec.param] + spec.offset;
    const int64_t R = spec.rows, Cc = spec.cols;
    t.values.resize(R * Cc);
    if (!spec.transpose) {
      std::copy(src, src + R * Cc, t.values.begin());
    } else {
      for (int64_t r = 0; r < R; r++)
        for (int64_t c = 0; c < Cc; c++) t.values[c * R + r] = src[r * Cc + c];
    }
    out.push_back(std::move(t));
  }
  return out;
}

Status FromHfTensors(const SafetensorsFile& file, HfArch arch, GPT2* model) {
  const ModelConfig& cfg = model->config();
  const auto at = ParamOffsets(cfg);
  // Unwritten parts (the vocabulary padding) are zero, as InitWeights leaves them.
  std::fill(model->params(), model->params() + model->num_params(), 0.0f);
  // GPT2LMHeadModel.save_pretrained() prefixes the names with "transformer.";
  // GPT2Model's files (and ours) do not. Either loads.
  const bool prefixed = arch == HfArch::kGpt2 && file.Find("wte.weight") == nullptr &&
                        file.Find("transformer.wte.weight") != nullptr;
  std::set<std::string> used;
  std::vector<float> buf;
  for (const HfTensorSpec& spec : HfTensorSpecs(cfg, arch)) {
    const std::string name = prefixed && spec.name != "lm_head.weight" ? "transformer." + spec.name : spec.name;
    const StTensorInfo* t = file.Find(name);
    if (!t) return RuntimeError("{}: missing tensor '{}'", file.path(), name);
    if (t->shape != spec.hf_shape())
      return RuntimeError("{}: tensor '{}' has shape [{}], expected [{}] from config.json", file.path(), name,
                          fmt::join(t->shape, ", "), fmt::join(spec.hf_shape(), ", "));
    used.insert(name);
    buf.resize(t->numel());
    file.ReadF32(*t, buf.data());
    float* dst = model->params() + at[spec.param] + spec.offset;
    const int64_t R = spec.rows, Cc = spec.cols;
    if (!spec.transpose) {
      std::copy(buf.begin(), buf.end(), dst);
    } else {
      for (int64_t r = 0; r < R; r++)
        for (int64_t c = 0; c < Cc; c++) dst[r * Cc + c] = buf[c * R + r];
    }
  }
  for (const StTensorInfo& t : file.tensors()) {
    if (used.count(t.name) || IsHfBuffer(t.name)) continue;
    // A tied model's file may still carry the head HF ties to wte.
    if (cfg.tied_head && t.name == "lm_head.weight") continue;
    return RuntimeError("{}: unexpected tensor '{}' for {} (does config.json match the weights?)", file.path(), t.name,
                        arch == HfArch::kGpt2 ? "GPT-2" : "Llama");
  }
  return Status();
}

}  // namespace cpu_llm
