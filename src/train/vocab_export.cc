#include "train/vocab_export.h"

#include <algorithm>
#include <cstring>

namespace cpu_llm {

Status ExpandVocabulary(const GPT2& pruned, const TokenMap& map, GPT2* full) {
  const ModelConfig& small = pruned.config();
  if (small.vocab_size != map.model_vocab())
    return RuntimeError("vocabulary map of {} ids does not match the model's {}", map.model_vocab(), small.vocab_size);
  ModelConfig cfg = small;
  cfg.vocab_size = map.source_vocab();
  cfg.padded_vocab_size = PadVocab(cfg.vocab_size);
  CPU_LLM_RETURN_IF_ERROR(full->Init(cfg));
  const auto from_sizes = ParamSizes(small), to_sizes = ParamSizes(cfg);
  const float* from = pruned.params();
  float* to = full->params();
  std::fill(to, to + full->num_params(), 0.0f);  // vocabulary padding rows stay zero
  const int64_t C = cfg.n_embd;
  for (int t = 0; t < kNumParamTensors; t++) {
    // wte (0) and an untied LM head (16) are (Vp, C): rows by tokenizer id.
    if ((t == 0 || t == kNumParamTensors - 1) && to_sizes[t] > 0) {
      for (int id = 0; id < cfg.vocab_size; id++) {
        const int32_t row = map.ToModel(id);  // unknown() for an id never seen
        std::memcpy(to + id * C, from + static_cast<int64_t>(row) * C, C * sizeof(float));
      }
    } else {
      std::memcpy(to, from, to_sizes[t] * sizeof(float));
    }
    from += from_sizes[t];
    to += to_sizes[t];
  }
  return Status();
}

}  // namespace cpu_llm
