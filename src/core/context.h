// Everything a kernel may need to know about how to run, passed explicitly
// instead of living in globals.
#pragma once

#include <string>

#include "core/status.h"

namespace cpu_llm {

class Profiler;

// Which code computes the dense products of the linear layers. kNaive is the
// "before" of the SIMD plan item: the loops exactly as the math reads, left to
// the compiler; kTiled is the register-tiled vector kernel.
enum class MatmulBackend { kTiled, kNaive };

struct Context {
  int n_threads = 1;             // OpenMP threads each parallel region uses
  Profiler* profiler = nullptr;  // per-op timing when set (see core/profiler.h)
  MatmulBackend matmul = MatmulBackend::kTiled;
};

// All hardware threads, or the value of OMP_NUM_THREADS when set.
int DefaultThreadCount();

// "tiled" / "naive" <-> MatmulBackend.
Status ParseMatmulBackend(const std::string& name, MatmulBackend* backend);
const char* MatmulBackendName(MatmulBackend backend);

}  // namespace cpu_llm
