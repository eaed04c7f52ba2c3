// Per-kernel micro-benchmarks at GPT-2 124M shapes (C=768, NH=12, B*T=1024
// unless noted), forward and backward, each with 1 and 2 threads
// (Context{n_threads}; wall time, since the work is shared among threads).
//
// Counters: GFLOP/s for the compute-bound kernels (matmul, attention), GB/s
// for the memory-bound rest. Both are in units of 1e9 per second of wall
// time, so the console prints them as e.g. "GFLOP/s=41.2/s".
//   - FLOPs count the multiply-adds of the products as 2 each; bias adds,
//     softmax and scaling are left out (they are a rounding error next to them).
//   - Bytes are the op's compulsory traffic as its header specifies it: every
//     input read once, every output written once, read-modify-write (+=)
//     outputs counted twice. Kernels that take two passes over a row that
//     stays in cache move more than this through the core, not through DRAM.
// The scalar reference matmul (kernels/reference/reference.h) runs at a small
// shape beside the vectorized kernel at the same shape, to show the speedup.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/rng.h"
#include "kernels/attention.h"
#include "kernels/convert.h"
#include "kernels/crossentropy.h"
#include "kernels/encoder.h"
#include "kernels/gelu.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/reference/reference.h"
#include "kernels/residual.h"
#include "model/config.h"
#include "optim/adamw.h"

namespace {

using cpu_llm::Context;
using V = std::vector<float>;

// Uniform in [-scale, scale): the values only need to be ordinary floats, and
// this is cheap enough to fill the 124M-float optimizer buffers quickly.
V RandomVec(cpu_llm::Rng& rng, int64_t n, float scale = 1.0f) {
  V v(static_cast<size_t>(n));
  for (float& x : v) x = (2.0f * rng.Uniform() - 1.0f) * scale;
  return v;
}
std::vector<int32_t> RandomTokens(cpu_llm::Rng& rng, int64_t n, int hi) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (int32_t& x : v) x = static_cast<int32_t>(rng.NextU64() % static_cast<uint64_t>(hi));
  return v;
}

Context ThreadsArg(const benchmark::State& state) { return Context{static_cast<int>(state.range(0))}; }

