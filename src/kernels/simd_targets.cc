// Compiled like the kernels (once per target, same flags), so the lists and
// the choice it reports are theirs.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/simd_targets.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

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

}  // namespace cpu_llm
#endif  // HWY_ONCE
