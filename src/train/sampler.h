// Text generation from a trained model with a KV cache.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/rng.h"
#include "core/status.h"
#include "data/token_map.h"
#include "data/tokenizer.h"
#include "model/gpt2.h"

namespace cpu_llm {

struct SampleOptions {
  int max_new_tokens = 256;
  float temperature = 1.0f;  // 0 picks the most likely token every time
  int top_k = 0;             // 0 keeps the whole vocabulary
  int stop_token = -1;       // generation ends after emitting this id (-1: never)
  int vocab_limit = 0;       // sample among ids below this only (0: the model's whole vocabulary)
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

// Text in, text out: the prompt is encoded after an end-of-text token (as
// documents start in training), mapped to model ids when the vocabulary is
// pruned (token_map; null: not pruned), and every sampled id is decoded back
// through the tokenizer; a pruned model never samples its "unknown" id and
// stops at end-of-text. opt's stop_token and vocab_limit are set here.
Status GenerateText(const Context& ctx, GPT2& model, const Tokenizer& tok, const TokenMap* token_map,
                    const std::string& prompt, SampleOptions opt, Rng& rng,
                    const std::function<void(const std::string&)>& on_text);

}  // namespace cpu_llm
