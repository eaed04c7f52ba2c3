// Scalar references for the MLP activations of kernels/activations.h, in the
// conventions of reference.h: templated on the number type (double is the
// ground truth the tests hold the vector kernels to; its exp is libm's), the
// input gradients overwritten. The math is written as plainly as it reads;
// the kernels' care about saturation is theirs, not the reference's.
#pragma once

#include <cmath>
#include <cstdint>

namespace cpu_llm::ref {

// out (N) = relu(inp)^2
template <typename F>
void relu2_forward(F* out, const F* inp, int64_t N) {
  for (int64_t i = 0; i < N; i++) out[i] = inp[i] > F(0) ? inp[i] * inp[i] : F(0);
}
// dinp (N) = 2 relu(inp) dout   (overwritten)
template <typename F>
void relu2_backward(F* dinp, const F* inp, const F* dout, int64_t N) {
  for (int64_t i = 0; i < N; i++) {
    const F r = inp[i] > F(0) ? inp[i] : F(0);
    dinp[i] = F(2) * r * dout[i];
  }
}

// out (N) = inp sigmoid(inp)
template <typename F>
void silu_forward(F* out, const F* inp, int64_t N) {
  for (int64_t i = 0; i < N; i++) out[i] = inp[i] / (F(1) + std::exp(-inp[i]));
}
// dinp (N) = s (1 + x (1 - s)) dout with s = sigmoid(x)   (overwritten)
template <typename F>
void silu_backward(F* dinp, const F* inp, const F* dout, int64_t N) {
  for (int64_t i = 0; i < N; i++) {
    const F x = inp[i], s = F(1) / (F(1) + std::exp(-x));
    dinp[i] = s * (F(1) + x * (F(1) - s)) * dout[i];
  }
}

// inp (N,2H): gate in [0,H), up in [H,2H) of each row; out (N,H) = silu(gate) up
template <typename F>
void swiglu_forward(F* out, const F* inp, int N, int H) {
  for (int n = 0; n < N; n++)
    for (int j = 0; j < H; j++) {
      const F g = inp[(int64_t)n * 2 * H + j], u = inp[(int64_t)n * 2 * H + H + j];
      out[(int64_t)n * H + j] = g / (F(1) + std::exp(-g)) * u;
    }
}
// dinp (N,2H) from dout (N,H)   (overwritten): dgate = silu'(gate) up dout, dup = silu(gate) dout
template <typename F>
void swiglu_backward(F* dinp, const F* inp, const F* dout, int N, int H) {
  for (int n = 0; n < N; n++)
    for (int j = 0; j < H; j++) {
      const int64_t gi = (int64_t)n * 2 * H + j, ui = gi + H;
      const F g = inp[gi], u = inp[ui], d = dout[(int64_t)n * H + j];
      const F s = F(1) / (F(1) + std::exp(-g));
      dinp[gi] = s * (F(1) + g * (F(1) - s)) * u * d;
      dinp[ui] = g * s * d;
    }
}

}  // namespace cpu_llm::ref
