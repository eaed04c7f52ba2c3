// Which SIMD instruction sets the Highway kernels were compiled for, and
// which one run-time dispatch picks on this CPU.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cpu_llm {

// Highway target bits (HWY_AVX2, HWY_SSE4, ...) compiled into the kernels and
// supported by this CPU, best first. Follows hwy::SetSupportedTargetsForTest.
std::vector<int64_t> SimdTargets();

// The target the kernels' dynamic dispatch calls now.
int64_t DispatchedSimdTarget();

// "AVX2", "SSE4", "EMU128" (portable code for plain SSE2), ...
std::string SimdTargetName(int64_t target);

}  // namespace cpu_llm
