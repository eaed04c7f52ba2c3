// Cheaper MLP activations than GELU (issue 8's block options): Primer's
// squared ReLU, SiLU, and SwiGLU over the fused gate|up output of one matmul.
// The input gradients are overwritten, never accumulated.
#pragma once

#include <cstdint>

#include "core/context.h"

namespace cpu_llm {

// out (N) = relu(inp)^2
void relu2_forward(const Context& ctx, float* out, const float* inp, int64_t N);
// dinp (N) = 2 relu(inp) dout; dinp may be dout (the gradient replaces itself)
void relu2_backward(const Context& ctx, float* dinp, const float* inp, const float* dout, int64_t N);

// out (N) = inp sigmoid(inp)
void silu_forward(const Context& ctx, float* out, const float* inp, int64_t N);
// dinp (N) = silu'(inp) dout; dinp may be dout
void silu_backward(const Context& ctx, float* dinp, const float* inp, const float* dout, int64_t N);

// inp (N,2H): each row is gate [0,H) then up [H,2H), as one matmul of 2H
// output channels makes them; out (N,H) = silu(gate) * up
void swiglu_forward(const Context& ctx, float* out, const float* inp, int N, int H);
// dout (N,H) -> dinp (N,2H): dgate = silu'(gate) up dout, dup = silu(gate) dout.
// dinp may be inp (the forward's input, no longer needed, becomes its gradient).
void swiglu_backward(const Context& ctx, float* dinp, const float* inp, const float* dout, int N, int H);

}  // namespace cpu_llm
