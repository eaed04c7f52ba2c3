// llm.c's tokenizer file (gpt2_tokenizer.bin, versions 1 and 2). A file that
// reads must hold exactly the tokens its header counts, each 1..255 bytes,
// with the end-of-text id inside the vocabulary.
#include <cstring>

#include "data/llmc_tokenizer.h"
#include "fuzz_util.h"

using namespace cpu_llm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::WriteInput(fuzz::AsView(data, size));
  LlmcTokenizerFile file;
  if (!ReadLlmcTokenizer(path, &file).ok()) return 0;
  uint32_t header[4];
  FUZZ_CHECK(size >= 1024);
  std::memcpy(header, data, sizeof(header));
  FUZZ_CHECK(file.version == header[1]);
  FUZZ_CHECK(file.tokens.size() == header[2]);
  if (file.version == 2) FUZZ_CHECK(file.eot_token >= 0 && static_cast<size_t>(file.eot_token) < file.tokens.size());
  size_t bytes = 1024;
  for (const std::string& t : file.tokens) {
    FUZZ_CHECK(!t.empty() && t.size() <= 255);
    bytes += 1 + t.size();
  }
  FUZZ_CHECK(bytes == size);
  return 0;
}
