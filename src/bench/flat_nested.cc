#include "bench/flat_nested.h"

#include <algorithm>
#include <cmath>

#include "core/rng.h"
#include "core/timer.h"

namespace cpu_llm {
namespace {

// GELU (tanh approximation, as GPT-2 and kernels/reference use) and its
// derivative. Scalar libm tanh on purpose: both layouts call the same code.
constexpr float kGeluScale = 0.7978845608f;  // sqrt(2/pi)
constexpr float kGeluCubic = 0.044715f;

inline float Gelu(float x) { return 0.5f * x * (1.0f + std::tanh(kGeluScale * (x + kGeluCubic * x * x * x))); }

inline float GeluGrad(float x) {
  const float th = std::tanh(kGeluScale * (x + kGeluCubic * x * x * x));
  const float du = kGeluScale * (1.0f + 3.0f * kGeluCubic * x * x);
  return 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du;
}

// A matrix as a vector of `rows` row vectors of `cols` floats each.
std::vector<std::vector<float>> Rows(int rows, int cols) {
  return std::vector<std::vector<float>>(rows, std::vector<float>(cols, 0.0f));
}
std::vector<std::vector<float>> RowsOf(const std::vector<float>& flat, int rows, int cols) {
  std::vector<std::vector<float>> m(rows);
  for (int r = 0; r < rows; r++) m[r].assign(flat.begin() + (int64_t)r * cols, flat.begin() + (int64_t)(r + 1) * cols);
  return m;
}

double MaxDiff(const std::vector<float>& flat, const std::vector<std::vector<float>>& nested, int cols) {
  double worst = 0.0;
  for (size_t r = 0; r < nested.size(); r++)
    for (int c = 0; c < cols; c++)
      worst = std::max(worst, std::fabs((double)flat[r * cols + c] - (double)nested[r][c]));
  return worst;
}
double MaxDiff(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); i++) worst = std::max(worst, std::fabs((double)a[i] - (double)b[i]));
  return worst;
}

struct Stats {
  double median, min, max;
};
Stats Summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  const size_t n = ms.size();
  const double median = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
  return {median, ms.front(), ms.back()};
}

}  // namespace

void MakeFlatLayer(int N, int C, int OC, uint64_t seed, FlatLayer* L) {
  Rng rng(seed);
  auto fill = [&rng](int64_t n, float scale) {
    std::vector<float> v(n);
    for (float& x : v) x = rng.Normal() * scale;
    return v;
  };
  L->N = N, L->C = C, L->OC = OC;
  L->inp = fill((int64_t)N * C, 1.0f);
  L->w = fill((int64_t)OC * C, 1.0f / std::sqrt((float)C));
  L->b = fill(OC, 0.1f);
  L->dout = fill((int64_t)N * OC, 1.0f);
  L->pre.assign((int64_t)N * OC, 0.0f);
  L->out.assign((int64_t)N * OC, 0.0f);
  L->dpre.assign((int64_t)N * OC, 0.0f);
  L->dinp.assign((int64_t)N * C, 0.0f);
  L->dw.assign((int64_t)OC * C, 0.0f);
  L->db.assign(OC, 0.0f);
}

void MakeNestedLayer(const FlatLayer& f, NestedLayer* L) {
  L->N = f.N, L->C = f.C, L->OC = f.OC;
  L->inp = RowsOf(f.inp, f.N, f.C);
  L->w = RowsOf(f.w, f.OC, f.C);
  L->b = f.b;
  L->dout = RowsOf(f.dout, f.N, f.OC);
  L->pre = Rows(f.N, f.OC);
  L->out = Rows(f.N, f.OC);
  L->dpre = Rows(f.N, f.OC);
  L->dinp = Rows(f.N, f.C);
  L->dw = Rows(f.OC, f.C);
  L->db.assign(f.OC, 0.0f);
}

// The two functions below are the same text but for the index expressions:
// x[n][c] on one side, x[n * C + c] on the other. Keep them that way.
// Loop orders: the forward is a dot product along a row of inp and a row of
// w; dinp accumulates rows of w (n outer); dw accumulates rows of inp with o
// outer, so each dw row is finished (and overwritten, not added to) in turn.
// Without -ffast-math the compiler may not reorder the forward's sum, so it is
// a chain of dependent adds and takes most of the time in both versions.

