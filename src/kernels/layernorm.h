// Layer normalization over the channel dimension (eps 1e-5, as GPT-2).
#pragma once

#include "core/context.h"

namespace cpu_llm {

// out (N,C) = (inp - mean) * rstd * weight + bias; mean, rstd (N) kept for
// backward. bias (and dbias below) may be null: no bias.
void layernorm_forward(const Context& ctx, float* out, float* mean, float* rstd, const float* inp,
                       const float* weight, const float* bias, int N, int C);
// dinp (N,C) += ..., dweight (C) += ..., dbias (C) += ...
void layernorm_backward(const Context& ctx, float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* inp, const float* weight, const float* mean, const float* rstd, int N, int C);

}  // namespace cpu_llm
