#include "data/llmc_tokenizer_file.h"

#include <cstdint>

#include "core/file_io.h"

namespace cpu_llm {

Status WriteLlmcTokenizer(const std::string& path, const Tokenizer& tok) {
  uint32_t header[256] = {};
  header[0] = 20240328;
  header[1] = 2;
  header[2] = static_cast<uint32_t>(tok.vocab_size());
  header[3] = static_cast<uint32_t>(tok.eot_token());
  AtomicFileWriter w(path);
  w.Write(header, sizeof(header));
  for (int id = 0; id < tok.vocab_size(); id++) {
    const std::string bytes = tok.Decode(id);
    if (bytes.size() > 255) return RuntimeError("{}: token {} is longer than 255 bytes", path, id);
    const uint8_t len = static_cast<uint8_t>(bytes.size());
    w.Write(&len, 1);
    w.Write(bytes.data(), bytes.size());
  }
  return w.Finish();
}

}  // namespace cpu_llm
