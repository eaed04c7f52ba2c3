#include "kernels/encoder.h"

#include <algorithm>

namespace cpu_llm {

void encoder_forward(const Context& ctx, float* out, const int32_t* tokens, const float* wte, const float* wpe,
                     int B, int T, int C) {
#pragma omp parallel for schedule(static) num_threads(ctx.n_threads)
  for (int bt = 0; bt < B * T; bt++) {
    float* o = out + (int64_t)bt * C;
    const float* e = wte + (int64_t)tokens[bt] * C;
    const float* p = wpe + (int64_t)(bt % T) * C;
#pragma omp simd
    for (int c = 0; c < C; c++) o[c] = e[c] + p[c];
  }
}

void encoder_backward(const Context& ctx, float* dwte, float* dwpe, const float* dout, const int32_t* tokens,
                      int B, int T, int C) {
  constexpr int kSlice = 64;
  const int n_slices = (C + kSlice - 1) / kSlice;
#pragma omp parallel for schedule(static) num_threads(ctx.n_threads)
  for (int s = 0; s < n_slices; s++) {
    const int c0 = s * kSlice, c1 = std::min(C, c0 + kSlice);
    for (int bt = 0; bt < B * T; bt++) {
      const float* d = dout + (int64_t)bt * C;
      float* de = dwte + (int64_t)tokens[bt] * C;
      float* dp = dwpe + (int64_t)(bt % T) * C;
#pragma omp simd
      for (int c = c0; c < c1; c++) {
        de[c] += d[c];
        dp[c] += d[c];
      }
    }
  }
}

}  // namespace cpu_llm
