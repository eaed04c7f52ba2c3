// How the element-wise kernels share work among threads.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/context.h"

namespace cpu_llm {

// 64 KB of floats: enough that the per-block call costs nothing, small enough
// that a 1M-element op still splits evenly over dozens of threads.
constexpr int64_t kElementBlock = 16384;

// Runs body(begin, count) over [0, n) in blocks of `block` elements, the
// blocks dealt to ctx.n_threads threads in contiguous runs (one parallel
// region). Each element belongs to exactly one call, so element-wise results
// do not depend on the thread count.
template <class Body>
void ParallelForBlocks(const Context& ctx, int64_t n, Body&& body, int64_t block = kElementBlock) {
  const int64_t n_blocks = (n + block - 1) / block;
#pragma omp parallel for schedule(static) num_threads(ctx.n_threads)
  for (int64_t b = 0; b < n_blocks; b++) {
    const int64_t begin = b * block;
    body(begin, std::min(block, n - begin));
  }
}

}  // namespace cpu_llm
