// Plain scalar references for every op, templated on the number type so the
// tests can run them in double for finite differences and in float to check
// the fast kernels. Forward and backward sit side by side. Conventions:
//   - backward functions that produce a weight or parameter gradient ADD to it
//     (gradients accumulate across micro-batches);
//   - activation gradients are documented per function (overwrite or add).
// Shapes in comments: B batch, T time, C channels, OC output channels,
// NH heads, V real vocab, Vp padded vocab.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace cpu_llm::ref {

// out (B,T,C) = wte[tok] + wpe[t]; tokens (B,T), wte (Vp,C), wpe (maxT,C)
template <typename F>
void encoder_forward(F* out, const int32_t* tokens, const F* wte, const F* wpe, int B, int T, int C) {
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      F* o = out + ((int64_t)b * T + t) * C;
      const F* e = wte + (int64_t)tokens[b * T + t] * C;
      const F* p = wpe + (int64_t)t * C;
      for (int c = 0; c < C; c++) o[c] = e[c] + p[c];
    }
}
// dwte, dwpe += (scatter of dout)
template <typename F>
void encoder_backward(F* dwte, F* dwpe, const F* dout, const int32_t* tokens, int B, int T, int C) {
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      const F* d = dout + ((int64_t)b * T + t) * C;
      F* de = dwte + (int64_t)tokens[b * T + t] * C;
      F* dp = dwpe + (int64_t)t * C;
      for (int c = 0; c < C; c++) {
        de[c] += d[c];
        dp[c] += d[c];
      }
    }
}

// out (N,C) = (inp - mean) * rstd * weight + bias; mean, rstd (N)
template <typename F>
void layernorm_forward(F* out, F* mean, F* rstd, const F* inp, const F* weight, const F* bias, int N, int C) {
  const F eps = F(1e-5);
  for (int n = 0; n < N; n++) {
    const F* x = inp + (int64_t)n * C;
    F m = 0;
    for (int c = 0; c < C; c++) m += x[c];
    m /= C;
    F v = 0;
    for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
    v /= C;
    F s = F(1) / std::sqrt(v + eps);
    for (int c = 0; c < C; c++) out[(int64_t)n * C + c] = (x[c] - m) * s * weight[c] + bias[c];
    mean[n] = m;
    rstd[n] = s;
  }
}
// dinp += ..., dweight += ..., dbias += ...
template <typename F>
void layernorm_backward(F* dinp, F* dweight, F* dbias, const F* dout, const F* inp, const F* weight,
                        const F* mean, const F* rstd, int N, int C) {
  for (int n = 0; n < N; n++) {
    const F* x = inp + (int64_t)n * C;
    const F* d = dout + (int64_t)n * C;
    F dnorm_mean = 0, dnorm_norm_mean = 0;
    for (int c = 0; c < C; c++) {
      F norm = (x[c] - mean[n]) * rstd[n];
      F dnorm = weight[c] * d[c];
      dnorm_mean += dnorm;
      dnorm_norm_mean += dnorm * norm;
    }
    dnorm_mean /= C;
    dnorm_norm_mean /= C;
    for (int c = 0; c < C; c++) {
      F norm = (x[c] - mean[n]) * rstd[n];
      F dnorm = weight[c] * d[c];
      dbias[c] += d[c];
      dweight[c] += norm * d[c];
      dinp[(int64_t)n * C + c] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * rstd[n];
    }
  }
}

// out (N,OC) = inp (N,C) . weight (OC,C)^T + bias (OC); bias may be null
template <typename F>
void matmul_forward(F* out, const F* inp, const F* weight, const F* bias, int N, int C, int OC) {
  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++) {
      F acc = bias ? bias[o] : F(0);
      for (int c = 0; c < C; c++) acc += inp[(int64_t)n * C + c] * weight[(int64_t)o * C + c];
      out[(int64_t)n * OC + o] = acc;
    }
}
// dinp (N,C) = dout . weight (overwritten); dweight (OC,C) += dout^T . inp; dbias (OC) += sum dout
template <typename F>
void matmul_backward(F* dinp, F* dweight, F* dbias, const F* dout, const F* inp, const F* weight, int N, int C,
                     int OC) {
  for (int n = 0; n < N; n++)
    for (int c = 0; c < C; c++) {
      F acc = 0;
      for (int o = 0; o < OC; o++) acc += dout[(int64_t)n * OC + o] * weight[(int64_t)o * C + c];
      dinp[(int64_t)n * C + c] = acc;
    }
  for (int o = 0; o < OC; o++) {
    for (int n = 0; n < N; n++) {
      F d = dout[(int64_t)n * OC + o];
      for (int c = 0; c < C; c++) dweight[(int64_t)o * C + c] += d * inp[(int64_t)n * C + c];
      if (dbias) dbias[o] += d;
    }
  }
}

