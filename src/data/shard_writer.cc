#include "data/shard_writer.h"

#include <algorithm>

#include "data/shard.h"

namespace cpu_llm {

ShardWriter::ShardWriter(std::string dir, std::string prefix, int64_t shard_tokens)
    : dir_(std::move(dir)), prefix_(std::move(prefix)), shard_tokens_(shard_tokens) {}

Status ShardWriter::Finish() {
  int32_t header[kShardHeaderInts] = {};
  header[0] = kShardMagic;
  header[1] = kShardVersion;
  header[2] = static_cast<int32_t>(in_shard_);
  out_->WriteAt(0, header, sizeof(header));
  Status s = out_->Finish();
  out_.reset();
  in_shard_ = 0;
  return s;
}

Status ShardWriter::Append(const uint16_t* tokens, size_t n) {
  while (n > 0) {
    if (!out_) {
      const std::string path = fmt::format("{}/{}_{:06d}.bin", dir_, prefix_, paths_.size());
      out_ = std::make_unique<AtomicFileWriter>(path);
      paths_.push_back(path);
      const int32_t placeholder[kShardHeaderInts] = {};
      out_->Write(placeholder, sizeof(placeholder));
    }
    const size_t take = std::min<size_t>(n, static_cast<size_t>(shard_tokens_ - in_shard_));
    out_->Write(tokens, take * sizeof(uint16_t));
    in_shard_ += static_cast<int64_t>(take);
    total_ += static_cast<int64_t>(take);
    tokens += take;
    n -= take;
    if (in_shard_ == shard_tokens_) CPU_LLM_RETURN_IF_ERROR(Finish());
  }
  return Status();
}

Status ShardWriter::Close() { return out_ ? Finish() : Status(); }

}  // namespace cpu_llm
