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

}  // namespace cpu_llm
