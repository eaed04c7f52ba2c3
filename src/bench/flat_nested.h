// Flat versus nested tensor storage, measured on one MLP-style layer:
//   out = GELU(inp . W^T + b), forward and backward (dinp, dW, db).
// The same layer is written twice with the same loops in the same order and
// the same arithmetic: once over std::vector<std::vector<float>> (one inner
// vector per row) and once over flat, contiguous row-major arrays. Both are
// plain scalar code built with the same flags, so any difference in time comes
// from the storage layout alone. Neither is how the project computes this
// layer: kernels/matmul.cc is register-tiled and far faster than both, and is
// measured by bench/bench_kernels.cc.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"

namespace cpu_llm {

struct FlatNestedResult {
  int N, C, OC, reps;
  double nested_ms_median, nested_ms_min, nested_ms_max;  // one forward+backward
  double flat_ms_median, flat_ms_min, flat_ms_max;
  double max_abs_diff;  // between the two implementations' out/dinp/dW/db, must be 0 or tiny
};

// Runs both layouts `reps` times each, alternating nested and flat so machine noise hits both alike.
Status RunFlatVsNested(int N, int C, int OC, int reps, FlatNestedResult* result);

// A d6 MLP (C=384, 4C=1536) at B*T=256. One forward+backward takes ~0.2 s
// per layout on one core, so 5 reps (plus one untimed pass each) is ~2.5 s.
constexpr int kFlatNestedN = 256, kFlatNestedC = 384, kFlatNestedOC = 1536, kFlatNestedReps = 5;

// The layer's tensors as flat row-major arrays: inp (N,C), w (OC,C), b (OC),
// pre (N,OC) = inp . w^T + b, out (N,OC) = gelu(pre), dout (N,OC) given,
// dpre (N,OC), dinp (N,C), dw (OC,C), db (OC).
struct FlatLayer {
  int N = 0, C = 0, OC = 0;
  std::vector<float> inp, w, b, dout;
  std::vector<float> pre, out, dpre, dinp, dw, db;
};

// The same tensors, every matrix stored as a vector of row vectors
// (inp[n][c], w[o][c], ...). Vectors (b, db) have no rows to nest.
struct NestedLayer {
  int N = 0, C = 0, OC = 0;
  std::vector<std::vector<float>> inp, w, dout;
  std::vector<float> b;
  std::vector<std::vector<float>> pre, out, dpre, dinp, dw;
  std::vector<float> db;
};

// Deterministic inputs from `seed`: inp and dout ~ N(0,1), w ~ N(0, 1/C) so
// pre-activations are O(1) and GELU is exercised on both sides of zero,
// b ~ N(0, 0.1^2). Outputs are allocated and zeroed. Sizes must be > 0.
void MakeFlatLayer(int N, int C, int OC, uint64_t seed, FlatLayer* layer);
// A nested copy of the same values.
void MakeNestedLayer(const FlatLayer& flat, NestedLayer* layer);

// One forward and backward pass; dinp, dw and db are overwritten (not
// accumulated), so repeated passes give the same results.
void FlatForwardBackward(FlatLayer* layer);
void NestedForwardBackward(NestedLayer* layer);

// Largest |difference| between the two layers' out, dinp, dw and db.
double MaxAbsDiff(const FlatLayer& flat, const NestedLayer& nested);

}  // namespace cpu_llm
