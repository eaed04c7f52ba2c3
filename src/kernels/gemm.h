// Packed, blocked single-precision GEMM in Highway ops (gemm.cc), run on the
// best SIMD target the CPU has (HWY_DYNAMIC_DISPATCH). The three products of
// a linear layer are this one product with different strides, which is how
// matmul.cc's tiled backend calls it.
#pragma once

#include <cstdint>

#include "core/context.h"

namespace cpu_llm {

// A read-only matrix as a pointer and two strides: element (i, j) is at
// data[i * row_stride + j * col_stride]. A transposed operand is the same
// memory with the strides swapped.
struct StridedMatrix {
  const float* data;
  int64_t row_stride;
  int64_t col_stride;
};

// c (M,N), rows ldc apart:
//   accumulate == false: c = a (M,K) . b (K,N) + bias (N)   (bias may be null)
//   accumulate == true:  c += a . b                          (bias must be null)
// Work is split over ctx.n_threads threads by blocks of c, and every element
// sums its K terms in the same order whatever the split, so the result is
// bit-identical for any thread count. c must not overlap a, b or bias.
// With ctx.precision bf16 or fp16, a and b are rounded to the format (to
// nearest even) as they are packed: the result is exactly the fp32 product
// of the rounded operands (products of two 16-bit values are exact in fp32).
// bias is added unrounded.
void Gemm(const Context& ctx, int M, int N, int K, StridedMatrix a, StridedMatrix b, const float* bias, float* c,
          int64_t ldc, bool accumulate);

}  // namespace cpu_llm
