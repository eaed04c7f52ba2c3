// Plan item 9: the linear layer's products through OpenBLAS's cblas_sgemm.
// Row-major throughout; the weight (OC,C) is used as stored, transposed by
// the call's flag rather than copied.
//
// Threads. Debian builds OpenBLAS three ways (libopenblas0-pthread, -openmp,
// -serial) behind one alternatives symlink that defaults to pthread. The
// pthread build keeps its own worker threads, which busy-wait for a while
// after each call before they sleep; on 2 cores they spin on the core the
// next OpenMP kernel (GELU, layernorm, attention) needs, while libgomp's own
// spinning workers do the same to OpenBLAS during the next sgemm. We link the
// OpenMP build instead (CMakeLists.txt takes it from its own directory and
// records that directory in the binary's RUNPATH, so the symlink does not
// matter): its sgemm runs on libgomp's pool, the same threads as every other
// kernel, one region after another, and takes omp_get_max_threads() of the
// caller as its thread count, which ScopedOmpThreads sets to ctx.n_threads.
// To compare with the pthread build, swap it in at run time:
// LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread (searched before
// the RUNPATH).
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "kernels/matmul.h"
#include "kernels/omp_threads.h"

namespace cpu_llm {
namespace {

// ScopedOmpThreads is all the OpenMP build needs. A pthread build, swapped in
// at run time, ignores it and keeps one process-wide count of its own: set
// that too, so such a run still uses ctx.n_threads threads.
class ScopedBlasThreads {
 public:
  explicit ScopedBlasThreads(int n_threads) : omp_(n_threads) {
    constexpr int kPthreadBuild = 1;  // openblas_get_parallel(): 0 serial, 1 pthreads, 2 OpenMP
    if (openblas_get_parallel() == kPthreadBuild && openblas_get_num_threads() != n_threads)
      openblas_set_num_threads(n_threads);
  }

 private:
  ScopedOmpThreads omp_;
};

}  // namespace

// out (N,OC) = inp (N,C) . weight^T + bias. The bias goes in first, as every
// row of out, and sgemm adds the product to it (beta = 1): one write pass over
// out before the product instead of a read-modify-write pass after it.
void matmul_forward_blas(const Context& ctx, float* out, const float* inp, const float* weight, const float* bias,
                         int N, int C, int OC) {
  ScopedBlasThreads threads(ctx.n_threads);
  if (bias) {
#pragma omp parallel for schedule(static) num_threads(ctx.n_threads)
    for (int n = 0; n < N; n++) std::copy(bias, bias + OC, out + (int64_t)n * OC);
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, weight, C, bias ? 1.0f : 0.0f, out,
              OC);
}

// dinp (N,C) = dout (N,OC) . weight (OC,C), overwritten (beta = 0);
// dweight (OC,C) += dout^T . inp (beta = 1); dbias += column sums of dout.
void matmul_backward_blas(const Context& ctx, float* dinp, float* dweight, float* dbias, const float* dout,
                          const float* inp, const float* weight, int N, int C, int OC) {
  ScopedBlasThreads threads(ctx.n_threads);
  if (dinp) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, weight, C, 0.0f, dinp, C);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dweight, C);
  if (dbias) matmul_backward_bias(ctx, dbias, dout, N, OC);
}

std::string OpenBlasDescription() {
  std::string s = openblas_get_config();
  // The config string names the build flags, not the threading of the
  // library the loader actually picked; say which that is.
  const int parallel = openblas_get_parallel();
  s += parallel == 2 ? " (OpenMP threads)" : parallel == 1 ? " (pthreads)" : " (single-threaded)";
  return s;
}

}  // namespace cpu_llm
