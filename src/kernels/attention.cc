// Fused causal attention, forward, and the single-query decode step, in
// Highway ops: hwy/foreach_target.h compiles this file once per SIMD target
// and HWY_DYNAMIC_DISPATCH picks the best one the CPU has. The backward is in
// attention_backward.cc; the pieces both use in attention_blocks.h and
// attention-inl.h.
//
// Forward of one (b, h) head, FlashAttention-2's order on a CPU: queries in
// tiles of kBlock rows, keys in blocks of kBlock up to the diagonal. Each row
// keeps a running max m and sum l of e^(s - m) over the blocks seen so far
// (online softmax); when a block raises the max, what was summed under the
// old one (l and the output row) is rescaled by e^(m_old - m_new). At the end
// out = (sum of e^(s - m) v) / l and lse = m + log(l). Nothing of size T x T
// is ever written.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/attention.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

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

// One head. q, k, v: rows of hs, ld apart; out rows out_ld apart; lse (T);
// kt: scratch for the keys in panels.
template <int kHs>
void ForwardHeadT(float* out, float* lse, float* kt, const float* q, const float* k, const float* v, int64_t ld,
                  int64_t out_ld, int T, int hs_arg, float scale) {
  const hn::ScalableTag<float> d;
  using Vec = hn::Vec<decltype(d)>;
  constexpr int L = kLanes<decltype(d)>;
  const int hs = kHs > 0 ? kHs : hs_arg;
  const Vec vscale = hn::Set(d, scale), neg_inf = hn::Set(d, -INFINITY);
  attn::TransposeToPanels(kt, k, ld, T, hs);
  for (int t0 = 0; t0 < T; t0 += kBlock) {
    const int nr = std::min(kBlock, T - t0);
    float m[kBlock], l[kBlock];  // running max and sum of e^(s - m), per row of the tile
    for (int r = 0; r < nr; r++) {
      m[r] = -INFINITY;
      l[r] = 0.0f;
      std::memset(out + (t0 + r) * out_ld, 0, sizeof(float) * hs);
    }
    for (int j0 = 0; j0 <= t0; j0 += kBlock) {
      HWY_ALIGN float st[kBlock][kBlock];  // scores of the tile's rows against keys j0..; rows nr.. unused
      TileTimesBlock<kHs>(d, st[0], q + t0 * ld, ld, nr, kt + j0 * hs, hs);
      float rescale[kBlock];
      for (int r = 0; r < nr; r++) {
        const int n = std::min(kBlock, t0 + r + 1 - j0);  // keys j0 .. j0+n-1 are visible to query t0+r
        float* s = st[r];
        Vec vmax = neg_inf;
        for (int c = 0; c < kBlock; c += L) {
          Vec x = hn::Mul(hn::Load(d, s + c), vscale);
          if (n < kBlock) x = hn::IfThenElse(hn::FirstN(d, n > c ? n - c : 0), x, neg_inf);
          hn::Store(x, d, s + c);
          vmax = hn::Max(vmax, x);
        }
        const float m_new = std::max(hn::GetLane(hn::MaxOfLanes(d, vmax)), m[r]);
        const Vec vm = hn::Set(d, m_new);
        Vec vsum = hn::Zero(d);
        for (int c = 0; c < kBlock; c += L) {
          Vec e = FastExp(d, hn::Sub(hn::Load(d, s + c), vm));
          // A masked key weighs 0 (FastExp would give e^-87, not 0), so that
          // rows with different counts can share a sum over keys below.
          if (n < kBlock) e = hn::IfThenElseZero(hn::FirstN(d, n > c ? n - c : 0), e);
          hn::Store(e, d, s + c);
          vsum = hn::Add(vsum, e);
        }
        // What earlier blocks summed under the old max; 0 on the first block.
        rescale[r] = hn::GetLane(FastExp(d, hn::Set(d, m[r] - m_new)));
        l[r] = l[r] * rescale[r] + hn::GetLane(hn::SumOfLanes(d, vsum));
        m[r] = m_new;
      }
      // out_r = out_r * rescale_r + sum_j e_rj v_j, rows in pairs that share
      // each load of v; a pair runs to its later row's count of keys.
      const float* vb = v + j0 * ld;
      int r = 0;
      for (; r + 2 <= nr; r += 2)
        AddWeightedRows<kHs, 2>(d, out + (t0 + r) * out_ld, out_ld, rescale + r, st[r], kBlock, 1, vb, ld,
                                std::min(kBlock, t0 + r + 2 - j0), hs);
      if (r < nr)
        AddWeightedRows<kHs, 1>(d, out + (t0 + r) * out_ld, out_ld, rescale + r, st[r], kBlock, 1, vb, ld,
                                std::min(kBlock, t0 + r + 1 - j0), hs);
    }
    for (int r = 0; r < nr; r++) {
      ScaleRow(d, out + (t0 + r) * out_ld, 1.0f / l[r], hs);
      lse[t0 + r] = m[r] + std::log(l[r]);
    }
  }
}

