// Blocked, packed GEMM (see gemm.h) in Highway ops. hwy/foreach_target.h
// compiles this file once per SIMD target and Gemm runs the best one the CPU
// supports (HWY_DYNAMIC_DISPATCH).
//
// The blocking follows the Goto/BLIS scheme: the product is cut into KC-deep
// slices of K; a KC x NC panel of b is copied ("packed") into NR-wide
// slivers and an MC x KC block of a into MR-tall slivers, each sliver laid out
// k-major so the micro-kernel reads both with unit stride whatever the
// strides of the operands. The micro-kernel keeps an MR x NR tile of c in
// registers over the whole KC slice, and the sizes are chosen so that one
// b sliver stays in L1, the a block in L2 and the b panel in L3 while they
// are reused.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gemm.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "hwy/aligned_allocator.h"
#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "kernels/convert-inl.h"
#include "kernels/gemm.h"

// What every target shares, compiled once: foreach_target.h includes this
// file again for each target, and this guard keeps the second and later
// copies out.
#ifndef CPU_LLM_KERNELS_GEMM_SHARED_
#define CPU_LLM_KERNELS_GEMM_SHARED_
namespace cpu_llm::gemm_detail {

// Cache blocking, the same on every target. A packed b sliver (kKC x NR,
// 16 KB at NR = 16) fits L1 next to the a sliver; the packed a block (kMC x
// kKC, 144 KB) stays in L2 while the b panel streams past it; the b panel
// (kKC x kNC, 4 MB) is reused from L3 by every a block. kMC is a multiple of
// every target's MR and kNC of every NR, so zero-padded edge slivers fit too.
// On Zen 3 (32 KB L1d, 512 KB L2) KC/MC = 384/96, 512/72 and 256/72 measured
// the same as 256/144 within the noise of a shared machine.
constexpr int kKC = 256;
constexpr int kMC = 144;
constexpr int kNC = 4096;

struct GemmArgs {
  int M, N, K;
  StridedMatrix a, b;
  const float* bias;
  float* c;
  int64_t ldc;
  bool accumulate;
  Precision precision;  // operands rounded to it as they are packed
  // b's offset in Context::sr_weights when it lies there and bf16 products
  // round it stochastically; -1 otherwise.
  int64_t b_sr_offset;
  uint32_t sr_seed;  // folded to 32 bits (ref::FoldSeed)
};

struct PackBuffers {
  float* a;  // kMC x kKC
  float* b;  // kKC x kNC
};

// The calling thread's packing buffers, allocated (64-byte aligned) on its
// first product and freed when the thread exits. OpenMP keeps its pool
// threads, so after the first training step no product allocates. Per thread
// because each thread packs the operands of its own part of c (GemmThread).
inline PackBuffers ThreadPackBuffers() {
  thread_local const hwy::AlignedFreeUniquePtr<float[]> a = hwy::AllocateAligned<float>(size_t{kMC} * kKC);
  thread_local const hwy::AlignedFreeUniquePtr<float[]> b = hwy::AllocateAligned<float>(size_t{kKC} * kNC);
  return {a.get(), b.get()};
}

}  // namespace cpu_llm::gemm_detail
#endif  // CPU_LLM_KERNELS_GEMM_SHARED_