void SetGflops(benchmark::State& state, double flops_per_iter) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_iter * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}
void SetGbps(benchmark::State& state, double bytes_per_iter) {
  state.counters["GB/s"] =
      benchmark::Counter(bytes_per_iter * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// ---------------------------------------------------------------- matmul

struct MatmulShape {
  const char* name;
  int N, C, OC;
};
// The four matmuls of GPT-2 124M at B*T=1024 (the LM head at 256 rows to keep
// it short), and a small one the scalar reference finishes in tens of ms.
constexpr MatmulShape kMatmulShapes[] = {
    {"qkv", 1024, 768, 2304},
    {"fc", 1024, 768, 3072},
    {"fcproj", 1024, 3072, 768},
    {"lmhead", 256, 768, 50304},
};
constexpr MatmulShape kSmallMatmul = {"small", 64, 768, 768};

// 2 FLOPs per multiply-add: out = inp . w^T is N*C*OC of them.
void MatmulForward(benchmark::State& state, MatmulShape s) {
  const Context ctx = ThreadsArg(state);
  cpu_llm::Rng rng(1);
  const V inp = RandomVec(rng, (int64_t)s.N * s.C), w = RandomVec(rng, (int64_t)s.OC * s.C), b = RandomVec(rng, s.OC);
  V out((int64_t)s.N * s.OC);
  for (auto _ : state) {
    cpu_llm::matmul_forward(ctx, out.data(), inp.data(), w.data(), b.data(), s.N, s.C, s.OC);
    benchmark::DoNotOptimize(out.data());
  }
  SetGflops(state, 2.0 * s.N * s.C * s.OC);
}

// dinp = dout . w and dw += dout^T . inp: 2 * N*C*OC multiply-adds.
void MatmulBackward(benchmark::State& state, MatmulShape s) {
  const Context ctx = ThreadsArg(state);
  cpu_llm::Rng rng(2);
  const V inp = RandomVec(rng, (int64_t)s.N * s.C), w = RandomVec(rng, (int64_t)s.OC * s.C);
  const V dout = RandomVec(rng, (int64_t)s.N * s.OC);
  V dinp((int64_t)s.N * s.C), dw((int64_t)s.OC * s.C), db(s.OC);
  for (auto _ : state) {
    cpu_llm::matmul_backward(ctx, dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(), s.N, s.C,
                             s.OC);
    benchmark::DoNotOptimize(dw.data());
  }
  SetGflops(state, 4.0 * s.N * s.C * s.OC);
}

// The scalar references are single-threaded loops: no thread argument.
void RefMatmulForward(benchmark::State& state, MatmulShape s) {
  cpu_llm::Rng rng(1);
  const V inp = RandomVec(rng, (int64_t)s.N * s.C), w = RandomVec(rng, (int64_t)s.OC * s.C), b = RandomVec(rng, s.OC);
  V out((int64_t)s.N * s.OC);
  for (auto _ : state) {
    cpu_llm::ref::matmul_forward(out.data(), inp.data(), w.data(), b.data(), s.N, s.C, s.OC);
    benchmark::DoNotOptimize(out.data());
  }
  SetGflops(state, 2.0 * s.N * s.C * s.OC);
}

void RefMatmulBackward(benchmark::State& state, MatmulShape s) {
  cpu_llm::Rng rng(2);
  const V inp = RandomVec(rng, (int64_t)s.N * s.C), w = RandomVec(rng, (int64_t)s.OC * s.C);
  const V dout = RandomVec(rng, (int64_t)s.N * s.OC);
  V dinp((int64_t)s.N * s.C), dw((int64_t)s.OC * s.C), db(s.OC);
  for (auto _ : state) {
    cpu_llm::ref::matmul_backward(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(), s.N, s.C,
                                  s.OC);
    benchmark::DoNotOptimize(dw.data());
  }
  SetGflops(state, 4.0 * s.N * s.C * s.OC);
}

// ---------------------------------------------------------------- layernorm

constexpr int kRows = 1024;  // B*T
constexpr int kC = 768;

// Forward bytes: inp (N*C) + weight, bias (2C) read; out (N*C) + mean, rstd (2N) written.
void LayernormForward(benchmark::State& state) {
  const Context ctx = ThreadsArg(state);
  const int N = kRows, C = kC;
  cpu_llm::Rng rng(3);
  const V inp = RandomVec(rng, (int64_t)N * C), w = RandomVec(rng, C), b = RandomVec(rng, C);
  V out((int64_t)N * C), mean(N), rstd(N);
  for (auto _ : state) {
    cpu_llm::layernorm_forward(ctx, out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), N, C);
    benchmark::DoNotOptimize(out.data());
  }
  SetGbps(state, 4.0 * (2.0 * N * C + 2.0 * C + 2.0 * N));
}

// Backward bytes: dout, inp (2 N*C) + weight (C) + mean, rstd (2N) read;
// dinp += (2 N*C), dweight, dbias += (4C).
void LayernormBackward(benchmark::State& state) {
  const Context ctx = ThreadsArg(state);
  const int N = kRows, C = kC;
  cpu_llm::Rng rng(4);
  const V inp = RandomVec(rng, (int64_t)N * C), w = RandomVec(rng, C), b = RandomVec(rng, C);
  const V dout = RandomVec(rng, (int64_t)N * C);
  V out((int64_t)N * C), mean(N), rstd(N), dinp((int64_t)N * C), dw(C), db(C);
  cpu_llm::layernorm_forward(ctx, out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), N, C);
  for (auto _ : state) {
    cpu_llm::layernorm_backward(ctx, dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(),
                                mean.data(), rstd.data(), N, C);
    benchmark::DoNotOptimize(dinp.data());
  }
  SetGbps(state, 4.0 * (4.0 * N * C + 5.0 * C + 2.0 * N));
}

// ---------------------------------------------------------------- attention

constexpr int kB = 4, kT = 256, kNH = 12;

// Causal: query t meets t+1 keys, so each (b, head) does sum_t (t+1) =
// T(T+1)/2 dot products of hs (q.k) and as many hs-long axpys (att . v).
// Over B*NH heads of hs = C/NH: forward 2 * B*C*T(T+1) FLOPs; backward has
// four such products (dp, dv, dq, dk), twice that. The fused backward also
// recomputes q.k (a fifth product), left out so the figure measures the
// gradient's work, not how it is obtained.
double AttentionForwardFlops() { return 2.0 * kB * kC * kT * (kT + 1.0); }

void AttentionForward(benchmark::State& state) {
  const Context ctx = ThreadsArg(state);
  cpu_llm::Rng rng(5);
  const V qkv = RandomVec(rng, (int64_t)kB * kT * 3 * kC);
  V out((int64_t)kB * kT * kC), lse((int64_t)kB * kNH * kT);
  V scratch(cpu_llm::attention_scratch_floats(ctx.n_threads, kT, kC, kNH));
  for (auto _ : state) {
    cpu_llm::attention_forward(ctx, out.data(), lse.data(), scratch.data(), qkv.data(), kB, kT, kC, kNH);
    benchmark::DoNotOptimize(out.data());
  }
  SetGflops(state, AttentionForwardFlops());
}

