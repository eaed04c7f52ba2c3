// Mixed precision (plan item 1) through oneDNN: with ctx.precision bf16 or
// fp16 the products run in oneDNN's matmul primitive on 16-bit copies of the
// operands with an f32 destination, so every product of two rounded operands
// is summed in fp32, the contract of Precision in core/context.h. dnnl_sgemm
// (matmul_onednn.cc) has no 16-bit variant; the matmul primitive is the
// oneDNN API that takes bf16/f16 memory.
//
// Measured with Debian's oneDNN 2.6.3 on an AVX2+FMA+F16C CPU without
// AVX-512 (AMD Zen 3, effective ISA avx2): creating a bf16 or an f16 matmul
// primitive descriptor fails with "unimplemented" for every combination tried
// (f32 or 16-bit destination, with or without the sum post-op, plain or
// "any" memory formats), and so does a bf16 inner product: oneDNN 2.x gates
// the 16-bit types on AVX-512 (platform::has_data_type_support), a check its
// reference kernels make too, so there is not even a slow ref:any to fall
// back on. Only f32 is there (gemm:jit). CheckOneDnnPrecision therefore turns
// the request down at startup on such CPUs instead of letting every product
// fail.
//
// The transposes (weight^T in the forward, dout^T for dweight) are memory
// descriptor strides, which the gemm-based matmul accepts on both operands.
// Primitives are created under the calling thread's OpenMP thread count and
// depend on it, so the cache is keyed by it too.
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/convert.h"
#include "kernels/matmul.h"
#include "kernels/omp_threads.h"

namespace cpu_llm {
namespace {

using dnnl::memory;

memory::data_type OperandType(Precision precision) {
  switch (precision) {
    case Precision::kBf16: return memory::data_type::bf16;
    case Precision::kFp16: return memory::data_type::f16;
    case Precision::kFp32: break;
  }
  return memory::data_type::f32;
}

const dnnl::engine& CpuEngine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// C (M,N) = A (M,K) . B (K,N) [+ C], row-major; a_trans: A is stored as its
// transpose (K,M), b_trans: B as (N,K).
struct ProductKey {
  int64_t M, N, K;
  bool a_trans, b_trans, accumulate;
  memory::data_type type;
  int n_threads;
  bool operator==(const ProductKey&) const = default;
};

// An empty primitive when oneDNN has no implementation (or fails to create
// one); the memory objects are made once and pointed at each call's data.
struct Product {
  ProductKey key;
  dnnl::matmul prim;
  memory a, b, c;
};

Product MakeProduct(const ProductKey& k) {
  Product p{k, {}, {}, {}, {}};
  const memory::desc a({k.M, k.K}, k.type, k.a_trans ? memory::dims{1, k.M} : memory::dims{k.K, 1});
  const memory::desc b({k.K, k.N}, k.type, k.b_trans ? memory::dims{1, k.K} : memory::dims{k.N, 1});
  const memory::desc c({k.M, k.N}, memory::data_type::f32, memory::dims{k.N, 1});
  try {
    dnnl::primitive_attr attr;
    if (k.accumulate) {
      dnnl::post_ops ops;
      ops.append_sum(1.0f);  // dst = product + dst, in fp32
      attr.set_post_ops(ops);
    }
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), attr, CpuEngine(), /*allow_empty=*/true);
    if (!pd) return p;
    p.prim = dnnl::matmul(pd);
    p.a = memory(a, CpuEngine(), DNNL_MEMORY_NONE);
    p.b = memory(b, CpuEngine(), DNNL_MEMORY_NONE);
    p.c = memory(c, CpuEngine(), DNNL_MEMORY_NONE);
  } catch (const dnnl::error&) {
    p.prim = dnnl::matmul();
  }
  return p;
}

// The layers of a model use a dozen shapes (four linear layers, three
// products each, plus the head's); the cache holds them all, so after the
// first step no primitive is created. Per thread: each call repoints the
// entry's memory objects at its own data, which concurrent callers sharing
// an entry would race on.
Product& CachedProduct(const ProductKey& key) {
  constexpr size_t kCapacity = 32;
  thread_local std::vector<Product> cache;
  for (Product& p : cache)
    if (p.key == key) return p;
  if (cache.size() == kCapacity) cache.erase(cache.begin());
  cache.push_back(MakeProduct(key));
  return cache.back();
}

// Runs the product on ctx.n_threads threads. Failure (no implementation, or
// scratch memory oneDNN could not get) leaves C as NaN, as matmul_onednn.cc
// does: the trainer then stops on a non-finite loss.
void RunProduct(const Context& ctx, int64_t M, int64_t N, int64_t K, const void* A, bool a_trans, const void* B,
                bool b_trans, float* C, bool accumulate) {
  ScopedOmpThreads threads(ctx.n_threads);
  Product& p = CachedProduct({M, N, K, a_trans, b_trans, accumulate, OperandType(ctx.precision), ctx.n_threads});
  thread_local dnnl::stream stream(CpuEngine());
  bool ok = static_cast<bool>(p.prim);
  if (ok) {
    // oneDNN reads, never writes, the source and weights memory.
    p.a.set_data_handle(const_cast<void*>(A));
    p.b.set_data_handle(const_cast<void*>(B));
    p.c.set_data_handle(C);
    const dnnl_exec_arg_t args[] = {
        {DNNL_ARG_SRC, p.a.get()}, {DNNL_ARG_WEIGHTS, p.b.get()}, {DNNL_ARG_DST, p.c.get()}};
    ok = dnnl_primitive_execute(p.prim.get(), stream.get(), 3, args) == dnnl_success &&
         dnnl_stream_wait(stream.get()) == dnnl_success;
  }
  if (!ok) std::fill(C, C + M * N, NAN);
}