// Causal self-attention. qkv (B,T,3C) holds q | k | v, each split in NH heads
// of size C/NH. out (B,T,C); att (B,NH,T,T) keeps the softmax rows (entries
// past the diagonal are zero) for the backward pass.
template <typename F>
void attention_forward(F* out, F* att, const F* qkv, int B, int T, int C, int NH) {
  const int hs = C / NH;
  const F scale = F(1) / std::sqrt(F(hs));
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++)
      for (int t = 0; t < T; t++) {
        const F* q = qkv + ((int64_t)b * T + t) * 3 * C + h * hs;
        F* row = att + (((int64_t)b * NH + h) * T + t) * T;
        F maxv = -INFINITY;
        for (int t2 = 0; t2 <= t; t2++) {
          const F* k = qkv + ((int64_t)b * T + t2) * 3 * C + C + h * hs;
          F s = 0;
          for (int i = 0; i < hs; i++) s += q[i] * k[i];
          row[t2] = s * scale;
          if (row[t2] > maxv) maxv = row[t2];
        }
        F sum = 0;
        for (int t2 = 0; t2 <= t; t2++) {
          row[t2] = std::exp(row[t2] - maxv);
          sum += row[t2];
        }
        for (int t2 = 0; t2 < T; t2++) row[t2] = t2 <= t ? row[t2] / sum : F(0);
        F* o = out + ((int64_t)b * T + t) * C + h * hs;
        for (int i = 0; i < hs; i++) o[i] = 0;
        for (int t2 = 0; t2 <= t; t2++) {
          const F* v = qkv + ((int64_t)b * T + t2) * 3 * C + 2 * C + h * hs;
          for (int i = 0; i < hs; i++) o[i] += row[t2] * v[i];
        }
      }
}
// dqkv (B,T,3C) overwritten
template <typename F>
void attention_backward(F* dqkv, const F* dout, const F* qkv, const F* att, int B, int T, int C, int NH) {
  const int hs = C / NH;
  const F scale = F(1) / std::sqrt(F(hs));
  for (int64_t i = 0; i < (int64_t)B * T * 3 * C; i++) dqkv[i] = 0;
  std::vector<F> datt(T);
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++)
      for (int t = 0; t < T; t++) {
        const F* row = att + (((int64_t)b * NH + h) * T + t) * T;
        const F* d = dout + ((int64_t)b * T + t) * C + h * hs;
        const F* q = qkv + ((int64_t)b * T + t) * 3 * C + h * hs;
        F* dq = dqkv + ((int64_t)b * T + t) * 3 * C + h * hs;
        // d(att row) = dout . v ; dv += att * dout
        F dot = 0;
        for (int t2 = 0; t2 <= t; t2++) {
          const F* v = qkv + ((int64_t)b * T + t2) * 3 * C + 2 * C + h * hs;
          F* dv = dqkv + ((int64_t)b * T + t2) * 3 * C + 2 * C + h * hs;
          F s = 0;
          for (int i = 0; i < hs; i++) {
            s += d[i] * v[i];
            dv[i] += row[t2] * d[i];
          }
          datt[t2] = s;
          dot += s * row[t2];
        }
        // softmax backward, then the scaled q.k product
        for (int t2 = 0; t2 <= t; t2++) {
          F dpre = row[t2] * (datt[t2] - dot) * scale;
          const F* k = qkv + ((int64_t)b * T + t2) * 3 * C + C + h * hs;
          F* dk = dqkv + ((int64_t)b * T + t2) * 3 * C + C + h * hs;
          for (int i = 0; i < hs; i++) {
            dq[i] += dpre * k[i];
            dk[i] += dpre * q[i];
          }
        }
      }
}

