// Plain scalar references for the Llama-style block options: RMSNorm
// (kernels/rmsnorm.h) and rotary position embeddings (kernels/rope.h).
// Templated on the number type like reference.h, so the tests run them in
// double for finite differences and in float to check the Highway kernels;
// the same conventions (parameter gradients add, shapes in comments).
#pragma once

#include <cmath>
#include <cstdint>

namespace cpu_llm::ref {

// out (N,C) = inp * rstd * weight; rstd (N) = 1/sqrt(mean(inp^2) + eps)
template <typename F>
void rmsnorm_forward(F* out, F* rstd, const F* inp, const F* weight, int N, int C, F eps) {
  for (int n = 0; n < N; n++) {
    const F* x = inp + (int64_t)n * C;
    F ss = 0;
    for (int c = 0; c < C; c++) ss += x[c] * x[c];
    const F s = F(1) / std::sqrt(ss / C + eps);
    for (int c = 0; c < C; c++) out[(int64_t)n * C + c] = x[c] * s * weight[c];
    rstd[n] = s;
  }
}
// dinp += (w g - xhat * mean(w g xhat)) * rstd with xhat = inp * rstd, g = dout
// (rstd depends on every channel of its row, hence the mean term);
// dweight += sum over rows of xhat * g
template <typename F>
void rmsnorm_backward(F* dinp, F* dweight, const F* dout, const F* inp, const F* weight, const F* rstd, int N,
                      int C) {
  for (int n = 0; n < N; n++) {
    const F* x = inp + (int64_t)n * C;
    const F* g = dout + (int64_t)n * C;
    const F s = rstd[n];
    F dxhat_xhat_mean = 0;
    for (int c = 0; c < C; c++) dxhat_xhat_mean += weight[c] * g[c] * x[c] * s;
    dxhat_xhat_mean /= C;
    for (int c = 0; c < C; c++) {
      const F xhat = x[c] * s;
      dweight[c] += xhat * g[c];
      dinp[(int64_t)n * C + c] += (weight[c] * g[c] - xhat * dxhat_xhat_mean) * s;
    }
  }
}

// cos_table, sin_table (max_T, HS/2) of the angle p * theta^(-2i/HS), in
// double whatever F is.
template <typename F>
void rope_table(F* cos_table, F* sin_table, int max_T, int HS, double theta) {
  const int half = HS / 2;
  for (int p = 0; p < max_T; p++)
    for (int i = 0; i < half; i++) {
      const double angle = p * std::pow(theta, -2.0 * i / HS);
      cos_table[(int64_t)p * half + i] = F(std::cos(angle));
      sin_table[(int64_t)p * half + i] = F(std::sin(angle));
    }
}

// Turns channel pairs (i, i + HS/2) of every q and k head of qkv (B,T,3C) in
// place by the angle of position pos0 + t: sign +1 is the forward rotation,
// -1 its transpose (the backward).
template <typename F>
void rope_rotate(F* qkv, const F* cos_table, const F* sin_table, int B, int T, int C, int NH, int pos0, F sign) {
  const int HS = C / NH, half = HS / 2;
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      const F* cs = cos_table + (int64_t)(pos0 + t) * half;
      const F* sn = sin_table + (int64_t)(pos0 + t) * half;
      F* row = qkv + ((int64_t)b * T + t) * 3 * C;
      for (int h = 0; h < 2 * NH; h++)  // the NH q heads, then the NH k heads
        for (int i = 0; i < half; i++) {
          F* x = row + h * HS + i;
          const F x1 = x[0], x2 = x[half], s = sign * sn[i];
          x[0] = x1 * cs[i] - x2 * s;
          x[half] = x2 * cs[i] + x1 * s;
        }
    }
}
// q and k rotated in place, v untouched
template <typename F>
void rope_forward(F* qkv, const F* cos_table, const F* sin_table, int B, int T, int C, int NH, int pos0) {
  rope_rotate(qkv, cos_table, sin_table, B, T, C, NH, pos0, F(1));
}
// dqkv's q and k parts turned back in place (a rotation's transpose is its
// inverse), v untouched: the gradient of a linear map in place
template <typename F>
void rope_backward(F* dqkv, const F* cos_table, const F* sin_table, int B, int T, int C, int NH, int pos0) {
  rope_rotate(dqkv, cos_table, sin_table, B, T, C, NH, pos0, F(-1));
}

}  // namespace cpu_llm::ref
