// Dense products of the linear layers. The default (tiled) backend hands all
// three to the packed, blocked GEMM of kernels/gemm.h, Highway code dispatched
// at run time to the best SIMD target (AVX-512, AVX2, ...); every output
// element is owned by one thread and summed in a fixed order, so its results
// do not depend on the thread count.
#pragma once

#include <string>

#include "core/context.h"
#include "core/status.h"

namespace cpu_llm {

// out (N,OC) = inp (N,C) . weight (OC,C)^T + bias (OC); bias may be null
void matmul_forward(const Context& ctx, float* out, const float* inp, const float* weight, const float* bias, int N,
                    int C, int OC);

// dinp (N,C) = dout (N,OC) . weight (OC,C)   (overwritten; skipped if null)
// dweight (OC,C) += dout^T . inp ; dbias (OC) += column sums of dout (if not null)
void matmul_backward(const Context& ctx, float* dinp, float* dweight, float* dbias, const float* dout,
                     const float* inp, const float* weight, int N, int C, int OC);

// The two functions above hand the work to one of these when ctx.matmul asks
// for it. Naive: the same products as plain loops (matmul_naive.cc).
void matmul_forward_naive(const Context& ctx, float* out, const float* inp, const float* weight, const float* bias,
                          int N, int C, int OC);
void matmul_backward_naive(const Context& ctx, float* dinp, float* dweight, float* dbias, const float* dout,
                           const float* inp, const float* weight, int N, int C, int OC);
// OpenBLAS's cblas_sgemm (matmul_blas.cc).
void matmul_forward_blas(const Context& ctx, float* out, const float* inp, const float* weight, const float* bias,
                         int N, int C, int OC);
void matmul_backward_blas(const Context& ctx, float* dinp, float* dweight, float* dbias, const float* dout,
                          const float* inp, const float* weight, int N, int C, int OC);
// oneDNN's dnnl_sgemm (matmul_onednn.cc).
void matmul_forward_onednn(const Context& ctx, float* out, const float* inp, const float* weight, const float* bias,
                           int N, int C, int OC);
void matmul_backward_onednn(const Context& ctx, float* dinp, float* dweight, float* dbias, const float* dout,
                            const float* inp, const float* weight, int N, int C, int OC);
// Mixed precision through oneDNN's matmul primitive (matmul_onednn_lowp.cc):
// the operands rounded to ctx.precision's 16-bit format, products summed in
// fp32, bias and dbias in fp32. With kFp32 the same primitive runs on the
// fp32 operands (the dispatcher uses dnnl_sgemm for that; tests use it to
// check this path on CPUs that have no 16-bit matmul). A product oneDNN
// cannot run leaves its output NaN.
void matmul_forward_onednn_lowp(const Context& ctx, float* out, const float* inp, const float* weight,
                                const float* bias, int N, int C, int OC);
void matmul_backward_onednn_lowp(const Context& ctx, float* dinp, float* dweight, float* dbias, const float* dout,
                                 const float* inp, const float* weight, int N, int C, int OC);
// OK when oneDNN has the matmul primitives the path above needs for
// precision on this CPU (always for kFp32), else a usage error saying so:
// oneDNN 2.x has no 16-bit matmul at all without AVX-512.
Status CheckOneDnnPrecision(Precision precision);
// The implementation oneDNN picks for precision's matmul, e.g. "gemm:jit",
// or "unimplemented", for reports.
std::string OneDnnMatmulImpl(Precision precision);

// dbias (OC) += column sums of dout (N,OC): output channels split across
// threads, each summed over n in order. Shared by the library backends, which
// have no such product.
void matmul_backward_bias(const Context& ctx, float* dbias, const float* dout, int N, int OC);

// Whether `backend` computes the products in `precision`: the tiled GEMM
// does all three; oneDNN the 16-bit ones where its matmul primitive has them
// (AVX-512 CPUs); naive and OpenBLAS (sgemm) are fp32 only.
Status CheckMatmulPrecision(MatmulBackend backend, Precision precision);

// The libraries behind kBlas and kOneDnn as loaded at run time, e.g.
// "OpenBLAS 0.3.21 ... USE_OPENMP Zen" and "oneDNN 2.6.3 (OpenMP)", for reports.
std::string OpenBlasDescription();
std::string OneDnnDescription();

}  // namespace cpu_llm
