// Export of a checkpoint as a GGUF file llama.cpp can run (docs/FORMATS.md,
// "GGUF export"). GPT-2's block becomes llama.cpp's `gpt2` architecture, the
// Llama-style block (RMSNorm, SwiGLU, RoPE, no biases) its `llama` one; any
// other combination of block options has no llama.cpp architecture and is
// refused. The GPT-2 BPE vocabulary goes in as the tokenizer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "io/gguf.h"
#include "model/gpt2.h"

namespace cpu_llm {

// How the matrices are stored; 1-D tensors (norm gains, biases) stay F32
// whatever is chosen, as llama.cpp's own converters keep them.
enum class GgufDtype { kF32, kF16, kBf16 };
Status ParseGgufDtype(const std::string& name, GgufDtype* out);
const char* GgufDtypeName(GgufDtype d);

struct GgufExportSummary {
  std::string arch;           // "gpt2" or "llama"
  int64_t tensors = 0;
  int vocab = 0;              // tokens in the file
  bool expanded_vocab = false;  // a pruned vocabulary put back into GPT-2's ids
};

// Loads the model file (and vocab_map.bin beside it, for a model trained on a
// pruned vocabulary), writes out_path atomically, and validates what it wrote
// (ValidateGguf); a file that fails is removed and the failure returned.
Status ExportGguf(const std::string& model_path, const std::string& out_path, GgufDtype dtype,
                  GgufExportSummary* summary = nullptr);

// The same for a model in memory whose vocabulary is GPT-2's (V = 50257).
// `name` goes into general.name.
Status WriteGgufModel(const GPT2& model, const std::string& out_path, GgufDtype dtype, const std::string& name,
                      GgufExportSummary* summary = nullptr);

// The arch a config maps to, or a usage error naming the block options
// llama.cpp cannot express.
Status GgufArchFor(const ModelConfig& cfg, std::string* arch);

// Reorders the rows of a q or k projection (n_head * head_size rows of `cols`
// floats each) from the rotate-half RoPE convention (channel i pairs with
// i + HS/2, what this project computes) to the interleaved one (channel 2i
// with 2i + 1, what llama.cpp's `llama` architecture computes): within each
// head, new row 2i = old row i and new row 2i + 1 = old row i + HS/2. Both
// pairs turn by the same angle, so the rotated q and k are the same vectors
// with their channels permuted alike, and every q.k score is unchanged.
std::vector<float> PermuteRopeRows(const float* rows, int n_head, int head_size, int cols);

// GPT-2's vocabulary as GGUF metadata: tokens (the byte-level strings of
// encoder.json, in id order), token types, merges (vocab.bpe), special ids.
Status AddGpt2TokenizerKvs(GgufWriter* w);

}  // namespace cpu_llm
