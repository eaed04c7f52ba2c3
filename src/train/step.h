// One optimizer step: forward, backward, global-norm clipping, AdamW.
// Shared by the trainer and the parity tests so both exercise the same code.
#pragma once

#include <cstdint>

#include "core/context.h"
#include "core/status.h"
#include "model/gpt2.h"
#include "optim/adamw.h"

namespace cpu_llm {

struct StepStats {
  float loss = 0.0f;       // mean loss of the batch, before the update
  float grad_norm = 0.0f;  // global L2 norm before clipping
};

// step is 1-based (AdamW bias correction).
Status TrainStep(const Context& ctx, GPT2& model, AdamW& adamw, const int32_t* inputs, const int32_t* targets, int B,
                 int T, float lr, int step, StepStats* stats);

}  // namespace cpu_llm
