// GELU, tanh approximation (GPT-2's).
#pragma once

#include <cstdint>

#include "core/context.h"

namespace cpu_llm {

// out (N) = gelu(inp)
void gelu_forward(const Context& ctx, float* out, const float* inp, int64_t N);
// dinp (N) = gelu'(inp) * dout   (overwritten)
void gelu_backward(const Context& ctx, float* dinp, const float* inp, const float* dout, int64_t N);

}  // namespace cpu_llm
