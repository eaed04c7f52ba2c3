// Plain (non-SIMD) pieces shared by the fused attention forward and backward
// (attention.cc, attention_backward.cc): the block size and the key
// transpose. The vector inner products are in attention-inl.h. Internal to
// the kernels; not part of their interface.
#pragma once

#include <cstdint>

namespace cpu_llm::attn {

// Keys are taken kBlock at a time, and queries in tiles of kBlock rows: a
// block of transposed keys (hs x kBlock) and of values (kBlock x hs) stays in
// L1 while every row of the tile uses it. 32 keys are 4 AVX2 vectors of
// scores (2 AVX-512 ones), few enough to stay in registers, and the causal
// diagonal block wastes at most 31 masked scores per row.
constexpr int kBlock = 32;

inline int RoundUpToBlock(int n) { return (n + kBlock - 1) / kBlock * kBlock; }

// Rows 0..T of x (T rows of hs, ld apart) transposed into panels: for each
// block of kBlock rows, an (hs, kBlock) panel, contiguous, hs * kBlock floats
// apart; the rows T..Tp of the last panel are zero. With keys (or values) as
// columns, the scores of a query against a block are a sum of hs panel rows
// scaled by the query's channels: a loop along the keys that vectorizes
// without horizontal sums. A panel is one contiguous 8 KB (hs = 64): a plain
// (hs, T) transpose would put its rows T floats apart, a power-of-two stride
// that makes them collide in the same L1 sets.
inline void TransposeToPanels(float* xt, const float* x, int64_t ld, int T, int hs) {
  for (int t = 0; t < RoundUpToBlock(T); t++) {
    float* col = xt + (int64_t)(t / kBlock) * hs * kBlock + t % kBlock;
    for (int i = 0; i < hs; i++) col[i * kBlock] = t < T ? x[t * ld + i] : 0.0f;
  }
}

}  // namespace cpu_llm::attn
