// llm.c token shards: a header of 256 int32 (magic 20240520, version 1,
// token count), then that many uint16 token ids.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace cpu_llm {

constexpr int32_t kShardMagic = 20240520;
constexpr int32_t kShardVersion = 1;
constexpr int kShardHeaderInts = 256;
constexpr uint64_t kShardHeaderBytes = kShardHeaderInts * sizeof(int32_t);

// Reads and checks only the header: magic, version, and that the file size
// matches the token count it declares.
Status ReadShardHeader(const std::string& path, uint64_t* n_tokens);

// Reads a whole shard and checks every token id is below vocab_size.
Status ReadShard(const std::string& path, int vocab_size, std::vector<uint16_t>* tokens);

// nanoGPT's headerless token files (train.bin / val.bin): uint16 ids only.
// The "header" check is that the size is a non-zero multiple of 2.
Status ReadNanoGptHeader(const std::string& path, uint64_t* n_tokens);
Status ReadNanoGpt(const std::string& path, int vocab_size, std::vector<uint16_t>* tokens);

enum class TokenFileFormat { kLlmc, kNanoGpt };
// "llmc" or "nanogpt"; anything else is a usage error naming --data-format.
Status ParseTokenFileFormat(const std::string& name, TokenFileFormat* format);

// Writes a shard atomically (temp file + fsync + rename).
Status WriteShard(const std::string& path, const std::vector<uint16_t>& tokens);

// Expands a shell glob (or a single path) into sorted file names; an empty
// match is an error naming the pattern.
Status ExpandGlob(const std::string& pattern, std::vector<std::string>* paths);

}  // namespace cpu_llm
