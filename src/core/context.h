// Everything a kernel may need to know about how to run, passed explicitly
// instead of living in globals.
#pragma once

#include <string>

#include "core/status.h"

namespace cpu_llm {

class Profiler;

// Which code computes the dense products of the linear layers. kNaive is the
// "before" of the SIMD plan item: the loops exactly as the math reads, left to
// the compiler; kTiled is our packed, cache-blocked GEMM with register-tiled
// Highway micro-kernels (kernels/gemm.h), dispatched at run time to the CPU's
// best SIMD target, bit-identical across thread counts. kBlas (OpenBLAS's
// cblas_sgemm) and kOneDnn (oneDNN's dnnl_sgemm) hand the products to a
// library. Unlike the built-in kernels they do not promise bit-identical
// results across thread counts: OpenBLAS's differ in the last bits between 1
// and 2 threads (its blocking depends on the thread count); oneDNN's matched
// at the shapes tested. Both repeat exactly for a given thread count.
enum class MatmulBackend { kTiled, kNaive, kBlas, kOneDnn };

struct Context {
  int n_threads = 1;             // OpenMP threads each parallel region uses
  Profiler* profiler = nullptr;  // per-op timing when set (see core/profiler.h)
  MatmulBackend matmul = MatmulBackend::kTiled;
};

// All hardware threads, or the value of OMP_NUM_THREADS when set.
int DefaultThreadCount();

// "tiled" / "naive" / "blas" / "onednn" <-> MatmulBackend.
Status ParseMatmulBackend(const std::string& name, MatmulBackend* backend);
const char* MatmulBackendName(MatmulBackend backend);

}  // namespace cpu_llm
