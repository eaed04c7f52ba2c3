// The "before" of the SIMD plan item: the linear layer's products written as
// the math reads, rows split across threads, nothing else. The dot products of
// the forward pass are reductions, which the compiler may not reorder (no
// -ffast-math), so they stay scalar; the backward's axpy loops it may
// vectorize. Kept so `bench --ablation` can measure what the tiled kernel buys.
#include <cstdint>

#include "kernels/matmul.h"

namespace cpu_llm {

// out (N,OC) = inp (N,C) . weight (OC,C)^T + bias (OC)
void matmul_forward_naive(const Context& ctx, float* out, const float* inp, const float* weight, const float* bias,
                          int N, int C, int OC) {
#pragma omp parallel for schedule(static) num_threads(ctx.n_threads)
  for (int n = 0; n < N; n++) {
    const float* x = inp + (int64_t)n * C;
    for (int o = 0; o < OC; o++) {
      const float* w = weight + (int64_t)o * C;
      float s = bias ? bias[o] : 0.0f;
      for (int c = 0; c < C; c++) s += x[c] * w[c];
      out[(int64_t)n * OC + o] = s;
    }
  }
}

// dinp (N,C) = dout . weight ; dweight (OC,C) += dout^T . inp ; dbias += colsum(dout)
void matmul_backward_naive(const Context& ctx, float* dinp, float* dweight, float* dbias, const float* dout,
                           const float* inp, const float* weight, int N, int C, int OC) {
  if (dinp) {
#pragma omp parallel for schedule(static) num_threads(ctx.n_threads)
    for (int n = 0; n < N; n++) {
      float* dx = dinp + (int64_t)n * C;
      for (int c = 0; c < C; c++) dx[c] = 0.0f;
      for (int o = 0; o < OC; o++) {
        const float d = dout[(int64_t)n * OC + o];
        const float* w = weight + (int64_t)o * C;
        for (int c = 0; c < C; c++) dx[c] += d * w[c];
      }
    }
  }
  // Output channels split across threads, so no two threads write one row.
#pragma omp parallel for schedule(static) num_threads(ctx.n_threads)
  for (int o = 0; o < OC; o++) {
    float* dw = dweight + (int64_t)o * C;
    float db = 0.0f;
    for (int n = 0; n < N; n++) {
      const float d = dout[(int64_t)n * OC + o];
      const float* x = inp + (int64_t)n * C;
      for (int c = 0; c < C; c++) dw[c] += d * x[c];
      db += d;
    }
    if (dbias) dbias[o] += db;
  }
}

}  // namespace cpu_llm
