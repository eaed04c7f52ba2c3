// Residual add in Highway ops, compiled once per SIMD target
// (hwy/foreach_target.h) and dispatched to the best one at run time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/residual.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <cstdint>

#include "hwy/highway.h"
#include "kernels/parallel.h"
#include "kernels/residual.h"
#include "kernels/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace cpu_llm {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// out may alias a or b (an in-place residual), so no HWY_RESTRICT: every
// lane is read before it is written.
void ResidualSpan(float* out, const float* a, const float* b, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t L = hn::Lanes(d);
  int64_t i = 0;
  for (; i + L <= n; i += L) hn::StoreU(hn::Add(hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, out + i);
  if (i < n) {
    const auto sum = hn::Add(LoadPartial(d, a + i, n - i, 0.0f), LoadPartial(d, b + i, n - i, 0.0f));
    StorePartial(d, sum, out + i, n - i);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace cpu_llm
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace cpu_llm {

HWY_EXPORT(ResidualSpan);

void residual_forward(const Context& ctx, float* out, const float* a, const float* b, int64_t N) {
  ParallelForBlocks(ctx, N, [&](int64_t i, int64_t n) { HWY_DYNAMIC_DISPATCH(ResidualSpan)(out + i, a + i, b + i, n); });
}

}  // namespace cpu_llm
#endif  // HWY_ONCE
