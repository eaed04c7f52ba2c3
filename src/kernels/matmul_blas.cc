// Plan item 9: the linear layer's products through OpenBLAS's cblas_sgemm.
// Row-major throughout; the weight (OC,C) is used as stored, transposed by
// the call's flag rather than copied.
//
// Threads. Debian builds OpenBLAS three ways (libopenblas0-pthread, -openmp,
// -serial) behind one alternatives symlink that defaults to pthread. The
// pthread build keeps a pool of its own beside libgomp's, and its idle
// workers keep polling for a while after each call, on the cores the next
// OpenMP kernel (GELU, layernorm, attention) wants. We link the OpenMP
// build instead (CMake's CPU_LLM_OPENBLAS_BUILD, default openmp; the binary's
// RUNPATH names its directory, so the symlink does not matter): its sgemm
// runs on libgomp's pool, the same threads as every other kernel, and takes
// omp_get_max_threads() of the caller as its thread count, which
// ScopedOmpThreads sets to ctx.n_threads for the call and restores, so no
// process-wide setting changes and the process never holds two pools.
//
// Measured on 2 cores (bench, 2 threads, machine otherwise idle): with the
// pthread build a d6 step took 2.56 s instead of 1.75 s and a GPT-2 124M step
// 9.5 s instead of 6.2-7.3 s. Both sides lose: our own kernels (layernorm,
// GELU, attention, ...) took 790 ms instead of 500 ms per d6 step, and the
// small products 2-3x longer (attention projection 118 ms instead of 42),
// the signature of two pools spinning against each other. On the same
// machine loaded by other jobs the difference vanished (the pthread build
// was even 4% faster): the waste only shows when the cores are ours. To
// compare again, swap the pthread build in at run time with
// LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread (searched before
// the RUNPATH) or configure with -DCPU_LLM_OPENBLAS_BUILD=pthread.
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "kernels/matmul.h"
#include "kernels/omp_threads.h"

namespace cpu_llm {
namespace {

// ScopedOmpThreads is all the OpenMP build needs. The pthread build (linked
// with CPU_LLM_OPENBLAS_BUILD=pthread or swapped in at run time) ignores it
// and keeps one process-wide count of its own: set that too, so such a run
// still uses ctx.n_threads threads.
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
// out before the product instead of a read-modify-write pass after it. On the
// linear layers of d6 and GPT-2 124M (2 threads) that was the cheaper of the
// two in 16 of 18 timings, by 2-7%, and within noise of no bias at all.
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
