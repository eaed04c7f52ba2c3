// Writes a token stream as a numbered series of llm.c shards
// (<dir>/<prefix>_000000.bin, ...), each at most shard_tokens tokens,
// streamed to disk (the token count in the header is filled in when the
// shard closes) and renamed into place only when complete.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/file_io.h"
#include "core/status.h"

namespace cpu_llm {

class ShardWriter {
 public:
  ShardWriter(std::string dir, std::string prefix, int64_t shard_tokens);
  Status Append(const uint16_t* tokens, size_t n);
  Status Close();  // finishes the open shard, if any
  int64_t tokens() const { return total_; }
  const std::vector<std::string>& paths() const { return paths_; }

 private:
  Status Finish();
  std::string dir_, prefix_;
  int64_t shard_tokens_;
  std::unique_ptr<AtomicFileWriter> out_;
  int64_t in_shard_ = 0, total_ = 0;
  std::vector<std::string> paths_;
};

}  // namespace cpu_llm
