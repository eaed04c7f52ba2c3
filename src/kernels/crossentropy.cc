#include "kernels/crossentropy.h"

#include <cmath>

#include "kernels/fast_math.h"

namespace cpu_llm {

void crossentropy_forward(const Context& ctx, float* losses, float* lse, const float* logits,
                          const int32_t* targets, int N, int V, int Vp) {
#pragma omp parallel for schedule(static) num_threads(ctx.n_threads)
  for (int n = 0; n < N; n++) {
    const float* row = logits + (int64_t)n * Vp;
    float maxv = -INFINITY;
#pragma omp simd reduction(max : maxv)
    for (int v = 0; v < V; v++) maxv = row[v] > maxv ? row[v] : maxv;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int v = 0; v < V; v++) sum += FastExp(row[v] - maxv);
    lse[n] = maxv + std::log(sum);
    losses[n] = lse[n] - row[targets[n]];
  }
}

void crossentropy_backward(const Context& ctx, float* dlogits, const float* logits, const float* lse,
                           const int32_t* targets, float dloss, int N, int V, int Vp) {
#pragma omp parallel for schedule(static) num_threads(ctx.n_threads)
  for (int n = 0; n < N; n++) {
    const float* row = logits + (int64_t)n * Vp;
    float* d = dlogits + (int64_t)n * Vp;
    const float l = lse[n];
#pragma omp simd
    for (int v = 0; v < V; v++) d[v] = FastExp(row[v] - l) * dloss;
    for (int v = V; v < Vp; v++) d[v] = 0.0f;
    d[targets[n]] -= dloss;
  }
}

}  // namespace cpu_llm
