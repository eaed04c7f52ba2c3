// Text generation from a trained model with a KV cache.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/context.h"
#include "core/rng.h"
#include "core/status.h"
#include "model/gpt2.h"

namespace cpu_llm {

struct SampleOptions {
  int max_new_tokens = 256;
  float temperature = 1.0f;  // 0 picks the most likely token every time
  int top_k = 0;             // 0 keeps the whole vocabulary
  int stop_token = -1;       // generation ends after emitting this id (-1: never)
};

// Picks the next token from logits (V real entries) with temperature and
// top-k. probs and order are work buffers reused across calls.
int SampleToken(const float* logits, int V, float temperature, int top_k, Rng& rng, std::vector<float>* probs,
                std::vector<int>* order);

// Feeds `prompt` (at least one token) through the model, then samples up to
// max_new_tokens more, calling on_token(id) for each. Past the model's
// maximum sequence length the context slides (see sampler.cc).
Status Generate(const Context& ctx, GPT2& model, const std::vector<int32_t>& prompt, const SampleOptions& opt,
                Rng& rng, const std::function<void(int32_t)>& on_token);

}  // namespace cpu_llm
