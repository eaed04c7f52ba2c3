// Compiled like the kernels (once per target, same flags), so the lists and
// the choice it reports are theirs.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/simd_targets.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <cctype>
#include <string>

#include "hwy/highway.h"
#include "kernels/simd_targets.h"

HWY_BEFORE_NAMESPACE();
namespace cpu_llm {
namespace HWY_NAMESPACE {

int64_t CompiledTarget() { return HWY_TARGET; }

}  // namespace HWY_NAMESPACE
}  // namespace cpu_llm
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace cpu_llm {

HWY_EXPORT(CompiledTarget);

std::vector<int64_t> SimdTargets() { return hwy::SupportedAndGeneratedTargets(); }

int64_t DispatchedSimdTarget() { return HWY_DYNAMIC_DISPATCH(CompiledTarget)(); }

std::string SimdTargetName(int64_t target) { return hwy::TargetName(target); }

Status LimitSimdTarget(const std::string& name) {
  auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  hwy::SetSupportedTargetsForTest(0);  // the full list again
  if (lower(name) == "best") return Status();
  std::string offered = "best";
  for (int64_t target : SimdTargets()) {
    if (lower(SimdTargetName(target)) == lower(name)) {
      hwy::SetSupportedTargetsForTest(target);
      return Status();
    }
    offered += ", " + lower(SimdTargetName(target));
  }
  return UsageError("--simd: '{}' is not a SIMD target this build supports on this CPU ({})", name, offered);
}

}  // namespace cpu_llm
#endif  // HWY_ONCE
