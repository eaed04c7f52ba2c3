// GPT-2 model shape: named presets and explicit values, validated in one place.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace cpu_llm {

struct ModelConfig {
  int max_seq_len = 1024;  // maxT: rows of the position embedding
  int vocab_size = 50257;  // V: real tokens
  int padded_vocab_size = 50304;  // Vp: V rounded up to a multiple of 128
  int n_layer = 12;        // L
  int n_head = 12;         // NH
  int n_embd = 768;        // C
};

constexpr int kVocabPadMultiple = 128;
inline int PadVocab(int V) { return (V + kVocabPadMultiple - 1) / kVocabPadMultiple * kVocabPadMultiple; }

// "d<depth>" (d2 ... d48) or "gpt2" (= d12, 124M), "gpt2-medium" (d24),
// "gpt2-large" (d36), "gpt2-xl" (d48). Depths not in GPT-2's family use
// 64-channel heads: C = 64*depth, NH = depth. vocab/max_seq_len keep the
// values already in *cfg.
Status ConfigFromName(const std::string& name, ModelConfig* cfg);

// Names accepted by ConfigFromName, for --help.
std::string ConfigNamesHelp();

// Shape checks: positive sizes, C divisible by NH, Vp >= V, ...
Status ValidateConfig(const ModelConfig& cfg);

// Number of parameters (with the padded vocabulary, as stored).
int64_t ParameterCount(const ModelConfig& cfg);

std::string DescribeConfig(const ModelConfig& cfg);

}  // namespace cpu_llm
