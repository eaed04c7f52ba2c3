#include "model/config.h"

#include <charconv>

#include "model/gpt2.h"

namespace cpu_llm {

int MlpHidden(const ModelConfig& cfg) {
  if (cfg.mlp_hidden > 0) return cfg.mlp_hidden;
  if (cfg.mlp == MlpKind::kSwiGlu) return (8 * cfg.n_embd / 3 + 63) / 64 * 64;  // the 4C MLP's parameters, in 3 matrices
  return 4 * cfg.n_embd;
}

int MlpFcRows(const ModelConfig& cfg) { return (cfg.mlp == MlpKind::kSwiGlu ? 2 : 1) * MlpHidden(cfg); }

bool IsGpt2Block(const ModelConfig& c) {
  return c.norm == NormKind::kLayerNorm && c.mlp == MlpKind::kGelu && c.pos == PosKind::kLearned && c.bias &&
         c.tied_head && MlpHidden(c) == 4 * c.n_embd;
}

const char* NormName(NormKind k) { return k == NormKind::kRmsNorm ? "rmsnorm" : "layernorm"; }
const char* MlpName(MlpKind k) {
  switch (k) {
    case MlpKind::kGelu: return "gelu";
    case MlpKind::kRelu2: return "relu2";
    case MlpKind::kSilu: return "silu";
    case MlpKind::kSwiGlu: return "swiglu";
  }
  return "?";
}
const char* PosName(PosKind k) { return k == PosKind::kRope ? "rope" : "learned"; }

Status ParseNorm(const std::string& name, NormKind* k) {
  if (name == "layernorm") *k = NormKind::kLayerNorm;
  else if (name == "rmsnorm") *k = NormKind::kRmsNorm;
  else return UsageError("--norm: unknown norm '{}' (expected layernorm or rmsnorm)", name);
  return Status();
}

Status ParseMlp(const std::string& name, MlpKind* k) {
  if (name == "gelu") *k = MlpKind::kGelu;
  else if (name == "relu2") *k = MlpKind::kRelu2;
  else if (name == "silu") *k = MlpKind::kSilu;
  else if (name == "swiglu") *k = MlpKind::kSwiGlu;
  else return UsageError("--mlp: unknown MLP '{}' (expected gelu, relu2, silu or swiglu)", name);
  return Status();
}

Status ParsePos(const std::string& name, PosKind* k) {
  if (name == "learned") *k = PosKind::kLearned;
  else if (name == "rope") *k = PosKind::kRope;
  else return UsageError("--pos: unknown position encoding '{}' (expected learned or rope)", name);
  return Status();
}

Status ConfigFromName(const std::string& full_name, ModelConfig* cfg) {
  // The Llama-style presets are the d<depth> shapes with the other block.
  const bool llama = full_name.rfind("llama-", 0) == 0;
  const std::string name = llama ? full_name.substr(6) : full_name;
  std::string depth_text;
  if (name == "gpt2") depth_text = "12";
  else if (name == "gpt2-medium") depth_text = "24";
  else if (name == "gpt2-large") depth_text = "36";
  else if (name == "gpt2-xl") depth_text = "48";
  else if (name.size() >= 2 && name[0] == 'd') depth_text = name.substr(1);
  else return UsageError("--model: unknown model '{}' (expected {})", full_name, ConfigNamesHelp());

  int depth = 0;
  auto [end, ec] = std::from_chars(depth_text.data(), depth_text.data() + depth_text.size(), depth);
  if (ec != std::errc() || end != depth_text.data() + depth_text.size() || depth < 1 || depth > 48)
    return UsageError("--model: unknown model '{}' (expected {})", full_name, ConfigNamesHelp());

  int channels = 64 * depth, heads = depth;
  switch (depth) {  // GPT-2's own family
    case 24: channels = 1024; heads = 16; break;
    case 36: channels = 1280; heads = 20; break;
    case 48: channels = 1600; heads = 25; break;
    default: break;
  }
  cfg->n_layer = depth;
  cfg->n_embd = channels;
  cfg->n_head = heads;
  cfg->norm = llama ? NormKind::kRmsNorm : NormKind::kLayerNorm;
  cfg->mlp = llama ? MlpKind::kSwiGlu : MlpKind::kGelu;
  cfg->pos = llama ? PosKind::kRope : PosKind::kLearned;
  cfg->bias = !llama;
  cfg->tied_head = !llama;
  cfg->mlp_hidden = 0;
  return Status();
}

std::string ConfigNamesHelp() {
  return "d1..d48 (C=64*depth, 64-channel heads; d24/d36/d48 as GPT-2 medium/large/xl), "
         "gpt2 (=d12, 124M), gpt2-medium, gpt2-large, gpt2-xl; llama-<any of these>: the same shape with a Llama-style "
         "block (RMSNorm, SwiGLU, RoPE, no biases, untied head)";
}

Status ValidateConfig(const ModelConfig& c) {
  if (c.n_layer <= 0) return UsageError("--layers: must be positive (got {})", c.n_layer);
  if (c.n_head <= 0) return UsageError("--heads: must be positive (got {})", c.n_head);
  if (c.n_embd <= 0) return UsageError("--channels: must be positive (got {})", c.n_embd);
  if (c.n_embd % c.n_head != 0)
    return UsageError("--channels: {} is not divisible by the number of heads ({})", c.n_embd, c.n_head);
  if (c.max_seq_len <= 0) return UsageError("--max-seq-len: must be positive (got {})", c.max_seq_len);
  if (c.vocab_size <= 0 || c.vocab_size > 1 << 24)
    return UsageError("--vocab: must be in 1..16777216 (got {})", c.vocab_size);
  if (c.padded_vocab_size < c.vocab_size)
    return UsageError("padded vocabulary {} is smaller than the vocabulary {}", c.padded_vocab_size, c.vocab_size);
  if (c.mlp_hidden < 0 || c.mlp_hidden > 1 << 20) return UsageError("--mlp-hidden: must be in 0..1048576 (got {})", c.mlp_hidden);
  if (c.pos == PosKind::kRope && (c.n_embd / c.n_head) % 2 != 0)
    return UsageError("--pos rope: the head size {} must be even", c.n_embd / c.n_head);
  if (c.pos == PosKind::kRope && !(c.rope_theta > 1.0f))
    return UsageError("--rope-theta: must be above 1 (got {})", c.rope_theta);
  return Status();
}

int64_t ParameterCount(const ModelConfig& cfg) {
  int64_t n = 0;
  for (int64_t s : ParamSizes(cfg)) n += s;
  return n;
}

std::string DescribeConfig(const ModelConfig& c) {
  std::string block;
  if (!IsGpt2Block(c))
    block = fmt::format(" block={}/{}(H={})/{}{}{}", NormName(c.norm), MlpName(c.mlp), MlpHidden(c), PosName(c.pos),
                        c.bias ? "" : "/no-bias", c.tied_head ? "" : "/untied");
  return fmt::format("L={} NH={} C={} maxT={} V={} (padded {}){} params={:.2f}M", c.n_layer, c.n_head, c.n_embd,
                     c.max_seq_len, c.vocab_size, c.padded_vocab_size, block, ParameterCount(c) / 1e6);
}

double TrainFlopsPerToken(const ModelConfig& cfg, int T) {
  // Embeddings are looked up, not multiplied: learned positions, and wte
  // when the head has its own matrix (tied, wte is the head's).
  const double wpe = cfg.pos == PosKind::kLearned ? static_cast<double>(cfg.max_seq_len) * cfg.n_embd : 0.0;
  const double wte = cfg.tied_head ? 0.0 : static_cast<double>(cfg.padded_vocab_size) * cfg.n_embd;
  const double weights = static_cast<double>(ParameterCount(cfg)) - wpe - wte;
  return 6.0 * weights + 12.0 * cfg.n_layer * static_cast<double>(T) * cfg.n_embd;
}

}  // namespace cpu_llm
