// Plan item 10, vocabulary pruning: the model's vocabulary restricted to the
// token ids that occur in the training data (at least min_count times), so
// the embedding and the LM head shrink to what is used. The bundled corpus
// uses about a fifth of GPT-2's 50257 ids; for a small model the LM head is
// most of the step, so this is most of the cost.
//
// Model ids are the kept tokenizer ids in ascending order, then one more:
// "unknown", which every id outside the kept set maps to (a validation token
// or a prompt token the training data never had). The end-of-text token is
// always kept. Sampling never emits "unknown"; everything the model writes
// maps back to a tokenizer id, so outputs stay GPT-2 compatible.
//
// File (vocab_map.bin, beside the checkpoints): int32[256] header
//   [0] 20241126 magic  [1] version 1  [2] tokenizer vocabulary size
//   [3] model vocabulary size (kept + 1)  [4] min_count
// then int32[model vocabulary - 1]: the tokenizer id of each kept model id.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace cpu_llm {

constexpr int32_t kTokenMapMagic = 20241126;

class TokenMap {
 public:
  // counts[id] = occurrences of tokenizer id `id` in the training data.
  static Status FromCounts(const std::vector<int64_t>& counts, int64_t min_count, int eot, TokenMap* map);

  int source_vocab() const { return static_cast<int>(to_model_.size()); }
  int model_vocab() const { return static_cast<int>(to_source_.size()) + 1; }
  int unknown() const { return static_cast<int>(to_source_.size()); }
  int64_t min_count() const { return min_count_; }

  // A tokenizer id (in range) to its model id; ids not kept give unknown().
  int32_t ToModel(int32_t source_id) const { return to_model_[source_id]; }
  // A model id to its tokenizer id; unknown() (or out of range) gives -1.
  int32_t ToSource(int32_t model_id) const {
    return model_id >= 0 && model_id < unknown() ? to_source_[model_id] : -1;
  }
  // Maps tokenizer ids in place; returns how many became unknown().
  int64_t MapInPlace(int32_t* ids, int64_t n) const;

  Status Save(const std::string& path) const;
  Status Load(const std::string& path);

 private:
  // Fills to_model_ (source_vocab entries) from to_source_: kept ids to
  // their model ids, all others to unknown().
  void IndexSources(int source_vocab);

  std::vector<int32_t> to_model_;   // (source vocab)
  std::vector<int32_t> to_source_;  // (model vocab - 1)
  int64_t min_count_ = 1;
};

}  // namespace cpu_llm
