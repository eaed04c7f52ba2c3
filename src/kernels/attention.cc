// Fused causal attention, forward, and the single-query decode step. The
// backward is in attention_backward.cc; the blocks both use in
// attention_blocks.h.
//
// Forward of one (b, h) head, FlashAttention-2's order on a CPU: queries in
// tiles of kBlock rows, keys in blocks of kBlock up to the diagonal. Each row
// keeps a running max m and sum l of e^(s - m) over the blocks seen so far
// (online softmax); when a block raises the max, what was summed under the
// old one (l and the output row) is rescaled by e^(m_old - m_new). At the end
// out = (sum of e^(s - m) v) / l and lse = m + log(l). Nothing of size T x T
// is ever written.
#include "kernels/attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/attention_blocks.h"

namespace cpu_llm {

using attn::AddWeightedRows;
using attn::kBlock;
using attn::RoundUpToBlock;
using attn::RowTimesBlock;
using attn::SoftmaxExp;
using attn::TransposeToPanels;

namespace {

// Per thread: a head's keys and values in panels (TransposeToPanels), hs x
// RoundUpToBlock(T) floats each, rounded up to 16 floats so that threads'
// slices do not share cache lines.
int64_t ScratchPerThread(int T, int hs) { return (2 * (int64_t)hs * RoundUpToBlock(T) + 15) / 16 * 16; }

// One head. q, k, v: rows of hs, ld apart; out rows out_ld apart; lse (T);
// kt: scratch for the keys in panels.
template <int kHs>
void ForwardHead(float* out, float* lse, float* kt, const float* q, const float* k, const float* v, int64_t ld,
                 int64_t out_ld, int T, int hs_arg, float scale) {
  const int hs = kHs > 0 ? kHs : hs_arg;
  TransposeToPanels(kt, k, ld, T, hs);
  for (int t0 = 0; t0 < T; t0 += kBlock) {
    const int nr = std::min(kBlock, T - t0);
    float m[kBlock], l[kBlock];  // running max and sum of e^(s - m), per row of the tile
    for (int r = 0; r < nr; r++) {
      m[r] = -INFINITY;
      l[r] = 0.0f;
      std::memset(out + (t0 + r) * out_ld, 0, sizeof(float) * hs);
    }
    for (int j0 = 0; j0 <= t0; j0 += kBlock) {
      for (int r = 0; r < nr; r++) {
        const int t = t0 + r;
        const int n = std::min(kBlock, t + 1 - j0);  // keys j0 .. j0+n-1 are visible to query t
        float s[kBlock];
        RowTimesBlock<kHs>(s, q + t * ld, kt + j0 * hs, hs);  // panel of keys j0..
        float block_max = -INFINITY;
#pragma omp simd reduction(max : block_max)
        for (int j = 0; j < kBlock; j++) {
          s[j] = j < n ? s[j] * scale : -INFINITY;
          block_max = s[j] > block_max ? s[j] : block_max;
        }
        const float m_new = block_max > m[r] ? block_max : m[r];
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < kBlock; j++) {
          // A masked key gives e^-87 ~ 1e-38: lost in a sum >= 1 (the max's
          // own e^0), and not among the n weights used below.
          s[j] = SoftmaxExp(s[j] - m_new);
          sum += s[j];
        }
        // What earlier blocks summed under the old max; 0 on the first block.
        const float rescale = SoftmaxExp(m[r] - m_new);
        float* o = out + t * out_ld;
#pragma omp simd
        for (int i = 0; i < hs; i++) o[i] *= rescale;
        AddWeightedRows<kHs>(o, s, 1, v + j0 * ld, ld, n, hs);
        l[r] = l[r] * rescale + sum;
        m[r] = m_new;
      }
    }
    for (int r = 0; r < nr; r++) {
      float* o = out + (t0 + r) * out_ld;
      const float inv = 1.0f / l[r];
#pragma omp simd
      for (int i = 0; i < hs; i++) o[i] *= inv;
      lse[t0 + r] = m[r] + std::log(l[r]);
    }
  }
}

// One query against n keys and values (rows ld floats apart, hs channels):
// row[0..n) = softmax(q . k / sqrt(hs)), out (hs) = row . v. Two passes over
// a stored row: for a single query that is simplest, and generation keeps no
// statistics for a backward pass.
inline void AttendOneQuery(float* out, float* row, const float* q, const float* k, const float* v, int64_t ld, int n,
                           int hs, float scale) {
  float maxv = -INFINITY;
  for (int t = 0; t < n; t++) {
    const float* kt = k + t * ld;
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < hs; i++) s += q[i] * kt[i];
    row[t] = s * scale;
    maxv = row[t] > maxv ? row[t] : maxv;
  }
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int t = 0; t < n; t++) {
    row[t] = SoftmaxExp(row[t] - maxv);
    sum += row[t];
  }
  const float inv = 1.0f / sum;
  std::memset(out, 0, sizeof(float) * hs);
  for (int t = 0; t < n; t++) {
    row[t] *= inv;
    const float a = row[t];
    const float* vt = v + t * ld;
#pragma omp simd
    for (int i = 0; i < hs; i++) out[i] += a * vt[i];
  }
}

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
  // used by all T queries. GPT-2's 64-channel heads get a compiled-in size.
#pragma omp parallel for collapse(2) schedule(static) num_threads(ctx.n_threads)
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++) {
      float* kt = scratch + omp_get_thread_num() * ScratchPerThread(T, hs);
      const float* q = qkv + (int64_t)b * T * C3 + h * hs;
      float* o = out + (int64_t)b * T * C + h * hs;
      float* l = lse + ((int64_t)b * NH + h) * T;
      if (hs == 64) ForwardHead<64>(o, l, kt, q, q + C, q + 2 * C, C3, C, T, hs, scale);
      else ForwardHead<0>(o, l, kt, q, q + C, q + 2 * C, C3, C, T, hs, scale);
    }
}

void attention_decode(float* out, float* scratch, const float* q, const float* k_cache, const float* v_cache,
                      int64_t ld, int n_ctx, int C, int NH) {
  const int hs = C / NH;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  for (int h = 0; h < NH; h++)
    AttendOneQuery(out + h * hs, scratch, q + h * hs, k_cache + h * hs, v_cache + h * hs, ld, n_ctx, hs, scale);
}

}  // namespace cpu_llm
