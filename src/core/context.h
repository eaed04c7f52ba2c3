// Everything a kernel may need to know about how to run, passed explicitly
// instead of living in globals.
#pragma once

namespace cpu_llm {

class Profiler;

struct Context {
  int n_threads = 1;             // OpenMP threads each parallel region uses
  Profiler* profiler = nullptr;  // per-op timing when set (see core/profiler.h)
};

// All hardware threads, or the value of OMP_NUM_THREADS when set.
int DefaultThreadCount();

}  // namespace cpu_llm
