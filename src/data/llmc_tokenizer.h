// llm.c's tokenizer file (gpt2_tokenizer.bin), which its samplers read to turn
// ids back into text: a header of 256 uint32 ([0] magic 20240328, [1] version
// 2, [2] vocabulary size, [3] end-of-text id), then for each id in order one
// uint8 byte count and that many raw bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/tokenizer.h"

namespace cpu_llm {

constexpr uint32_t kLlmcTokenizerMagic = 20240328;
constexpr uint32_t kLlmcTokenizerVersion = 2;

// Writes every token's Decode() bytes, atomically. llm.c's reader needs each
// token to be 1..255 bytes long; a tokenizer with one that is not is refused.
Status WriteLlmcTokenizer(const std::string& path, const Tokenizer& tok);

struct LlmcTokenizerFile {
  uint32_t version = 0;
  int32_t eot_token = -1;  // version 1 files have none: -1
  std::vector<std::string> tokens;  // id -> bytes
};

// Reads and checks a tokenizer file (versions 1 and 2).
Status ReadLlmcTokenizer(const std::string& path, LlmcTokenizerFile* out);

}  // namespace cpu_llm
