#include "optim/loss_scaler.h"

#include <algorithm>
#include <cmath>

namespace cpu_llm {

Status ValidateLossScalerConfig(const LossScalerConfig& c) {
  if (!(c.min_scale > 0.0f) || !(c.max_scale >= c.min_scale))
    return UsageError("loss scale bounds must satisfy 0 < min <= max (got {} and {})", c.min_scale, c.max_scale);
  if (!(c.initial_scale >= c.min_scale && c.initial_scale <= c.max_scale))
    return UsageError("initial loss scale {} is outside [{}, {}]", c.initial_scale, c.min_scale, c.max_scale);
  if (c.growth_interval < 1) return UsageError("loss scale growth interval must be positive (got {})", c.growth_interval);
  if (!(c.growth_factor > 1.0f)) return UsageError("loss scale growth factor must exceed 1 (got {})", c.growth_factor);
  if (!(c.backoff_factor > 0.0f && c.backoff_factor < 1.0f))
    return UsageError("loss scale backoff factor must be in (0, 1) (got {})", c.backoff_factor);
  return Status();
}

DynamicLossScaler::DynamicLossScaler(const LossScalerConfig& cfg) : cfg_(cfg), scale_(cfg.initial_scale) {}

bool DynamicLossScaler::Update(bool grads_finite) {
  if (!grads_finite) {
    scale_ = std::max(cfg_.min_scale, scale_ * cfg_.backoff_factor);
    clean_ = 0;
    skipped_++;
    return false;
  }
  if (++clean_ >= cfg_.growth_interval) {
    scale_ = std::min(cfg_.max_scale, scale_ * cfg_.growth_factor);
    clean_ = 0;
  }
  return true;
}

void DynamicLossScaler::Restore(float scale, int clean_steps, int64_t skipped_steps) {
  scale_ = std::clamp(scale, cfg_.min_scale, cfg_.max_scale);
  clean_ = std::max(0, clean_steps);
  skipped_ = std::max<int64_t>(0, skipped_steps);
}

}  // namespace cpu_llm
