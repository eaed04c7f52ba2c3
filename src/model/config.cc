#include "model/config.h"

#include <charconv>

#include "model/gpt2.h"

namespace cpu_llm {

Status ConfigFromName(const std::string& name, ModelConfig* cfg) {
  std::string depth_text;
  if (name == "gpt2") depth_text = "12";
  else if (name == "gpt2-medium") depth_text = "24";
  else if (name == "gpt2-large") depth_text = "36";
  else if (name == "gpt2-xl") depth_text = "48";
  else if (name.size() >= 2 && name[0] == 'd') depth_text = name.substr(1);
  else return UsageError("--model: unknown model '{}' (expected {})", name, ConfigNamesHelp());

  int depth = 0;
  auto [end, ec] = std::from_chars(depth_text.data(), depth_text.data() + depth_text.size(), depth);
  if (ec != std::errc() || end != depth_text.data() + depth_text.size() || depth < 1 || depth > 48)
    return UsageError("--model: unknown model '{}' (expected {})", name, ConfigNamesHelp());

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
  return Status();
}

std::string ConfigNamesHelp() {
  return "d1..d48 (C=64*depth, 64-channel heads; d24/d36/d48 as GPT-2 medium/large/xl), "
         "gpt2 (=d12, 124M), gpt2-medium, gpt2-large, gpt2-xl";
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
  return Status();
}

int64_t ParameterCount(const ModelConfig& cfg) {
  int64_t n = 0;
  for (int64_t s : ParamSizes(cfg)) n += s;
  return n;
}

std::string DescribeConfig(const ModelConfig& c) {
  return fmt::format("L={} NH={} C={} maxT={} V={} (padded {}) params={:.2f}M", c.n_layer, c.n_head, c.n_embd,
                     c.max_seq_len, c.vocab_size, c.padded_vocab_size, ParameterCount(c) / 1e6);
}

}  // namespace cpu_llm
