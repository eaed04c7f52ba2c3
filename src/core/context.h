// Everything a kernel may need to know about how to run, passed explicitly
// instead of living in globals.
#pragma once

#include <string>

#include "core/status.h"

namespace cpu_llm {

class AnomalyDetector;
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

// Number format of the linear layers' products (plan item 1). kFp32 computes
// them in fp32 throughout. kBf16 and kFp16 are mixed precision: every operand
// of a product (weights, activations, activation gradients) is rounded to the
// 16-bit format, to nearest even, before it is multiplied, and the products
// are summed in fp32, what a bf16/fp16 GEMM with fp32 accumulation computes;
// activations saved for backward are stored in the 16-bit format. Master
// weights, weight gradients, optimizer state, layernorm statistics, softmax,
// cross-entropy and reductions stay fp32. kFp16 needs loss scaling (fp16's
// range is narrow, see optim/loss_scaler.h); kBf16 has fp32's range.
enum class Precision { kFp32, kBf16, kFp16 };

struct Context {
  int n_threads = 1;             // OpenMP threads each parallel region uses
  Profiler* profiler = nullptr;  // per-op timing when set (see core/profiler.h)
  MatmulBackend matmul = MatmulBackend::kTiled;
  Precision precision = Precision::kFp32;
  // Optional stochastic rounding of the weights in bf16 products: a product
  // operand (b) that lies inside sr_weights (sr_weights_n floats, the
  // parameter arena) is rounded up or down at random with the probability
  // of its distance (kernels/convert.h's hash of sr_seed and the element's
  // offset in the arena), so every use of a weight within one step sees the
  // same rounding and a new sr_seed draws new noise. Other operands round
  // to nearest even. Null: no stochastic rounding.
  const float* sr_weights = nullptr;
  int64_t sr_weights_n = 0;
  uint64_t sr_seed = 0;
  // Checks every op's output for inf/NaN when set (see core/anomaly.h).
  AnomalyDetector* anomaly = nullptr;
};

// All hardware threads, or the value of OMP_NUM_THREADS when set.
int DefaultThreadCount();

// "tiled" / "naive" / "blas" / "onednn" <-> MatmulBackend.
Status ParseMatmulBackend(const std::string& name, MatmulBackend* backend);
const char* MatmulBackendName(MatmulBackend backend);

// "fp32" / "bf16" / "fp16" <-> Precision.
Status ParsePrecision(const std::string& name, Precision* precision);
const char* PrecisionName(Precision precision);

}  // namespace cpu_llm
