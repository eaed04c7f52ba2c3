#include "bench/peak.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>

#include "core/sysinfo.h"
#include "core/timer.h"

namespace cpu_llm {
namespace {

// Twelve independent accumulators: FMA has a latency of 4-5 cycles and two
// pipes on recent cores, so fewer chains would measure latency, not throughput.
constexpr int kChains = 12;

// Each function returns FLOPs done; the sum feeds a sink so nothing is elided.
__attribute__((target("avx512f"))) double FmaBurstAvx512(int64_t iters, float* sink) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; i++) acc[i] = _mm512_set1_ps(0.001f * i);
  const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; it++)
    for (int i = 0; i < kChains; i++) acc[i] = _mm512_fmadd_ps(acc[i], m, a);
  __m512 s = acc[0];
  for (int i = 1; i < kChains; i++) s = _mm512_add_ps(s, acc[i]);
  float lanes[16];
  _mm512_storeu_ps(lanes, s);
  for (float v : lanes) *sink += v;
  return 2.0 * 16 * kChains * static_cast<double>(iters);
}

__attribute__((target("avx2,fma"))) double FmaBurstAvx2(int64_t iters, float* sink) {
  __m256 acc[kChains];
  for (int i = 0; i < kChains; i++) acc[i] = _mm256_set1_ps(0.001f * i);
  const __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; it++)
    for (int i = 0; i < kChains; i++) acc[i] = _mm256_fmadd_ps(acc[i], m, a);
  __m256 s = acc[0];
  for (int i = 1; i < kChains; i++) s = _mm256_add_ps(s, acc[i]);
  float lanes[8];
  _mm256_storeu_ps(lanes, s);
  for (float v : lanes) *sink += v;
  return 2.0 * 8 * kChains * static_cast<double>(iters);
}

double FmaBurstScalar(int64_t iters, float* sink) {
  float acc[kChains];
  for (int i = 0; i < kChains; i++) acc[i] = 0.001f * i;
  for (int64_t it = 0; it < iters; it++)
    for (int i = 0; i < kChains; i++) acc[i] = acc[i] * 0.999999f + 1e-7f;
  for (float v : acc) *sink += v;
  return 2.0 * kChains * static_cast<double>(iters);
}

// vdpbf16ps: per 32-bit lane, two bf16 products added to an fp32 accumulator
// (4 FLOPs per lane, 64 per instruction).
__attribute__((target("avx512f,avx512bf16"))) double Bf16BurstAvx512(int64_t iters, float* sink) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; i++) acc[i] = _mm512_set1_ps(0.0f);
  const __m512bh x = (__m512bh)_mm512_set1_epi16(0x3F80);  // 1.0 in bf16
  const __m512bh y = (__m512bh)_mm512_set1_epi16(0x3380);  // ~6e-8 in bf16
  for (int64_t it = 0; it < iters; it++)
    for (int i = 0; i < kChains; i++) acc[i] = _mm512_dpbf16_ps(acc[i], x, y);
  __m512 s = acc[0];
  for (int i = 1; i < kChains; i++) s = _mm512_add_ps(s, acc[i]);
  float lanes[16];
  _mm512_storeu_ps(lanes, s);
  for (float v : lanes) *sink += v;
  return 4.0 * 16 * kChains * static_cast<double>(iters);
}

// GFLOP/s of `burst` run on `threads` threads at once: the best of 5 bursts
// in each of 4 rounds a second apart. On a shared machine a neighbour busy
// for a moment would otherwise halve the peak, and every MFU derived from it
// would come out doubled.
template <typename Burst>
double MeasureBurst(int threads, int64_t iters, Burst burst) {
  double best = 0.0;
  for (int rep = 0; rep < 20; rep++) {
    if (rep > 0 && rep % 5 == 0) std::this_thread::sleep_for(std::chrono::seconds(1));
    double flops = 0.0;
    float sink = 0.0f;
    Timer timer;
#pragma omp parallel num_threads(threads) reduction(+ : flops, sink)
    flops += burst(iters, &sink);
    const double s = timer.Ms() / 1000.0;
    if (sink == 12345.678f) flops += 1.0;  // keeps the sink alive
    best = std::max(best, flops / s / 1e9);
  }
  return best;
}

}  // namespace

PeakFlops MeasurePeak(int threads) {
  PeakFlops peak;
  peak.threads = threads;
  // ~5M iterations of 12 chains: tens of milliseconds per burst.
  constexpr int64_t kIters = 5'000'000;
  if (__builtin_cpu_supports("avx512f")) {
    peak.fp32_isa = "AVX-512 FMA";
    peak.fp32_gflops = MeasureBurst(threads, kIters, FmaBurstAvx512);
  } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    peak.fp32_isa = "AVX2 FMA";
    peak.fp32_gflops = MeasureBurst(threads, kIters, FmaBurstAvx2);
  } else {
    peak.fp32_isa = "scalar";
    peak.fp32_gflops = MeasureBurst(threads, kIters / 4, FmaBurstScalar);
  }
  if (CpuHasAvx512Bf16()) peak.bf16_gflops = MeasureBurst(threads, kIters, Bf16BurstAvx512);
  return peak;
}

}  // namespace cpu_llm