HWY_BEFORE_NAMESPACE();
namespace cpu_llm {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using gemm_detail::GemmArgs;
using gemm_detail::kKC;
using gemm_detail::kMC;
using gemm_detail::kNC;

using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;

// Register tile of kMR rows x kNR = kNV vectors of columns. With 16 vector
// registers (AVX2, SSE4) 6 x 2 accumulators leave room for the two b vectors
// and the broadcast a value: per k, 8 loads feed 12 FMAs (measured on Zen 3
// against 4 x 3, which came out the same within noise). AVX-512's 32
// registers hold 12 x 2 (not measured: no AVX-512 machine was at hand).
constexpr int kLanes = HWY_LANES(float);
constexpr int kNV = 2;
constexpr int kNR = kNV * kLanes;
constexpr int kMR = kLanes >= 16 ? 12 : 6;
static_assert(kMC % kMR == 0 && kNC % kNR == 0, "edge slivers are padded to whole slivers inside the buffers");

// Copies `valid` (<= W) lanes x kc of an operand into dst as kc groups of W
// floats, lanes past `valid` set to zero: W = kMR rows of a, or kNR columns
// of b. lane_stride and k_stride are the operand's strides along the sliver
// and along k.
//
// When k is the contiguous direction (the forward's weight and input) the
// copy is a transpose. Each lane's run is then only kc floats, too short for
// the hardware prefetcher to catch, so the next sliver's runs are fetched
// ahead (a prefetch past the operand's end is harmless: it never faults).
constexpr int kLineFloats = 16;
// Without transposing, each k of a sliver is its own row of the operand,
// W floats of it, rows far apart: a prefetch this many rows ahead.
constexpr int kPrefetchRows = 8;

#if HWY_TARGET != HWY_SCALAR
// Full slivers, W a multiple of 2: 4 x 4 blocks transposed in 128-bit
// registers (every target but the scalar one has them), and a last pair of
// lanes (W = 6) as 2 x 4 blocks; a quarter of the loads and stores of the
// element-by-element copy.
// Mixed precision rounds the values as they are copied (RoundToPrecision,
// an identity for fp32), so the packed sliver is not passed over twice.
template <int W>
void PackTransposed(const float* src, int64_t lane_stride, int kc, Precision round, float* HWY_RESTRICT dst) {
  static_assert(W % 2 == 0, "lanes are taken in fours and a last pair");
  const hn::Full128<float> d4;
  const hn::Half<decltype(d4)> d2;
  auto load = [&](const float* p) { return RoundToPrecision(d4, hn::LoadU(d4, p), round); };
  int k = 0;
  for (; k + 4 <= kc; k += 4) {
    if (k % kLineFloats == 0)
      for (int l = 0; l < W; l++) hwy::Prefetch(src + (W + l) * lane_stride + k);
    int l = 0;
    for (; l + 4 <= W; l += 4) {
      const float* s = src + l * lane_stride + k;
      const auto r0 = load(s), r1 = load(s + lane_stride);
      const auto r2 = load(s + 2 * lane_stride), r3 = load(s + 3 * lane_stride);
      // t0 = (r0[0] r1[0] r0[1] r1[1]), t1 = (r2[0] r3[0] r2[1] r3[1]); t2, t3 the same of k + 2, k + 3.
      const auto t0 = hn::InterleaveLower(d4, r0, r1), t1 = hn::InterleaveLower(d4, r2, r3);
      const auto t2 = hn::InterleaveUpper(d4, r0, r1), t3 = hn::InterleaveUpper(d4, r2, r3);
      hn::StoreU(hn::ConcatLowerLower(d4, t1, t0), d4, dst + (k + 0) * W + l);
      hn::StoreU(hn::ConcatUpperUpper(d4, t1, t0), d4, dst + (k + 1) * W + l);
      hn::StoreU(hn::ConcatLowerLower(d4, t3, t2), d4, dst + (k + 2) * W + l);
      hn::StoreU(hn::ConcatUpperUpper(d4, t3, t2), d4, dst + (k + 3) * W + l);
    }
    if constexpr (W % 4 == 2) {
      const float* s = src + l * lane_stride + k;
      const auto r0 = load(s), r1 = load(s + lane_stride);
      const auto t0 = hn::InterleaveLower(d4, r0, r1), t2 = hn::InterleaveUpper(d4, r0, r1);
      hn::StoreU(hn::LowerHalf(d2, t0), d2, dst + (k + 0) * W + l);
      hn::StoreU(hn::UpperHalf(d2, t0), d2, dst + (k + 1) * W + l);
      hn::StoreU(hn::LowerHalf(d2, t2), d2, dst + (k + 2) * W + l);
      hn::StoreU(hn::UpperHalf(d2, t2), d2, dst + (k + 3) * W + l);
    }
  }
  for (; k < kc; k++)
    for (int l = 0; l < W; l++) dst[k * W + l] = RoundToPrecision(src[l * lane_stride + k], round);
}
#endif

// The slivers at the operands' edges (fewer than W valid lanes), and those
// of operands strided both ways: element by element, lanes past `valid` zero.
template <int W>
void PackSliverEdge(const float* src, int64_t lane_stride, int64_t k_stride, int valid, int kc, float* HWY_RESTRICT dst) {
  if (k_stride == 1) {  // transposing, element by element
    for (int l = 0; l < valid; l++) {
      const float* s = src + l * lane_stride;
      for (int k = 0; k < kc; k += kLineFloats) hwy::Prefetch(s + W * lane_stride + k);
      for (int k = 0; k < kc; k++) dst[k * W + l] = s[k];
    }
    for (int l = valid; l < W; l++)
      for (int k = 0; k < kc; k++) dst[k * W + l] = 0.0f;
    return;
  }
  for (int k = 0; k < kc; k++)
    for (int l = 0; l < W; l++) dst[k * W + l] = l < valid ? src[k * k_stride + l * lane_stride] : 0.0f;
}

// Packs a sliver with its values rounded to `round` (see PackTransposed).
template <int W>
void PackSliver(const float* src, int64_t lane_stride, int64_t k_stride, int valid, int kc, Precision round,
                float* HWY_RESTRICT dst) {
  if (lane_stride == 1 && valid == W) {
    if (round == Precision::kFp32 || W % kLanes != 0) {
      for (int k = 0; k < kc; k++) {
        hwy::Prefetch(src + (k + kPrefetchRows) * k_stride);
        std::memcpy(dst + k * W, src + k * k_stride, W * sizeof(float));
      }
      RoundSpanInPlace(round, dst, int64_t{kc} * W);
      return;
    }
    const D d;
    for (int k = 0; k < kc; k++) {
      hwy::Prefetch(src + (k + kPrefetchRows) * k_stride);
      for (int l = 0; l + kLanes <= W; l += kLanes)
        hn::Store(RoundToPrecision(d, hn::LoadU(d, src + k * k_stride + l), round), d, dst + k * W + l);
    }
    return;
  }
#if HWY_TARGET != HWY_SCALAR
  if constexpr (W % 2 == 0) {
    if (k_stride == 1 && valid == W) return PackTransposed<W>(src, lane_stride, kc, round, dst);
  }
#endif
  PackSliverEdge<W>(src, lane_stride, k_stride, valid, kc, dst);
  RoundSpanInPlace(round, dst, int64_t{kc} * W);
}

// A packed b sliver (kc x kNR) rounded to bf16 stochastically: element
// (k, l) came from the operand's offset `offset` + k * k_stride + l *
// lane_stride in the weights, whose hash gives its noise (u32 arithmetic,
// as ref::RoundingNoise wraps the index). Padding lanes hold zero, which
// stays zero.
void RoundSliverStochastic(float* HWY_RESTRICT dst, int kc, int64_t offset, int64_t k_stride, int64_t lane_stride,
                           uint32_t seed) {
  const D d;
  const hn::RebindToUnsigned<D> du;
  using VU = hn::Vec<decltype(du)>;
  const VU golden = hn::Set(du, 0x9E3779B1u), seed_v = hn::Set(du, seed), top = hn::Set(du, 0xFFFF0000u);
  VU lane_offset[kNV];
  for (int v = 0; v < kNV; v++) {
    HWY_ALIGN uint32_t lanes[kLanes];
    for (int l = 0; l < kLanes; l++) lanes[l] = static_cast<uint32_t>((v * kLanes + l) * lane_stride);
    lane_offset[v] = hn::Load(du, lanes);
  }
  for (int k = 0; k < kc; k++) {
    const VU row = hn::Set(du, static_cast<uint32_t>(offset + k * k_stride));
    for (int v = 0; v < kNV; v++) {
      float* p = dst + k * kNR + v * kLanes;
      const VU weyl = hn::Add(hn::Mul(hn::Add(row, lane_offset[v]), golden), seed_v);
      const VU rounded = Bf16RoundedBits(d, hn::BitCast(du, hn::Load(d, p)), RoundingNoise(weyl));
      hn::Store(hn::BitCast(d, hn::And(rounded, top)), d, p);
    }
  }
}

// c tile (rows x cols of kMR x kNR valid) += packed a sliver (kc x kMR) .
// packed b sliver (kc x kNR); with `overwrite`, c = product + bias instead.
// Each element's k terms are summed in order into one accumulator, so its
// value does not depend on which thread or which block computed it.
void MicroKernel(const float* HWY_RESTRICT a, const float* HWY_RESTRICT b, int kc, float* HWY_RESTRICT c,
                 int64_t ldc, int rows, int cols, bool overwrite, const float* HWY_RESTRICT bias) {
  const D d;
  // The c tile is read (or written) only after the kc loop; fetching its
  // rows now hides the cache misses behind the loop instead of stalling the
  // write-back on them.
  for (int r = 0; r < rows; r++) {
    hwy::Prefetch(c + r * ldc);
    hwy::Prefetch(c + r * ldc + cols - 1);
  }
  // The loops over r are unrolled before GCC's scalar replacement runs, so
  // the accumulator arrays become registers (left to the late unroller, the
  // arrays stayed on the stack and were stored every k).
  V acc[kMR][kNV];
#pragma GCC unroll 16
  for (int r = 0; r < kMR; r++)
#pragma GCC unroll 4
    for (int v = 0; v < kNV; v++) acc[r][v] = hn::Zero(d);
  for (int k = 0; k < kc; k++, a += kMR, b += kNR) {
    V bv[kNV];
#pragma GCC unroll 4
    for (int v = 0; v < kNV; v++) bv[v] = hn::Load(d, b + v * kLanes);
#pragma GCC unroll 16
    for (int r = 0; r < kMR; r++) {
      const V ar = hn::Set(d, a[r]);
#pragma GCC unroll 4
      for (int v = 0; v < kNV; v++) acc[r][v] = hn::MulAdd(ar, bv[v], acc[r][v]);
    }
  }
  if (rows == kMR && cols == kNR) {
    V bias_v[kNV];
#pragma GCC unroll 4
    for (int v = 0; v < kNV; v++) bias_v[v] = bias ? hn::LoadU(d, bias + v * kLanes) : hn::Zero(d);
#pragma GCC unroll 16
    for (int r = 0; r < kMR; r++)
#pragma GCC unroll 4
      for (int v = 0; v < kNV; v++) {
        float* cv = c + r * ldc + v * kLanes;
        hn::StoreU(hn::Add(overwrite ? bias_v[v] : hn::LoadU(d, cv), acc[r][v]), d, cv);
      }
    return;
  }
  // Edge tile: the padded lanes hold zeros and are dropped here.
  HWY_ALIGN float tile[kMR * kNR];
#pragma GCC unroll 16
  for (int r = 0; r < kMR; r++)
#pragma GCC unroll 4
    for (int v = 0; v < kNV; v++) hn::Store(acc[r][v], d, tile + r * kNR + v * kLanes);
  for (int r = 0; r < rows; r++) {
    float* cr = c + r * ldc;
    for (int j = 0; j < cols; j++) cr[j] = (overwrite ? (bias ? bias[j] : 0.0f) : cr[j]) + tile[r * kNR + j];
  }
}

// c[m][n0:n1] for every row m as plain dot products, for a product of fewer
// rows than a register tile whose a rows and b columns are both contiguous
// along k (the forward with one token, e.g. KV-cache decoding). Packing would
// copy all of b to use it fewer than kMR times, and the tile would be mostly
// padding; here b is read once, straight from the operand. Each sum runs over
// k in one fixed order, so it too is independent of the thread count.
void DotColumns(const GemmArgs& g, int n0, int n1) {
  const D d;
  for (int n = n0; n < n1; n++) {
    const float* bn = g.b.data + n * g.b.col_stride;
    for (int m = 0; m < g.M; m++) {
      const float* am = g.a.data + m * g.a.row_stride;
      // Four accumulators keep four FMAs in flight.
      V acc[4] = {hn::Zero(d), hn::Zero(d), hn::Zero(d), hn::Zero(d)};
      // Mixed precision rounds the operands as they are loaded (they are
      // not packed here).
      const Precision p = g.precision;
      auto load = [&](const float* x) { return RoundToPrecision(d, hn::LoadU(d, x), p); };
      // b stochastically rounded (weights in bf16 with Context::sr_weights)
      // takes the scalar reference lane by lane: this path serves decoding,
      // which does not use it, and the rare training batch under kMR rows.
      const bool sr = g.b_sr_offset >= 0;
      const int64_t b_offset = g.b_sr_offset + n * g.b.col_stride;
      auto round_b = [&](int k) {
        return sr ? ref::bf16_to_f32(ref::f32_to_bf16_stochastic(bn[k], g.sr_seed, b_offset + k))
                  : RoundToPrecision(bn[k], p);
      };
      auto load_b = [&](int k) {
        if (!sr) return load(bn + k);
        HWY_ALIGN float lanes[kLanes];
        for (int l = 0; l < kLanes; l++) lanes[l] = round_b(k + l);
        return hn::Load(d, lanes);
      };
      int k = 0;
      for (; k + 4 * kLanes <= g.K; k += 4 * kLanes)
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++) acc[v] = hn::MulAdd(load(am + k + v * kLanes), load_b(k + v * kLanes), acc[v]);
      for (; k + kLanes <= g.K; k += kLanes) acc[0] = hn::MulAdd(load(am + k), load_b(k), acc[0]);
      float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(acc[0], acc[1]), hn::Add(acc[2], acc[3]))));
      for (; k < g.K; k++) sum += RoundToPrecision(am[k], p) * round_b(k);
      float* cmn = g.c + m * g.ldc + n;
      *cmn = g.accumulate ? *cmn + sum : sum + (g.bias ? g.bias[n] : 0.0f);
    }
  }
}

