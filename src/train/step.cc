#include "train/step.h"

#include <cmath>

namespace cpu_llm {

Status TrainStep(const Context& ctx, GPT2& model, AdamW& adamw, const int32_t* inputs, const int32_t* targets, int B,
                 int T, float lr, int update, DynamicLossScaler* scaler, StepStats* stats) {
  const float loss_scale = scaler ? scaler->scale() : 1.0f;
  stats->loss_scale = loss_scale;
  stats->skipped = false;
  Timed(ctx.profiler, Op::kZeroGrad, Pass::kBackward, [&] { model.ZeroGrad(); });
  CPU_LLM_RETURN_IF_ERROR(model.ForwardForTraining(ctx, inputs, targets, B, T, loss_scale, &stats->loss));
  CPU_LLM_RETURN_IF_ERROR(model.Backward(ctx, inputs));
  float scaled_norm = 0.0f;
  Timed(ctx.profiler, Op::kGradReduce, Pass::kBackward,
        [&] { scaled_norm = GlobalGradNorm(ctx, model.grads(), model.num_params()); });
  stats->grad_norm = scaled_norm / loss_scale;
  if (scaler && !scaler->Update(std::isfinite(scaled_norm))) {
    stats->skipped = true;
    return Status();
  }
  // Unscaling folds into the factor AdamW multiplies the gradient by.
  const float clip = adamw.config().grad_clip;
  const float clip_factor = (clip > 0.0f && stats->grad_norm > clip) ? clip / stats->grad_norm : 1.0f;
  Timed(ctx.profiler, Op::kOptimizer, Pass::kBackward,
        [&] { adamw.Update(ctx, model.params(), model.grads(), lr, clip_factor / loss_scale, update); });
  return Status();
}

}  // namespace cpu_llm
