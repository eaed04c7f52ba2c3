// Causal multi-head self-attention (the part between the qkv and output
// projections), fused flash-style: the (T,T) softmax of a head is never
// stored. Forward keeps one log-sum-exp per query row; backward rebuilds each
// softmax row from q, k and that log-sum-exp, a block of keys at a time.
#pragma once

#include <cstdint>

#include "core/context.h"

namespace cpu_llm {

// Floats of scratch attention_forward and attention_backward need on
// n_threads threads (each thread holds one head's keys and values transposed).
int64_t attention_scratch_floats(int n_threads, int T, int C, int NH);

// qkv (B,T,3C) = q | k | v, each NH heads of hs = C/NH channels.
// out (B,T,C): row t of head h = softmax(q_t . k_<=t / sqrt(hs)) . v_<=t;
// lse (B,NH,T): log of the softmax's denominator, max_s + log(sum e^(s-max_s))
// over the row's scaled scores s. scratch: attention_scratch_floats.
void attention_forward(const Context& ctx, float* out, float* lse, float* scratch, const float* qkv, int B, int T,
                       int C, int NH);

// dqkv (B,T,3C) overwritten, from dout (B,T,C) and the forward's qkv, out and
// lse. scratch: attention_scratch_floats. One (b, h) head per thread, so the
// result does not depend on the thread count.
void attention_backward(const Context& ctx, float* dqkv, float* scratch, const float* dout, const float* qkv,
                        const float* out, const float* lse, int B, int T, int C, int NH);

// One query against a cache of keys and values, for generation.
// q (C), k_cache and v_cache (n_ctx rows of C, row stride ld), out (C);
// scratch holds n_ctx floats. Heads run in sequence: a single query is too
// little work to share between threads.
void attention_decode(float* out, float* scratch, const float* q, const float* k_cache, const float* v_cache,
                      int64_t ld, int n_ctx, int C, int NH);

}  // namespace cpu_llm
