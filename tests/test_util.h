// Small shared helpers for the unit tests: seeded random fills, conversions
// array comparisons that report the worst element, and a loop over the
// SIMD targets the Highway kernels can dispatch to.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/rng.h"
#include "hwy/targets.h"
#include "kernels/simd_targets.h"

namespace cpu_llm::test {

// The thread counts every kernel test runs: one thread and two.
inline const Context kContexts[] = {Context{1}, Context{2}};

// Tolerance of a fast float kernel against the float reference. Both round
// every term of a reduction of length K; for random-signed terms the
// accumulated error is about eps_f * sqrt(K) * magnitude (eps_f = 6e-8), so
// 1e-5 * sqrt(K) * max|value| leaves a ~100x margin for different summation
// orders and FMA contraction, while a wrong, missing or doubled term (an
// error of order magnitude/sqrt(K) or more) stays far above it.
inline double Tol(int64_t K, double magnitude) { return 1e-5 * std::sqrt(static_cast<double>(K)) * magnitude; }

// n values ~ N(0, scale^2).
inline std::vector<float> RandomVec(Rng& rng, int64_t n, float scale = 1.0f) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = rng.Normal() * scale;
  return v;
}

// n integers uniform in [0, hi).
inline std::vector<int32_t> RandomTokens(Rng& rng, int64_t n, int hi) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<int32_t>(rng.NextU64() % static_cast<uint64_t>(hi));
  return v;
}

template <typename To, typename From>
std::vector<To> Convert(const std::vector<From>& v) {
  return std::vector<To>(v.begin(), v.end());
}

template <typename F>
double MaxAbs(const std::vector<F>& v) {
  double m = 0.0;
  for (F x : v) m = std::max(m, std::fabs(static_cast<double>(x)));
  return m;
}

// Expects max_i |got[i] - want[i]| <= tol; reports the worst index. NaN in
// either array counts as a failure.
template <typename A, typename B>
void ExpectAllNear(const std::vector<A>& got, const std::vector<B>& want, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double worst = 0.0;
  size_t worst_i = 0;
  bool nan = false;
  for (size_t i = 0; i < got.size(); i++) {
    const double d = std::fabs(static_cast<double>(got[i]) - static_cast<double>(want[i]));
    if (std::isnan(d)) {
      nan = true;
      worst_i = i;
      break;
    }
    if (d > worst) {
      worst = d;
      worst_i = i;
    }
  }
  EXPECT_FALSE(nan) << what << ": NaN at " << worst_i;
  EXPECT_LE(worst, tol) << what << ": worst at " << worst_i << " got " << got[worst_i] << " want "
                        << want[worst_i];
}

// Bit-for-bit equality of two float arrays.
inline void ExpectBitEqual(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << what << " differs between runs";
}

// Central finite differences of objective() with respect to every entry of
// x (perturbed in place and restored), compared to the analytic gradient:
// |fd - grad| <= rel * (1 + |fd|). In double with h = 1e-6 the truncation
// error is O(h^2) ~ 1e-12 and the rounding error ~ 1e-16 * |L| / h ~ 1e-9,
// so rel = 1e-6 leaves a wide margin while any wrong term (an O(1) error)
// fails.
template <typename Objective>
void ExpectGradMatchesFD(std::vector<double>& x, const std::vector<double>& grad, Objective&& objective,
                         const std::string& what, double rel = 1e-6) {
  ASSERT_EQ(x.size(), grad.size()) << what;
  const double h = 1e-6;
  double worst = 0.0;
  size_t worst_i = 0;
  double worst_fd = 0.0;
  for (size_t i = 0; i < x.size(); i++) {
    const double saved = x[i];
    x[i] = saved + h;
    const double lp = objective();
    x[i] = saved - h;
    const double lm = objective();
    x[i] = saved;
    const double fd = (lp - lm) / (2 * h);
    double err = std::fabs(fd - grad[i]) / (1.0 + std::fabs(fd));
    if (std::isnan(err)) err = INFINITY;
    if (err > worst) {
      worst = err;
      worst_i = i;
      worst_fd = fd;
    }
  }
  EXPECT_LE(worst, rel) << what << ": worst at " << worst_i << " analytic " << grad[worst_i] << " numeric "
                        << worst_fd;
}

template <typename F>
double Dot(const std::vector<F>& a, const std::vector<F>& b) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); i++) s += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return s;
}

// Runs body() once per Highway target this CPU supports, with the kernels'
// dispatch restricted to it and each failure traced with the target's name;
// returns the names of the targets that ran.
template <class Body>
std::vector<std::string> ForEachSimdTarget(Body&& body) {
  struct Restore {  // dispatch goes back to normal even if body() throws
    ~Restore() { hwy::SetSupportedTargetsForTest(0); }
  } restore;
  std::vector<std::string> ran;
  for (int64_t target : SimdTargets()) {
    SCOPED_TRACE("target " + SimdTargetName(target));
    hwy::SetSupportedTargetsForTest(target);
    EXPECT_EQ(DispatchedSimdTarget(), target);
    body();
    ran.push_back(SimdTargetName(target));
  }
  return ran;
}

}  // namespace cpu_llm::test
