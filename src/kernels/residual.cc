#include "kernels/residual.h"

namespace cpu_llm {

void residual_forward(const Context& ctx, float* out, const float* a, const float* b, int64_t N) {
#pragma omp parallel for simd schedule(static) num_threads(ctx.n_threads)
  for (int64_t i = 0; i < N; i++) out[i] = a[i] + b[i];
}

}  // namespace cpu_llm
