// Conversions between fp32 and the 16-bit formats mixed precision stores
// (bf16 and IEEE fp16), held as uint16_t bit patterns. Round to nearest even,
// bit-identical to the scalar references in reference/convert_ref.h on every
// SIMD target; element-wise, so the thread count changes nothing.
#pragma once

#include <cstdint>

#include "core/context.h"

namespace cpu_llm {

// dst (n) = bf16(src (n)), to nearest even.
void f32_to_bf16(const Context& ctx, uint16_t* dst, const float* src, int64_t n);
// dst (n) = bf16(src (n)), stochastically rounded with noise hashed from
// (seed, first_index + i): unbiased, and the same for any thread count.
void f32_to_bf16_stochastic(const Context& ctx, uint16_t* dst, const float* src, int64_t n, uint64_t seed,
                            uint64_t first_index);
void bf16_to_f32(const Context& ctx, float* dst, const uint16_t* src, int64_t n);

// IEEE fp16: F16C instructions where the target has them (AVX2 and up),
// the scalar reference elsewhere.
void f32_to_f16(const Context& ctx, uint16_t* dst, const float* src, int64_t n);
void f16_to_f32(const Context& ctx, float* dst, const uint16_t* src, int64_t n);

// Mixed-precision storage (Context::precision, kBf16 or kFp16). Saving an
// activation: dst (n) = x (n) in the format, to nearest even, and x
// overwritten with those values widened back, so the forward pass goes on
// with exactly what backward will read.
void store_rounded(const Context& ctx, Precision precision, uint16_t* dst, float* x, int64_t n);
// dst (n) = src (n) widened from the format.
void widen_to_f32(const Context& ctx, Precision precision, float* dst, const uint16_t* src, int64_t n);
// x (n) rounded in place to the format's values (kFp32: unchanged).
void round_to_precision(const Context& ctx, Precision precision, float* x, int64_t n);

}  // namespace cpu_llm
