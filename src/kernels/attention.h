// Causal multi-head self-attention (the part between the qkv and output
// projections). The softmax rows are kept for backward; a fused flash-style
// kernel that stores only row statistics replaces this in the fast path later.
#pragma once

#include <cstdint>

#include "core/context.h"

namespace cpu_llm {

// qkv (B,T,3C) = q | k | v, each NH heads of hs = C/NH channels.
// out (B,T,C); att (B,NH,T,T): row t holds softmax(q_t . k_<=t / sqrt(hs)) in
// its first t+1 entries (the rest is not written).
void attention_forward(const Context& ctx, float* out, float* att, const float* qkv, int B, int T, int C, int NH);

// dqkv (B,T,3C) overwritten. scratch holds ctx.n_threads * T floats.
void attention_backward(const Context& ctx, float* dqkv, float* scratch, const float* dout, const float* qkv,
                        const float* att, int B, int T, int C, int NH);

// One query against a cache of keys and values, for generation.
// q (C), k_cache and v_cache (n_ctx rows of C, row stride ld), out (C);
// scratch holds n_ctx floats. Heads run in sequence: a single query is too
// little work to share between threads.
void attention_decode(float* out, float* scratch, const float* q, const float* k_cache, const float* v_cache,
                      int64_t ld, int n_ctx, int C, int NH);

}  // namespace cpu_llm
