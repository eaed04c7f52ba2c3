#include "kernels/attention.h"

#include <omp.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/fast_math.h"

namespace cpu_llm {

void attention_forward(const Context& ctx, float* out, float* att, const float* qkv, int B, int T, int C, int NH) {
  const int hs = C / NH;
  const int64_t C3 = 3 * (int64_t)C;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
#pragma omp parallel for collapse(3) schedule(static) num_threads(ctx.n_threads)
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++)
      for (int t = 0; t < T; t++) {
        const float* base = qkv + (int64_t)b * T * C3;
        const float* q = base + t * C3 + h * hs;
        float* row = att + (((int64_t)b * NH + h) * T + t) * T;
        float maxv = -INFINITY;
        for (int t2 = 0; t2 <= t; t2++) {
          const float* k = base + t2 * C3 + C + h * hs;
          float s = 0.0f;
#pragma omp simd reduction(+ : s)
          for (int i = 0; i < hs; i++) s += q[i] * k[i];
          row[t2] = s * scale;
          maxv = std::fmax(maxv, row[t2]);
        }
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int t2 = 0; t2 <= t; t2++) {
          row[t2] = FastExp(row[t2] - maxv);
          sum += row[t2];
        }
        const float inv = 1.0f / sum;
        float* o = out + ((int64_t)b * T + t) * C + h * hs;
        std::memset(o, 0, sizeof(float) * hs);
        for (int t2 = 0; t2 <= t; t2++) {
          row[t2] *= inv;
          const float a = row[t2];
          const float* v = base + t2 * C3 + 2 * C + h * hs;
#pragma omp simd
          for (int i = 0; i < hs; i++) o[i] += a * v[i];
        }
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
  for (int h = 0; h < NH; h++) {
    const float* qh = q + h * hs;
    float maxv = -INFINITY;
    for (int t = 0; t < n_ctx; t++) {
      const float* k = k_cache + t * ld + h * hs;
      float s = 0.0f;
#pragma omp simd reduction(+ : s)
      for (int i = 0; i < hs; i++) s += qh[i] * k[i];
      scratch[t] = s * scale;
      maxv = std::fmax(maxv, scratch[t]);
    }
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int t = 0; t < n_ctx; t++) {
      scratch[t] = FastExp(scratch[t] - maxv);
      sum += scratch[t];
    }
    const float inv = 1.0f / sum;
    float* o = out + h * hs;
    std::memset(o, 0, sizeof(float) * hs);
    for (int t = 0; t < n_ctx; t++) {
      const float a = scratch[t] * inv;
      const float* v = v_cache + t * ld + h * hs;
#pragma omp simd
      for (int i = 0; i < hs; i++) o[i] += a * v[i];
    }
  }
}

}  // namespace cpu_llm
