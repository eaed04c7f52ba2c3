// The block options' ops (plan item 10) behind one call each, so that the
// forward pass, its backward and the KV-cache decoder cannot disagree about
// which norm or MLP activation a model uses.
#pragma once

#include "core/context.h"
#include "model/config.h"

namespace cpu_llm {

// ptr + offset, or null when the tensor is absent (a block option dropped it).
inline float* At(float* ptr, int64_t offset) { return ptr ? ptr + offset : nullptr; }
inline const float* At(const float* ptr, int64_t offset) { return ptr ? ptr + offset : nullptr; }

// LayerNorm or RMSNorm over C channels. inp, out (N,C); mean, rstd (N)
// kept for backward (RMSNorm leaves mean alone); bias may be null.
void NormForward(const Context& ctx, const ModelConfig& cfg, float* out, float* mean, float* rstd, const float* inp,
                 const float* weight, const float* bias, int N);
// dinp (N,C), dweight (C), dbias (C, or null) += the norm's gradients.
void NormBackward(const Context& ctx, const ModelConfig& cfg, float* dinp, float* dweight, float* dbias,
                  const float* dout, const float* inp, const float* weight, const float* mean, const float* rstd, int N);

// The MLP's activation: out (N,H) from fch (N,F), F = MlpFcRows.
void ActivationForward(const Context& ctx, const ModelConfig& cfg, float* out, const float* fch, int N);
// d_fch (N,F) from d_out (N,H) and the forward's fch. Elementwise
// activations may be given d_out == d_fch (in place); SwiGLU may not.
void ActivationBackward(const Context& ctx, const ModelConfig& cfg, float* d_fch, const float* fch, const float* d_out,
                        int N);

}  // namespace cpu_llm
