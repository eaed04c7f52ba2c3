// Layer normalization in Highway ops, compiled once per SIMD target
// (hwy/foreach_target.h) and dispatched to the best one at run time. Rows
// are independent and each belongs to one thread; the parameter gradients
// are summed per channel slice, rows in order, so nothing depends on the
// thread count.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/layernorm.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "hwy/highway.h"
#include "kernels/layernorm.h"
#include "kernels/simd-inl.h"

HWY_BEFORE_NAMESPACE();
namespace cpu_llm {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// One row: out = (x - mean) * rstd * weight + bias, mean and rstd stored.
// A null bias is none (the block option without biases).
void LayernormForwardRow(float* out, float* mean, float* rstd, const float* x, const float* weight, const float* bias,
                         int C) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const int L = hn::Lanes(d);
  V acc = hn::Zero(d);
  int c = 0;
  for (; c + L <= C; c += L) acc = hn::Add(acc, hn::LoadU(d, x + c));
  if (c < C) acc = hn::Add(acc, LoadPartial(d, x + c, C - c, 0.0f));
  const float m = hn::GetLane(hn::SumOfLanes(d, acc)) / C;
  // Two passes (mean, then centred squares) keep the variance accurate when
  // the mean is large compared to the spread. Tail lanes hold m: they add 0.
  const V vm = hn::Set(d, m);
  acc = hn::Zero(d);
  for (c = 0; c + L <= C; c += L) {
    const V t = hn::Sub(hn::LoadU(d, x + c), vm);
    acc = hn::MulAdd(t, t, acc);
  }
  if (c < C) {
    const V t = hn::Sub(LoadPartial(d, x + c, C - c, m), vm);
    acc = hn::MulAdd(t, t, acc);
  }
  const float s = 1.0f / std::sqrt(hn::GetLane(hn::SumOfLanes(d, acc)) / C + 1e-5f);
  const V vs = hn::Set(d, s);
  for (c = 0; c + L <= C; c += L) {
    const V norm = hn::Mul(hn::Sub(hn::LoadU(d, x + c), vm), vs);
    hn::StoreU(hn::MulAdd(norm, hn::LoadU(d, weight + c), bias ? hn::LoadU(d, bias + c) : hn::Zero(d)), d, out + c);
  }
  if (c < C) {
    const int r = C - c;
    const V norm = hn::Mul(hn::Sub(LoadPartial(d, x + c, r, m), vm), vs);
    StorePartial(d,
                 hn::MulAdd(norm, LoadPartial(d, weight + c, r, 0.0f), bias ? LoadPartial(d, bias + c, r, 0.0f) : hn::Zero(d)),
                 out + c, r);
  }
  *mean = m;
  *rstd = s;
}

// One row of the input gradient: di += (w g - mean(w g) - norm * mean(w g norm)) * rstd
// with g = dout, norm = (x - m) * rstd.
void LayernormBackwardRow(float* di, const float* g, const float* x, const float* weight, float m, float s, int C) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const int L = hn::Lanes(d);
  const V vm = hn::Set(d, m), vs = hn::Set(d, s);
  // Tail lanes: weight and dout 0, so dnorm is 0 and adds nothing.
  V sum_dnorm = hn::Zero(d), sum_dnorm_norm = hn::Zero(d);
  int c = 0;
  for (; c + L <= C; c += L) {
    const V dnorm = hn::Mul(hn::LoadU(d, weight + c), hn::LoadU(d, g + c));
    sum_dnorm = hn::Add(sum_dnorm, dnorm);
    sum_dnorm_norm = hn::MulAdd(dnorm, hn::Mul(hn::Sub(hn::LoadU(d, x + c), vm), vs), sum_dnorm_norm);
  }
  if (c < C) {
    const int r = C - c;
    const V dnorm = hn::Mul(LoadPartial(d, weight + c, r, 0.0f), LoadPartial(d, g + c, r, 0.0f));
    sum_dnorm = hn::Add(sum_dnorm, dnorm);
    sum_dnorm_norm = hn::MulAdd(dnorm, hn::Mul(hn::Sub(LoadPartial(d, x + c, r, m), vm), vs), sum_dnorm_norm);
  }
  const V dnorm_mean = hn::Set(d, hn::GetLane(hn::SumOfLanes(d, sum_dnorm)) / C);
  const V dnorm_norm_mean = hn::Set(d, hn::GetLane(hn::SumOfLanes(d, sum_dnorm_norm)) / C);
  auto grad = [&](V w, V gv, V xv, V dv) HWY_ATTR {
    const V norm = hn::Mul(hn::Sub(xv, vm), vs);
    const V t = hn::NegMulAdd(norm, dnorm_norm_mean, hn::Sub(hn::Mul(w, gv), dnorm_mean));
    return hn::MulAdd(t, vs, dv);
  };
  for (c = 0; c + L <= C; c += L) {
    const V out = grad(hn::LoadU(d, weight + c), hn::LoadU(d, g + c), hn::LoadU(d, x + c), hn::LoadU(d, di + c));
    hn::StoreU(out, d, di + c);
  }
  if (c < C) {
    const int r = C - c;
    const V out = grad(LoadPartial(d, weight + c, r, 0.0f), LoadPartial(d, g + c, r, 0.0f),
                       LoadPartial(d, x + c, r, m), LoadPartial(d, di + c, r, 0.0f));
    StorePartial(d, out, di + c, r);
  }
}

