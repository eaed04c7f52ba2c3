// Tiny models for the tests that train or trace one: a config in GPT-2's
// block or the Llama-style one, and where an element of a parameter tensor
// sits in the arena.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "core/rng.h"
#include "model/config.h"
#include "model/gpt2.h"
#include "train/checkpoint.h"

namespace cpu_llm::test {

// Two heads, C=16 and a 50-token vocabulary unless told; llama: RMSNorm,
// SwiGLU, RoPE, no biases, untied head (what the llama-* presets set).
inline ModelConfig TinyConfig(int n_layer, int max_seq_len, bool llama, int vocab = 50, int n_embd = 16) {
  ModelConfig c;
  c.n_layer = n_layer;
  c.n_head = 2;
  c.n_embd = n_embd;
  c.max_seq_len = max_seq_len;
  c.vocab_size = vocab;
  c.padded_vocab_size = PadVocab(vocab);
  if (llama) {
    c.norm = NormKind::kRmsNorm;
    c.mlp = MlpKind::kSwiGlu;
    c.pos = PosKind::kRope;
    c.bias = false;
    c.tied_head = false;
  }
  return c;
}

// Offset in the parameter arena of element `at` of tensor `tensor` (ParamView
// order); for the per-layer tensors (ln1w..fcprojb), of `layer`'s slice.
inline int64_t ParamOffset(const ModelConfig& cfg, int tensor, int layer, int64_t at) {
  const auto sizes = ParamSizes(cfg);
  int64_t start = 0;
  for (int i = 0; i < tensor; i++) start += sizes[i];
  const bool per_layer = tensor >= 2 && tensor <= 13;
  return start + (per_layer ? layer * (sizes[tensor] / cfg.n_layer) : 0) + at;
}

// A random-weight model file (L=1, NH=2, C=16, maxT=32, GPT-2's block) of
// the given vocabulary, written without running the binary; returns path.
inline std::string WriteTinyModel(const std::string& path, int vocab = 257) {
  ModelConfig c = TinyConfig(1, 32, /*llama=*/false, vocab);
  GPT2 model;
  EXPECT_TRUE(model.Init(c).ok());
  Rng rng(1);
  model.InitWeights(rng);
  EXPECT_TRUE(SaveModel(path, model).ok());
  return path;
}

}  // namespace cpu_llm::test
