#include "kernels/matmul.h"

#include <cstdint>

#include "kernels/gemm.h"

namespace cpu_llm {

void matmul_forward(const Context& ctx, float* out, const float* inp, const float* weight, const float* bias, int N,
                    int C, int OC) {
  switch (ctx.matmul) {
    case MatmulBackend::kNaive: return matmul_forward_naive(ctx, out, inp, weight, bias, N, C, OC);
    case MatmulBackend::kBlas: return matmul_forward_blas(ctx, out, inp, weight, bias, N, C, OC);
    case MatmulBackend::kOneDnn:
      if (ctx.precision != Precision::kFp32)
        return matmul_forward_onednn_lowp(ctx, out, inp, weight, bias, N, C, OC);
      return matmul_forward_onednn(ctx, out, inp, weight, bias, N, C, OC);
    case MatmulBackend::kTiled: break;
  }
  // out (N,OC) = inp (N,C) . weight^T, weight^T (C,OC) read through swapped strides
  Gemm(ctx, N, OC, C, {inp, C, 1}, {weight, 1, C}, bias, out, OC, /*accumulate=*/false);
}

void matmul_backward(const Context& ctx, float* dinp, float* dweight, float* dbias, const float* dout,
                     const float* inp, const float* weight, int N, int C, int OC) {
  switch (ctx.matmul) {
    case MatmulBackend::kNaive: return matmul_backward_naive(ctx, dinp, dweight, dbias, dout, inp, weight, N, C, OC);
    case MatmulBackend::kBlas: return matmul_backward_blas(ctx, dinp, dweight, dbias, dout, inp, weight, N, C, OC);
    case MatmulBackend::kOneDnn:
      if (ctx.precision != Precision::kFp32)
        return matmul_backward_onednn_lowp(ctx, dinp, dweight, dbias, dout, inp, weight, N, C, OC);
      return matmul_backward_onednn(ctx, dinp, dweight, dbias, dout, inp, weight, N, C, OC);
    case MatmulBackend::kTiled: break;
  }
  // dinp (N,C) = dout (N,OC) . weight (OC,C)
  if (dinp) Gemm(ctx, N, C, OC, {dout, OC, 1}, {weight, C, 1}, nullptr, dinp, C, /*accumulate=*/false);
  // dweight (OC,C) += dout^T (OC,N) . inp (N,C)
  Gemm(ctx, OC, C, N, {dout, 1, OC}, {inp, C, 1}, nullptr, dweight, C, /*accumulate=*/true);
  if (dbias) matmul_backward_bias(ctx, dbias, dout, N, OC);
}

Status CheckMatmulPrecision(MatmulBackend backend, Precision precision) {
  if (precision == Precision::kFp32 || backend == MatmulBackend::kTiled) return Status();
  if (backend == MatmulBackend::kOneDnn) return CheckOneDnnPrecision(precision);
  return UsageError("--precision {}: the {} matmul backend computes in fp32 only (use --matmul tiled)",
                    PrecisionName(precision), MatmulBackendName(backend));
}

void matmul_backward_bias(const Context& ctx, float* dbias, const float* dout, int N, int OC) {
  // Each thread owns a contiguous run of output channels and walks the rows in
  // order, so its inner loop reads dout contiguously (a column-at-a-time sum
  // strides OC floats per element) and every dbias[o] still adds its rows in
  // the same order whatever the thread count. Blocks of 64 channels keep the
  // running sums in registers.
  constexpr int kBlock = 64;
  const int n_blocks = (OC + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) num_threads(ctx.n_threads)
  for (int b = 0; b < n_blocks; b++) {
    const int o0 = b * kBlock, width = std::min(kBlock, OC - o0);
    float sums[kBlock] = {};
    for (int n = 0; n < N; n++) {
      const float* row = dout + (int64_t)n * OC + o0;
      for (int i = 0; i < width; i++) sums[i] += row[i];
    }
    for (int i = 0; i < width; i++) dbias[o0 + i] += sums[i];
  }
}

}  // namespace cpu_llm
