// Incremental decoding for generation: each new token runs one position
// through the model, reading the keys and values of earlier positions from a
// cache instead of recomputing the whole prefix.
#pragma once

#include "core/arena.h"
#include "core/context.h"
#include "core/status.h"
#include "model/gpt2.h"

namespace cpu_llm {

class KVCache {
 public:
  // Room for max_len positions (at most the model's max_seq_len).
  Status Init(const ModelConfig& cfg, int max_len);
  int max_len() const { return max_len_; }

  // Runs token at position pos (0-based; positions 0..pos-1 must already be
  // in the cache) and writes the Vp logits of the next token.
  Status Step(const Context& ctx, GPT2& model, int token, int pos, float* logits);

 private:
  ModelConfig cfg_;
  int max_len_ = 0;
  FloatArena keys_;    // (L, max_len, C)
  FloatArena values_;  // (L, max_len, C)
  FloatArena work_;    // x, ln, qkv, atty, proj, fch, fch_gelu, stats, att scratch
};

}  // namespace cpu_llm
