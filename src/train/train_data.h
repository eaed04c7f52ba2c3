// The trainer's data: where its batches come from (the bundled corpus, token
// files, or text tokenized on the fly) and, with vocabulary pruning (plan
// item 10), the map from tokenizer ids to the model's smaller vocabulary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/batch_source.h"
#include "data/loader.h"
#include "data/text_loader.h"
#include "data/token_map.h"
#include "data/tokenizer.h"
#include "train/trainer.h"

namespace cpu_llm {

bool IsTextFormat(const std::string& format);

// The training and validation batch sources; train and val point into the
// loaders here.
struct DataSources {
  DataLoader train_tokens, val_tokens;
  TextLoader train_text, val_text;
  BatchSource* train = nullptr;
  BatchSource* val = nullptr;  // null: no validation data
};

// `lo` gives the batch shape, the token-id limit and the shard options.
Status OpenData(const TrainOptions& opt, const LoaderOptions& lo, const Tokenizer& tok, DataSources* data);

// Counts every training token once (token files or the bundled corpus) and
// keeps the ids seen at least min_count times.
Status BuildTokenMap(const DataSources& data, int64_t min_count, const Tokenizer& tok, TokenMap* map);

}  // namespace cpu_llm
