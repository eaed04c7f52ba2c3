#include "train/step.h"

namespace cpu_llm {

Status TrainStep(const Context& ctx, GPT2& model, AdamW& adamw, const int32_t* inputs, const int32_t* targets, int B,
                 int T, float lr, int step, StepStats* stats) {
  Timed(ctx.profiler, Op::kZeroGrad, Pass::kBackward, [&] { model.ZeroGrad(); });
  CPU_LLM_RETURN_IF_ERROR(model.ForwardForTraining(ctx, inputs, targets, B, T, 1.0f, &stats->loss));
  CPU_LLM_RETURN_IF_ERROR(model.Backward(ctx, inputs));
  Timed(ctx.profiler, Op::kGradReduce, Pass::kBackward,
        [&] { stats->grad_norm = GlobalGradNorm(ctx, model.grads(), model.num_params()); });
  const float clip = adamw.config().grad_clip;
  const float scale = (clip > 0.0f && stats->grad_norm > clip) ? clip / stats->grad_norm : 1.0f;
  Timed(ctx.profiler, Op::kOptimizer, Pass::kBackward,
        [&] { adamw.Update(ctx, model.params(), model.grads(), lr, scale, step); });
  return Status();
}

}  // namespace cpu_llm
