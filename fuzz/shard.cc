// Token files: llm.c shards (header + uint16 ids) and nanoGPT's headerless
// .bin, read by path as the loaders do. Whatever the bytes, a reader either
// fails with a Status or returns exactly the tokens the header (or the size)
// promises, all below the vocabulary size.
#include <cstring>

#include "data/shard.h"
#include "fuzz_util.h"

using namespace cpu_llm;

namespace {

// GPT-2's vocabulary and the byte tokenizer's: many ids out of range for one.
constexpr int kVocabs[] = {50257, 257};

void CheckTokens(const std::vector<uint16_t>& tokens, uint64_t n, int vocab, const uint8_t* body) {
  FUZZ_CHECK(tokens.size() == n);
  for (uint16_t t : tokens) FUZZ_CHECK(t < vocab);
  FUZZ_CHECK(n == 0 || std::memcmp(tokens.data(), body, n * sizeof(uint16_t)) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::WriteInput(fuzz::AsView(data, size));

  uint64_t n = 0;
  if (ReadShardHeader(path, &n).ok()) FUZZ_CHECK(kShardHeaderBytes + n * sizeof(uint16_t) == size);
  for (int vocab : kVocabs) {
    std::vector<uint16_t> tokens;
    if (ReadShard(path, vocab, &tokens).ok()) CheckTokens(tokens, (size - kShardHeaderBytes) / 2, vocab, data + kShardHeaderBytes);
  }

  if (ReadNanoGptHeader(path, &n).ok()) FUZZ_CHECK(n * 2 == size && n > 0);
  for (int vocab : kVocabs) {
    std::vector<uint16_t> tokens;
    if (ReadNanoGpt(path, vocab, &tokens).ok()) CheckTokens(tokens, size / 2, vocab, data);
  }
  return 0;
}
