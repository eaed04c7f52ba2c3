#include "core/context.h"

#include <omp.h>

namespace cpu_llm {

int DefaultThreadCount() { return omp_get_max_threads(); }

Status ParseMatmulBackend(const std::string& name, MatmulBackend* backend) {
  if (name == "tiled") *backend = MatmulBackend::kTiled;
  else if (name == "naive") *backend = MatmulBackend::kNaive;
  else return UsageError("--matmul: unknown backend '{}' (expected tiled or naive)", name);
  return Status();
}

const char* MatmulBackendName(MatmulBackend backend) {
  return backend == MatmulBackend::kNaive ? "naive" : "tiled";
}

}  // namespace cpu_llm
