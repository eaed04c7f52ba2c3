// Plan item 9: the linear layer's products through oneDNN's dnnl_sgemm, which
// takes row-major matrices and BLAS's transpose flags, so the calls mirror
// matmul_blas.cc. Debian's libdnnl is built on the OpenMP runtime (libgomp,
// the one our kernels use): its parallel regions run on the same pool of
// threads as everything else and take omp_get_max_threads() of the caller as
// their size, which ScopedOmpThreads sets to ctx.n_threads. oneDNN generates
// its kernels for the CPU at run time, on first use, so the first step is
// slower (the bench's warm-up steps absorb it).
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "kernels/matmul.h"
#include "kernels/omp_threads.h"

namespace cpu_llm {
namespace {

// C (M,N) = op(A) (M,K) . op(B) (K,N) + beta * C, all row-major; 'T' flags an
// operand stored transposed. dnnl_sgemm reports failure (arguments it
// rejects, which these callers never pass, or scratch memory it cannot
// allocate) instead of computing. A kernel has no error to return, and an
// accumulating product that failed part-way cannot be repaired, so the
// output is set to NaN: the step's loss or gradient norm turns NaN and the
// trainer stops with "the loss is not finite" rather than train on garbage.
void Sgemm(char transa, char transb, int M, int N, int K, const float* A, int lda, const float* B, int ldb,
           float beta, float* C, int ldc) {
  if (dnnl_sgemm(transa, transb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc) == dnnl_success) return;
  for (int m = 0; m < M; m++) std::fill(C + (int64_t)m * ldc, C + (int64_t)m * ldc + N, NAN);
}

}  // namespace

// out (N,OC) = inp (N,C) . weight^T + bias: bias rows first, then the product
// added to them (beta = 1), as in matmul_blas.cc.
void matmul_forward_onednn(const Context& ctx, float* out, const float* inp, const float* weight, const float* bias,
                           int N, int C, int OC) {
  ScopedOmpThreads threads(ctx.n_threads);
  if (bias) {
#pragma omp parallel for schedule(static) num_threads(ctx.n_threads)
    for (int n = 0; n < N; n++) std::copy(bias, bias + OC, out + (int64_t)n * OC);
  }
  Sgemm('N', 'T', N, OC, C, inp, C, weight, C, bias ? 1.0f : 0.0f, out, OC);
}

// dinp (N,C) = dout . weight (beta = 0); dweight (OC,C) += dout^T . inp
// (beta = 1); dbias += column sums of dout.
void matmul_backward_onednn(const Context& ctx, float* dinp, float* dweight, float* dbias, const float* dout,
                            const float* inp, const float* weight, int N, int C, int OC) {
  ScopedOmpThreads threads(ctx.n_threads);
  if (dinp) Sgemm('N', 'N', N, C, OC, dout, OC, weight, C, 0.0f, dinp, C);
  Sgemm('T', 'N', OC, C, N, dout, OC, inp, C, 1.0f, dweight, C);
  if (dbias) matmul_backward_bias(ctx, dbias, dout, N, OC);
}

std::string OneDnnDescription() {
  const dnnl_version_t* v = dnnl_version();
  const char* runtime = v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "not OpenMP";
  return fmt::format("oneDNN {}.{}.{} ({} threads)", v->major, v->minor, v->patch, runtime);
}

}  // namespace cpu_llm
