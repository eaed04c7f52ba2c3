#include "data/llmc_tokenizer.h"

#include <cstring>

#include "core/file_io.h"

namespace cpu_llm {

namespace {
constexpr size_t kHeaderWords = 256;
constexpr size_t kHeaderBytes = kHeaderWords * sizeof(uint32_t);
}  // namespace

Status WriteLlmcTokenizer(const std::string& path, const Tokenizer& tok) {
  const int n = tok.vocab_size();
  uint32_t header[kHeaderWords] = {};
  header[0] = kLlmcTokenizerMagic;
  header[1] = kLlmcTokenizerVersion;
  header[2] = static_cast<uint32_t>(n);
  header[3] = static_cast<uint32_t>(tok.eot_token());
  AtomicFileWriter w(path);
  w.Write(header, sizeof(header));
  for (int id = 0; id < n; id++) {
    const std::string bytes = tok.Decode(id);
    if (bytes.empty() || bytes.size() > 255)
      return RuntimeError("{}: token {} of the {} tokenizer is {} bytes long; llm.c's format holds 1 to 255", path, id,
                          tok.name(), bytes.size());
    const auto len = static_cast<uint8_t>(bytes.size());
    w.WritePod(len);
    w.Write(bytes.data(), bytes.size());
  }
  return w.Finish();
}

Status ReadLlmcTokenizer(const std::string& path, LlmcTokenizerFile* out) {
  std::vector<uint8_t> bytes;
  CPU_LLM_RETURN_IF_ERROR(ReadFileBytes(path, &bytes));
  if (bytes.size() < kHeaderBytes)
    return RuntimeError("{}: truncated tokenizer file: {} bytes, shorter than the {}-byte header", path, bytes.size(),
                        kHeaderBytes);
  uint32_t header[kHeaderWords];
  std::memcpy(header, bytes.data(), kHeaderBytes);
  if (header[0] != kLlmcTokenizerMagic)
    return RuntimeError("{}: not an llm.c tokenizer file (magic {}, expected {})", path, header[0],
                        kLlmcTokenizerMagic);
  if (header[1] != 1 && header[1] != 2)
    return RuntimeError("{}: unsupported tokenizer file version {} (expected 1 or 2)", path, header[1]);
  const uint32_t n = header[2];
  out->version = header[1];
  out->eot_token = header[1] == 2 ? static_cast<int32_t>(header[3]) : -1;
  if (header[1] == 2 && header[3] >= n)
    return RuntimeError("{}: end-of-text id {} is outside the vocabulary of {}", path, header[3], n);
  // Every token takes at least two bytes (its length and one byte), so a
  // count the file cannot hold is corrupt; checked before reserving, which
  // would otherwise allocate for up to 2^32 strings on a damaged header.
  if (n > (bytes.size() - kHeaderBytes) / 2)
    return RuntimeError("{}: truncated tokenizer file: {} bytes cannot hold the {} tokens the header declares", path,
                        bytes.size(), n);
  out->tokens.clear();
  out->tokens.reserve(n);
  size_t pos = kHeaderBytes;
  for (uint32_t id = 0; id < n; id++) {
    if (pos >= bytes.size() || pos + 1 + bytes[pos] > bytes.size())
      return RuntimeError("{}: truncated tokenizer file: token {} of {} is cut off", path, id, n);
    const size_t len = bytes[pos];
    if (len == 0) return RuntimeError("{}: token {} has length 0", path, id);
    out->tokens.emplace_back(reinterpret_cast<const char*>(bytes.data() + pos + 1), len);
    pos += 1 + len;
  }
  if (pos != bytes.size())
    return RuntimeError("{}: {} bytes after the last token (corrupt tokenizer file)", path, bytes.size() - pos);
  return Status();
}

}  // namespace cpu_llm
