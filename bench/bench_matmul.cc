// The matmul backends side by side (plan item 9): the built-in tiled kernel,
// OpenBLAS and oneDNN on the linear layers of d6 (C=384, B*T=1024) and GPT-2
// 124M (C=768, B*T=1024; its LM head at 256 rows to keep it short), each
// product on its own, with 1 and 2 threads (wall time).
//
//   Forward     out = inp . W^T + bias
//   BackwardW   dW += dout^T . inp and dbias (dinp null)
//   Backward    the above and dinp = dout . W; dinp's own cost is the difference
//
// GFLOP/s counts 2 per multiply-add of the products. Names read
// Product/shape/backend/threads:N, e.g. --benchmark_filter='Forward/124m_fc/'.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/rng.h"
#include "kernels/matmul.h"

namespace {

using cpu_llm::Context;
using cpu_llm::MatmulBackend;
using V = std::vector<float>;

struct Shape {
  const char* name;
  int N, C, OC;
};
constexpr Shape kShapes[] = {
    {"d6_qkv", 1024, 384, 1152},      {"d6_attproj", 1024, 384, 384},   {"d6_fc", 1024, 384, 1536},
    {"d6_fcproj", 1024, 1536, 384},   {"d6_lmhead", 1024, 384, 50304},  {"124m_qkv", 1024, 768, 2304},
    {"124m_attproj", 1024, 768, 768}, {"124m_fc", 1024, 768, 3072},     {"124m_fcproj", 1024, 3072, 768},
    {"124m_lmhead", 256, 768, 50304},
};
constexpr MatmulBackend kBackends[] = {MatmulBackend::kTiled, MatmulBackend::kBlas, MatmulBackend::kOneDnn};

V RandomVec(cpu_llm::Rng& rng, int64_t n) {
  V v(static_cast<size_t>(n));
  for (float& x : v) x = 2.0f * rng.Uniform() - 1.0f;
  return v;
}

struct Operands {
  V inp, w, b, dout, out, dinp, dw, db;
  explicit Operands(const Shape& s) {
    cpu_llm::Rng rng(1);
    inp = RandomVec(rng, (int64_t)s.N * s.C);
    w = RandomVec(rng, (int64_t)s.OC * s.C);
    b = RandomVec(rng, s.OC);
    dout = RandomVec(rng, (int64_t)s.N * s.OC);
    out.resize((int64_t)s.N * s.OC);
    dinp.resize((int64_t)s.N * s.C);
    dw.resize((int64_t)s.OC * s.C);
    db.resize(s.OC);
  }
};

void SetGflops(benchmark::State& state, double flops_per_iter) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_iter * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

enum class Product { kForward, kBackwardW, kBackward };

void Run(benchmark::State& state, Shape s, MatmulBackend backend, Product product) {
  const Context ctx{static_cast<int>(state.range(0)), nullptr, backend};
  Operands o(s);
  for (auto _ : state) {
    switch (product) {
      case Product::kForward:
        cpu_llm::matmul_forward(ctx, o.out.data(), o.inp.data(), o.w.data(), o.b.data(), s.N, s.C, s.OC);
        break;
      case Product::kBackwardW:
        cpu_llm::matmul_backward(ctx, nullptr, o.dw.data(), o.db.data(), o.dout.data(), o.inp.data(), o.w.data(), s.N,
                                 s.C, s.OC);
        break;
      case Product::kBackward:
        cpu_llm::matmul_backward(ctx, o.dinp.data(), o.dw.data(), o.db.data(), o.dout.data(), o.inp.data(),
                                 o.w.data(), s.N, s.C, s.OC);
        break;
    }
    benchmark::ClobberMemory();
  }
  SetGflops(state, (product == Product::kBackward ? 4.0 : 2.0) * s.N * s.C * s.OC);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  const std::pair<const char*, Product> products[] = {
      {"Forward", Product::kForward}, {"BackwardW", Product::kBackwardW}, {"Backward", Product::kBackward}};
  for (const auto& [pname, product] : products)
    for (const Shape& s : kShapes)
      for (MatmulBackend backend : kBackends) {
        const std::string name = std::string(pname) + "/" + s.name + "/" + cpu_llm::MatmulBackendName(backend);
        benchmark::RegisterBenchmark(name.c_str(), Run, s, backend, product)
            ->ArgName("threads")
            ->Arg(1)
            ->Arg(2)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
