// What the numbers were measured on: CPU, SIMD features, memory, compiler,
// build flags, the BLAS libraries loaded and the date, for the report's
// machine section.
#pragma once

#include <nlohmann/json.hpp>

namespace cpu_llm {

nlohmann::json DescribeMachine();

}  // namespace cpu_llm
