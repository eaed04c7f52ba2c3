#include "kernels/gelu.h"

#include <cmath>

#include "kernels/fast_math.h"

namespace cpu_llm {
namespace {
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kCubic = 0.044715f;
}  // namespace

void gelu_forward(const Context& ctx, float* out, const float* inp, int64_t N) {
#pragma omp parallel for simd schedule(static) num_threads(ctx.n_threads)
  for (int64_t i = 0; i < N; i++) {
    const float x = inp[i];
    out[i] = 0.5f * x * (1.0f + FastTanh(kSqrt2OverPi * (x + kCubic * x * x * x)));
  }
}

void gelu_backward(const Context& ctx, float* dinp, const float* inp, const float* dout, int64_t N) {
#pragma omp parallel for simd schedule(static) num_threads(ctx.n_threads)
  for (int64_t i = 0; i < N; i++) {
    const float x = inp[i];
    const float th = FastTanh(kSqrt2OverPi * (x + kCubic * x * x * x));
    const float sech2 = 1.0f - th * th;
    const float du = kSqrt2OverPi * (1.0f + 3.0f * kCubic * x * x);
    dinp[i] = (0.5f * (1.0f + th) + 0.5f * x * sech2 * du) * dout[i];
  }
}

}  // namespace cpu_llm
