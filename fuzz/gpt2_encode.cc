// The GPT-2 encoder over arbitrary bytes: UTF-8 repair, PCRE2
// pre-tokenisation, BPE and the per-session word cache. What the tokenizer
// guarantees (gpt2_tokenizer.h, utf8.h): the ids decode to the input with
// each maximal invalid UTF-8 subpart replaced by U+FFFD, so to the input
// itself when it is valid UTF-8; "<|endoftext|>" in text is plain text, so
// the end-of-text id never appears; and encoding is deterministic (a second
// encoding, served from the warm cache, gives the same ids).
#include <memory>

#include "data/gpt2_tokenizer.h"
#include "data/utf8.h"
#include "fuzz_util.h"

using namespace cpu_llm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Gpt2Tokenizer* tok = [] {
    std::unique_ptr<Gpt2Tokenizer> t;
    FUZZ_CHECK(Gpt2Tokenizer::Load(&t).ok());
    return t.release();
  }();
  static std::unique_ptr<Gpt2Session> session = tok->NewSession();
  const std::string_view text = fuzz::AsView(data, size);

  const std::string repaired = RepairUtf8(text);
  FUZZ_CHECK(IsValidUtf8(repaired));
  FUZZ_CHECK(IsValidUtf8(text) == (repaired == text));

  std::vector<int32_t> ids;
  session->Encode(text, &ids);
  std::string back;
  for (int32_t id : ids) {
    FUZZ_CHECK(id >= 0 && id < Gpt2Tokenizer::kEot);
    back += tok->Decode(id);
  }
  FUZZ_CHECK(back == repaired);
  FUZZ_CHECK(ids.size() <= repaired.size());

  std::vector<int32_t> again;
  session->Encode(text, &again);
  FUZZ_CHECK(again == ids);
  FUZZ_CHECK(tok->Encode(text) == ids);
  return 0;
}