// Channels per slice of the parameter gradients: four vectors, so a full
// slice's dweight and dbias sums stay in eight registers while its rows
// stream past. Each channel still sums the rows in order, so the width
// changes no result.
int LayernormSliceWidth() { return 4 * hn::Lanes(hn::ScalableTag<float>()); }

// Channels [c0, c1) (at most LayernormSliceWidth()) of the parameter
// gradients, summed over the N rows in order: dweight += sum norm * dout,
// dbias += sum dout (skipped when dbias is null: no bias).
void LayernormParamGradSlice(float* dweight, float* dbias, const float* dout, const float* inp, const float* mean,
                             const float* rstd, int N, int C, int c0, int c1) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const int L = hn::Lanes(d);
  if (c1 - c0 == 4 * L) {
    V w0 = hn::Zero(d), w1 = w0, w2 = w0, w3 = w0, b0 = w0, b1 = w0, b2 = w0, b3 = w0;
    for (int n = 0; n < N; n++) {
      const float* x = inp + (int64_t)n * C + c0;
      const float* g = dout + (int64_t)n * C + c0;
      const V vm = hn::Set(d, mean[n]), vs = hn::Set(d, rstd[n]);
      auto accumulate = [&](int j, V& w, V& b) HWY_ATTR {
        const V gv = hn::LoadU(d, g + j * L);
        w = hn::MulAdd(hn::Mul(hn::Sub(hn::LoadU(d, x + j * L), vm), vs), gv, w);
        b = hn::Add(b, gv);
      };
      accumulate(0, w0, b0);
      accumulate(1, w1, b1);
      accumulate(2, w2, b2);
      accumulate(3, w3, b3);
    }
    auto add_to = [&](int j, V w, V b) HWY_ATTR {
      hn::StoreU(hn::Add(hn::LoadU(d, dweight + c0 + j * L), w), d, dweight + c0 + j * L);
      if (dbias) hn::StoreU(hn::Add(hn::LoadU(d, dbias + c0 + j * L), b), d, dbias + c0 + j * L);
    };
    add_to(0, w0, b0);
    add_to(1, w1, b1);
    add_to(2, w2, b2);
    add_to(3, w3, b3);
    return;
  }
  // The narrower last slice: a vector at a time, the sums kept in memory.
  HWY_ALIGN float dw[4 * hn::MaxLanes(d)] = {}, db[4 * hn::MaxLanes(d)] = {};
  for (int n = 0; n < N; n++) {
    const float* x = inp + (int64_t)n * C;
    const float* g = dout + (int64_t)n * C;
    const V vm = hn::Set(d, mean[n]), vs = hn::Set(d, rstd[n]);
    for (int c = c0; c < c1; c += L) {
      const int r = std::min(L, c1 - c);
      const V xv = r == L ? hn::LoadU(d, x + c) : LoadPartial(d, x + c, r, 0.0f);
      const V gv = r == L ? hn::LoadU(d, g + c) : LoadPartial(d, g + c, r, 0.0f);
      float* w = dw + (c - c0);
      float* b = db + (c - c0);
      hn::Store(hn::MulAdd(hn::Mul(hn::Sub(xv, vm), vs), gv, hn::Load(d, w)), d, w);
      hn::Store(hn::Add(hn::Load(d, b), gv), d, b);
    }
  }
  for (int c = c0; c < c1; c++) {
    dweight[c] += dw[c - c0];
    if (dbias) dbias[c] += db[c - c0];
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace cpu_llm
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace cpu_llm {

HWY_EXPORT(LayernormForwardRow);
HWY_EXPORT(LayernormBackwardRow);
HWY_EXPORT(LayernormSliceWidth);
HWY_EXPORT(LayernormParamGradSlice);

void layernorm_forward(const Context& ctx, float* out, float* mean, float* rstd, const float* inp,
                       const float* weight, const float* bias, int N, int C) {
  // The target is looked up once per op, not once per row.
  const auto forward_row = HWY_DYNAMIC_DISPATCH(LayernormForwardRow);
#pragma omp parallel for schedule(static) num_threads(ctx.n_threads)
  for (int n = 0; n < N; n++) {
    const int64_t o = (int64_t)n * C;
    forward_row(out + o, mean + n, rstd + n, inp + o, weight, bias, C);
  }
}

void layernorm_backward(const Context& ctx, float* dinp, float* dweight, float* dbias, const float* dout,
                        const float* inp, const float* weight, const float* mean, const float* rstd, int N, int C) {
  const auto backward_row = HWY_DYNAMIC_DISPATCH(LayernormBackwardRow);
  const int width = HWY_DYNAMIC_DISPATCH(LayernormSliceWidth)();
  const int n_slices = (C + width - 1) / width;
#pragma omp parallel num_threads(ctx.n_threads)
  {
    // Pass 1, rows in parallel: the input gradient.
#pragma omp for schedule(static)
    for (int n = 0; n < N; n++) {
      const int64_t o = (int64_t)n * C;
      backward_row(dinp + o, dout + o, inp + o, weight, mean[n], rstd[n], C);
    }
    // Pass 2, channel slices in parallel: each thread owns its slice of the
    // parameter gradients, so there is no shared accumulator.
#pragma omp for schedule(static)
    for (int sl = 0; sl < n_slices; sl++) {
      const int c0 = sl * width, c1 = std::min(C, c0 + width);
      HWY_DYNAMIC_DISPATCH(LayernormParamGradSlice)(dweight, dbias, dout, inp, mean, rstd, N, C, c0, c1);
    }
  }
}

}  // namespace cpu_llm
#endif  // HWY_ONCE
