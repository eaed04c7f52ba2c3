// The optimizer's element-wise passes over the flat arrays, in Highway ops
// dispatched at run time to the best SIMD target the CPU supports. Each call
// is single-threaded: AdamW and GlobalGradNorm (adamw.cc) share the work.
#pragma once

#include <cstdint>

namespace cpu_llm {

// What one AdamW step applies to every element of a span.
struct AdamWStepScalars {
  float lr, beta1, beta2, eps;
  float weight_decay;            // 0 for tensors that do not decay
  float bias_corr1, bias_corr2;  // 1 - beta1^t, 1 - beta2^t
  float grad_scale;              // gradients are multiplied by this first
};

// For i in [0, n): g = grads[i] * grad_scale;
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   p -= lr ((m / bc1) / (sqrt(v / bc2) + eps) + wd p).
void adamw_update_span(float* params, const float* grads, float* m, float* v, int64_t n, const AdamWStepScalars& s);

// sum of x[i]^2 over [0, n), accumulated in double (lanes in parallel, so the
// order of the additions depends on the SIMD target, not on threads).
double sum_of_squares(const float* x, int64_t n);

}  // namespace cpu_llm
