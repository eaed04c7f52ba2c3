#include "kernels/layernorm.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace cpu_llm {

void layernorm_forward(const Context& ctx, float* out, float* mean, float* rstd, const float* inp,
                       const float* weight, const float* bias, int N, int C) {
#pragma omp parallel for schedule(static) num_threads(ctx.n_threads)
  for (int n = 0; n < N; n++) {
    const float* x = inp + (int64_t)n * C;
    float m = 0.0f;
#pragma omp simd reduction(+ : m)
    for (int c = 0; c < C; c++) m += x[c];
    m /= C;
    // Two passes (mean, then centred squares) keep the variance accurate when
    // the mean is large compared to the spread.
    float v = 0.0f;
#pragma omp simd reduction(+ : v)
    for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
    v /= C;
    const float s = 1.0f / std::sqrt(v + 1e-5f);
    float* o = out + (int64_t)n * C;
#pragma omp simd
    for (int c = 0; c < C; c++) o[c] = (x[c] - m) * s * weight[c] + bias[c];
    mean[n] = m;
    rstd[n] = s;
  }
}

void layernorm_backward(const Context& ctx, float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* inp, const float* weight, const float* mean, const float* rstd, int N, int C) {
  // Pass 1, rows in parallel: the input gradient needs two row reductions.
#pragma omp parallel for schedule(static) num_threads(ctx.n_threads)
  for (int n = 0; n < N; n++) {
    const float* x = inp + (int64_t)n * C;
    const float* d = dout + (int64_t)n * C;
    const float m = mean[n], s = rstd[n];
    float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
#pragma omp simd reduction(+ : dnorm_mean, dnorm_norm_mean)
    for (int c = 0; c < C; c++) {
      const float dnorm = weight[c] * d[c];
      dnorm_mean += dnorm;
      dnorm_norm_mean += dnorm * (x[c] - m) * s;
    }
    dnorm_mean /= C;
    dnorm_norm_mean /= C;
    float* di = dinp + (int64_t)n * C;
#pragma omp simd
    for (int c = 0; c < C; c++) {
      const float norm = (x[c] - m) * s;
      di[c] += (weight[c] * d[c] - dnorm_mean - norm * dnorm_norm_mean) * s;
    }
  }
  // Pass 2, channel slices in parallel: each thread owns its slice of the
  // parameter gradients and sums rows in order, with no shared accumulator.
  constexpr int kSlice = 32;
  const int n_slices = (C + kSlice - 1) / kSlice;
#pragma omp parallel for schedule(static) num_threads(ctx.n_threads)
  for (int sl = 0; sl < n_slices; sl++) {
    const int c0 = sl * kSlice, c1 = std::min(C, c0 + kSlice);
    float dw[kSlice] = {}, db[kSlice] = {};
    for (int n = 0; n < N; n++) {
      const float* x = inp + (int64_t)n * C;
      const float* d = dout + (int64_t)n * C;
      const float m = mean[n], s = rstd[n];
#pragma omp simd
      for (int c = c0; c < c1; c++) {
        dw[c - c0] += (x[c] - m) * s * d[c];
        db[c - c0] += d[c];
      }
    }
    for (int c = c0; c < c1; c++) {
      dweight[c] += dw[c - c0];
      dbias[c] += db[c - c0];
    }
  }
}

}  // namespace cpu_llm
