// Model shape and block options: named presets and explicit values,
// validated in one place. The defaults are GPT-2's block; the options (plan
// item 10) swap in the cheaper or more recent parts a Llama-style block uses.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace cpu_llm {

enum class NormKind { kLayerNorm, kRmsNorm };
enum class MlpKind { kGelu, kRelu2, kSilu, kSwiGlu };
enum class PosKind { kLearned, kRope };

struct ModelConfig {
  int max_seq_len = 1024;  // maxT: rows of the position embedding
  int vocab_size = 50257;  // V: real tokens
  int padded_vocab_size = 50304;  // Vp: V rounded up to a multiple of 128
  int n_layer = 12;        // L
  int n_head = 12;         // NH
  int n_embd = 768;        // C
  // Block options (GPT-2's by default).
  NormKind norm = NormKind::kLayerNorm;  // RMSNorm has no bias and no mean
  MlpKind mlp = MlpKind::kGelu;          // SwiGLU: gate and up from one fused matmul
  PosKind pos = PosKind::kLearned;       // RoPE: no position embedding; q and k rotated
  bool bias = true;                      // biases of the linear layers and of LayerNorm
  bool tied_head = true;                 // LM head shares wte; untied: its own (Vp,C) matrix
  int mlp_hidden = 0;                    // H; 0: 4C (SwiGLU: 8C/3 rounded up to 64, as Llama)
  float rope_theta = 10000.0f;
};

// The MLP's hidden width H, and the rows of its first matmul (2H for SwiGLU).
int MlpHidden(const ModelConfig& cfg);
int MlpFcRows(const ModelConfig& cfg);
// True when every block option is GPT-2's: the model file is then llm.c's.
bool IsGpt2Block(const ModelConfig& cfg);

const char* NormName(NormKind k);
const char* MlpName(MlpKind k);
const char* PosName(PosKind k);
Status ParseNorm(const std::string& name, NormKind* k);
Status ParseMlp(const std::string& name, MlpKind* k);
Status ParsePos(const std::string& name, PosKind* k);

constexpr int kVocabPadMultiple = 128;
inline int PadVocab(int V) { return (V + kVocabPadMultiple - 1) / kVocabPadMultiple * kVocabPadMultiple; }

// "d<depth>" (d2 ... d48) or "gpt2" (= d12, 124M), "gpt2-medium" (d24),
// "gpt2-large" (d36), "gpt2-xl" (d48). Depths not in GPT-2's family use
// 64-channel heads: C = 64*depth, NH = depth. "llama-d<depth>" is the same
// shape with a Llama-style block: RMSNorm, SwiGLU, RoPE, no biases, untied
// head. vocab/max_seq_len keep the values already in *cfg.
Status ConfigFromName(const std::string& name, ModelConfig* cfg);

// Names accepted by ConfigFromName, for --help.
std::string ConfigNamesHelp();

// Shape checks: positive sizes, C divisible by NH, Vp >= V, ...
Status ValidateConfig(const ModelConfig& cfg);

// Number of parameters (with the padded vocabulary, as stored).
int64_t ParameterCount(const ModelConfig& cfg);

std::string DescribeConfig(const ModelConfig& cfg);

// Training FLOPs per token: 6 per weight of the matrix products (2 forward,
// 4 backward) plus attention's score and mixing products, 12*L*T*C (the
// full T x T matrices, as PaLM's MFU convention counts them, though causal
// masking halves the useful work). The weights are all parameters except the
// position embeddings, which are added, not multiplied (the tied token
// embedding counts once: as the LM head's matrix). Layernorm gains and
// biases are in the count too; they are < 0.1% of it.
double TrainFlopsPerToken(const ModelConfig& cfg, int T);

}  // namespace cpu_llm
