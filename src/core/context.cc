#include "core/context.h"

#include <omp.h>

namespace cpu_llm {

int DefaultThreadCount() { return omp_get_max_threads(); }

Status ParseMatmulBackend(const std::string& name, MatmulBackend* backend) {
  if (name == "tiled") *backend = MatmulBackend::kTiled;
  else if (name == "naive") *backend = MatmulBackend::kNaive;
  else if (name == "blas") *backend = MatmulBackend::kBlas;
  else if (name == "onednn") *backend = MatmulBackend::kOneDnn;
  else return UsageError("--matmul: unknown backend '{}' (expected tiled, naive, blas or onednn)", name);
  return Status();
}

const char* MatmulBackendName(MatmulBackend backend) {
  switch (backend) {
    case MatmulBackend::kNaive: return "naive";
    case MatmulBackend::kBlas: return "blas";
    case MatmulBackend::kOneDnn: return "onednn";
    case MatmulBackend::kTiled: break;
  }
  return "tiled";
}

Status ParsePrecision(const std::string& name, Precision* precision) {
  if (name == "fp32") *precision = Precision::kFp32;
  else if (name == "bf16") *precision = Precision::kBf16;
  else if (name == "fp16" || name == "f16") *precision = Precision::kFp16;
  else return UsageError("--precision: unknown precision '{}' (expected fp32, bf16 or fp16)", name);
  return Status();
}

const char* PrecisionName(Precision precision) {
  switch (precision) {
    case Precision::kBf16: return "bf16";
    case Precision::kFp16: return "fp16";
    case Precision::kFp32: break;
  }
  return "fp32";
}

}  // namespace cpu_llm
