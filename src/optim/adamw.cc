#include "optim/adamw.h"

#include <algorithm>
#include <cmath>

#include "kernels/parallel.h"
#include "optim/adamw_kernels.h"

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
    const int64_t i0 = std::min(n, c * per), i1 = std::min(n, i0 + per);
    partial[c] = sum_of_squares(grads + i0, i1 - i0);
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
  const float b1 = opt_.beta1, b2 = opt_.beta2;
  const AdamWStepScalars base{lr, b1, b2, opt_.eps, 0.0f, 1.0f - std::pow(b1, static_cast<float>(t)),
                              1.0f - std::pow(b2, static_cast<float>(t)), grad_scale};
  float* m = m_.data();
  float* v = v_.data();
  // One parallel region over the whole arena; a block that straddles tensors
  // is split at their borders, each part with its tensor's weight decay.
  ParallelForBlocks(ctx, size(), [&](int64_t i0, int64_t n) {
    for (const Span& s : spans_) {
      const int64_t lo = std::max(i0, s.start), hi = std::min(i0 + n, s.start + s.length);
      if (lo >= hi) continue;
      AdamWStepScalars scalars = base;
      scalars.weight_decay = s.decay ? opt_.weight_decay : 0.0f;
      adamw_update_span(params + lo, grads + lo, m + lo, v + lo, hi - lo, scalars);
    }
  });
}

}  // namespace cpu_llm
