#include "kernels/attention.h"

#include <omp.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/fast_math.h"

namespace cpu_llm {

namespace {

// One query against n keys and values (rows ld floats apart, hs channels):
// row[0..n) = softmax(q . k / sqrt(hs)), out (hs) = row . v.
inline void AttendOneQuery(float* out, float* row, const float* q, const float* k, const float* v, int64_t ld, int n,
                           int hs, float scale) {
  float maxv = -INFINITY;
  for (int t = 0; t < n; t++) {
    const float* kt = k + t * ld;
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < hs; i++) s += q[i] * kt[i];
    row[t] = s * scale;
    maxv = row[t] > maxv ? row[t] : maxv;
  }
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int t = 0; t < n; t++) {
    row[t] = FastExp(row[t] - maxv);
    sum += row[t];
  }
  const float inv = 1.0f / sum;
  std::memset(out, 0, sizeof(float) * hs);
  for (int t = 0; t < n; t++) {
    row[t] *= inv;
    const float a = row[t];
    const float* vt = v + t * ld;
#pragma omp simd
    for (int i = 0; i < hs; i++) out[i] += a * vt[i];
  }
}

}  // namespace

void attention_forward(const Context& ctx, float* out, float* att, const float* qkv, int B, int T, int C, int NH) {
  const int hs = C / NH;
  const int64_t C3 = 3 * (int64_t)C;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
#pragma omp parallel for collapse(3) schedule(static) num_threads(ctx.n_threads)
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++)
      for (int t = 0; t < T; t++) {
        const float* base = qkv + (int64_t)b * T * C3;
        AttendOneQuery(out + ((int64_t)b * T + t) * C + h * hs, att + (((int64_t)b * NH + h) * T + t) * T,
                       base + t * C3 + h * hs, base + C + h * hs, base + 2 * C + h * hs, C3, t + 1, hs, scale);
      }
}

void attention_backward(const Context& ctx, float* dqkv, float* scratch, const float* dout, const float* qkv,
                        const float* att, int B, int T, int C, int NH) {
  const int hs = C / NH;
  const int64_t C3 = 3 * (int64_t)C;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  // One (b, h) pair per task: keys and values of a head receive gradient from
  // every later query, so the pair is the smallest unit with disjoint outputs.
#pragma omp parallel for collapse(2) schedule(static) num_threads(ctx.n_threads)
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++) {
      float* datt = scratch + (int64_t)omp_get_thread_num() * T;
      const float* base = qkv + (int64_t)b * T * C3;
      float* dbase = dqkv + (int64_t)b * T * C3;
      for (int t = 0; t < T; t++)
        for (int part = 0; part < 3; part++) std::memset(dbase + t * C3 + part * C + h * hs, 0, sizeof(float) * hs);
      for (int t = 0; t < T; t++) {
        const float* row = att + (((int64_t)b * NH + h) * T + t) * T;
        const float* d = dout + ((int64_t)b * T + t) * C + h * hs;
        const float* q = base + t * C3 + h * hs;
        float* dq = dbase + t * C3 + h * hs;
        float dot = 0.0f;
        for (int t2 = 0; t2 <= t; t2++) {
          const float* v = base + t2 * C3 + 2 * C + h * hs;
          float* dv = dbase + t2 * C3 + 2 * C + h * hs;
          const float a = row[t2];
          float s = 0.0f;
#pragma omp simd reduction(+ : s)
          for (int i = 0; i < hs; i++) {
            s += d[i] * v[i];
            dv[i] += a * d[i];
          }
          datt[t2] = s;
          dot += s * a;
        }
        for (int t2 = 0; t2 <= t; t2++) {
          const float dpre = row[t2] * (datt[t2] - dot) * scale;
          const float* k = base + t2 * C3 + C + h * hs;
          float* dk = dbase + t2 * C3 + C + h * hs;
#pragma omp simd
          for (int i = 0; i < hs; i++) {
            dq[i] += dpre * k[i];
            dk[i] += dpre * q[i];
          }
        }
      }
    }
}

void attention_decode(float* out, float* scratch, const float* q, const float* k_cache, const float* v_cache,
                      int64_t ld, int n_ctx, int C, int NH) {
  const int hs = C / NH;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  for (int h = 0; h < NH; h++)
    AttendOneQuery(out + h * hs, scratch, q + h * hs, k_cache + h * hs, v_cache + h * hs, ld, n_ctx, hs, scale);
}

}  // namespace cpu_llm
