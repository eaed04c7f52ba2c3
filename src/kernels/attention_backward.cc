// Fused causal attention, backward (the forward is in attention.cc).
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
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/attention.h"
#include "kernels/attention_blocks.h"

namespace cpu_llm {

using attn::AddWeightedRows;
using attn::kBlock;
using attn::RoundUpToBlock;
using attn::RowTimesBlock;
using attn::SoftmaxExp;
using attn::TransposeToPanels;

namespace {

// One head. q, k, v and dq, dk, dv: rows of hs, ld apart; out and dout rows
// out_ld apart; lse (T); scratch holds the keys and values in panels.
template <int kHs>
void BackwardHead(float* dq, float* dk, float* dv, float* scratch, const float* dout, const float* q, const float* k,
                  const float* v, const float* out, const float* lse, int64_t ld, int64_t out_ld, int T, int hs_arg,
                  float scale) {
  const int hs = kHs > 0 ? kHs : hs_arg;
  float* kt = scratch;
  float* vt = scratch + (int64_t)hs * RoundUpToBlock(T);
  TransposeToPanels(kt, k, ld, T, hs);
  TransposeToPanels(vt, v, ld, T, hs);
  for (int t = 0; t < T; t++) {
    std::memset(dq + t * ld, 0, sizeof(float) * hs);
    std::memset(dk + t * ld, 0, sizeof(float) * hs);
    std::memset(dv + t * ld, 0, sizeof(float) * hs);
  }
  for (int t0 = 0; t0 < T; t0 += kBlock) {
    const int nr = std::min(kBlock, T - t0);
    float D[kBlock];
    for (int r = 0; r < nr; r++) {
      const float* d = dout + (t0 + r) * out_ld;
      const float* o = out + (t0 + r) * out_ld;
      float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
      for (int i = 0; i < hs; i++) dot += d[i] * o[i];
      D[r] = dot;
    }
    for (int j0 = 0; j0 <= t0; j0 += kBlock) {
      // On the diagonal block key j0+j is visible to query t0+r only if j <= r.
      // The tile is computed whole (full vectors), but the loops that use it
      // read only the visible entries; the others are never read.
      const bool diagonal = j0 == t0;
      float p[kBlock][kBlock], ds[kBlock][kBlock];  // [row][key]; rows nr.. unused
      for (int r = 0; r < nr; r++) {
        const int t = t0 + r;
        float s[kBlock], dp[kBlock];
        RowTimesBlock<kHs>(s, q + t * ld, kt + j0 * hs, hs);  // panels of keys, values j0..
        RowTimesBlock<kHs>(dp, dout + t * out_ld, vt + j0 * hs, hs);
        const float lse_t = lse[t], D_t = D[r];
#pragma omp simd
        for (int j = 0; j < kBlock; j++) {
          p[r][j] = SoftmaxExp(s[j] * scale - lse_t);
          ds[r][j] = p[r][j] * (dp[j] - D_t) * scale;  // scale folded in here: dq and dk both carry it
        }
      }
      // Keys: dv_j += sum_r p_rj dout_r, dk_j += sum_r ds_rj q_r over the rows that see key j.
      const int nk = diagonal ? nr : kBlock;
      for (int j = 0; j < nk; j++) {
        const int r0 = diagonal ? j : 0;
        float* dv_j = dv + (j0 + j) * ld;
        float* dk_j = dk + (j0 + j) * ld;
        AddWeightedRows<kHs>(dv_j, &p[r0][j], kBlock, dout + (t0 + r0) * out_ld, out_ld, nr - r0, hs);
        AddWeightedRows<kHs>(dk_j, &ds[r0][j], kBlock, q + (t0 + r0) * ld, ld, nr - r0, hs);
      }
      // Queries: dq_r += sum_j ds_rj k_j over the keys row r sees.
      for (int r = 0; r < nr; r++) {
        const int n = diagonal ? r + 1 : kBlock;
        AddWeightedRows<kHs>(dq + (t0 + r) * ld, ds[r], 1, k + j0 * ld, ld, n, hs);
      }
    }
  }
}

}  // namespace

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
      if (hs == 64)
        BackwardHead<64>(dq, dq + C, dq + 2 * C, s, dout + oo, q, q + C, q + 2 * C, out + oo, l, C3, C, T, hs, scale);
      else
        BackwardHead<0>(dq, dq + C, dq + 2 * C, s, dout + oo, q, q + C, q + 2 * C, out + oo, l, C3, C, T, hs, scale);
    }
}

}  // namespace cpu_llm
