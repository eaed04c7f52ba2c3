// Rotary position embeddings (RoPE), in the Llama / GPT-NeoX "rotate half"
// convention of HF transformers' apply_rotary_pos_emb: within a head of HS
// channels, channel i pairs with i + HS/2 (i < HS/2) and the pair is turned
// by the angle pos * theta^(-2i/HS). HS must be even.
#pragma once

#include "core/context.h"

namespace cpu_llm {

// cos_table, sin_table (max_T, HS/2): row p holds cos and sin of p * theta^(-2i/HS).
// The angles are computed in double and only the results rounded to float,
// so late positions keep their accuracy (a float angle would not).
void rope_table(float* cos_table, float* sin_table, int max_T, int HS, float theta);

// qkv (B,T,3C) as attention_forward consumes it: q | k | v per row, head h at
// channels [h*HS, (h+1)*HS) of q and of k, HS = C/NH. Rotates q and k in
// place, v untouched; token t is at position pos0 + t (pos0 > 0 when
// decoding with a KV cache), so the tables need pos0 + T rows.
void rope_forward(const Context& ctx, float* qkv, const float* cos_table, const float* sin_table, int B, int T, int C,
                  int NH, int pos0);
// dqkv (B,T,3C): the q and k parts turned back in place (the transposed
// rotation), the v part untouched, so the same buffer goes from attention's
// backward to the qkv matmul's backward.
void rope_backward(const Context& ctx, float* dqkv, const float* cos_table, const float* sin_table, int B, int T,
                   int C, int NH, int pos0);

}  // namespace cpu_llm
