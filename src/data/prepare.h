// `cpu_llm prepare`: text or JSONL files -> llm.c token shards, streamed in
// constant memory. Documents are tokenized in parallel, each preceded by the
// end-of-text token, split into train and val (see split.h), and written as
// <out>/train_NNNNNN.bin and <out>/val_NNNNNN.bin, plus the tokenizer in
// llm.c's format and a prepare.json summary. With prune_vocab > 0 it also
// writes <out>/vocab_map.bin (token_map.h) from the train split's counts, so
// `train --vocab-map` skips its own counting pass (and works on text data).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/document_reader.h"

namespace cpu_llm {

struct PrepareOptions {
  std::vector<std::string> inputs;
  std::string out_dir;
  std::string tokenizer = "gpt2";
  DocumentReaderOptions reader;
  double val_fraction = 0.05;
  int64_t shard_tokens = 100'000'000;
  uint64_t seed = 1337;
  int threads = 0;  // 0 = all cores
  int64_t prune_vocab = 0;  // > 0: keep ids seen at least this often in train
  bool force = false;
  bool quiet = false;
};

struct PrepareSummary {
  int64_t documents = 0;
  uint64_t bytes = 0;
  int64_t train_tokens = 0, val_tokens = 0;
  std::vector<std::string> train_shards, val_shards;
  int64_t distinct_ids = 0;
  int vocab_size = 0;
  std::string tokenizer_file;
  std::string vocab_map_file;  // empty unless prune_vocab > 0
  int kept_ids = 0;            // ids the map keeps (without "unknown")
  double seconds = 0.0;
};

Status RunPrepare(const PrepareOptions& opt, PrepareSummary* summary);

}  // namespace cpu_llm
