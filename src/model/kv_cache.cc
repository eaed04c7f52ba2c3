#include "model/kv_cache.h"

#include <algorithm>
#include <cstring>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/residual.h"
#include "kernels/rope.h"
#include "model/block_ops.h"

namespace cpu_llm {

Status KVCache::Init(const ModelConfig& cfg, int max_len) {
  if (max_len <= 0 || max_len > cfg.max_seq_len)
    return UsageError("generation length {} must be in 1..{} (the model's maximum sequence length)", max_len,
                      cfg.max_seq_len);
  cfg_ = cfg;
  max_len_ = max_len;
  const int64_t C = cfg.n_embd;
  keys_.Resize((int64_t)cfg.n_layer * max_len * C);
  values_.Resize((int64_t)cfg.n_layer * max_len * C);
  // x, ln, atty, proj: C each; qkv: 3C; fch: F; fch_gelu: H; mean, rstd; scratch max_len
  work_.Resize(4 * C + 3 * C + MlpFcRows(cfg) + MlpHidden(cfg) + 2 + max_len);
  return Status();
}

Status KVCache::Step(const Context& ctx, GPT2& model, int token, int pos, float* logits) {
  if (pos < 0 || pos >= max_len_) return RuntimeError("position {} is outside the cache (0..{})", pos, max_len_ - 1);
  if (token < 0 || token >= cfg_.vocab_size)
    return RuntimeError("token id {} is outside the vocabulary (0..{})", token, cfg_.vocab_size - 1);
  const int C = cfg_.n_embd, NH = cfg_.n_head, L = cfg_.n_layer;
  const ParamView p = model.param_view();
  float* x = work_.data();
  float* ln = x + C;
  float* atty = ln + C;
  float* proj = atty + C;
  float* qkv = proj + C;
  const int F = MlpFcRows(cfg_), H = MlpHidden(cfg_);
  float* fch = qkv + 3 * C;
  float* fch_gelu = fch + F;
  float* mean = fch_gelu + H;
  float* rstd = mean + 1;
  float* scratch = rstd + 1;

  for (int c = 0; c < C; c++) x[c] = p.wte[(int64_t)token * C + c] + (p.wpe ? p.wpe[(int64_t)pos * C + c] : 0.0f);
  for (int l = 0; l < L; l++) {
    const int64_t w1 = (int64_t)l * C * C;
    float* k_cache = keys_.data() + (int64_t)l * max_len_ * C;
    float* v_cache = values_.data() + (int64_t)l * max_len_ * C;
    NormForward(ctx, cfg_, ln, mean, rstd, x, p.ln1w + l * C, At(p.ln1b, l * C), 1);
    matmul_forward(ctx, qkv, ln, p.qkvw + 3 * w1, At(p.qkvb, l * 3 * C), 1, C, 3 * C);
    // The cached keys are rotated at their own positions, as in training.
    if (cfg_.pos == PosKind::kRope) rope_forward(ctx, qkv, model.rope_cos(), model.rope_sin(), 1, 1, C, NH, pos);
    std::memcpy(k_cache + (int64_t)pos * C, qkv + C, sizeof(float) * C);
    std::memcpy(v_cache + (int64_t)pos * C, qkv + 2 * C, sizeof(float) * C);
    attention_decode(atty, scratch, qkv, k_cache, v_cache, C, pos + 1, C, NH);
    matmul_forward(ctx, proj, atty, p.attprojw + w1, At(p.attprojb, l * C), 1, C, C);
    residual_forward(ctx, x, x, proj, C);
    NormForward(ctx, cfg_, ln, mean, rstd, x, p.ln2w + l * C, At(p.ln2b, l * C), 1);
    matmul_forward(ctx, fch, ln, p.fcw + (int64_t)l * F * C, At(p.fcb, (int64_t)l * F), 1, C, F);
    ActivationForward(ctx, cfg_, fch_gelu, fch, 1);
    matmul_forward(ctx, proj, fch_gelu, p.fcprojw + (int64_t)l * C * H, At(p.fcprojb, l * C), 1, H, C);
    residual_forward(ctx, x, x, proj, C);
  }
  NormForward(ctx, cfg_, ln, mean, rstd, x, p.lnfw, p.lnfb, 1);
  matmul_forward(ctx, logits, ln, p.lmheadw ? p.lmheadw : p.wte, nullptr, 1, C, cfg_.padded_vocab_size);
  return Status();
}

}  // namespace cpu_llm
