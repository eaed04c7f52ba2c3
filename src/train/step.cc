#include "train/step.h"

#include <cmath>

namespace cpu_llm {

MicroBatchFn LoaderMicroBatches(BatchSource& loader, int32_t* inputs, int32_t* targets) {
  return [&loader, inputs, targets](int, const int32_t** in, const int32_t** tg) -> Status {
    CPU_LLM_RETURN_IF_ERROR(loader.Next(inputs, targets));
    *in = inputs;
    *tg = targets;
    return Status();
  };
}

Status TrainStepAccumulated(const Context& ctx, GPT2& model, AdamW& adamw, const MicroBatchFn& next, int grad_accum,
                            int B, int T, float lr, int update, DynamicLossScaler* scaler, StepStats* stats,
                            GradientAverager* averager) {
  if (grad_accum < 1) return UsageError("--grad-accum: must be at least 1 (got {})", grad_accum);
  const float loss_scale = scaler ? scaler->scale() : 1.0f;
  stats->loss_scale = loss_scale;
  stats->skipped = stats->nonfinite = false;
  Timed(ctx.profiler, Op::kZeroGrad, Pass::kBackward, [&] { model.ZeroGrad(); });
  double loss_sum = 0.0;
  for (int i = 0; i < grad_accum; i++) {
    const int32_t *inputs = nullptr, *targets = nullptr;
    {
      ProfileScope wait(ctx.profiler, Op::kDataWait);
      CPU_LLM_RETURN_IF_ERROR(next(i, &inputs, &targets));
    }
    float loss = 0.0f;
    // Each micro-batch's gradient is of its own mean loss; 1/grad_accum
    // makes the sum the gradient of the mean over all of them.
    CPU_LLM_RETURN_IF_ERROR(
        model.ForwardForTraining(ctx, inputs, targets, B, T, loss_scale / static_cast<float>(grad_accum), &loss));
    loss_sum += loss;
    const bool last = i + 1 == grad_accum;
    if (averager && last) averager->Begin(static_cast<float>(loss_sum / grad_accum));
    CPU_LLM_RETURN_IF_ERROR(model.Backward(ctx, inputs, last ? averager : nullptr));
  }
  stats->loss = static_cast<float>(loss_sum / grad_accum);
  if (averager) {
    ProfileScope wait(ctx.profiler, Op::kCommWait);
    CPU_LLM_RETURN_IF_ERROR(averager->Finish(&stats->loss));
  }
  float scaled_norm = 0.0f;
  Timed(ctx.profiler, Op::kGradReduce, Pass::kBackward,
        [&] { scaled_norm = GlobalGradNorm(ctx, model.grads(), model.num_params()); });
  stats->grad_norm = scaled_norm / loss_scale;
  // No loss scale mends a non-finite loss (it comes from the forward), nor a
  // gradient that overflows unscaled: the caller decides whether to go on.
  const bool grads_finite = std::isfinite(scaled_norm);
  if (!std::isfinite(stats->loss) || (!grads_finite && (!scaler || scaler->at_min_scale()))) {
    stats->skipped = stats->nonfinite = true;
    return Status();
  }
  if (scaler && !scaler->Update(grads_finite)) {
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

std::string TraceNonFinite(const Context& ctx, GPT2& model, const int32_t* inputs, const int32_t* targets, int B,
                           int T, float grad_scale) {
  AnomalyDetector detector;
  Context checked = ctx;
  checked.anomaly = &detector;
  model.ZeroGrad();
  float loss = 0.0f;
  Status s = model.ForwardForTraining(checked, inputs, targets, B, T, grad_scale, &loss);
  if (s.ok()) s = model.Backward(checked, inputs);
  if (!s.ok()) return "(the checked replay failed: " + s.message() + ")";
  return detector.Describe();
}

Status TrainStep(const Context& ctx, GPT2& model, AdamW& adamw, const int32_t* inputs, const int32_t* targets, int B,
                 int T, float lr, int update, DynamicLossScaler* scaler, StepStats* stats) {
  const MicroBatchFn one = [&](int, const int32_t** in, const int32_t** tg) {
    *in = inputs;
    *tg = targets;
    return Status();
  };
  return TrainStepAccumulated(ctx, model, adamw, one, 1, B, T, lr, update, scaler, stats);
}

}  // namespace cpu_llm