// The part of the product that belongs to `thread` of n_threads: a block of
// whole rows or of whole columns of c, whichever dimension is longer (the
// other operand's packing is then repeated by every thread, the cheaper of
// the two). Each thread packs its own operands into its own buffers, so the
// threads never wait for each other inside the product: no barrier, the only
// synchronisation is the join at the end of the parallel region. Sharing the
// packing would save only its repeated half: in profiles of the 124M shapes
// on two threads the operand every thread packs in full took 1.4-4.2% of the
// time, so at most ~2% to gain, against a barrier per panel and K slice at
// which a thread held up by another process on the machine stalls the others.
void GemmThread(const GemmArgs& g, int thread, int n_threads) {
  int m0 = 0, m1 = g.M, n0 = 0, n1 = g.N;
  const bool dot = g.M < kMR && g.a.col_stride == 1 && g.b.row_stride == 1;
  if (dot || g.N >= g.M) {
    const int slivers = (g.N + kNR - 1) / kNR;
    n0 = std::min(g.N, static_cast<int>(int64_t{slivers} * thread / n_threads) * kNR);
    n1 = std::min(g.N, static_cast<int>(int64_t{slivers} * (thread + 1) / n_threads) * kNR);
  } else {
    const int slivers = (g.M + kMR - 1) / kMR;
    m0 = std::min(g.M, static_cast<int>(int64_t{slivers} * thread / n_threads) * kMR);
    m1 = std::min(g.M, static_cast<int>(int64_t{slivers} * (thread + 1) / n_threads) * kMR);
  }
  if (m0 >= m1 || n0 >= n1) return;
  if (dot) return DotColumns(g, n0, n1);
  const gemm_detail::PackBuffers buf = gemm_detail::ThreadPackBuffers();
  const StridedMatrix& a = g.a;
  const StridedMatrix& b = g.b;
  for (int jc = n0; jc < n1; jc += kNC) {
    const int nc = std::min(kNC, n1 - jc);
    for (int pc = 0; pc < g.K; pc += kKC) {
      const int kc = std::min(kKC, g.K - pc);
      const bool overwrite = !g.accumulate && pc == 0;
      for (int jr = 0; jr < nc; jr += kNR) {
        const int64_t at = pc * b.row_stride + (jc + jr) * b.col_stride;
        const bool sr = g.b_sr_offset >= 0;
        PackSliver<kNR>(b.data + at, b.col_stride, b.row_stride, std::min(kNR, nc - jr), kc,
                        sr ? Precision::kFp32 : g.precision, buf.b + jr * kc);
        if (sr) RoundSliverStochastic(buf.b + jr * kc, kc, g.b_sr_offset + at, b.row_stride, b.col_stride, g.sr_seed);
      }
      for (int ic = m0; ic < m1; ic += kMC) {
        const int mc = std::min(kMC, m1 - ic);
        for (int ir = 0; ir < mc; ir += kMR) {
          PackSliver<kMR>(a.data + (ic + ir) * a.row_stride + pc * a.col_stride, a.row_stride, a.col_stride,
                          std::min(kMR, mc - ir), kc, g.precision, buf.a + ir * kc);
        }
        // One b sliver stays in L1 while the a slivers of the block pass it.
        for (int jr = 0; jr < nc; jr += kNR)
          for (int ir = 0; ir < mc; ir += kMR)
            MicroKernel(buf.a + ir * kc, buf.b + jr * kc, kc, g.c + (ic + ir) * g.ldc + jc + jr, g.ldc,
                        std::min(kMR, mc - ir), std::min(kNR, nc - jr), overwrite,
                        g.bias ? g.bias + jc + jr : nullptr);
      }
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace cpu_llm
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace cpu_llm {

HWY_EXPORT(GemmThread);

void Gemm(const Context& ctx, int M, int N, int K, StridedMatrix a, StridedMatrix b, const float* bias, float* c,
          int64_t ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {  // an empty sum: no K slice would write c
    if (!accumulate)
      for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) c[m * ldc + n] = bias ? bias[n] : 0.0f;
    return;
  }
  // Stochastic rounding applies to a b that lies inside the weights.
  int64_t b_sr_offset = -1;
  if (ctx.precision == Precision::kBf16 && ctx.sr_weights && b.data >= ctx.sr_weights &&
      b.data < ctx.sr_weights + ctx.sr_weights_n)
    b_sr_offset = b.data - ctx.sr_weights;
  const gemm_detail::GemmArgs args{M, N, K, a, b, bias, c, ldc, accumulate, ctx.precision, b_sr_offset,
                                   ref::FoldSeed(ctx.sr_seed)};
  // The split is by omp_get_num_threads(), the team OpenMP actually formed.
#pragma omp parallel num_threads(ctx.n_threads)
  HWY_DYNAMIC_DISPATCH(GemmThread)(args, omp_get_thread_num(), omp_get_num_threads());
}

}  // namespace cpu_llm
#endif  // HWY_ONCE
