// Text <-> token ids. The byte tokenizer and GPT-2 BPE (gpt2_tokenizer.h)
// share this interface so the trainer and sampler do not care which.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace cpu_llm {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string name() const = 0;
  virtual int vocab_size() const = 0;
  virtual int eot_token() const = 0;
  virtual std::vector<int32_t> Encode(std::string_view text) const = 0;
  // Decodes one token; the end-of-text token decodes to "<|endoftext|>".
  virtual std::string Decode(int32_t token) const = 0;
  std::string Decode(const std::vector<int32_t>& tokens) const;
};

// Byte-level: ids 0..255 are the bytes themselves, 256 is end-of-text.
// Exact and reversible for any byte string.
class ByteTokenizer final : public Tokenizer {
 public:
  static constexpr int kEot = 256;
  std::string name() const override { return "bytes"; }
  int vocab_size() const override { return 257; }
  int eot_token() const override { return kEot; }
  std::vector<int32_t> Encode(std::string_view text) const override;
  std::string Decode(int32_t token) const override;
  using Tokenizer::Decode;  // keep Decode(std::vector<int32_t>) visible
};

// "bytes" or "gpt2". Unknown names are usage errors; "gpt2" can also fail to
// load (runtime error).
Status MakeTokenizer(const std::string& name, std::unique_ptr<Tokenizer>* out);

}  // namespace cpu_llm