void AttentionBackward(benchmark::State& state) {
  const Context ctx = ThreadsArg(state);
  cpu_llm::Rng rng(6);
  const V qkv = RandomVec(rng, (int64_t)kB * kT * 3 * kC), dout = RandomVec(rng, (int64_t)kB * kT * kC);
  V out((int64_t)kB * kT * kC), lse((int64_t)kB * kNH * kT), dqkv((int64_t)kB * kT * 3 * kC);
  V scratch(cpu_llm::attention_scratch_floats(ctx.n_threads, kT, kC, kNH));
  cpu_llm::attention_forward(ctx, out.data(), lse.data(), scratch.data(), qkv.data(), kB, kT, kC, kNH);
  for (auto _ : state) {
    cpu_llm::attention_backward(ctx, dqkv.data(), scratch.data(), dout.data(), qkv.data(), out.data(), lse.data(),
                                kB, kT, kC, kNH);
    benchmark::DoNotOptimize(dqkv.data());
  }
  SetGflops(state, 2.0 * AttentionForwardFlops());
}

// ---------------------------------------------------------------- gelu, residual

constexpr int64_t kGeluN = (int64_t)kRows * 4 * kC;  // the MLP's hidden activations
constexpr int64_t kResidualN = (int64_t)kRows * kC;

// Bytes: inp read, out written: 8 per element.
void GeluForward(benchmark::State& state) {
  const Context ctx = ThreadsArg(state);
  cpu_llm::Rng rng(7);
  const V inp = RandomVec(rng, kGeluN, 3.0f);
  V out(kGeluN);
  for (auto _ : state) {
    cpu_llm::gelu_forward(ctx, out.data(), inp.data(), kGeluN);
    benchmark::DoNotOptimize(out.data());
  }
  SetGbps(state, 8.0 * kGeluN);
}

// Bytes: inp, dout read, dinp written: 12 per element.
void GeluBackward(benchmark::State& state) {
  const Context ctx = ThreadsArg(state);
  cpu_llm::Rng rng(8);
  const V inp = RandomVec(rng, kGeluN, 3.0f), dout = RandomVec(rng, kGeluN);
  V dinp(kGeluN);
  for (auto _ : state) {
    cpu_llm::gelu_backward(ctx, dinp.data(), inp.data(), dout.data(), kGeluN);
    benchmark::DoNotOptimize(dinp.data());
  }
  SetGbps(state, 12.0 * kGeluN);
}

// Bytes: a, b read, out written: 12 per element. The backward of a residual
// is the identity (the model passes the gradient buffer on), so there is no
// backward kernel to time.
void ResidualForward(benchmark::State& state) {
  const Context ctx = ThreadsArg(state);
  cpu_llm::Rng rng(9);
  const V a = RandomVec(rng, kResidualN), b = RandomVec(rng, kResidualN);
  V out(kResidualN);
  for (auto _ : state) {
    cpu_llm::residual_forward(ctx, out.data(), a.data(), b.data(), kResidualN);
    benchmark::DoNotOptimize(out.data());
  }
  SetGbps(state, 12.0 * kResidualN);
}

// ---------------------------------------------------------------- cross-entropy

constexpr int kVocab = 50257, kPaddedVocab = 50304;
constexpr int kLossRows = 256;  // as the LM head: 256 rows of 50304 logits is 51 MB already

// Forward bytes: N*V logits + N targets read; losses, lse (2N) written.
void CrossentropyForward(benchmark::State& state) {
  const Context ctx = ThreadsArg(state);
  const int N = kLossRows;
  cpu_llm::Rng rng(10);
  const V logits = RandomVec(rng, (int64_t)N * kPaddedVocab, 4.0f);
  const std::vector<int32_t> targets = RandomTokens(rng, N, kVocab);
  V losses(N), lse(N);
  for (auto _ : state) {
    cpu_llm::crossentropy_forward(ctx, losses.data(), lse.data(), logits.data(), targets.data(), N, kVocab,
                                  kPaddedVocab);
    benchmark::DoNotOptimize(losses.data());
  }
  SetGbps(state, 4.0 * ((double)N * kVocab + 3.0 * N));
}

