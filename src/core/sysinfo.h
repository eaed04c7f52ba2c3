// Facts about the machine and this process, for memory checks and reports.
#pragma once

#include <cstdint>

namespace cpu_llm {

// Peak resident set size of this process, in bytes.
uint64_t PeakRssBytes();
// Resident set now (anonymous and file-backed pages), from /proc/self/statm.
uint64_t CurrentRssBytes();

// Physical memory of the machine, in bytes.
uint64_t PhysicalMemoryBytes();

// What the CPU offers (CPUID), for features clang 14's
// __builtin_cpu_supports has no name for.
bool CpuHasF16c();
bool CpuHasAvx512Bf16();

}  // namespace cpu_llm
