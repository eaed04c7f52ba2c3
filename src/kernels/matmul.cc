#include "kernels/matmul.h"

#include <algorithm>
#include <cstdint>

namespace cpu_llm {
namespace {

// One SIMD register of floats, through GCC's vector extension so the compiler
// picks the instructions of the build target; the run-time-dispatched Highway
// kernels replace these inner loops later. Tile sizes keep the accumulators
// and operands within the register file (32 zmm with AVX-512, 16 ymm else).
#if defined(__AVX512F__)
constexpr int kLanes = 16;
constexpr int kTileRows = 4, kTileCols = 4;  // forward: 16 accumulators
constexpr int kOuterRows = 4, kOuterVecs = 4;  // backward: 16 accumulators
#else
constexpr int kLanes = 8;
constexpr int kTileRows = 4, kTileCols = 2;  // forward: 8 accumulators + 6 operands
constexpr int kOuterRows = 6, kOuterVecs = 2;  // backward: 12 accumulators + 3 operands
#endif
typedef float Vec __attribute__((vector_size(kLanes * 4)));
typedef float VecU __attribute__((vector_size(kLanes * 4), aligned(4)));  // unaligned access
constexpr int kWidth = kOuterVecs * kLanes;  // columns of the backward register tile

inline Vec Load(const float* p) { return *reinterpret_cast<const VecU*>(p); }
inline void Store(float* p, Vec v) { *reinterpret_cast<VecU*>(p) = v; }
inline float HorizontalSum(Vec v) {
  float s = 0.0f;
  for (int l = 0; l < kLanes; l++) s += v[l];
  return s;
}

// out[r][o] = dot(a row r, w row o) for a kTileRows x kTileCols tile, over C.
inline void DotTile(const float* a, int64_t lda, const float* w, int64_t ldw, int C,
                    float out[kTileRows][kTileCols]) {
  Vec acc[kTileRows][kTileCols] = {};
  int c = 0;
  for (; c + kLanes <= C; c += kLanes) {
    Vec av[kTileRows], wv[kTileCols];
    for (int r = 0; r < kTileRows; r++) av[r] = Load(a + r * lda + c);
    for (int o = 0; o < kTileCols; o++) wv[o] = Load(w + o * ldw + c);
    for (int r = 0; r < kTileRows; r++)
      for (int o = 0; o < kTileCols; o++) acc[r][o] += av[r] * wv[o];
  }
  for (int r = 0; r < kTileRows; r++)
    for (int o = 0; o < kTileCols; o++) {
      float s = HorizontalSum(acc[r][o]);
      for (int cc = c; cc < C; cc++) s += a[r * lda + cc] * w[o * ldw + cc];
      out[r][o] = s;
    }
}

inline float Dot(const float* a, const float* b, int C) {
  Vec acc = {};
  int c = 0;
  for (; c + kLanes <= C; c += kLanes) acc += Load(a + c) * Load(b + c);
  float s = HorizontalSum(acc);
  for (; c < C; c++) s += a[c] * b[c];
  return s;
}

// out[r][0:kWidth] (+)= sum_k s[r*s_row + k*s_k] * rows[k*ld_rows + 0:kWidth], for R rows.
// Both backward products are this outer-product accumulation with different strides.
template <int R>
inline void OuterAccum(float* out, int64_t ldo, const float* s, int64_t s_row, int64_t s_k, const float* rows,
                       int64_t ld_rows, int K, bool accumulate) {
  constexpr int kV = kOuterVecs;
  Vec acc[R][kV] = {};
  for (int k = 0; k < K; k++) {
    const float* row = rows + k * ld_rows;
    Vec rv[kV];
    for (int v = 0; v < kV; v++) rv[v] = Load(row + v * kLanes);
    for (int r = 0; r < R; r++) {
      const float sv = s[r * s_row + k * s_k];
      for (int v = 0; v < kV; v++) acc[r][v] += sv * rv[v];
    }
  }
  for (int r = 0; r < R; r++)
    for (int v = 0; v < kV; v++) {
      float* o = out + r * ldo + v * kLanes;
      Store(o, accumulate ? Load(o) + acc[r][v] : acc[r][v]);
    }
}

// Scalar edge of the same product, for the last columns when n_cols is not a
// multiple of kWidth.
inline void OuterAccumEdge(float* out, int64_t ldo, const float* s, int64_t s_row, int64_t s_k, const float* rows,
                           int64_t ld_rows, int K, int n_rows, int width, bool accumulate) {
  for (int r = 0; r < n_rows; r++)
    for (int l = 0; l < width; l++) {
      float acc = 0.0f;
      for (int k = 0; k < K; k++) acc += s[r * s_row + k * s_k] * rows[k * ld_rows + l];
      out[r * ldo + l] = accumulate ? out[r * ldo + l] + acc : acc;
    }
}

// Runs OuterAccum over an (n_rows x n_cols) output in (kOuterRows x kWidth) tiles, in parallel.
void OuterProduct(const Context& ctx, float* out, int64_t ldo, const float* s, int64_t s_row, int64_t s_k,
                  const float* rows, int64_t ld_rows, int n_rows, int n_cols, int K, bool accumulate) {
  const int row_tiles = (n_rows + kOuterRows - 1) / kOuterRows;
  const int col_tiles = (n_cols + kWidth - 1) / kWidth;
#pragma omp parallel for collapse(2) schedule(static) num_threads(ctx.n_threads)
  for (int ct = 0; ct < col_tiles; ct++)
    for (int rt = 0; rt < row_tiles; rt++) {
      const int r0 = rt * kOuterRows, c0 = ct * kWidth;
      const int width = std::min(kWidth, n_cols - c0);
      const int n = std::min(kOuterRows, n_rows - r0);
      float* o = out + r0 * ldo + c0;
      const float* sp = s + r0 * s_row;
      const float* rp = rows + c0;
      if (width < kWidth) {
        OuterAccumEdge(o, ldo, sp, s_row, s_k, rp, ld_rows, K, n, width, accumulate);
        continue;
      }
      switch (n) {
        case 6: OuterAccum<6>(o, ldo, sp, s_row, s_k, rp, ld_rows, K, accumulate); break;
        case 5: OuterAccum<5>(o, ldo, sp, s_row, s_k, rp, ld_rows, K, accumulate); break;
        case 4: OuterAccum<4>(o, ldo, sp, s_row, s_k, rp, ld_rows, K, accumulate); break;
        case 3: OuterAccum<3>(o, ldo, sp, s_row, s_k, rp, ld_rows, K, accumulate); break;
        case 2: OuterAccum<2>(o, ldo, sp, s_row, s_k, rp, ld_rows, K, accumulate); break;
        default: OuterAccum<1>(o, ldo, sp, s_row, s_k, rp, ld_rows, K, accumulate); break;
      }
    }
}

}  // namespace

void matmul_forward(const Context& ctx, float* out, const float* inp, const float* weight, const float* bias, int N,
                    int C, int OC) {
  switch (ctx.matmul) {
    case MatmulBackend::kNaive: return matmul_forward_naive(ctx, out, inp, weight, bias, N, C, OC);
    case MatmulBackend::kBlas: return matmul_forward_blas(ctx, out, inp, weight, bias, N, C, OC);
    case MatmulBackend::kOneDnn: return matmul_forward_onednn(ctx, out, inp, weight, bias, N, C, OC);
    case MatmulBackend::kTiled: break;
  }
  // A block of 64 output channels of the weight (64*C floats) stays in L2
  // while every row tile of the input streams past it.
  constexpr int kOcBlock = 64;
  const int oc_blocks = (OC + kOcBlock - 1) / kOcBlock;
  const int row_tiles = (N + kTileRows - 1) / kTileRows;
#pragma omp parallel for collapse(2) schedule(static) num_threads(ctx.n_threads)
  for (int ob = 0; ob < oc_blocks; ob++)
    for (int rt = 0; rt < row_tiles; rt++) {
      const int r0 = rt * kTileRows;
      const int o_end = std::min(OC, (ob + 1) * kOcBlock);
      for (int o0 = ob * kOcBlock; o0 < o_end; o0 += kTileCols) {
        if (r0 + kTileRows <= N && o0 + kTileCols <= o_end) {
          float tile[kTileRows][kTileCols];
          DotTile(inp + (int64_t)r0 * C, C, weight + (int64_t)o0 * C, C, C, tile);
          for (int r = 0; r < kTileRows; r++)
            for (int o = 0; o < kTileCols; o++)
              out[(int64_t)(r0 + r) * OC + o0 + o] = tile[r][o] + (bias ? bias[o0 + o] : 0.0f);
        } else {
          for (int r = r0; r < std::min(N, r0 + kTileRows); r++)
            for (int o = o0; o < std::min(o_end, o0 + kTileCols); o++)
              out[(int64_t)r * OC + o] = Dot(inp + (int64_t)r * C, weight + (int64_t)o * C, C) + (bias ? bias[o] : 0.0f);
        }
      }
    }
}

void matmul_backward(const Context& ctx, float* dinp, float* dweight, float* dbias, const float* dout,
                     const float* inp, const float* weight, int N, int C, int OC) {
  switch (ctx.matmul) {
    case MatmulBackend::kNaive: return matmul_backward_naive(ctx, dinp, dweight, dbias, dout, inp, weight, N, C, OC);
    case MatmulBackend::kBlas: return matmul_backward_blas(ctx, dinp, dweight, dbias, dout, inp, weight, N, C, OC);
    case MatmulBackend::kOneDnn:
      return matmul_backward_onednn(ctx, dinp, dweight, dbias, dout, inp, weight, N, C, OC);
    case MatmulBackend::kTiled: break;
  }
  // dinp[n, :] = sum_o dout[n, o] * weight[o, :]
  if (dinp) OuterProduct(ctx, dinp, C, dout, OC, 1, weight, C, N, C, OC, /*accumulate=*/false);
  // dweight[o, :] += sum_n dout[n, o] * inp[n, :]
  OuterProduct(ctx, dweight, C, dout, 1, OC, inp, C, OC, C, N, /*accumulate=*/true);
  if (dbias) matmul_backward_bias(ctx, dbias, dout, N, OC);
}

void matmul_backward_bias(const Context& ctx, float* dbias, const float* dout, int N, int OC) {
  // Each thread owns a contiguous run of output channels and walks the rows in
  // order, so its inner loop reads dout contiguously (a column-at-a-time sum
  // strides OC floats per element) and every dbias[o] still adds its rows in
  // the same order whatever the thread count. Blocks of 64 channels keep the
  // running sums in registers.
  constexpr int kBlock = 64;
  const int n_blocks = (OC + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) num_threads(ctx.n_threads)
  for (int b = 0; b < n_blocks; b++) {
    const int o0 = b * kBlock, width = std::min(kBlock, OC - o0);
    float sums[kBlock] = {};
    for (int n = 0; n < N; n++) {
      const float* row = dout + (int64_t)n * OC + o0;
      for (int i = 0; i < width; i++) sums[i] += row[i];
    }
    for (int i = 0; i < width; i++) dbias[o0 + i] += sums[i];
  }
}

}  // namespace cpu_llm
