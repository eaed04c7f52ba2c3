// Backward pass of GPT2, layer by layer in reverse. The residual stream's
// gradient lives in one buffer (d_residual) for the whole pass: the gradient of
// a sum reaches both inputs unchanged, so each block's branch gradient is
// added into it and nothing is copied.
#include <cmath>

#include "kernels/attention.h"
#include "kernels/crossentropy.h"
#include "kernels/encoder.h"
#include "kernels/gelu.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "model/gpt2.h"

namespace cpu_llm {

void GPT2::Backward(const Context& ctx, const int32_t* tokens, const int32_t* targets, float grad_scale) {
  const int B = cur_B_, T = cur_T_;
  const int C = cfg_.n_embd, NH = cfg_.n_head, L = cfg_.n_layer, V = cfg_.vocab_size, Vp = cfg_.padded_vocab_size;
  const int BT = B * T;
  const ParamView p = param_view();
  const ParamView g = grad_view();
  const ActivationView& a = acts_;
  const BackwardView& d = bwd_;

  Profiler* prof = ctx.profiler;
  const Pass Bk = Pass::kBackward;
  // LM head: the logits buffer becomes d_logits.
  const float dloss = grad_scale / static_cast<float>(BT);
  Timed(prof, Op::kCrossEntropy, Bk,
        [&] { crossentropy_backward(ctx, a.logits, a.logits, a.lse, targets, dloss, BT, V, Vp); });
  Timed(prof, Op::kMatmulLmHead, Bk,
        [&] { matmul_backward(ctx, d.d_ln, g.wte, nullptr, a.logits, a.lnf, p.wte, BT, C, Vp); });
  std::fill(d.d_residual, d.d_residual + (int64_t)BT * C, 0.0f);
  const float* last = a.residual3 + (int64_t)(L - 1) * BT * C;
  Timed(prof, Op::kLayerNorm, Bk, [&] {
    layernorm_backward(ctx, d.d_residual, g.lnfw, g.lnfb, d.d_ln, last, p.lnfw, a.lnf_mean, a.lnf_rstd, BT, C);
  });

  for (int l = L - 1; l >= 0; l--) {
    const float* residual = l == 0 ? a.encoded : a.residual3 + (int64_t)(l - 1) * BT * C;
    const int64_t o1 = (int64_t)l * BT * C, o3 = 3 * o1, o4 = 4 * o1, os = (int64_t)l * BT;
    const int64_t w1 = (int64_t)l * C * C;

    // MLP branch: residual3 = residual2 + fcproj(gelu(fc(ln2(residual2))))
    Timed(prof, Op::kMatmulFcProj, Bk, [&] {
      matmul_backward(ctx, d.d_fch, g.fcprojw + 4 * w1, g.fcprojb + l * C, d.d_residual, a.fch_gelu + o4,
                      p.fcprojw + 4 * w1, BT, 4 * C, C);
    });
    Timed(prof, Op::kGelu, Bk, [&] { gelu_backward(ctx, d.d_fch, a.fch + o4, d.d_fch, (int64_t)BT * 4 * C); });
    Timed(prof, Op::kMatmulFc, Bk, [&] {
      matmul_backward(ctx, d.d_ln, g.fcw + 4 * w1, g.fcb + l * 4 * C, d.d_fch, a.ln2 + o1, p.fcw + 4 * w1, BT, C,
                      4 * C);
    });
    Timed(prof, Op::kLayerNorm, Bk, [&] {
      layernorm_backward(ctx, d.d_residual, g.ln2w + l * C, g.ln2b + l * C, d.d_ln, a.residual2 + o1,
                         p.ln2w + l * C, a.ln2_mean + os, a.ln2_rstd + os, BT, C);
    });

    // Attention branch: residual2 = residual + attproj(attention(qkv(ln1(residual))))
    Timed(prof, Op::kMatmulAttnProj, Bk, [&] {
      matmul_backward(ctx, d.d_atty, g.attprojw + w1, g.attprojb + l * C, d.d_residual, a.atty + o1,
                      p.attprojw + w1, BT, C, C);
    });
    Timed(prof, Op::kAttention, Bk, [&] {
      attention_backward(ctx, d.d_qkv, d.att_scratch, d.d_atty, a.qkv + o3, a.atty + o1,
                         a.att_lse + (int64_t)l * B * NH * T, B, T, C, NH);
    });
    Timed(prof, Op::kMatmulQkv, Bk, [&] {
      matmul_backward(ctx, d.d_ln, g.qkvw + 3 * w1, g.qkvb + l * 3 * C, d.d_qkv, a.ln1 + o1, p.qkvw + 3 * w1, BT, C,
                      3 * C);
    });
    Timed(prof, Op::kLayerNorm, Bk, [&] {
      layernorm_backward(ctx, d.d_residual, g.ln1w + l * C, g.ln1b + l * C, d.d_ln, residual, p.ln1w + l * C,
                         a.ln1_mean + os, a.ln1_rstd + os, BT, C);
    });
  }
  Timed(prof, Op::kEncoder, Bk, [&] { encoder_backward(ctx, g.wte, g.wpe, d.d_residual, tokens, B, T, C); });
}

}  // namespace cpu_llm
