// The train command's options checked and resolved before a run starts: the
// values that parse into enums, the model's config, and whether it fits.
#pragma once

#include "core/context.h"
#include "core/status.h"
#include "data/async_loader.h"
#include "data/loader.h"
#include "data/shard.h"
#include "data/tokenizer.h"
#include "model/config.h"
#include "train/trainer.h"

namespace cpu_llm {

// The options that parse into values come back parsed.
struct ParsedOptions {
  TokenFileFormat data_format = TokenFileFormat::kLlmc;
  DataAccess data_access = DataAccess::kRead;
  MmapAdvice mmap_advice = MmapAdvice::kNormal;
  LoaderMode loader = LoaderMode::kSync;
  int grad_accum = 1;
  MatmulBackend matmul = MatmulBackend::kTiled;
  Precision precision = Precision::kFp32;
};

// Range and consistency checks of every option; the parsed values in *parsed.
Status CheckOptions(const TrainOptions& opt, ParsedOptions* parsed);

// A new model's config: the preset, then the options that override it.
Status ResolveModelConfig(const TrainOptions& opt, const Tokenizer& tok, ModelConfig* cfg);

// What training a model allocates, in bytes: fp32 parameters and gradients,
// AdamW's two moments, the activation and scratch arenas (`train` prints
// these on its memory: line, `info` works them out for any B and T).
struct TrainingMemory {
  double params = 0, grads = 0, adamw = 0, activations = 0;
  double total() const { return params + grads + adamw + activations; }
};
// Refuses a B x T too large to size (CheckBatchTokens).
Status EstimateTrainingMemory(const ModelConfig& cfg, int B, int T, int threads, Precision precision,
                              TrainingMemory* mem);

// Refuses a configuration that cannot fit in this machine's memory before
// allocating any of it: parameters, gradients, two AdamW moments, activations.
Status CheckMemory(const ModelConfig& cfg, int B, int T, int threads, Precision precision);

}  // namespace cpu_llm