// Backward bytes: N*V logits + lse, targets (2N) read; N*Vp dlogits written.
// Out of place here, so every iteration sees the same logits.
void CrossentropyBackward(benchmark::State& state) {
  const Context ctx = ThreadsArg(state);
  const int N = kLossRows;
  cpu_llm::Rng rng(11);
  const V logits = RandomVec(rng, (int64_t)N * kPaddedVocab, 4.0f);
  const std::vector<int32_t> targets = RandomTokens(rng, N, kVocab);
  V losses(N), lse(N), dlogits((int64_t)N * kPaddedVocab);
  cpu_llm::crossentropy_forward(ctx, losses.data(), lse.data(), logits.data(), targets.data(), N, kVocab,
                                kPaddedVocab);
  for (auto _ : state) {
    cpu_llm::crossentropy_backward(ctx, dlogits.data(), logits.data(), lse.data(), targets.data(), 1.0f / N, N,
                                   kVocab, kPaddedVocab);
    benchmark::DoNotOptimize(dlogits.data());
  }
  SetGbps(state, 4.0 * ((double)N * kVocab + (double)N * kPaddedVocab + 2.0 * N));
}

// ---------------------------------------------------------------- encoder

constexpr int kMaxT = 1024;

// Forward bytes per token: a wte row and a wpe row read, an out row written
// (3C floats) + the token id. Repeated tokens are counted every time.
void EncoderForward(benchmark::State& state) {
  const Context ctx = ThreadsArg(state);
  cpu_llm::Rng rng(12);
  const V wte = RandomVec(rng, (int64_t)kPaddedVocab * kC), wpe = RandomVec(rng, (int64_t)kMaxT * kC);
  const std::vector<int32_t> tokens = RandomTokens(rng, (int64_t)kB * kT, kVocab);
  V out((int64_t)kB * kT * kC);
  for (auto _ : state) {
    cpu_llm::encoder_forward(ctx, out.data(), tokens.data(), wte.data(), wpe.data(), kB, kT, kC);
    benchmark::DoNotOptimize(out.data());
  }
  SetGbps(state, 4.0 * kB * kT * (3.0 * kC + 1.0));
}

// Backward bytes per token: a dout row read, a dwte row and a dwpe row
// updated in place (2C each): 5C floats + the token id.
void EncoderBackward(benchmark::State& state) {
  const Context ctx = ThreadsArg(state);
  cpu_llm::Rng rng(13);
  const V dout = RandomVec(rng, (int64_t)kB * kT * kC);
  const std::vector<int32_t> tokens = RandomTokens(rng, (int64_t)kB * kT, kVocab);
  V dwte((int64_t)kPaddedVocab * kC), dwpe((int64_t)kMaxT * kC);
  for (auto _ : state) {
    cpu_llm::encoder_backward(ctx, dwte.data(), dwpe.data(), dout.data(), tokens.data(), kB, kT, kC);
    benchmark::DoNotOptimize(dwte.data());
  }
  SetGbps(state, 4.0 * kB * kT * (5.0 * kC + 1.0));
}

// ---------------------------------------------------------------- optimizer

// Over all GPT-2 124M parameters (124.5M with the padded vocabulary).
// AdamW bytes per parameter: param, grad, m, v read; param, m, v written: 28.
void AdamWUpdate(benchmark::State& state) {
  const Context ctx = ThreadsArg(state);
  const cpu_llm::ModelConfig cfg;  // defaults are GPT-2 124M
  const int64_t n = cpu_llm::ParameterCount(cfg);
  cpu_llm::Rng rng(14);
  V params = RandomVec(rng, n, 0.02f);
  const V grads = RandomVec(rng, n, 1e-3f);
  cpu_llm::AdamW opt;
  opt.Init(cfg, cpu_llm::AdamWConfig{});
  int t = 0;
  for (auto _ : state) {
    opt.Update(ctx, params.data(), grads.data(), 6e-4f, 1.0f, ++t);
    benchmark::DoNotOptimize(params.data());
  }
  SetGbps(state, 28.0 * n);
}

// Bytes: every gradient read once, 4 per parameter.
void GradNorm(benchmark::State& state) {
  const Context ctx = ThreadsArg(state);
  const int64_t n = cpu_llm::ParameterCount(cpu_llm::ModelConfig{});
  cpu_llm::Rng rng(15);
  const V grads = RandomVec(rng, n, 1e-3f);
  for (auto _ : state) benchmark::DoNotOptimize(cpu_llm::GlobalGradNorm(ctx, grads.data(), n));
  SetGbps(state, 4.0 * n);
}

