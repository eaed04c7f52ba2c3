// GPT-2 tokenizer files: encoder.json and vocab.bpe as ParseGpt2Vocab takes
// them. The input is both files, split at the first NUL byte (which neither
// valid file contains). When they parse, byte-level BPE with the resulting
// tables must still be lossless: the ids of any word decode to the word.
#include <cstring>

#include "data/gpt2_bpe.h"
#include "data/gpt2_vocab.h"
#include "fuzz_util.h"

using namespace cpu_llm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = fuzz::AsView(data, size);
  const size_t cut = input.find('\0');
  if (cut == std::string_view::npos) return 0;
  const std::string_view encoder_json = input.substr(0, cut), vocab_bpe = input.substr(cut + 1);
  Gpt2Vocab vocab;
  if (!ParseGpt2Vocab(encoder_json, vocab_bpe, &vocab).ok()) return 0;

  const int32_t n = static_cast<int32_t>(vocab.token_bytes.size());
  FUZZ_CHECK(vocab.eot >= 0 && vocab.eot < n);
  for (int b = 0; b < 256; b++) {
    const int32_t id = vocab.byte_token[b];
    FUZZ_CHECK(id >= 0 && id < n && vocab.token_bytes[id] == std::string(1, static_cast<char>(b)));
  }
  // Words to encode: every token's own bytes (merges apply) and the merge
  // file cut into pieces of up to 24 bytes.
  std::vector<std::string> words(vocab.token_bytes.begin(), vocab.token_bytes.end());
  for (size_t i = 0; i < vocab_bpe.size(); i += 24) words.emplace_back(vocab_bpe.substr(i, 24));
  Gpt2BpeScratch scratch;
  std::vector<int32_t> ids;
  for (const std::string& w : words) {
    if (w.empty()) continue;
    ids.clear();
    Gpt2BpeWord(vocab, w, &scratch, &ids);
    FUZZ_CHECK(!ids.empty() && ids.size() <= w.size());
    std::string back;
    for (int32_t id : ids) {
      FUZZ_CHECK(id >= 0 && id < n);
      back += vocab.token_bytes[id];
    }
    FUZZ_CHECK(back == w);
  }
  return 0;
}
