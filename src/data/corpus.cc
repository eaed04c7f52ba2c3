#include "data/corpus.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

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

void SplitTrainVal(const std::vector<uint16_t>& tokens, double val_fraction, int64_t min_val_tokens,
                   std::vector<uint16_t>* train, std::vector<uint16_t>* val) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  int64_t n_val = std::max<int64_t>(static_cast<int64_t>(n * val_fraction), min_val_tokens);
  n_val = std::min(n_val, n / 2);
  train->assign(tokens.begin(), tokens.end() - n_val);
  val->assign(tokens.end() - n_val, tokens.end());
}

}  // namespace cpu_llm
