#include "optim/adamw.h"

#include <algorithm>
#include <cmath>

namespace cpu_llm {

float LrSchedule::At(int step) const {
  if (warmup > 0 && step <= warmup) return lr * static_cast<float>(step) / static_cast<float>(warmup);
  if (total <= warmup) return lr;
  const double progress = std::min(1.0, static_cast<double>(step - warmup) / (total - warmup));
  const double coeff = 0.5 * (1.0 + std::cos(M_PI * progress));  // 1 -> 0
  const double floor = lr * final_frac;
  return static_cast<float>(floor + coeff * (lr - floor));
}

float GlobalGradNorm(const Context& ctx, const float* grads, int64_t n) {
  constexpr int kChunks = 64;
  double partial[kChunks] = {};
  const int64_t per = (n + kChunks - 1) / kChunks;
#pragma omp parallel for schedule(static) num_threads(ctx.n_threads)
  for (int c = 0; c < kChunks; c++) {
    const int64_t i0 = c * per, i1 = std::min(n, i0 + per);
    double s = 0.0;
    for (int64_t i = i0; i < i1; i++) s += static_cast<double>(grads[i]) * grads[i];
    partial[c] = s;
  }
  double total = 0.0;
  for (double s : partial) total += s;
  return static_cast<float>(std::sqrt(total));
}

void AdamW::Init(const ModelConfig& cfg, const AdamWConfig& opt) {
  opt_ = opt;
  const int64_t n = ParameterCount(cfg);
  m_.Resize(n);
  v_.Resize(n);
  spans_.clear();
  int64_t start = 0;
  auto sizes = ParamSizes(cfg);
  for (int i = 0; i < kNumParamTensors; i++) {
    spans_.push_back({start, sizes[i], ParamIsMatrix(i)});
    start += sizes[i];
  }
}

void AdamW::Update(const Context& ctx, float* params, const float* grads, float lr, float grad_scale, int t) {
  const float b1 = opt_.beta1, b2 = opt_.beta2, eps = opt_.eps;
  const float bc1 = 1.0f - std::pow(b1, static_cast<float>(t));
  const float bc2 = 1.0f - std::pow(b2, static_cast<float>(t));
  float* m = m_.data();
  float* v = v_.data();
  for (const Span& s : spans_) {
    const float wd = s.decay ? opt_.weight_decay : 0.0f;
    const int64_t end = s.start + s.length;
#pragma omp parallel for simd schedule(static) num_threads(ctx.n_threads)
    for (int64_t i = s.start; i < end; i++) {
      const float g = grads[i] * grad_scale;
      const float mi = b1 * m[i] + (1.0f - b1) * g;
      const float vi = b2 * v[i] + (1.0f - b2) * g * g;
      m[i] = mi;
      v[i] = vi;
      const float mhat = mi / bc1, vhat = vi / bc2;
      params[i] -= lr * (mhat / (std::sqrt(vhat) + eps) + wd * params[i]);
    }
  }
}

}  // namespace cpu_llm