// GPT-2's 64-channel heads get a compiled-in size.
void ForwardHead(float* out, float* lse, float* kt, const float* q, const float* k, const float* v, int64_t ld,
                 int64_t out_ld, int T, int hs, float scale) {
  if (hs == 64) ForwardHeadT<64>(out, lse, kt, q, k, v, ld, out_ld, T, hs, scale);
  else ForwardHeadT<0>(out, lse, kt, q, k, v, ld, out_ld, T, hs, scale);
}

// One query against n keys and values (rows ld floats apart, hs channels):
// row[0..n) = e^(q . k / sqrt(hs) - max), out (hs) = (row . v) / sum(row).
// Two passes over a stored row: for a single query that is simplest, and
// generation keeps no statistics for a backward pass.
void AttendOneQuery(float* out, float* row, const float* q, const float* k, const float* v, int64_t ld, int n,
                    int hs, float scale) {
  const hn::ScalableTag<float> d;
  using Vec = hn::Vec<decltype(d)>;
  constexpr int L = kLanes<decltype(d)>;
  float maxv = -INFINITY;
  for (int t = 0; t < n; t++) {
    row[t] = Dot(d, q, k + t * ld, hs) * scale;
    maxv = std::max(row[t], maxv);
  }
  const Vec vmax = hn::Set(d, maxv);
  Vec vsum = hn::Zero(d);
  int t = 0;
  for (; t + L <= n; t += L) {
    const Vec e = FastExp(d, hn::Sub(hn::LoadU(d, row + t), vmax));
    hn::StoreU(e, d, row + t);
    vsum = hn::Add(vsum, e);
  }
  if (t < n) {
    const Vec e = hn::IfThenElseZero(hn::FirstN(d, n - t), FastExp(d, hn::Sub(LoadPartial(d, row + t, n - t, maxv), vmax)));
    StorePartial(d, e, row + t, n - t);
    vsum = hn::Add(vsum, e);
  }
  std::memset(out, 0, sizeof(float) * hs);
  if (hs == 64) AddWeightedRows<64, 1>(d, out, 0, nullptr, row, 0, 1, v, ld, n, hs);
  else AddWeightedRows<0, 1>(d, out, 0, nullptr, row, 0, 1, v, ld, n, hs);
  ScaleRow(d, out, 1.0f / hn::GetLane(hn::SumOfLanes(d, vsum)), hs);
}

// Heads in sequence: a single query is too little work to share between threads.
void DecodeHeads(float* out, float* scratch, const float* q, const float* k_cache, const float* v_cache, int64_t ld,
                 int n_ctx, int C, int NH) {
  const int hs = C / NH;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  for (int h = 0; h < NH; h++)
    AttendOneQuery(out + h * hs, scratch, q + h * hs, k_cache + h * hs, v_cache + h * hs, ld, n_ctx, hs, scale);
}

}  // namespace HWY_NAMESPACE
}  // namespace cpu_llm
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace cpu_llm {

HWY_EXPORT(ForwardHead);
HWY_EXPORT(DecodeHeads);

namespace {

// Per thread: a head's keys and values in panels (TransposeToPanels), hs x
// RoundUpToBlock(T) floats each, rounded up to 16 floats so that threads'
// slices do not share cache lines.
int64_t ScratchPerThread(int T, int hs) { return (2 * (int64_t)hs * attn::RoundUpToBlock(T) + 15) / 16 * 16; }

}  // namespace

int64_t attention_scratch_floats(int n_threads, int T, int C, int NH) {
  return (int64_t)n_threads * ScratchPerThread(T, C / NH);
}

void attention_forward(const Context& ctx, float* out, float* lse, float* scratch, const float* qkv, int B, int T,
                       int C, int NH) {
  const int hs = C / NH;
  const int64_t C3 = 3 * (int64_t)C;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  // One (b, h) head per task: the head's transposed keys are built once and
  // used by all T queries.
#pragma omp parallel for collapse(2) schedule(static) num_threads(ctx.n_threads)
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++) {
      float* kt = scratch + omp_get_thread_num() * ScratchPerThread(T, hs);
      const float* q = qkv + (int64_t)b * T * C3 + h * hs;
      float* o = out + (int64_t)b * T * C + h * hs;
      float* l = lse + ((int64_t)b * NH + h) * T;
      HWY_DYNAMIC_DISPATCH(ForwardHead)(o, l, kt, q, q + C, q + 2 * C, C3, C, T, hs, scale);
    }
}

void attention_decode(float* out, float* scratch, const float* q, const float* k_cache, const float* v_cache,
                      int64_t ld, int n_ctx, int C, int NH) {
  HWY_DYNAMIC_DISPATCH(DecodeHeads)(out, scratch, q, k_cache, v_cache, ld, n_ctx, C, NH);
}

}  // namespace cpu_llm
#endif  // HWY_ONCE