// The operand as the primitive reads it: the caller's floats in fp32 mode,
// else a 16-bit copy, rounded to nearest even, in buf (grown, never shrunk,
// so a repeated shape allocates nothing).
const void* Operand(const Context& ctx, std::vector<uint16_t>& buf, const float* src, int64_t n) {
  if (ctx.precision == Precision::kFp32) return src;
  if (buf.size() < static_cast<size_t>(n)) buf.resize(n);
  if (ctx.precision == Precision::kBf16) {
    f32_to_bf16(ctx, buf.data(), src, n);
  } else {
    f32_to_f16(ctx, buf.data(), src, n);
  }
  return buf.data();
}

// The 16-bit copies of one call's operands, shared by the forward and the
// backward since a call needs them only while it runs.
struct OperandBuffers {
  std::vector<uint16_t> a, b, c;
};
OperandBuffers& Buffers() {
  thread_local OperandBuffers buf;
  return buf;
}

const char* IsaName(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "other";
  }
}

// The three products a layer runs (forward, dinp, dweight with accumulation)
// at a small shape: all must exist for training to work.
const ProductKey kProbeKeys[] = {{64, 96, 32, false, true, false, memory::data_type::f32, 1},
                                 {64, 32, 96, false, false, false, memory::data_type::f32, 1},
                                 {96, 32, 64, true, false, true, memory::data_type::f32, 1}};

}  // namespace

// out (N,OC) = inp . weight^T + bias: the bias rows first, then the product
// added to them by the sum post-op, so the bias is added in fp32, unrounded.
void matmul_forward_onednn_lowp(const Context& ctx, float* out, const float* inp, const float* weight,
                                const float* bias, int N, int C, int OC) {
  OperandBuffers& buf = Buffers();
  const void* x = Operand(ctx, buf.a, inp, (int64_t)N * C);
  const void* w = Operand(ctx, buf.b, weight, (int64_t)OC * C);
  if (bias) {
#pragma omp parallel for schedule(static) num_threads(ctx.n_threads)
    for (int n = 0; n < N; n++) std::copy(bias, bias + OC, out + (int64_t)n * OC);
  }
  RunProduct(ctx, N, OC, C, x, false, w, true, out, bias != nullptr);
}

// dinp (N,C) = dout . weight (overwritten); dweight (OC,C) += dout^T . inp;
// dbias += column sums of the fp32 dout (a reduction, not a product).
void matmul_backward_onednn_lowp(const Context& ctx, float* dinp, float* dweight, float* dbias, const float* dout,
                                 const float* inp, const float* weight, int N, int C, int OC) {
  OperandBuffers& buf = Buffers();
  const void* g = Operand(ctx, buf.a, dout, (int64_t)N * OC);
  if (dinp) {
    const void* w = Operand(ctx, buf.b, weight, (int64_t)OC * C);
    RunProduct(ctx, N, C, OC, g, false, w, false, dinp, false);
  }
  const void* x = Operand(ctx, buf.c, inp, (int64_t)N * C);
  RunProduct(ctx, OC, C, N, g, true, x, false, dweight, true);
  if (dbias) matmul_backward_bias(ctx, dbias, dout, N, OC);
}

std::string OneDnnMatmulImpl(Precision precision) {
  ProductKey key = kProbeKeys[0];
  key.type = OperandType(precision);
  const Product p = MakeProduct(key);
  const char* impl = nullptr;
  if (!p.prim ||
      dnnl_primitive_desc_query(p.prim.get_primitive_desc(), dnnl_query_impl_info_str, 0, &impl) != dnnl_success ||
      !impl)
    return "unimplemented";
  return impl;
}

Status CheckOneDnnPrecision(Precision precision) {
  if (precision == Precision::kFp32) return Status();
  for (ProductKey key : kProbeKeys) {
    key.type = OperandType(precision);
    if (MakeProduct(key).prim) continue;
    const dnnl_version_t* v = dnnl_version();
    return UsageError(
        "--matmul onednn: oneDNN {}.{}.{} has no {} matmul for this CPU (it reports the primitive "
        "unimplemented at ISA {}; its 16-bit kernels need AVX-512); use --matmul tiled for {}",
        v->major, v->minor, v->patch, PrecisionName(precision), IsaName(dnnl::get_effective_cpu_isa()),
        PrecisionName(precision));
  }
  return Status();
}

}  // namespace cpu_llm
