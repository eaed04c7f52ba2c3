// Softmax cross-entropy over the real vocabulary (the first V of Vp logits;
// the padding columns exist only to make the LM head's shape SIMD-friendly).
#pragma once

#include <cstdint>

#include "core/context.h"

namespace cpu_llm {

// logits (N,Vp), targets (N) -> losses (N), lse (N) = log-sum-exp of each row.
// The logits are left intact so callers can still read them.
void crossentropy_forward(const Context& ctx, float* losses, float* lse, const float* logits,
                          const int32_t* targets, int N, int V, int Vp);
// dlogits (N,Vp) = (softmax - onehot(target)) * dloss, padding columns 0.
// dlogits may alias logits: the gradient then replaces the logits in place.
void crossentropy_backward(const Context& ctx, float* dlogits, const float* logits, const float* lse,
                           const int32_t* targets, float dloss, int N, int V, int Vp);

}  // namespace cpu_llm
