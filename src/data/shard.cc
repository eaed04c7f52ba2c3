#include "data/shard.h"

#include <glob.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/file_io.h"

namespace cpu_llm {

Status ReadShardHeader(const std::string& path, uint64_t* n_tokens) {
  uint64_t size = 0;
  CPU_LLM_RETURN_IF_ERROR(StatRegularFile(path, &size));
  if (size < kShardHeaderBytes)
    return RuntimeError("{}: truncated shard: {} bytes, shorter than the {}-byte header", path, size, kShardHeaderBytes);
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return RuntimeError("{}: cannot open: {}", path, ErrnoText(errno));
  int32_t header[kShardHeaderInts];
  size_t got = std::fread(header, sizeof(int32_t), kShardHeaderInts, f);
  std::fclose(f);
  if (got != kShardHeaderInts) return RuntimeError("{}: cannot read the shard header", path);
  if (header[0] != kShardMagic)
    return RuntimeError(
        "{}: not an llm.c token shard (magic {}, expected {}); for nanoGPT's headerless .bin files pass "
        "--data-format nanogpt",
        path, header[0], kShardMagic);
  if (header[1] != kShardVersion)
    return RuntimeError("{}: unsupported shard version {} (expected {})", path, header[1], kShardVersion);
  if (header[2] < 0) return RuntimeError("{}: corrupt shard header: negative token count {}", path, header[2]);
  const uint64_t declared = static_cast<uint32_t>(header[2]);
  const uint64_t expected = kShardHeaderBytes + declared * sizeof(uint16_t);
  if (size < expected)
    return RuntimeError("{}: truncated shard: header declares {} tokens ({} bytes) but the file has {} bytes", path,
                        declared, expected, size);
  if (size > expected)
    return RuntimeError("{}: corrupt shard: {} bytes, but the header declares {} tokens ({} bytes)", path, size,
                        declared, expected);
  *n_tokens = declared;
  return Status();
}

namespace {

// Reads n uint16 tokens that follow header_bytes of header straight into
// *tokens (no staging copy: the read path's peak memory is the tokens once),
// and range-checks them.
Status ReadTokens(const std::string& path, uint64_t header_bytes, uint64_t n, int vocab_size,
                  std::vector<uint16_t>* tokens) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return RuntimeError("{}: cannot open: {}", path, ErrnoText(errno));
  tokens->resize(n);
  bool ok = ::fseeko(f, static_cast<off_t>(header_bytes), SEEK_SET) == 0;
  constexpr uint64_t kChunk = 1 << 24;  // tokens per fread
  for (uint64_t done = 0; ok && done < n; done += kChunk) {
    const size_t want = static_cast<size_t>(std::min(kChunk, n - done));
    ok = std::fread(tokens->data() + done, sizeof(uint16_t), want, f) == want;
  }
  const bool at_end = ok && std::fgetc(f) == EOF;
  const int err = errno;
  std::fclose(f);
  if (!ok) return RuntimeError("{}: read failed or the file shrank while being read: {}", path, ErrnoText(err));
  if (!at_end) return RuntimeError("{}: token file changed size while being read", path);
  for (uint64_t i = 0; i < n; i++) {
    if ((*tokens)[i] >= vocab_size)
      return RuntimeError("{}: token id {} at index {} is outside the vocabulary (0..{})", path, (*tokens)[i], i,
                          vocab_size - 1);
  }
  return Status();
}

}  // namespace

Status ReadShard(const std::string& path, int vocab_size, std::vector<uint16_t>* tokens) {
  uint64_t n = 0;
  CPU_LLM_RETURN_IF_ERROR(ReadShardHeader(path, &n));
  return ReadTokens(path, kShardHeaderBytes, n, vocab_size, tokens);
}

Status ReadNanoGptHeader(const std::string& path, uint64_t* n_tokens) {
  uint64_t size = 0;
  CPU_LLM_RETURN_IF_ERROR(StatRegularFile(path, &size));
  if (size == 0) return RuntimeError("{}: empty token file", path);
  if (size % 2 != 0)
    return RuntimeError("{}: {} bytes is not a whole number of uint16 tokens (corrupt or truncated)", path, size);
  *n_tokens = size / 2;
  return Status();
}

Status ReadNanoGpt(const std::string& path, int vocab_size, std::vector<uint16_t>* tokens) {
  uint64_t n = 0;
  CPU_LLM_RETURN_IF_ERROR(ReadNanoGptHeader(path, &n));
  return ReadTokens(path, 0, n, vocab_size, tokens);
}

Status ParseTokenFileFormat(const std::string& name, TokenFileFormat* format) {
  if (name == "llmc") *format = TokenFileFormat::kLlmc;
  else if (name == "nanogpt") *format = TokenFileFormat::kNanoGpt;
  else return UsageError("--data-format: unknown format '{}' (expected llmc or nanogpt)", name);
  return Status();
}

Status WriteShard(const std::string& path, const std::vector<uint16_t>& tokens) {
  if (tokens.size() > INT32_MAX) return RuntimeError("{}: {} tokens do not fit one shard", path, tokens.size());
  int32_t header[kShardHeaderInts] = {};
  header[0] = kShardMagic;
  header[1] = kShardVersion;
  header[2] = static_cast<int32_t>(tokens.size());
  AtomicFileWriter w(path);
  w.Write(header, sizeof(header));
  w.Write(tokens.data(), tokens.size() * sizeof(uint16_t));
  return w.Finish();
}

Status ExpandGlob(const std::string& pattern, std::vector<std::string>* paths) {
  glob_t g;
  std::memset(&g, 0, sizeof(g));
  int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
  if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0)) {
    ::globfree(&g);
    return RuntimeError("{}: no such file (the pattern matches nothing)", pattern);
  }
  if (rc != 0) {
    ::globfree(&g);
    return RuntimeError("{}: cannot expand the pattern", pattern);
  }
  paths->assign(g.gl_pathv, g.gl_pathv + g.gl_pathc);
  ::globfree(&g);
  std::sort(paths->begin(), paths->end());
  return Status();
}

}  // namespace cpu_llm
