// RMS normalization over the channel dimension (Llama-style blocks): like
// layernorm without the mean subtraction and without a bias.
#pragma once

#include "core/context.h"

namespace cpu_llm {

// out (N,C) = inp * rstd * weight; rstd (N) = 1/sqrt(mean(inp^2) + eps), kept for backward
void rmsnorm_forward(const Context& ctx, float* out, float* rstd, const float* inp, const float* weight, int N, int C,
                     float eps);
// dinp (N,C) += ..., dweight (C) += ...  (from dout (N,C) and the forward's inp and rstd)
void rmsnorm_backward(const Context& ctx, float* dinp, float* dweight, const float* dout, const float* inp,
                      const float* weight, const float* rstd, int N, int C);

}  // namespace cpu_llm
