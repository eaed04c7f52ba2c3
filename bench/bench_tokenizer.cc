// GPT-2 encode throughput on the bundled corpus (4.1 MB of English), in bytes
// of input per second of wall time. The corpus is cut into documents at line
// boundaries; each of the N threads takes every N-th document and encodes it
// with its own session. Each pass starts fresh sessions (empty word caches),
// so the figure is for text seen once, not text a cache already holds. The
// threads are started inside the timed pass, rather than with Google
// Benchmark's Threads(), whose rates are per thread rather than in total.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <thread>
#include <string>
#include <string_view>
#include <vector>

#include "data/corpus.h"
#include "data/gpt2_tokenizer.h"

namespace {

struct Input {
  std::string corpus;
  std::vector<std::string_view> docs;
  std::unique_ptr<cpu_llm::Gpt2Tokenizer> tok;
};

constexpr size_t kDocuments = 64;

void SplitAtLines(Input* in) {
  const std::string_view text = in->corpus;
  const size_t target = text.size() / kDocuments + 1;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', std::min(text.size(), pos + target));
    end = end == std::string_view::npos ? text.size() : end + 1;
    in->docs.push_back(text.substr(pos, end - pos));
    pos = end;
  }
}

// Encodes documents first, first + step, ... with one fresh session; returns the token count.
size_t EncodeShare(const Input& in, size_t first, size_t step) {
  cpu_llm::Gpt2Session session(*in.tok);
  std::vector<int32_t> ids;
  size_t tokens = 0;
  for (size_t d = first; d < in.docs.size(); d += step) {
    ids.clear();
    session.Encode(in.docs[d], &ids);
    benchmark::DoNotOptimize(ids.data());
    tokens += ids.size();
  }
  return tokens;
}

void EncodeCorpus(benchmark::State& state, const Input* in) {
  const auto n_threads = static_cast<size_t>(state.range(0));
  std::vector<size_t> tokens(n_threads);
  int64_t total_tokens = 0;
  for (auto _ : state) {
    std::vector<std::thread> threads;
    for (size_t t = 1; t < n_threads; t++) threads.emplace_back([&, t] { tokens[t] = EncodeShare(*in, t, n_threads); });
    tokens[0] = EncodeShare(*in, 0, n_threads);
    for (std::thread& th : threads) th.join();
    for (size_t n : tokens) total_tokens += static_cast<int64_t>(n);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(in->corpus.size()));
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(total_tokens), benchmark::Counter::kIsRate);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  Input in;
  cpu_llm::Status s = cpu_llm::LoadBundledCorpus(&in.corpus);
  if (s.ok()) s = cpu_llm::Gpt2Tokenizer::Load(&in.tok);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    return 1;
  }
  SplitAtLines(&in);
  benchmark::RegisterBenchmark("Gpt2EncodeCorpus", EncodeCorpus, &in)
      ->ArgName("threads")
      ->Arg(1)
      ->Arg(2)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
