#include "data/tokenizer.h"

#include "data/gpt2_tokenizer.h"

namespace cpu_llm {

std::string Tokenizer::Decode(const std::vector<int32_t>& tokens) const {
  std::string out;
  for (int32_t t : tokens) out += Decode(t);
  return out;
}

std::vector<int32_t> ByteTokenizer::Encode(std::string_view text) const {
  std::vector<int32_t> ids(text.size());
  for (size_t i = 0; i < text.size(); i++) ids[i] = static_cast<unsigned char>(text[i]);
  return ids;
}

std::string ByteTokenizer::Decode(int32_t token) const {
  if (token == kEot) return "<|endoftext|>";
  if (token < 0 || token > 255) return "";
  return std::string(1, static_cast<char>(token));
}

Status MakeTokenizer(const std::string& name, std::unique_ptr<Tokenizer>* out) {
  if (name == "bytes") {
    *out = std::make_unique<ByteTokenizer>();
    return Status();
  }
  if (name == "gpt2") return LoadGpt2Tokenizer(out);
  return UsageError("--tokenizer: unknown tokenizer '{}' (expected: bytes or gpt2)", name);
}

}  // namespace cpu_llm
