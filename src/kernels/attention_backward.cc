// Fused causal attention, backward (the forward is in attention.cc), in
// Highway ops, compiled once per SIMD target (hwy/foreach_target.h) and
// dispatched to the best one at run time.
//
// For one (b, h) head with scaled scores s = q.k * scale and the forward's
// lse, softmax row t is p_t = e^(s_t - lse_t): rebuilt here a block at a time
// instead of read from a stored (T,T) matrix. Then the softmax backward:
//   dp_tj = dout_t . v_j
//   D_t   = dout_t . out_t   (= sum_j p_tj dp_tj, since out_t = sum_j p_tj v_j)
//   ds_tj = p_tj (dp_tj - D_t)          gradient of the scaled score
//   dq_t += scale * sum_j ds_tj k_j,  dk_j += scale * sum_t ds_tj q_t,
//   dv_j += sum_t p_tj dout_t.
// Tiles as in the forward: kBlock query rows against kBlock keys. The tile's
// p and ds (kBlock x kBlock, on the stack) are computed once and then used
// three ways: down the columns for dk and dv, along the rows for dq, so each
// gradient row is loaded and stored once per tile rather than once per pair.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/attention_backward.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "hwy/highway.h"
#include "kernels/attention-inl.h"
#include "kernels/attention.h"
#include "kernels/attention_blocks.h"
#include "kernels/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace cpu_llm {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using attn::kBlock;

// One head. q, k, v and dq, dk, dv: rows of hs, ld apart; out and dout rows
// out_ld apart; lse (T); scratch holds the keys and values in panels.
template <int kHs>
void BackwardHeadT(float* dq, float* dk, float* dv, float* scratch, const float* dout, const float* q, const float* k,
                   const float* v, const float* out, const float* lse, int64_t ld, int64_t out_ld, int T, int hs_arg,
                   float scale) {
  const hn::ScalableTag<float> d;
  using Vec = hn::Vec<decltype(d)>;
  constexpr int L = kLanes<decltype(d)>;
  const int hs = kHs > 0 ? kHs : hs_arg;
  const Vec vscale = hn::Set(d, scale);
  float* kt = scratch;
  float* vt = scratch + (int64_t)hs * attn::RoundUpToBlock(T);
  attn::TransposeToPanels(kt, k, ld, T, hs);
  attn::TransposeToPanels(vt, v, ld, T, hs);
  for (int t = 0; t < T; t++) {
    std::memset(dq + t * ld, 0, sizeof(float) * hs);
    std::memset(dk + t * ld, 0, sizeof(float) * hs);
    std::memset(dv + t * ld, 0, sizeof(float) * hs);
  }
  for (int t0 = 0; t0 < T; t0 += kBlock) {
    const int nr = std::min(kBlock, T - t0);
    float D[kBlock];
    for (int r = 0; r < nr; r++) D[r] = Dot(d, dout + (t0 + r) * out_ld, out + (t0 + r) * out_ld, hs);
    for (int j0 = 0; j0 <= t0; j0 += kBlock) {
      // On the diagonal block key j0+j is visible to query t0+r only if j <= r.
      // The tile is computed whole (full vectors) and the hidden entries set
      // to 0.
      const bool diagonal = j0 == t0;
      HWY_ALIGN float p[kBlock][kBlock], ds[kBlock][kBlock];  // [row][key]; rows nr.. unused
      TileTimesBlock<kHs>(d, p[0], q + t0 * ld, ld, nr, kt + j0 * hs, hs);  // s, from the panel of keys j0..
      TileTimesBlock<kHs>(d, ds[0], dout + t0 * out_ld, out_ld, nr, vt + j0 * hs, hs);  // dp, from the values'
      for (int r = 0; r < nr; r++) {
        const int t = t0 + r;
        const Vec lse_t = hn::Set(d, lse[t]), D_t = hn::Set(d, D[r]);
        for (int c = 0; c < kBlock; c += L) {
          Vec pc = FastExp(d, hn::MulSub(hn::Load(d, p[r] + c), vscale, lse_t));
          // Masked keys weigh 0 in p and ds, so that neighbouring keys and
          // rows with different counts can share the sums below.
          if (diagonal) pc = hn::IfThenElseZero(hn::FirstN(d, r + 1 > c ? r + 1 - c : 0), pc);
          hn::Store(pc, d, p[r] + c);
          // scale folded in here: dq and dk both carry it
          hn::Store(hn::Mul(hn::Mul(pc, hn::Sub(hn::Load(d, ds[r] + c), D_t)), vscale), d, ds[r] + c);
        }
      }
      // Keys in pairs, which share the loads of dout and q: dv_j += sum_r p_rj
      // dout_r, dk_j += sum_r ds_rj q_r over the rows that see key j (on the
      // diagonal, from row j; the pair's second key has weight 0 in row j).
      const int nk = diagonal ? nr : kBlock;
      auto keys = [&](auto rows, int j) HWY_ATTR {
        constexpr int kRows = decltype(rows)::value;
        const int r0 = diagonal ? j : 0;
        float* dv_j = dv + (j0 + j) * ld;
        float* dk_j = dk + (j0 + j) * ld;
        AddWeightedRows<kHs, kRows>(d, dv_j, ld, nullptr, &p[r0][j], 1, kBlock, dout + (t0 + r0) * out_ld, out_ld,
                                    nr - r0, hs);
        AddWeightedRows<kHs, kRows>(d, dk_j, ld, nullptr, &ds[r0][j], 1, kBlock, q + (t0 + r0) * ld, ld, nr - r0, hs);
      };
      int j = 0;
      for (; j + 2 <= nk; j += 2) keys(std::integral_constant<int, 2>(), j);
      if (j < nk) keys(std::integral_constant<int, 1>(), j);
      // Queries in pairs, which share the loads of k: dq_r += sum_j ds_rj k_j
      // over the keys row r sees.
      const float* kb = k + j0 * ld;
      int r = 0;
      for (; r + 2 <= nr; r += 2)
        AddWeightedRows<kHs, 2>(d, dq + (t0 + r) * ld, ld, nullptr, ds[r], kBlock, 1, kb, ld,
                                diagonal ? r + 2 : kBlock, hs);
      if (r < nr)
        AddWeightedRows<kHs, 1>(d, dq + (t0 + r) * ld, ld, nullptr, ds[r], kBlock, 1, kb, ld, diagonal ? r + 1 : kBlock,
                                hs);
    }
  }
}

