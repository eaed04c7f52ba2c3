// RMS normalization in Highway ops, compiled once per SIMD target
// (hwy/foreach_target.h) and dispatched to the best one at run time. As in
// layernorm.cc, rows are independent and each belongs to one thread, and
// dweight is summed per channel slice with the rows in order, so nothing
// depends on the thread count.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/rmsnorm.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "hwy/highway.h"
#include "kernels/parallel.h"
#include "kernels/rmsnorm.h"
#include "kernels/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace cpu_llm {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// One row: out = x * rstd * weight, rstd stored.
void RmsnormForwardRow(float* out, float* rstd, const float* x, const float* weight, int C, float eps) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const int L = hn::Lanes(d);
  V acc = hn::Zero(d);
  int c = 0;
  for (; c + L <= C; c += L) {
    const V xv = hn::LoadU(d, x + c);
    acc = hn::MulAdd(xv, xv, acc);
  }
  if (c < C) {
    const V xv = LoadPartial(d, x + c, C - c, 0.0f);
    acc = hn::MulAdd(xv, xv, acc);
  }
  const float s = 1.0f / std::sqrt(hn::GetLane(hn::SumOfLanes(d, acc)) / C + eps);
  const V vs = hn::Set(d, s);
  for (c = 0; c + L <= C; c += L)
    hn::StoreU(hn::Mul(hn::Mul(hn::LoadU(d, x + c), vs), hn::LoadU(d, weight + c)), d, out + c);
  if (c < C) {
    const int r = C - c;
    StorePartial(d, hn::Mul(hn::Mul(LoadPartial(d, x + c, r, 0.0f), vs), LoadPartial(d, weight + c, r, 0.0f)),
                 out + c, r);
  }
  *rstd = s;
}

// One row of the input gradient: di += (w g - xhat * mean(w g xhat)) * rstd
// with g = dout, xhat = x * rstd; the mean term is rstd's dependence on the
// whole row.
void RmsnormBackwardRow(float* di, const float* g, const float* x, const float* weight, float s, int C) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const int L = hn::Lanes(d);
  const V vs = hn::Set(d, s);
  // Tail lanes: weight and dout 0, so they add nothing.
  V sum_dxhat_x = hn::Zero(d);
  int c = 0;
  for (; c + L <= C; c += L)
    sum_dxhat_x = hn::MulAdd(hn::Mul(hn::LoadU(d, weight + c), hn::LoadU(d, g + c)), hn::LoadU(d, x + c), sum_dxhat_x);
  if (c < C) {
    const int r = C - c;
    const V dxhat = hn::Mul(LoadPartial(d, weight + c, r, 0.0f), LoadPartial(d, g + c, r, 0.0f));
    sum_dxhat_x = hn::MulAdd(dxhat, LoadPartial(d, x + c, r, 0.0f), sum_dxhat_x);
  }
  // mean(dxhat * xhat) = rstd * sum(dxhat * x) / C
  const V dxhat_xhat_mean = hn::Set(d, hn::GetLane(hn::SumOfLanes(d, sum_dxhat_x)) * s / C);
  auto grad = [&](V w, V gv, V xv, V dv) HWY_ATTR {
    const V t = hn::NegMulAdd(hn::Mul(xv, vs), dxhat_xhat_mean, hn::Mul(w, gv));
    return hn::MulAdd(t, vs, dv);
  };
  for (c = 0; c + L <= C; c += L) {
    const V out = grad(hn::LoadU(d, weight + c), hn::LoadU(d, g + c), hn::LoadU(d, x + c), hn::LoadU(d, di + c));
    hn::StoreU(out, d, di + c);
  }
  if (c < C) {
    const int r = C - c;
    const V out = grad(LoadPartial(d, weight + c, r, 0.0f), LoadPartial(d, g + c, r, 0.0f),
                       LoadPartial(d, x + c, r, 0.0f), LoadPartial(d, di + c, r, 0.0f));
    StorePartial(d, out, di + c, r);
  }
}

// Channels per slice of dweight: four vectors, so a full slice's sums stay
// in registers while its rows stream past. Each channel still sums the rows
// in order, so the width changes no result.
int RmsnormSliceWidth() { return 4 * hn::Lanes(hn::ScalableTag<float>()); }

