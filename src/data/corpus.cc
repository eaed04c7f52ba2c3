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

}  // namespace cpu_llm
