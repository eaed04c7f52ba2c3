#include "bench/machine.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <string>

#include "core/sysinfo.h"
#include "kernels/matmul.h"
#include "kernels/simd_targets.h"

namespace cpu_llm {
namespace {

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  return "unknown";
}

std::string UtcNow() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

}  // namespace

nlohmann::json DescribeMachine() {
  nlohmann::json simd = nlohmann::json::array();
  // What the CPU offers; the build may use less (see "build").
  if (__builtin_cpu_supports("avx2")) simd.push_back("AVX2");
  if (__builtin_cpu_supports("fma")) simd.push_back("FMA");
  if (CpuHasF16c()) simd.push_back("F16C");
  if (__builtin_cpu_supports("avx512f")) simd.push_back("AVX-512F");
  if (CpuHasAvx512Bf16()) simd.push_back("AVX512_BF16");
  struct utsname uts {};
  uname(&uts);
  std::string build = "g++ " __VERSION__;
#if defined(__AVX512F__)
  build += ", compiled for AVX-512";
#elif defined(__AVX2__)
  build += ", compiled for AVX2+FMA";
#else
  build += ", compiled for baseline x86-64";
#endif
  // The Highway kernels are compiled for every target and pick one at run time.
  build += ", element-wise kernels dispatched to " + SimdTargetName(DispatchedSimdTarget());
  return {{"cpu", CpuModel()},
          {"logical_cpus", static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN))},
          {"simd", simd},
          {"memory_bytes", PhysicalMemoryBytes()},
          {"os", std::string(uts.sysname) + " " + uts.release},
          {"build", build},
          {"blas", OpenBlasDescription() + "; " + OneDnnDescription()},
          {"date", UtcNow()}};
}

}  // namespace cpu_llm