// The same attention with the interface of the fused kernels: instead of the
// softmax rows, lse (B,NH,T) keeps the log-sum-exp of each row's scaled
// scores, max + log(sum e^(s - max)), from which backward rebuilds the row.
template <typename F>
void attention_forward_lse(F* out, F* lse, const F* qkv, int B, int T, int C, int NH) {
  const int hs = C / NH;
  const F scale = F(1) / std::sqrt(F(hs));
  std::vector<F> s(T);
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++)
      for (int t = 0; t < T; t++) {
        const F* q = qkv + ((int64_t)b * T + t) * 3 * C + h * hs;
        F maxv = -INFINITY;
        for (int t2 = 0; t2 <= t; t2++) {
          const F* k = qkv + ((int64_t)b * T + t2) * 3 * C + C + h * hs;
          F dot = 0;
          for (int i = 0; i < hs; i++) dot += q[i] * k[i];
          s[t2] = dot * scale;
          if (s[t2] > maxv) maxv = s[t2];
        }
        F sum = 0;
        for (int t2 = 0; t2 <= t; t2++) sum += std::exp(s[t2] - maxv);
        const F l = maxv + std::log(sum);
        lse[((int64_t)b * NH + h) * T + t] = l;
        F* o = out + ((int64_t)b * T + t) * C + h * hs;
        for (int i = 0; i < hs; i++) o[i] = 0;
        for (int t2 = 0; t2 <= t; t2++) {
          const F* v = qkv + ((int64_t)b * T + t2) * 3 * C + 2 * C + h * hs;
          for (int i = 0; i < hs; i++) o[i] += std::exp(s[t2] - l) * v[i];
        }
      }
}
// dqkv (B,T,3C) overwritten, from the forward's out and lse: p = e^(s - lse)
// rebuilt per row, and the row term sum_j p_j dp_j taken as dout . out.
template <typename F>
void attention_backward_lse(F* dqkv, const F* dout, const F* qkv, const F* out, const F* lse, int B, int T, int C,
                            int NH) {
  const int hs = C / NH;
  const F scale = F(1) / std::sqrt(F(hs));
  for (int64_t i = 0; i < (int64_t)B * T * 3 * C; i++) dqkv[i] = 0;
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++)
      for (int t = 0; t < T; t++) {
        const F* q = qkv + ((int64_t)b * T + t) * 3 * C + h * hs;
        const F* d = dout + ((int64_t)b * T + t) * C + h * hs;
        const F* o = out + ((int64_t)b * T + t) * C + h * hs;
        F* dq = dqkv + ((int64_t)b * T + t) * 3 * C + h * hs;
        F D = 0;
        for (int i = 0; i < hs; i++) D += d[i] * o[i];
        for (int t2 = 0; t2 <= t; t2++) {
          const F* k = qkv + ((int64_t)b * T + t2) * 3 * C + C + h * hs;
          const F* v = qkv + ((int64_t)b * T + t2) * 3 * C + 2 * C + h * hs;
          F* dk = dqkv + ((int64_t)b * T + t2) * 3 * C + C + h * hs;
          F* dv = dqkv + ((int64_t)b * T + t2) * 3 * C + 2 * C + h * hs;
          F s = 0, dp = 0;
          for (int i = 0; i < hs; i++) {
            s += q[i] * k[i];
            dp += d[i] * v[i];
          }
          const F p = std::exp(s * scale - lse[((int64_t)b * NH + h) * T + t]);
          const F ds = p * (dp - D) * scale;
          for (int i = 0; i < hs; i++) {
            dq[i] += ds * k[i];
            dk[i] += ds * q[i];
            dv[i] += p * d[i];
          }
        }
      }
}

// GELU, tanh approximation.
template <typename F>
void gelu_forward(F* out, const F* inp, int64_t N) {
  const F s = std::sqrt(F(2) / F(M_PI));
  for (int64_t i = 0; i < N; i++) {
    F x = inp[i];
    out[i] = F(0.5) * x * (F(1) + std::tanh(s * (x + F(0.044715) * x * x * x)));
  }
}
// dinp overwritten
template <typename F>
void gelu_backward(F* dinp, const F* inp, const F* dout, int64_t N) {
  const F s = std::sqrt(F(2) / F(M_PI));
  for (int64_t i = 0; i < N; i++) {
    F x = inp[i];
    F u = s * (x + F(0.044715) * x * x * x);
    F th = std::tanh(u);
    F sech2 = F(1) - th * th;
    F du = s * (F(1) + F(3) * F(0.044715) * x * x);
    dinp[i] = (F(0.5) * (F(1) + th) + F(0.5) * x * sech2 * du) * dout[i];
  }
}

// out = a + b
template <typename F>
void residual_forward(F* out, const F* a, const F* b, int64_t N) {
  for (int64_t i = 0; i < N; i++) out[i] = a[i] + b[i];
}

// Per-row cross-entropy over the first V of Vp logits. logits (N,Vp),
// targets (N), losses (N), lse (N) = log-sum-exp of each row.
template <typename F>
void crossentropy_forward(F* losses, F* lse, const F* logits, const int32_t* targets, int N, int V, int Vp) {
  for (int n = 0; n < N; n++) {
    const F* row = logits + (int64_t)n * Vp;
    F maxv = -INFINITY;
    for (int v = 0; v < V; v++) maxv = row[v] > maxv ? row[v] : maxv;
    F sum = 0;
    for (int v = 0; v < V; v++) sum += std::exp(row[v] - maxv);
    lse[n] = maxv + std::log(sum);
    losses[n] = lse[n] - row[targets[n]];
  }
}
// dlogits (N,Vp) overwritten: (softmax - onehot) * dloss, padded columns zero
template <typename F>
void crossentropy_backward(F* dlogits, const F* logits, const F* lse, const int32_t* targets, F dloss, int N,
                           int V, int Vp) {
  for (int n = 0; n < N; n++) {
    const F* row = logits + (int64_t)n * Vp;
    F* d = dlogits + (int64_t)n * Vp;
    for (int v = 0; v < Vp; v++) {
      F p = v < V ? std::exp(row[v] - lse[n]) : F(0);
      d[v] = (p - (v == targets[n] ? F(1) : F(0))) * dloss;
    }
  }
}

}  // namespace cpu_llm::ref
