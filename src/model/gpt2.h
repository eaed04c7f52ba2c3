// GPT-2: token + learned position embeddings, pre-LayerNorm blocks of causal
// multi-head attention and a GELU MLP (4C), final LayerNorm, LM head tied to
// wte. Memory is explicit: one arena for parameters (llm.c's layout, so
// checkpoints are a straight copy), one for their gradients, one for the
// activations of a (B,T) batch and one for backward scratch, all sized once.
// The model does no I/O.
#pragma once

#include <array>
#include <cstdint>

#include "core/arena.h"
#include "core/context.h"
#include "core/profiler.h"
#include "core/rng.h"
#include "core/status.h"
#include "model/config.h"

namespace cpu_llm {

constexpr int kNumParamTensors = 16;

// Sizes of the 16 parameter tensors in llm.c's order (see ParamView).
std::array<int64_t, kNumParamTensors> ParamSizes(const ModelConfig& cfg);

// Pointers into a parameter-shaped arena (weights or gradients), llm.c order.
struct ParamView {
  float* wte;       // (Vp, C)
  float* wpe;       // (maxT, C)
  float* ln1w;      // (L, C)
  float* ln1b;      // (L, C)
  float* qkvw;      // (L, 3C, C)
  float* qkvb;      // (L, 3C)
  float* attprojw;  // (L, C, C)
  float* attprojb;  // (L, C)
  float* ln2w;      // (L, C)
  float* ln2b;      // (L, C)
  float* fcw;       // (L, 4C, C)
  float* fcb;       // (L, 4C)
  float* fcprojw;   // (L, C, 4C)
  float* fcprojb;   // (L, C)
  float* lnfw;      // (C)
  float* lnfb;      // (C)
};
ParamView MakeParamView(float* base, const ModelConfig& cfg);
// True for the tensors that are matrices (weight decay applies to them).
bool ParamIsMatrix(int tensor_index);

// Saved forward activations for a (B,T) batch.
struct ActivationView {
  float* encoded;    // (B,T,C)
  float* ln1;        // (L,B,T,C)
  float* ln1_mean;   // (L,B,T)
  float* ln1_rstd;   // (L,B,T)
  float* qkv;        // (L,B,T,3C)
  float* atty;       // (L,B,T,C)
  float* att_lse;    // (L,B,NH,T) log-sum-exp of each attention row's scores
  float* attproj;    // (L,B,T,C)
  float* residual2;  // (L,B,T,C)
  float* ln2;        // (L,B,T,C)
  float* ln2_mean;   // (L,B,T)
  float* ln2_rstd;   // (L,B,T)
  float* fch;        // (L,B,T,4C)
  float* fch_gelu;   // (L,B,T,4C)
  float* fcproj;     // (L,B,T,C)
  float* residual3;  // (L,B,T,C)
  float* lnf;        // (B,T,C)
  float* lnf_mean;   // (B,T)
  float* lnf_rstd;   // (B,T)
  float* logits;     // (B,T,Vp); backward turns it into d_logits in place
  float* losses;     // (B,T)
  float* lse;        // (B,T) log-sum-exp of each logits row
};

// Backward scratch, reused by every layer: backward walks the layers one at a
// time, so one layer's worth of activation gradients is enough. The attention
// scratch holds nothing between calls, so the forward pass borrows it too.
struct BackwardView {
  float* d_residual;  // (B,T,C) gradient of the residual stream
  float* d_ln;        // (B,T,C) gradient of a layernorm output
  float* d_qkv;       // (B,T,3C)
  float* d_atty;      // (B,T,C)
  float* d_fch;       // (B,T,4C) also holds d_fch_gelu before GELU backward
  float* att_scratch; // attention_scratch_floats(n_threads, T, C, NH); forward uses it too
};

// Runs f, timed as `op` when a profiler is set.
template <typename Fn>
inline void Timed(Profiler* profiler, Op op, Pass pass, Fn&& f) {
  ProfileScope scope(profiler, op, pass);
  f();
}

// Kernels count the rows of a batch with int; B*T above 2^24 is refused.
Status CheckBatchTokens(int B, int T);

// Floats held by the activation and backward arenas for a (B,T) batch.
int64_t ActivationFloats(const ModelConfig& cfg, int B, int T, int n_threads);

class GPT2 {
 public:
  // Sizes the parameter and gradient arenas. Validates the config.
  Status Init(const ModelConfig& cfg);
  // GPT-2 initialisation: N(0, 0.02) matrices, residual projections scaled by
  // 1/sqrt(2L), zero biases, unit layernorm gains, zero vocabulary padding.
  void InitWeights(Rng& rng);
  // Sizes the activation arenas for batches up to B x T with n_threads.
  Status PrepareBatch(int B, int T, int n_threads);

  // Forward pass over tokens (B,T). With targets (B,T) also computes the
  // per-position losses and returns their mean in *mean_loss; without, only
  // logits are computed and *mean_loss is NaN. Token ids are range-checked.
  Status Forward(const Context& ctx, const int32_t* tokens, const int32_t* targets, int B, int T, float* mean_loss);
  // Adds this batch's gradient, times grad_scale, to grads(). Needs a Forward
  // with targets first (same B, T). d_loss per position = grad_scale / (B*T).
  void Backward(const Context& ctx, const int32_t* tokens, const int32_t* targets, float grad_scale);
  void ZeroGrad() { grads_.Zero(); }

  const ModelConfig& config() const { return cfg_; }
  float* params() { return params_.data(); }
  const float* params() const { return params_.data(); }
  float* grads() { return grads_.data(); }
  int64_t num_params() const { return static_cast<int64_t>(params_.size()); }
  ParamView param_view() { return MakeParamView(params_.data(), cfg_); }
  ParamView grad_view() { return MakeParamView(grads_.data(), cfg_); }
  const ActivationView& acts() const { return acts_; }
  int batch() const { return B_; }
  int seq_len() const { return T_; }

  // Bytes held, for the memory report.
  uint64_t param_bytes() const { return params_.bytes(); }
  uint64_t grad_bytes() const { return grads_.bytes(); }
  uint64_t activation_bytes() const { return act_arena_.bytes() + bwd_arena_.bytes(); }

 private:
  ModelConfig cfg_;
  FloatArena params_;
  FloatArena grads_;
  FloatArena act_arena_;
  FloatArena bwd_arena_;
  ActivationView acts_{};
  BackwardView bwd_{};
  int B_ = 0, T_ = 0, n_threads_ = 0;  // shape the activation arenas hold
  int cur_B_ = 0, cur_T_ = 0;          // shape of the last forward
};

}  // namespace cpu_llm
