#include "data/corpus.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "data/split.h"

extern "C" const unsigned char cpu_llm_corpus_gz_begin[];
extern "C" const unsigned char cpu_llm_corpus_gz_end[];

namespace cpu_llm {

Status LoadBundledCorpus(std::string* text) {
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return RuntimeError("bundled corpus: zlib init failed");
  zs.next_in = const_cast<unsigned char*>(cpu_llm_corpus_gz_begin);
  zs.avail_in = static_cast<uInt>(cpu_llm_corpus_gz_end - cpu_llm_corpus_gz_begin);
  text->clear();
  char buf[1 << 16];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<unsigned char*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return RuntimeError("bundled corpus: corrupt gzip data ({})", rc);
    }
    text->append(buf, sizeof(buf) - zs.avail_out);
  }
  inflateEnd(&zs);
  return Status();
}

void SplitByBlocks(const std::vector<uint16_t>& tokens, double val_fraction, uint64_t seed,
                   std::vector<uint16_t>* train, std::vector<uint16_t>* val) {
  train->clear();
  val->clear();
  const int64_t n = static_cast<int64_t>(tokens.size());
  for (int64_t start = 0, block = 0; start < n; start += kSplitBlockTokens, block++) {
    std::vector<uint16_t>* out = IsValBlock(block, val_fraction, seed) ? val : train;
    out->insert(out->end(), tokens.begin() + start, tokens.begin() + std::min(n, start + kSplitBlockTokens));
  }
}

Status OpenBundledCorpus(const Tokenizer& tok, double val_fraction, uint64_t seed, const LoaderOptions& opt,
                         DataLoader* train, DataLoader* val) {
  std::string text;
  CPU_LLM_RETURN_IF_ERROR(LoadBundledCorpus(&text));
  std::vector<int32_t> ids = tok.Encode(text);
  std::vector<uint16_t> tokens;
  tokens.reserve(ids.size() + 1);
  tokens.push_back(static_cast<uint16_t>(tok.eot_token()));
  for (int32_t id : ids) tokens.push_back(static_cast<uint16_t>(id));
  std::vector<uint16_t> train_tokens, val_tokens;
  SplitByBlocks(tokens, val_fraction, seed, &train_tokens, &val_tokens);
  CPU_LLM_RETURN_IF_ERROR(train->OpenTokens(std::move(train_tokens), "bundled corpus (train split)", opt));
  LoaderOptions val_opt = opt;
  val_opt.order.shuffle = false;
  return val->OpenTokens(std::move(val_tokens), "bundled corpus (val split)", val_opt);
}

}  // namespace cpu_llm
