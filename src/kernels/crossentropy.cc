// Softmax cross-entropy in Highway ops, compiled once per SIMD target
// (hwy/foreach_target.h) and dispatched to the best one at run time. Each
// row is one thread's: its log-sum-exp (max, then the sum of shifted exps)
// and, in backward, its softmax scaled by dloss.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/crossentropy.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <cmath>
#include <cstdint>

#include "hwy/highway.h"
#include "kernels/crossentropy.h"
#include "kernels/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace cpu_llm {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// log(sum exp(row[v])) over v < V, shifted by the row max so no exp overflows.
// Nothing at or past row[V] is read: the padding columns may hold anything.
float LogSumExpRow(const float* row, int V) {
  const hn::ScalableTag<float> d;
  using Vec = hn::Vec<decltype(d)>;
  const int L = hn::Lanes(d);
  Vec vmax = hn::Set(d, -INFINITY);
  int v = 0;
  for (; v + L <= V; v += L) vmax = hn::Max(vmax, hn::LoadU(d, row + v));
  if (v < V) vmax = hn::Max(vmax, LoadPartial(d, row + v, V - v, -INFINITY));
  const float maxv = hn::GetLane(hn::MaxOfLanes(d, vmax));
  const Vec shift = hn::Set(d, maxv);
  Vec sum = hn::Zero(d);
  for (v = 0; v + L <= V; v += L) sum = hn::Add(sum, FastExp(d, hn::Sub(hn::LoadU(d, row + v), shift)));
  if (v < V) {
    const Vec e = FastExp(d, hn::Sub(LoadPartial(d, row + v, V - v, maxv), shift));
    sum = hn::Add(sum, hn::IfThenElseZero(hn::FirstN(d, V - v), e));
  }
  return maxv + std::log(hn::GetLane(hn::SumOfLanes(d, sum)));
}

// drow[v] = exp(row[v] - lse) * dloss for v < V. drow may be row: the
// gradient then replaces the logits (each lane is read before it is written).
void SoftmaxGradRow(float* drow, const float* row, float lse, float dloss, int V) {
  const hn::ScalableTag<float> d;
  const int L = hn::Lanes(d);
  const auto shift = hn::Set(d, lse), scale = hn::Set(d, dloss);
  int v = 0;
  for (; v + L <= V; v += L) hn::StoreU(hn::Mul(FastExp(d, hn::Sub(hn::LoadU(d, row + v), shift)), scale), d, drow + v);
  if (v < V) {
    const auto p = FastExp(d, hn::Sub(LoadPartial(d, row + v, V - v, 0.0f), shift));
    StorePartial(d, hn::Mul(p, scale), drow + v, V - v);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace cpu_llm
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace cpu_llm {

HWY_EXPORT(LogSumExpRow);
HWY_EXPORT(SoftmaxGradRow);

void crossentropy_forward(const Context& ctx, float* losses, float* lse, const float* logits,
                          const int32_t* targets, int N, int V, int Vp) {
  // The target is looked up once per op, not once per row.
  const auto log_sum_exp = HWY_DYNAMIC_DISPATCH(LogSumExpRow);
#pragma omp parallel for schedule(static) num_threads(ctx.n_threads)
  for (int n = 0; n < N; n++) {
    const float* row = logits + (int64_t)n * Vp;
    lse[n] = log_sum_exp(row, V);
    losses[n] = lse[n] - row[targets[n]];
  }
}

void crossentropy_backward(const Context& ctx, float* dlogits, const float* logits, const float* lse,
                           const int32_t* targets, float dloss, int N, int V, int Vp) {
  const auto softmax_grad = HWY_DYNAMIC_DISPATCH(SoftmaxGradRow);
#pragma omp parallel for schedule(static) num_threads(ctx.n_threads)
  for (int n = 0; n < N; n++) {
    float* d = dlogits + (int64_t)n * Vp;
    softmax_grad(d, logits + (int64_t)n * Vp, lse[n], dloss, V);
    for (int v = V; v < Vp; v++) d[v] = 0.0f;
    d[targets[n]] -= dloss;
  }
}

}  // namespace cpu_llm
#endif  // HWY_ONCE
