// Flat versus nested (vector of row vectors) storage for one GELU MLP layer,
// forward + backward, single-threaded: the same scalar loops over the two
// layouts (see src/bench/flat_nested.h). Shape: a d6 MLP (C=384, 4C=1536) at
// B*T=256. GFLOP/s counts the three products (forward, dinp, dW) as
// 2*N*C*OC each; GELU and the bias are left out.
#include <benchmark/benchmark.h>

#include "bench/flat_nested.h"

namespace {

constexpr int kN = cpu_llm::kFlatNestedN, kC = cpu_llm::kFlatNestedC, kOC = cpu_llm::kFlatNestedOC;

void SetGflops(benchmark::State& state) {
  const double flops = 6.0 * kN * kC * kOC;
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

void BM_FlatVsNested_Nested(benchmark::State& state) {
  cpu_llm::FlatLayer flat;
  cpu_llm::NestedLayer nested;
  cpu_llm::MakeFlatLayer(kN, kC, kOC, 1234, &flat);
  cpu_llm::MakeNestedLayer(flat, &nested);
  for (auto _ : state) {
    cpu_llm::NestedForwardBackward(&nested);
    benchmark::DoNotOptimize(nested.dw.data());
  }
  SetGflops(state);
}

void BM_FlatVsNested_Flat(benchmark::State& state) {
  cpu_llm::FlatLayer flat;
  cpu_llm::MakeFlatLayer(kN, kC, kOC, 1234, &flat);
  for (auto _ : state) {
    cpu_llm::FlatForwardBackward(&flat);
    benchmark::DoNotOptimize(flat.dw.data());
  }
  SetGflops(state);
}

}  // namespace

BENCHMARK(BM_FlatVsNested_Nested)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FlatVsNested_Flat)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
