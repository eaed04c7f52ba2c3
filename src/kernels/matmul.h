// Dense products of the linear layers. Plain C++ written so the compiler can
// vectorize it (fixed-width inner loops, register tiles); every output element
// is owned by one thread and summed in a fixed order, so results do not depend
// on the thread count.
#pragma once

#include "core/context.h"

namespace cpu_llm {

// out (N,OC) = inp (N,C) . weight (OC,C)^T + bias (OC); bias may be null
void matmul_forward(const Context& ctx, float* out, const float* inp, const float* weight, const float* bias, int N,
                    int C, int OC);

// dinp (N,C) = dout (N,OC) . weight (OC,C)   (overwritten; skipped if null)
// dweight (OC,C) += dout^T . inp ; dbias (OC) += column sums of dout (if not null)
void matmul_backward(const Context& ctx, float* dinp, float* dweight, float* dbias, const float* dout,
                     const float* inp, const float* weight, int N, int C, int OC);

// The same two products as plain loops (matmul_naive.cc); the two functions
// above call these when ctx.matmul is MatmulBackend::kNaive.
void matmul_forward_naive(const Context& ctx, float* out, const float* inp, const float* weight, const float* bias,
                          int N, int C, int OC);
void matmul_backward_naive(const Context& ctx, float* dinp, float* dweight, float* dbias, const float* dout,
                           const float* inp, const float* weight, int N, int C, int OC);

}  // namespace cpu_llm
