// AdamW with decoupled weight decay, the learning-rate schedule and global
// gradient-norm clipping. Optimizer state (first and second moments) lives in
// one arena laid out like the parameters.
#pragma once

#include <cstdint>
#include <vector>

#include "core/arena.h"
#include "core/context.h"
#include "model/gpt2.h"

namespace cpu_llm {

struct AdamWConfig {
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.1f;  // applied to matrices only (see ParamIsMatrix)
  float grad_clip = 1.0f;     // global L2 norm; <= 0 disables clipping
};

// Linear warm-up from lr/warmup to lr over `warmup` steps, then cosine decay
// to lr * final_frac at `total` steps (held there afterwards). Steps are 1-based.
struct LrSchedule {
  float lr = 6e-4f;
  int warmup = 0;
  int total = 1;
  float final_frac = 0.1f;
  float At(int step) const;
};

// L2 norm of a gradient arena, summed in double over fixed chunks so the
// result does not depend on the thread count.
float GlobalGradNorm(const Context& ctx, const float* grads, int64_t n);

class AdamW {
 public:
  void Init(const ModelConfig& cfg, const AdamWConfig& opt);
  // One update at 1-based step t. Gradients are scaled by grad_scale before
  // use (clipping passes min(1, clip/norm)).
  void Update(const Context& ctx, float* params, const float* grads, float lr, float grad_scale, int t);

  const AdamWConfig& config() const { return opt_; }
  float* m() { return m_.data(); }
  float* v() { return v_.data(); }
  const float* m() const { return m_.data(); }
  const float* v() const { return v_.data(); }
  int64_t size() const { return static_cast<int64_t>(m_.size()); }
  uint64_t state_bytes() const { return m_.bytes() + v_.bytes(); }

 private:
  AdamWConfig opt_;
  FloatArena m_, v_;
  // Per-element decay factor is decided per tensor: (start, length, decays).
  struct Span {
    int64_t start, length;
    bool decay;
  };
  std::vector<Span> spans_;
};

}  // namespace cpu_llm