// ------------------------------------------------------ 16-bit conversions

// A GPT-2 124M weight copy each way: 4 bytes read and 2 written per element
// (or 2 and 4). Kind: 0 bf16 nearest, 1 bf16 stochastic, 2 fp16.
void ToHalf(benchmark::State& state, int kind) {
  const Context ctx = ThreadsArg(state);
  const int64_t n = cpu_llm::ParameterCount(cpu_llm::ModelConfig{});
  cpu_llm::Rng rng(16);
  const V w = RandomVec(rng, n, 0.02f);
  std::vector<uint16_t> h(n);
  for (auto _ : state) {
    if (kind == 0) cpu_llm::f32_to_bf16(ctx, h.data(), w.data(), n);
    if (kind == 1) cpu_llm::f32_to_bf16_stochastic(ctx, h.data(), w.data(), n, 7, 0);
    if (kind == 2) cpu_llm::f32_to_f16(ctx, h.data(), w.data(), n);
    benchmark::DoNotOptimize(h.data());
  }
  SetGbps(state, 6.0 * n);
}

void FromHalf(benchmark::State& state, int kind) {
  const Context ctx = ThreadsArg(state);
  const int64_t n = cpu_llm::ParameterCount(cpu_llm::ModelConfig{});
  const std::vector<uint16_t> h(n, 0x3C00);
  V w(n);
  for (auto _ : state) {
    if (kind == 0) cpu_llm::bf16_to_f32(ctx, w.data(), h.data(), n);
    if (kind == 2) cpu_llm::f16_to_f32(ctx, w.data(), h.data(), n);
    benchmark::DoNotOptimize(w.data());
  }
  SetGbps(state, 6.0 * n);
}

// 1 and 2 threads, timed by the wall clock (CPU time would add the threads up).
benchmark::internal::Benchmark* Threads12(benchmark::internal::Benchmark* b) {
  return b->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

  for (const MatmulShape& s : kMatmulShapes) {
    Threads12(benchmark::RegisterBenchmark((std::string("MatmulForward/") + s.name).c_str(), MatmulForward, s));
    Threads12(benchmark::RegisterBenchmark((std::string("MatmulBackward/") + s.name).c_str(), MatmulBackward, s));
  }
  const MatmulShape& small = kSmallMatmul;
  Threads12(benchmark::RegisterBenchmark("MatmulForward/small", MatmulForward, small));
  benchmark::RegisterBenchmark("RefMatmulForward/small", RefMatmulForward, small)->Unit(benchmark::kMillisecond);
  Threads12(benchmark::RegisterBenchmark("MatmulBackward/small", MatmulBackward, small));
  benchmark::RegisterBenchmark("RefMatmulBackward/small", RefMatmulBackward, small)->Unit(benchmark::kMillisecond);

  Threads12(benchmark::RegisterBenchmark("LayernormForward", LayernormForward));
  Threads12(benchmark::RegisterBenchmark("LayernormBackward", LayernormBackward));
  Threads12(benchmark::RegisterBenchmark("AttentionForward", AttentionForward));
  Threads12(benchmark::RegisterBenchmark("AttentionBackward", AttentionBackward));
  Threads12(benchmark::RegisterBenchmark("GeluForward", GeluForward));
  Threads12(benchmark::RegisterBenchmark("GeluBackward", GeluBackward));
  Threads12(benchmark::RegisterBenchmark("ResidualForward", ResidualForward));
  Threads12(benchmark::RegisterBenchmark("CrossentropyForward", CrossentropyForward));
  Threads12(benchmark::RegisterBenchmark("CrossentropyBackward", CrossentropyBackward));
  Threads12(benchmark::RegisterBenchmark("EncoderForward", EncoderForward));
  Threads12(benchmark::RegisterBenchmark("EncoderBackward", EncoderBackward));
  Threads12(benchmark::RegisterBenchmark("AdamWUpdate", AdamWUpdate));
  Threads12(benchmark::RegisterBenchmark("GlobalGradNorm", GradNorm));
  Threads12(benchmark::RegisterBenchmark("F32ToBf16", ToHalf, 0));
  Threads12(benchmark::RegisterBenchmark("F32ToBf16Stochastic", ToHalf, 1));
  Threads12(benchmark::RegisterBenchmark("F32ToF16", ToHalf, 2));
  Threads12(benchmark::RegisterBenchmark("Bf16ToF32", FromHalf, 0));
  Threads12(benchmark::RegisterBenchmark("F16ToF32", FromHalf, 2));

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