// GPT-2's 64-channel heads get a compiled-in size.
void BackwardHead(float* dq, float* dk, float* dv, float* scratch, const float* dout, const float* q, const float* k,
                  const float* v, const float* out, const float* lse, int64_t ld, int64_t out_ld, int T, int hs,
                  float scale) {
  if (hs == 64) BackwardHeadT<64>(dq, dk, dv, scratch, dout, q, k, v, out, lse, ld, out_ld, T, hs, scale);
  else BackwardHeadT<0>(dq, dk, dv, scratch, dout, q, k, v, out, lse, ld, out_ld, T, hs, scale);
}

}  // namespace HWY_NAMESPACE
}  // namespace cpu_llm
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace cpu_llm {

HWY_EXPORT(BackwardHead);

void attention_backward(const Context& ctx, float* dqkv, float* scratch, const float* dout, const float* qkv,
                        const float* out, const float* lse, int B, int T, int C, int NH) {
  const int hs = C / NH;
  const int64_t C3 = 3 * (int64_t)C;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  const int64_t per_thread = attention_scratch_floats(1, T, C, NH);
  // One (b, h) pair per task: keys and values of a head receive gradient from
  // every later query, so the pair is the smallest unit with disjoint outputs,
  // and its sums run in the same order whatever the thread count.
#pragma omp parallel for collapse(2) schedule(static) num_threads(ctx.n_threads)
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++) {
      float* s = scratch + omp_get_thread_num() * per_thread;
      const int64_t qo = (int64_t)b * T * C3 + h * hs, oo = (int64_t)b * T * C + h * hs;
      const float* q = qkv + qo;
      float* dq = dqkv + qo;
      const float* l = lse + ((int64_t)b * NH + h) * T;
      HWY_DYNAMIC_DISPATCH(BackwardHead)(dq, dq + C, dq + 2 * C, s, dout + oo, q, q + C, q + 2 * C, out + oo, l, C3,
                                         C, T, hs, scale);
    }
}

}  // namespace cpu_llm
#endif  // HWY_ONCE
