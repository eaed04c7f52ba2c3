// One optimizer step: forward, backward, global-norm clipping, AdamW, and for
// fp16 the dynamic loss scaling around them. Shared by the trainer, the bench
// and the parity tests so all exercise the same code.
#pragma once

#include <cstdint>
#include <functional>

#include "core/context.h"
#include "core/status.h"
#include "data/batch_source.h"
#include "dist/grad_averager.h"
#include "model/gpt2.h"
#include "optim/adamw.h"
#include "optim/loss_scaler.h"

namespace cpu_llm {

struct StepStats {
  float loss = 0.0f;        // mean loss of the batch, before the update
  float grad_norm = 0.0f;   // global L2 norm before clipping (of the unscaled gradient)
  float loss_scale = 1.0f;  // the scale this step's backward ran with
  bool skipped = false;     // no update: an fp16 overflow, or a non-finite step
  // The loss, or the gradient where no loss scale can mend it (fp32, bf16,
  // fp16 at its smallest scale), came out inf or NaN: the update was skipped
  // and the loss scale left alone. The trainer counts these (--max-bad-steps).
  bool nonfinite = false;
};

// Hands TrainStep micro-batch `i` of the step (0-based): pointers to its
// (B,T) input and target tokens, valid until the next call.
using MicroBatchFn = std::function<Status(int i, const int32_t** inputs, const int32_t** targets)>;

// Micro-batches read from `loader` into inputs and targets (B*T each), one
// per call: what the trainer and the bench feed TrainStepAccumulated.
MicroBatchFn LoaderMicroBatches(BatchSource& loader, int32_t* inputs, int32_t* targets);

// One update from grad_accum micro-batches of (B,T): their gradients are
// summed into the model's arena, each scaled by 1/grad_accum, so the update
// is the one of a single batch of grad_accum x B rows (the mean loss over
// all their tokens), while the activations stay those of one micro-batch.
// stats->loss is the mean over the micro-batches. The other arguments are
// TrainStep's below, but for `averager` (data-parallel runs; null in one
// process): the last micro-batch's backward hands it the gradients as they
// become final, and the update uses the mean over the ranks (loss too). The
// micro-batches before it accumulate locally, without communication.
Status TrainStepAccumulated(const Context& ctx, GPT2& model, AdamW& adamw, const MicroBatchFn& next, int grad_accum,
                            int B, int T, float lr, int update, DynamicLossScaler* scaler, StepStats* stats,
                            GradientAverager* averager = nullptr);

// Forward and backward of one micro-batch with every op's output checked
// (Context::anomaly): the first op whose output went non-finite, or empty
// when none did. Only the gradients change; the weights do not.
std::string TraceNonFinite(const Context& ctx, GPT2& model, const int32_t* inputs, const int32_t* targets, int B,
                           int T, float grad_scale);

// `update` is the 1-based number of this update (AdamW's bias correction);
// it is the step number less the steps skipped so far. scaler (fp16; null
// otherwise) multiplies the loss's gradient before backward; a non-finite
// gradient then skips the update and lowers the scale (stats->skipped).
Status TrainStep(const Context& ctx, GPT2& model, AdamW& adamw, const int32_t* inputs, const int32_t* targets, int B,
                 int T, float lr, int update, DynamicLossScaler* scaler, StepStats* stats);

}  // namespace cpu_llm