// Channels [c0, c1) (at most RmsnormSliceWidth()) of dweight += sum over the
// N rows, in order, of x * rstd * dout.
void RmsnormWeightGradSlice(float* dweight, const float* dout, const float* inp, const float* rstd, int N, int C,
                            int c0, int c1) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const int L = hn::Lanes(d);
  if (c1 - c0 == 4 * L) {
    V w0 = hn::Zero(d), w1 = w0, w2 = w0, w3 = w0;
    for (int n = 0; n < N; n++) {
      const float* x = inp + (int64_t)n * C + c0;
      const float* g = dout + (int64_t)n * C + c0;
      const V vs = hn::Set(d, rstd[n]);
      w0 = hn::MulAdd(hn::Mul(hn::LoadU(d, x), vs), hn::LoadU(d, g), w0);
      w1 = hn::MulAdd(hn::Mul(hn::LoadU(d, x + L), vs), hn::LoadU(d, g + L), w1);
      w2 = hn::MulAdd(hn::Mul(hn::LoadU(d, x + 2 * L), vs), hn::LoadU(d, g + 2 * L), w2);
      w3 = hn::MulAdd(hn::Mul(hn::LoadU(d, x + 3 * L), vs), hn::LoadU(d, g + 3 * L), w3);
    }
    float* dw = dweight + c0;
    hn::StoreU(hn::Add(hn::LoadU(d, dw), w0), d, dw);
    hn::StoreU(hn::Add(hn::LoadU(d, dw + L), w1), d, dw + L);
    hn::StoreU(hn::Add(hn::LoadU(d, dw + 2 * L), w2), d, dw + 2 * L);
    hn::StoreU(hn::Add(hn::LoadU(d, dw + 3 * L), w3), d, dw + 3 * L);
    return;
  }
  // The narrower last slice: a vector at a time, the sums kept in memory.
  HWY_ALIGN float dw[4 * hn::MaxLanes(d)] = {};
  for (int n = 0; n < N; n++) {
    const float* x = inp + (int64_t)n * C;
    const float* g = dout + (int64_t)n * C;
    const V vs = hn::Set(d, rstd[n]);
    for (int c = c0; c < c1; c += L) {
      const int r = std::min(L, c1 - c);
      const V xv = r == L ? hn::LoadU(d, x + c) : LoadPartial(d, x + c, r, 0.0f);
      const V gv = r == L ? hn::LoadU(d, g + c) : LoadPartial(d, g + c, r, 0.0f);
      float* w = dw + (c - c0);
      hn::Store(hn::MulAdd(hn::Mul(xv, vs), gv, hn::Load(d, w)), d, w);
    }
  }
  for (int c = c0; c < c1; c++) dweight[c] += dw[c - c0];
}

}  // namespace HWY_NAMESPACE
}  // namespace cpu_llm
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace cpu_llm {

HWY_EXPORT(RmsnormForwardRow);
HWY_EXPORT(RmsnormBackwardRow);
HWY_EXPORT(RmsnormSliceWidth);
HWY_EXPORT(RmsnormWeightGradSlice);

void rmsnorm_forward(const Context& ctx, float* out, float* rstd, const float* inp, const float* weight, int N, int C,
                     float eps) {
  // The target is looked up once per op, not once per row.
  const auto forward_row = HWY_DYNAMIC_DISPATCH(RmsnormForwardRow);
  ParallelForBlocks(
      ctx, N,
      [&](int64_t n, int64_t) {
        const int64_t o = n * C;
        forward_row(out + o, rstd + n, inp + o, weight, C, eps);
      },
      /*block=*/1);
}

void rmsnorm_backward(const Context& ctx, float* dinp, float* dweight, const float* dout, const float* inp,
                      const float* weight, const float* rstd, int N, int C) {
  const auto backward_row = HWY_DYNAMIC_DISPATCH(RmsnormBackwardRow);
  ParallelForBlocks(
      ctx, N,
      [&](int64_t n, int64_t) {
        const int64_t o = n * C;
        backward_row(dinp + o, dout + o, inp + o, weight, rstd[n], C);
      },
      /*block=*/1);
  // Channel slices in parallel: each thread owns its slice of dweight, so
  // there is no shared accumulator and every channel sums its rows in order.
  const auto weight_grad_slice = HWY_DYNAMIC_DISPATCH(RmsnormWeightGradSlice);
  const int width = HWY_DYNAMIC_DISPATCH(RmsnormSliceWidth)();
  ParallelForBlocks(
      ctx, (C + width - 1) / width,
      [&](int64_t sl, int64_t) {
        const int c0 = (int)sl * width, c1 = std::min(C, c0 + width);
        weight_grad_slice(dweight, dout, inp, rstd, N, C, c0, c1);
      },
      /*block=*/1);
}

}  // namespace cpu_llm
#endif  // HWY_ONCE
