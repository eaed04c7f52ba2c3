// Batches from token sources: llm.c shards on disk, or a token array in
// memory (the bundled corpus). Each batch is one window of B*T+1 consecutive
// tokens of one source: inputs the first B*T, targets the same shifted by
// one. Window w of a source starts at token w*B*T; windows never straddle
// two sources, so the last (n - 1) % (B*T) tokens of an n-token source are
// not trained on. The windows of all sources form one numbered sequence per
// epoch (WindowOrder: in order, or shuffled from a seed; sliced by rank);
// the position is (epoch, batches taken), which is all a checkpoint needs.
//
// Shards are read whole into memory when the loader reaches them
// (DataAccess::kRead, the "before" of plan item 2), or memory-mapped
// (kMmap): only the pages of the windows read come from disk, so memory
// does not grow with the data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/batch_source.h"
#include "data/mapped_file.h"
#include "data/shard.h"
#include "data/window_order.h"

namespace cpu_llm {

// kRead: a shard is read into memory when the loader reaches it, and every
// token id is checked then. kMmap: the shard is mapped; each batch's tokens
// are checked as it is read, and the file's size before touching them (a
// shard truncated while training is an error instead of a SIGBUS).
enum class DataAccess { kRead, kMmap };
Status ParseDataAccess(const std::string& name, DataAccess* access);

struct LoaderOptions {
  int B = 0, T = 0, vocab_size = 0;
  TokenFileFormat format = TokenFileFormat::kLlmc;
  DataAccess access = DataAccess::kRead;
  MmapAdvice advice = MmapAdvice::kNormal;  // kMmap only
  // kMmap only: the shard is mapped afresh (MappedFile::Remap) once the
  // windows read since the last time may have mapped this many bytes, so the
  // resident set stays flat however much data is read; 0: never.
  uint64_t resident_budget_bytes = 32 << 20;
  // kMmap only: windows of the coming batches whose reads are started ahead
  // (MappedFile::Prefetch), so cold windows arrive while earlier ones train.
  int prefetch_windows = 8;
  WindowOrderOptions order;
};

// Options for a (B,T) batch over ids below vocab_size, the rest default.
inline LoaderOptions BatchShape(int B, int T, int vocab_size) {
  LoaderOptions opt;
  opt.B = B;
  opt.T = T;
  opt.vocab_size = vocab_size;
  return opt;
}

class DataLoader final : public BatchSource {
 public:
  // Shards on disk: headers are checked now (magic, version, size, at least
  // B*T+1 tokens); token ids are checked against vocab_size when read.
  Status OpenShards(const std::vector<std::string>& paths, const LoaderOptions& opt);
  Status OpenShards(const std::vector<std::string>& paths, int B, int T, int vocab_size,
                    TokenFileFormat format = TokenFileFormat::kLlmc, DataAccess access = DataAccess::kRead) {
    LoaderOptions opt = BatchShape(B, T, vocab_size);
    opt.format = format;
    opt.access = access;
    return OpenShards(paths, opt);
  }
  // A token array already in memory; `name` is used in messages.
  Status OpenTokens(std::vector<uint16_t> tokens, const std::string& name, const LoaderOptions& opt);
  Status OpenTokens(std::vector<uint16_t> tokens, const std::string& name, int B, int T, int vocab_size) {
    return OpenTokens(std::move(tokens), name, BatchShape(B, T, vocab_size));
  }

  Status Next(int32_t* inputs, int32_t* targets) override;
  Status Seek(const LoaderPosition& pos) override;
  LoaderPosition position() const override { return pos_; }
  std::string description() const override { return description_; }

  // The (source, token offset) the next batch is read from.
  WindowOrder::Window next_window() { return order_.At(pos_.epoch, pos_.batch); }
  int64_t total_tokens() const { return total_tokens_; }
  int64_t num_sources() const { return static_cast<int64_t>(sources_.size()); }
  int64_t batches_per_epoch() const { return order_.batches_per_epoch(); }
  // Adds the occurrences of every token id in all sources (a pass over all
  // the data, mapped, whatever the access) to counts (vocab_size entries);
  // an id past it is an error naming the file.
  Status CountTokens(std::vector<int64_t>* counts) const;
  // The position of the window at token `offset` of `source` in an unshuffled
  // single-process order: how checkpoints of state version 1 are read.
  Status InOrderPosition(int64_t source, int64_t offset, int64_t epoch, LoaderPosition* pos) const;

 private:
  struct Source {
    std::string name;  // file path, or a label for in-memory tokens
    int64_t n_tokens = 0;
    bool on_disk = false;
  };
  Status Configure(const LoaderOptions& opt);
  Status Load(int64_t source);
  // Prefetches the windows of batches [from, from + count) past the position
  // that lie in the mapped source.
  void PrefetchAhead(int64_t from, int64_t count);
  uint64_t WindowByte(int64_t index) const;
  Status PointAtMapping();
  LoaderOptions opt_;
  std::vector<Source> sources_;
  WindowOrder order_;
  std::vector<uint16_t> current_;     // tokens of the loaded source (kRead, in-memory tokens)
  MappedFile mapped_;                 // the loaded source (kMmap)
  const uint16_t* tokens_ = nullptr;  // the loaded source's first token, either way
  int64_t loaded_ = -1;               // which source tokens_ points into
  uint64_t mapped_since_remap_ = 0;   // bytes the windows read since may have mapped
  LoaderPosition pos_;
  int64_t total_tokens_ = 0;
  std::string description_;
};

}  // namespace cpu_llm
