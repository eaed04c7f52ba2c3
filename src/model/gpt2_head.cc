// The LM head (logits = lnf . wte^T with the tied embedding, GPT-2's, or its
// own matrix when untied) and the loss, a chunk
// of kHeadRows rows at a time so the (B,T,Vp) logits never exist whole. In a
// training forward the chunk's backward runs while its logits are still in
// cache: cross-entropy turns them into d_logits in place, then they add their
// share to wte's gradient and give d_lnf for those rows. The chunks are fixed
// by B*T alone, so the sums they split do not depend on the thread count.
#include <algorithm>
#include <cmath>

#include "kernels/crossentropy.h"
#include "kernels/matmul.h"
#include "model/gpt2.h"

namespace cpu_llm {

void GPT2::HeadForward(const Context& ctx, const int32_t* targets, float grad_scale, float* logits,
                       float* mean_loss) {
  const int C = cfg_.n_embd, V = cfg_.vocab_size, Vp = cfg_.padded_vocab_size;
  const int BT = cur_B_ * cur_T_;
  const ParamView p = param_view();
  const ParamView g = grad_view();
  // The head's matrix: wte itself (tied, GPT-2) or its own.
  const float* head_w = p.lmheadw ? p.lmheadw : p.wte;
  float* head_dw = g.lmheadw ? g.lmheadw : g.wte;
  const ActivationView& a = acts_;
  const ScratchView& s = scratch_;
  Profiler* prof = ctx.profiler;
  const float dloss = grad_scale / static_cast<float>(BT);
  if (!targets) *mean_loss = NAN;
  if (!targets && !logits) return;  // nothing asked of the head

  for (int r0 = 0; r0 < BT; r0 += kHeadRows) {
    const int rows = std::min(kHeadRows, BT - r0);
    const float* lnf = a.lnf + (int64_t)r0 * C;
    // The caller's buffer, when it wants every logit, else the scratch chunk.
    float* chunk = logits ? logits + (int64_t)r0 * Vp : s.logits;
    Timed(prof, Op::kMatmulLmHead, Pass::kForward,
          [&] { matmul_forward(ctx, chunk, lnf, head_w, nullptr, rows, C, Vp); });
    Watch(ctx, false, -1, "matmul lm head", "logits", chunk, (int64_t)rows * Vp);
    if (!targets) continue;
    Timed(prof, Op::kCrossEntropy, Pass::kForward, [&] {
      crossentropy_forward(ctx, a.losses + r0, a.lse + r0, chunk, targets + r0, rows, V, Vp);
    });
    Watch(ctx, false, -1, "cross-entropy", "losses", a.losses + r0, rows);
    if (grad_scale == 0.0f) continue;
    Timed(prof, Op::kCrossEntropy, Pass::kBackward, [&] {
      crossentropy_backward(ctx, s.logits, s.logits, a.lse + r0, targets + r0, dloss, rows, V, Vp);
    });
    Watch(ctx, true, -1, "cross-entropy", "d_logits", s.logits, (int64_t)rows * Vp);
    Timed(prof, Op::kMatmulLmHead, Pass::kBackward, [&] {
      matmul_backward(ctx, s.d_ln + (int64_t)r0 * C, head_dw, nullptr, s.logits, lnf, head_w, rows, C, Vp);
    });
    Watch(ctx, true, -1, "matmul lm head", "d_lnf", s.d_ln + (int64_t)r0 * C, (int64_t)rows * C);
  }
  // The head's weight gradient sums over every chunk: checked once it is whole.
  if (grad_scale != 0.0f && targets && !logits)
    Watch(ctx, true, -1, "matmul lm head", p.lmheadw ? "lm head gradient" : "wte gradient", head_dw, (int64_t)Vp * C);
  if (!targets) return;
  double sum = 0.0;
  for (int i = 0; i < BT; i++) sum += a.losses[i];
  *mean_loss = static_cast<float>(sum / BT);
}

}  // namespace cpu_llm
