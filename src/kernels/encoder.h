// Token + position embedding.
#pragma once

#include <cstdint>

#include "core/context.h"

namespace cpu_llm {

// out (B,T,C) = wte[tokens[b,t]] + wpe[t]; wte (Vp,C), wpe (maxT,C) or null
// (no learned positions: RoPE), as dwpe below
void encoder_forward(const Context& ctx, float* out, const int32_t* tokens, const float* wte, const float* wpe,
                     int B, int T, int C);
// dwte, dwpe += scatter of dout (B,T,C). Threads own channel slices, so rows
// hit by repeated tokens need no atomics and sum in token order.
void encoder_backward(const Context& ctx, float* dwte, float* dwpe, const float* dout, const int32_t* tokens,
                      int B, int T, int C);

}  // namespace cpu_llm
