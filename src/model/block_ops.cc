#include "model/block_ops.h"

#include "kernels/activations.h"
#include "kernels/gelu.h"
#include "kernels/layernorm.h"
#include "kernels/rmsnorm.h"

namespace cpu_llm {

constexpr float kRmsNormEps = 1e-5f;  // LayerNorm's, so the two differ only in what they subtract

void NormForward(const Context& ctx, const ModelConfig& cfg, float* out, float* mean, float* rstd, const float* inp,
                 const float* weight, const float* bias, int N) {
  if (cfg.norm == NormKind::kRmsNorm) rmsnorm_forward(ctx, out, rstd, inp, weight, N, cfg.n_embd, kRmsNormEps);
  else layernorm_forward(ctx, out, mean, rstd, inp, weight, bias, N, cfg.n_embd);
}

void NormBackward(const Context& ctx, const ModelConfig& cfg, float* dinp, float* dweight, float* dbias,
                  const float* dout, const float* inp, const float* weight, const float* mean, const float* rstd, int N) {
  if (cfg.norm == NormKind::kRmsNorm) rmsnorm_backward(ctx, dinp, dweight, dout, inp, weight, rstd, N, cfg.n_embd);
  else layernorm_backward(ctx, dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, cfg.n_embd);
}

void ActivationForward(const Context& ctx, const ModelConfig& cfg, float* out, const float* fch, int N) {
  const int H = MlpHidden(cfg);
  const int64_t n = static_cast<int64_t>(N) * H;
  switch (cfg.mlp) {
    case MlpKind::kGelu: gelu_forward(ctx, out, fch, n); break;
    case MlpKind::kRelu2: relu2_forward(ctx, out, fch, n); break;
    case MlpKind::kSilu: silu_forward(ctx, out, fch, n); break;
    case MlpKind::kSwiGlu: swiglu_forward(ctx, out, fch, N, H); break;
  }
}

void ActivationBackward(const Context& ctx, const ModelConfig& cfg, float* d_fch, const float* fch, const float* d_out,
                        int N) {
  const int H = MlpHidden(cfg);
  const int64_t n = static_cast<int64_t>(N) * H;
  switch (cfg.mlp) {
    case MlpKind::kGelu: gelu_backward(ctx, d_fch, fch, d_out, n); break;
    case MlpKind::kRelu2: relu2_backward(ctx, d_fch, fch, d_out, n); break;
    case MlpKind::kSilu: silu_backward(ctx, d_fch, fch, d_out, n); break;
    case MlpKind::kSwiGlu: swiglu_backward(ctx, d_fch, fch, d_out, N, H); break;
  }
}

}  // namespace cpu_llm
