// Runs a library call on ctx.n_threads threads when the library takes no
// thread-count argument. The OpenMP builds of OpenBLAS and oneDNN size each
// parallel region from omp_get_max_threads() of the calling thread (its
// nthreads-var setting), so this sets that for the duration of the call and
// puts the old value back: the setting belongs to the calling thread only,
// and nothing of it outlives the scope. Our own kernels are unaffected either
// way, since each names its thread count with num_threads(ctx.n_threads).
#pragma once

#include <omp.h>

namespace cpu_llm {

class ScopedOmpThreads {
 public:
  explicit ScopedOmpThreads(int n_threads) : saved_(omp_get_max_threads()) {
    if (n_threads != saved_) omp_set_num_threads(n_threads);
  }
  ~ScopedOmpThreads() {
    if (omp_get_max_threads() != saved_) omp_set_num_threads(saved_);
  }
  ScopedOmpThreads(const ScopedOmpThreads&) = delete;
  ScopedOmpThreads& operator=(const ScopedOmpThreads&) = delete;

 private:
  int saved_;
};

}  // namespace cpu_llm
