// The machine's arithmetic peak, measured rather than looked up: the bench
// divides achieved FLOP/s by it (MFU), so it must describe the CPU the
// numbers came from, whatever the build targeted.
#pragma once

#include <string>

namespace cpu_llm {

struct PeakFlops {
  int threads = 0;
  double fp32_gflops = 0.0;  // fused multiply-add throughput, all threads together
  std::string fp32_isa;      // the instructions that reached it: "AVX-512 FMA", "AVX2 FMA" or "scalar"
  double bf16_gflops = 0.0;  // AVX512_BF16 dot products (vdpbf16ps); 0 when the CPU has none
};

// Best of several ~50 ms bursts of independent FMA chains on every thread.
PeakFlops MeasurePeak(int threads);

}  // namespace cpu_llm
