// Sequential batches over a list of token sources (llm.c shards on disk or a
// token array in memory). Each batch is B*T+1 consecutive tokens: inputs are
// the first B*T, targets the same shifted by one. The position advances by
// B*T; when the next batch would run past the end of a source, the loader
// moves to the start of the next source (wrapping around to the first).
// Shards are read whole into memory one at a time (DataAccess::kRead), or
// memory-mapped (kMmap): the pages of the batch being read come from disk as
// they are touched, so memory does not grow with the shard.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/mapped_file.h"
#include "data/shard.h"

namespace cpu_llm {

// kRead: a shard is read into memory when the loader reaches it, and every
// token id is checked then. kMmap: the shard is mapped; each batch's tokens
// are checked as it is read, and the file's size before touching them (a
// shard truncated while training is an error instead of a SIGBUS).
enum class DataAccess { kRead, kMmap };
Status ParseDataAccess(const std::string& name, DataAccess* access);

struct LoaderPosition {
  int64_t source = 0;  // index into the source list
  int64_t offset = 0;  // token offset of the next batch inside that source
  int64_t epoch = 0;   // completed passes over all sources
};

class DataLoader {
 public:
  // Shards on disk: headers are checked now (magic, version, size, at least
  // B*T+1 tokens); token ids are checked against vocab_size as each shard loads.
  Status OpenShards(const std::vector<std::string>& paths, int B, int T, int vocab_size,
                    TokenFileFormat format = TokenFileFormat::kLlmc, DataAccess access = DataAccess::kRead);
  // A token array already in memory; `name` is used in messages.
  Status OpenTokens(std::vector<uint16_t> tokens, const std::string& name, int B, int T, int vocab_size);

  // Fills inputs and targets (B*T each) and advances.
  Status Next(int32_t* inputs, int32_t* targets);
  // Back to the first batch of the first source.
  Status Reset() { return Seek({0, 0, 0}); }
  Status Seek(const LoaderPosition& pos);

  LoaderPosition position() const { return pos_; }
  int64_t total_tokens() const { return total_tokens_; }
  int64_t num_sources() const { return static_cast<int64_t>(sources_.size()); }
  const std::string& description() const { return description_; }

 private:
  struct Source {
    std::string name;  // file path, or a label for in-memory tokens
    int64_t n_tokens = 0;
    bool on_disk = false;
  };
  Status CheckSizes();
  Status Load(int64_t source);
  TokenFileFormat format_ = TokenFileFormat::kLlmc;
  DataAccess access_ = DataAccess::kRead;

  std::vector<Source> sources_;
  std::vector<uint16_t> current_;  // tokens of the loaded source (kRead, in-memory tokens)
  MappedFile mapped_;              // the loaded source (kMmap)
  const uint16_t* tokens_ = nullptr;  // the loaded source's first token, either way
  int64_t loaded_ = -1;            // which source current_ holds
  LoaderPosition pos_;
  int B_ = 0, T_ = 0, vocab_size_ = 0;
  int64_t total_tokens_ = 0;
  std::string description_;
};

}  // namespace cpu_llm
