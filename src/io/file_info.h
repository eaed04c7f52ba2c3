// `cpu_llm info FILE`: what a file is and what training it takes. Knows
// every format the project reads: llm.c model files, token shards and
// tokenizer files, cpu_llm state files and vocabulary maps, GGUF, safetensors
// (with the config.json beside it), and folders holding one of them (a run
// folder: its newest checkpoint; a Hugging Face folder: its weights).
#pragma once

#include <string>

#include "core/context.h"
#include "core/status.h"
#include "model/config.h"

namespace cpu_llm {

// The training a model's lines are worked out for.
struct InfoOptions {
  int batch = 16;   // B
  int seq_len = 0;  // T; 0: the model's context
  Precision precision = Precision::kFp32;
  int threads = 0;  // 0: all cores (the per-thread scratch counts)
};

// What a model costs to train at opt's B, T and precision: parameters,
// memory (params, grads, AdamW, activations, and whether this machine has
// it) and FLOPs per token. Lines of text, each ending in '\n', appended to
// *out; a B x T too large to size is an error.
Status DescribeTraining(const ModelConfig& cfg, const InfoOptions& opt, std::string* out);

// Identifies `path` by its content (not its name) and describes it: format,
// version, what it holds and, for a model, DescribeTraining's lines. A file
// of no known format, or a known one that is damaged, is an error naming it.
Status DescribeFile(const std::string& path, const InfoOptions& opt, std::string* out);

}  // namespace cpu_llm
