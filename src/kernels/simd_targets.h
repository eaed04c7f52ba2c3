// Which SIMD instruction sets the Highway kernels were compiled for, and
// which one run-time dispatch picks on this CPU.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace cpu_llm {

// Highway target bits (HWY_AVX2, HWY_SSE4, ...) compiled into the kernels and
// supported by this CPU, best first. Follows hwy::SetSupportedTargetsForTest.
std::vector<int64_t> SimdTargets();

// The target the kernels' dynamic dispatch calls now.
int64_t DispatchedSimdTarget();

// "AVX2", "SSE4", "EMU128" (portable code for plain SSE2), ...
std::string SimdTargetName(int64_t target);

// Limits run-time dispatch to one compiled target, by name ("best" leaves the
// choice to Highway; otherwise a SimdTargetName the CPU supports, any case,
// e.g. "scalar" for the plain-C++ fallback). Dispatch is process-wide
// state inside Highway, so only main (train --simd, the bench worker) calls
// this, before any kernel runs. Error names the targets on offer.
Status LimitSimdTarget(const std::string& name);

}  // namespace cpu_llm
