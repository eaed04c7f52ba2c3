// Backward pass of GPT2, layer by layer in reverse. The residual stream's
// gradient lives in one buffer (d_residual) for the whole pass: the gradient of
// a sum reaches both inputs unchanged, so each block's branch gradient is
// added into it and nothing is copied.
#include <algorithm>

#include "kernels/attention.h"
#include "kernels/convert.h"
#include "kernels/encoder.h"
#include "kernels/rope.h"
#include "kernels/matmul.h"
#include "model/block_ops.h"
#include "model/gpt2.h"

namespace cpu_llm {

Status GPT2::Backward(const Context& ctx, const int32_t* tokens, GradientListener* ready) {
  if (grad_scale_ == 0.0f) return UsageError("Backward needs a ForwardForTraining first");
  if (ctx.precision != precision_)
    return UsageError("Backward in {} after a forward in {}", PrecisionName(ctx.precision), PrecisionName(precision_));
  grad_scale_ = 0.0f;
  const int B = cur_B_, T = cur_T_;
  const int C = cfg_.n_embd, NH = cfg_.n_head, L = cfg_.n_layer;
  const int BT = B * T;
  const ParamView p = param_view();
  const ParamView g = grad_view();
  const ActivationView& a = acts_;
  const ScratchView& s = scratch_;

  Profiler* prof = ctx.profiler;
  const Pass Bk = Pass::kBackward;
  const Precision P = precision_;
  const bool half = P != Precision::kFp32;
  // A saved activation: fp32 as stored, or in mixed precision its 16-bit copy
  // widened into the layer's scratch.
  auto saved = [&](float* fp32, const uint16_t* stored, float* layer, int64_t n) -> const float* {
    if (!half) return fp32;
    Timed(prof, Op::kConvert, Bk, [&] { widen_to_f32(ctx, P, layer, stored, n); });
    return layer;
  };
  // The LM head's backward ran in ForwardForTraining and left d_lnf in s.d_ln.
  std::fill(s.d_residual, s.d_residual + (int64_t)BT * C, 0.0f);
  const float* last = a.residual3 + (int64_t)(L - 1) * BT * C;
  Timed(prof, Op::kLayerNorm, Bk, [&] {
    NormBackward(ctx, cfg_, s.d_residual, g.lnfw, g.lnfb, s.d_ln, last, p.lnfw, a.lnf_mean, a.lnf_rstd, BT);
  });
  const int64_t BTC = (int64_t)BT * C;
  Watch(ctx, true, -1, NormName(cfg_.norm), "d_residual", s.d_residual, BTC);
  Watch(ctx, true, -1, NormName(cfg_.norm), "final norm weight gradient", g.lnfw, C);
  if (ready) ready->HeadReady();
  const int64_t Fr = MlpFcRows(cfg_), H = MlpHidden(cfg_);
  const bool swiglu = cfg_.mlp == MlpKind::kSwiGlu;

  for (int l = L - 1; l >= 0; l--) {
    const float* residual = l == 0 ? a.encoded : a.residual3 + (int64_t)(l - 1) * BT * C;
    const float* residual2 = a.residual2 + (int64_t)l * BT * C;
    const int64_t o1 = (int64_t)l * BT * C, o3 = 3 * o1, of = (int64_t)l * BT * Fr, os = (int64_t)l * BT;
    const int64_t w1 = (int64_t)l * C * C;
    const float* fch = saved(a.fch + of, half_.fch + of, s.layer_fch, (int64_t)BT * Fr);

    // MLP branch: residual3 = residual2 + fcproj(act(fc(norm2(residual2)))).
    // The activation's and norm2's outputs are recomputed rather than kept.
    // SwiGLU's input is twice as wide as its output, so its output's
    // gradient gets a buffer of its own; the others work in place.
    float* d_act = swiglu ? s.d_act : s.d_fch;
    Timed(prof, Op::kGelu, Bk, [&] { ActivationForward(ctx, cfg_, s.fch_gelu, fch, BT); });
    Timed(prof, Op::kMatmulFcProj, Bk, [&] {
      matmul_backward(ctx, d_act, g.fcprojw + l * C * H, At(g.fcprojb, l * C), s.d_residual, s.fch_gelu,
                      p.fcprojw + l * C * H, BT, (int)H, C);
    });
    Watch(ctx, true, l, "matmul fc proj", "d_activation", d_act, (int64_t)BT * H);
    Watch(ctx, true, l, "matmul fc proj", "fc proj weight gradient", g.fcprojw + l * C * H, C * H);
    Timed(prof, Op::kGelu, Bk, [&] { ActivationBackward(ctx, cfg_, s.d_fch, fch, d_act, BT); });
    Watch(ctx, true, l, MlpName(cfg_.mlp), "d_fch", s.d_fch, (int64_t)BT * Fr);
    Timed(prof, Op::kLayerNorm, Bk, [&] {
      NormForward(ctx, cfg_, s.ln, a.ln2_mean + os, a.ln2_rstd + os, residual2, p.ln2w + l * C, At(p.ln2b, l * C), BT);
    });
    Timed(prof, Op::kMatmulFc, Bk, [&] {
      matmul_backward(ctx, s.d_ln, g.fcw + l * Fr * C, At(g.fcb, l * Fr), s.d_fch, s.ln, p.fcw + l * Fr * C, BT, C,
                      (int)Fr);
    });
    Watch(ctx, true, l, "matmul fc", "d_ln2", s.d_ln, BTC);
    Watch(ctx, true, l, "matmul fc", "fc weight gradient", g.fcw + l * Fr * C, Fr * C);
    Timed(prof, Op::kLayerNorm, Bk, [&] {
      NormBackward(ctx, cfg_, s.d_residual, g.ln2w + l * C, At(g.ln2b, l * C), s.d_ln, residual2, p.ln2w + l * C,
                   a.ln2_mean + os, a.ln2_rstd + os, BT);
    });
    Watch(ctx, true, l, NormName(cfg_.norm), "d_residual (ln2)", s.d_residual, BTC);

    // Attention branch: residual2 = residual + attproj(attention(rope(qkv(norm1(residual)))))
    const float* atty = saved(a.atty + o1, half_.atty + o1, s.layer_atty, (int64_t)BT * C);
    Timed(prof, Op::kMatmulAttnProj, Bk, [&] {
      matmul_backward(ctx, s.d_atty, g.attprojw + w1, At(g.attprojb, l * C), s.d_residual, atty, p.attprojw + w1, BT,
                      C, C);
    });
    Watch(ctx, true, l, "matmul attn proj", "d_atty", s.d_atty, BTC);
    Watch(ctx, true, l, "matmul attn proj", "attn proj weight gradient", g.attprojw + w1, (int64_t)C * C);
    const float* qkv = saved(a.qkv + o3, half_.qkv + o3, s.layer_qkv, (int64_t)BT * 3 * C);
    Timed(prof, Op::kAttention, Bk, [&] {
      attention_backward(ctx, s.d_qkv, s.att_scratch, s.d_atty, qkv, atty, a.att_lse + (int64_t)l * B * NH * T, B, T,
                         C, NH);
    });
    Watch(ctx, true, l, "attention", "d_qkv", s.d_qkv, 3 * BTC);
    // The saved qkv is the rotated one; its gradient turns back before the matmul's.
    if (cfg_.pos == PosKind::kRope) {
      Timed(prof, Op::kAttention, Bk, [&] { rope_backward(ctx, s.d_qkv, rope_cos(), rope_sin(), B, T, C, NH, 0); });
      Watch(ctx, true, l, "rope", "d_qkv", s.d_qkv, 3 * BTC);
    }
    Timed(prof, Op::kLayerNorm, Bk, [&] {
      NormForward(ctx, cfg_, s.ln, a.ln1_mean + os, a.ln1_rstd + os, residual, p.ln1w + l * C, At(p.ln1b, l * C), BT);
    });
    Timed(prof, Op::kMatmulQkv, Bk, [&] {
      matmul_backward(ctx, s.d_ln, g.qkvw + 3 * w1, At(g.qkvb, l * 3 * C), s.d_qkv, s.ln, p.qkvw + 3 * w1, BT, C,
                      3 * C);
    });
    Watch(ctx, true, l, "matmul qkv", "d_ln1", s.d_ln, BTC);
    Watch(ctx, true, l, "matmul qkv", "qkv weight gradient", g.qkvw + 3 * w1, 3 * (int64_t)C * C);
    Timed(prof, Op::kLayerNorm, Bk, [&] {
      NormBackward(ctx, cfg_, s.d_residual, g.ln1w + l * C, At(g.ln1b, l * C), s.d_ln, residual, p.ln1w + l * C,
                   a.ln1_mean + os, a.ln1_rstd + os, BT);
    });
    Watch(ctx, true, l, NormName(cfg_.norm), "d_residual (ln1)", s.d_residual, BTC);
    if (ready) ready->LayerReady(l);
  }
  Timed(prof, Op::kEncoder, Bk, [&] { encoder_backward(ctx, g.wte, g.wpe, s.d_residual, tokens, B, T, C); });
  Watch(ctx, true, -1, "embedding", "wte gradient", g.wte, (int64_t)cfg_.padded_vocab_size * C);
  if (g.wpe) Watch(ctx, true, -1, "embedding", "wpe gradient", g.wpe, (int64_t)cfg_.max_seq_len * C);
  if (ready) ready->EmbeddingsReady();
  return Status();
}

}  // namespace cpu_llm
