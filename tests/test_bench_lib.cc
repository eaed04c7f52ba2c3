// The flat-vs-nested storage benchmark: both layouts compute the same layer,
// and that layer is the reference matmul + GELU, forward and backward; the
// timings it reports are sane and bad arguments are refused.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

#include "bench/flat_nested.h"
#include "kernels/reference/reference.h"
#include "test_util.h"

namespace cpu_llm {
namespace {

using test::ExpectAllNear;
using test::MaxAbs;
using V = std::vector<float>;

// Flattens a nested matrix row by row.
V Flatten(const std::vector<std::vector<float>>& m) {
  V f;
  for (const auto& row : m) f.insert(f.end(), row.begin(), row.end());
  return f;
}

TEST(BenchLibFlatNested, LayoutsAgree) {
  // Odd sizes so no loop length is a multiple of a SIMD width.
  FlatLayer flat;
  NestedLayer nested;
  MakeFlatLayer(7, 19, 33, 5, &flat);
  MakeNestedLayer(flat, &nested);
  FlatForwardBackward(&flat);
  NestedForwardBackward(&nested);
  // Same loops, same arithmetic: the results should be identical; the bound
  // leaves room for the compiler vectorizing the two a little differently.
  EXPECT_LE(MaxAbsDiff(flat, nested), 1e-5 * MaxAbs(flat.dw));
  ExpectAllNear(Flatten(nested.out), flat.out, 1e-5, "out");
  ExpectAllNear(Flatten(nested.dinp), flat.dinp, 1e-5, "dinp");
  ExpectAllNear(Flatten(nested.dw), flat.dw, 1e-5, "dw");
  ExpectAllNear(nested.db, flat.db, 1e-5, "db");
}

TEST(BenchLibFlatNested, MatchesReferenceOps) {
  const int N = 9, C = 21, OC = 35;
  FlatLayer flat;
  MakeFlatLayer(N, C, OC, 7, &flat);
  FlatForwardBackward(&flat);

  V pre(N * OC), out(N * OC), dpre(N * OC), dinp(N * C), dw(OC * C, 0.0f), db(OC, 0.0f);
  ref::matmul_forward(pre.data(), flat.inp.data(), flat.w.data(), flat.b.data(), N, C, OC);
  ref::gelu_forward(out.data(), pre.data(), N * OC);
  ref::gelu_backward(dpre.data(), pre.data(), flat.dout.data(), N * OC);
  ref::matmul_backward(dinp.data(), dw.data(), db.data(), dpre.data(), flat.inp.data(), flat.w.data(), N, C, OC);

  // Values are O(1) (out) to O(sqrt(N)) (dw); the two sides differ at most in
  // summation order and FMA contraction, i.e. by float rounding.
  ExpectAllNear(flat.pre, pre, 1e-5, "pre");
  ExpectAllNear(flat.out, out, 1e-5, "out");
  ExpectAllNear(flat.dinp, dinp, 1e-5 * MaxAbs(dinp), "dinp");
  ExpectAllNear(flat.dw, dw, 1e-5 * MaxAbs(dw), "dw");
  ExpectAllNear(flat.db, db, 1e-5 * MaxAbs(db), "db");

  // A second pass overwrites the gradients rather than adding to them.
  FlatForwardBackward(&flat);
  ExpectAllNear(flat.dw, dw, 1e-5 * MaxAbs(dw), "dw after two passes");
  ExpectAllNear(flat.db, db, 1e-5 * MaxAbs(db), "db after two passes");
}

TEST(BenchLibFlatNested, RunReportsSaneTimings) {
  FlatNestedResult r{};
  const Status s = RunFlatVsNested(16, 24, 40, 5, &r);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(r.N, 16);
  EXPECT_EQ(r.C, 24);
  EXPECT_EQ(r.OC, 40);
  EXPECT_EQ(r.reps, 5);
  EXPECT_GT(r.nested_ms_min, 0.0);
  EXPECT_GT(r.flat_ms_min, 0.0);
  EXPECT_LE(r.nested_ms_min, r.nested_ms_median);
  EXPECT_LE(r.nested_ms_median, r.nested_ms_max);
  EXPECT_LE(r.flat_ms_min, r.flat_ms_median);
  EXPECT_LE(r.flat_ms_median, r.flat_ms_max);
  EXPECT_LT(r.max_abs_diff, 1e-5);

  // An even rep count takes the median between the middle two.
  ASSERT_TRUE(RunFlatVsNested(4, 8, 8, 2, &r).ok());
  EXPECT_LE(r.flat_ms_min, r.flat_ms_median);
  EXPECT_LE(r.flat_ms_median, r.flat_ms_max);
}

TEST(BenchLibFlatNested, RejectsBadArguments) {
  FlatNestedResult r{};
  for (auto [N, C, OC, reps] : {std::array{0, 8, 8, 1}, std::array{8, -1, 8, 1}, std::array{8, 8, 0, 1},
                                std::array{8, 8, 8, 0}, std::array{1 << 20, 1 << 20, 8, 1}}) {
    const Status s = RunFlatVsNested(N, C, OC, reps, &r);
    EXPECT_FALSE(s.ok()) << N << " " << C << " " << OC << " " << reps;
    EXPECT_EQ(s.kind(), ErrorKind::kUsage);
  }
}

}  // namespace
}  // namespace cpu_llm