void NestedForwardBackward(NestedLayer* L) {
  const int N = L->N, C = L->C, OC = L->OC;
  const auto& inp = L->inp;
  const auto& w = L->w;
  const auto& b = L->b;
  const auto& dout = L->dout;
  auto& pre = L->pre;
  auto& out = L->out;
  auto& dpre = L->dpre;
  auto& dinp = L->dinp;
  auto& dw = L->dw;
  auto& db = L->db;

  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++) {
      float acc = b[o];
      for (int c = 0; c < C; c++) acc += inp[n][c] * w[o][c];
      pre[n][o] = acc;
      out[n][o] = Gelu(acc);
    }

  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++) dpre[n][o] = GeluGrad(pre[n][o]) * dout[n][o];

  for (int n = 0; n < N; n++) {
    for (int c = 0; c < C; c++) dinp[n][c] = 0.0f;
    for (int o = 0; o < OC; o++) {
      const float d = dpre[n][o];
      for (int c = 0; c < C; c++) dinp[n][c] += d * w[o][c];
    }
  }

  for (int o = 0; o < OC; o++) {
    for (int c = 0; c < C; c++) dw[o][c] = 0.0f;
    float sum = 0.0f;
    for (int n = 0; n < N; n++) {
      const float d = dpre[n][o];
      sum += d;
      for (int c = 0; c < C; c++) dw[o][c] += d * inp[n][c];
    }
    db[o] = sum;
  }
}

void FlatForwardBackward(FlatLayer* L) {
  const int N = L->N, C = L->C, OC = L->OC;
  const auto& inp = L->inp;
  const auto& w = L->w;
  const auto& b = L->b;
  const auto& dout = L->dout;
  auto& pre = L->pre;
  auto& out = L->out;
  auto& dpre = L->dpre;
  auto& dinp = L->dinp;
  auto& dw = L->dw;
  auto& db = L->db;

  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++) {
      float acc = b[o];
      for (int c = 0; c < C; c++) acc += inp[(int64_t)n * C + c] * w[(int64_t)o * C + c];
      pre[(int64_t)n * OC + o] = acc;
      out[(int64_t)n * OC + o] = Gelu(acc);
    }

  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++) dpre[(int64_t)n * OC + o] = GeluGrad(pre[(int64_t)n * OC + o]) * dout[(int64_t)n * OC + o];

  for (int n = 0; n < N; n++) {
    for (int c = 0; c < C; c++) dinp[(int64_t)n * C + c] = 0.0f;
    for (int o = 0; o < OC; o++) {
      const float d = dpre[(int64_t)n * OC + o];
      for (int c = 0; c < C; c++) dinp[(int64_t)n * C + c] += d * w[(int64_t)o * C + c];
    }
  }

  for (int o = 0; o < OC; o++) {
    for (int c = 0; c < C; c++) dw[(int64_t)o * C + c] = 0.0f;
    float sum = 0.0f;
    for (int n = 0; n < N; n++) {
      const float d = dpre[(int64_t)n * OC + o];
      sum += d;
      for (int c = 0; c < C; c++) dw[(int64_t)o * C + c] += d * inp[(int64_t)n * C + c];
    }
    db[o] = sum;
  }
}

double MaxAbsDiff(const FlatLayer& f, const NestedLayer& n) {
  double worst = MaxDiff(f.out, n.out, f.OC);
  worst = std::max(worst, MaxDiff(f.dinp, n.dinp, f.C));
  worst = std::max(worst, MaxDiff(f.dw, n.dw, f.C));
  return std::max(worst, MaxDiff(f.db, n.db));
}

Status RunFlatVsNested(int N, int C, int OC, int reps, FlatNestedResult* result) {
  if (N <= 0 || C <= 0 || OC <= 0 || reps <= 0)
    return UsageError("flat vs nested: N, C, OC and reps must be > 0 (got N={} C={} OC={} reps={})", N, C, OC, reps);
  // Each matrix is held three to five times over; 2^28 floats (1 GiB) apiece is plenty for a benchmark.
  constexpr int64_t kMaxFloats = int64_t{1} << 28;
  if ((int64_t)N * C > kMaxFloats || (int64_t)N * OC > kMaxFloats || (int64_t)OC * C > kMaxFloats)
    return UsageError("flat vs nested: N={} C={} OC={} is too large (at most 2^28 floats per matrix)", N, C, OC);

  FlatLayer flat;
  NestedLayer nested;
  MakeFlatLayer(N, C, OC, /*seed=*/1234, &flat);
  MakeNestedLayer(flat, &nested);

  // One untimed pass each brings code, data and the pages of the outputs in.
  NestedForwardBackward(&nested);
  FlatForwardBackward(&flat);

  std::vector<double> nested_ms, flat_ms;
  for (int r = 0; r < reps; r++) {
    // Swap which one goes first every rep, so neither always follows the other
    // (and inherits its cache state or a frequency change).
    for (int k = 0; k < 2; k++) {
      const bool run_nested = (k == 0) == (r % 2 == 0);
      Timer timer;
      if (run_nested)
        NestedForwardBackward(&nested);
      else
        FlatForwardBackward(&flat);
      (run_nested ? nested_ms : flat_ms).push_back(timer.Ms());
    }
  }

  const Stats ns = Summarize(nested_ms), fs = Summarize(flat_ms);
  *result = FlatNestedResult{N, C, OC, reps, ns.median, ns.min, ns.max, fs.median, fs.min, fs.max,
                             MaxAbsDiff(flat, nested)};
  return Status();
}

}  // namespace cpu_llm
