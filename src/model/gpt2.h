// GPT-2: token + learned position embeddings, pre-LayerNorm blocks of causal
// multi-head attention and a GELU MLP (4C), final LayerNorm, LM head tied to
// wte. Memory is explicit: one arena for parameters (llm.c's layout, so
// checkpoints are a straight copy), one for their gradients, one for the
// activations of a (B,T) batch and one for backward scratch, all sized once.
// The model does no I/O.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "core/anomaly.h"
#include "core/arena.h"
#include "core/context.h"
#include "core/profiler.h"
#include "core/rng.h"
#include "core/status.h"
#include "model/config.h"

namespace cpu_llm {

constexpr int kNumParamTensors = 17;

// Sizes of the 17 parameter tensors: llm.c's 16 in its order, then the
// untied LM head. A block option that drops a tensor gives it size 0 (see
// ModelConfig), so GPT-2's block has exactly llm.c's layout.
std::array<int64_t, kNumParamTensors> ParamSizes(const ModelConfig& cfg);

// Pointers into a parameter-shaped arena (weights or gradients), llm.c order.
// F = MlpFcRows (4C for GPT-2; 2H for SwiGLU), H = MlpHidden. Tensors the
// block options leave out are null.
struct ParamView {
  float* wte;       // (Vp, C)
  float* wpe;       // (maxT, C)  null with RoPE
  float* ln1w;      // (L, C)
  float* ln1b;      // (L, C)     null with RMSNorm or without biases
  float* qkvw;      // (L, 3C, C)
  float* qkvb;      // (L, 3C)    null without biases
  float* attprojw;  // (L, C, C)
  float* attprojb;  // (L, C)     null without biases
  float* ln2w;      // (L, C)
  float* ln2b;      // (L, C)     as ln1b
  float* fcw;       // (L, F, C)
  float* fcb;       // (L, F)     null without biases
  float* fcprojw;   // (L, C, H)
  float* fcprojb;   // (L, C)     null without biases
  float* lnfw;      // (C)
  float* lnfb;      // (C)        as ln1b
  float* lmheadw;   // (Vp, C)    the untied head; null when tied to wte
};
ParamView MakeParamView(float* base, const ModelConfig& cfg);
// True for the tensors that are matrices (weight decay applies to them).
bool ParamIsMatrix(int tensor_index);
// The tensor's name, as in ParamView ("wte", "qkvw", ...).
const char* ParamName(int tensor_index);

// Saved forward activations for a (B,T) batch: what backward cannot cheaply
// recompute. Layernorm and GELU outputs are recomputed from their inputs (a
// pass over memory each, against 4 GELU-sized tensors per layer saved), the
// projections' outputs are summed straight into the residual stream, and the
// logits live in Scratch one chunk at a time.
struct ActivationView {
  float* encoded;    // (B,T,C)
  float* ln1_mean;   // (L,B,T)
  float* ln1_rstd;   // (L,B,T)
  float* qkv;        // (L,B,T,3C)
  float* atty;       // (L,B,T,C)
  float* att_lse;    // (L,B,NH,T) log-sum-exp of each attention row's scores
  float* residual2;  // (L,B,T,C)
  float* ln2_mean;   // (L,B,T)
  float* ln2_rstd;   // (L,B,T)
  float* fch;        // (L,B,T,F) the MLP's pre-activation
  float* residual3;  // (L,B,T,C)
  float* lnf;        // (B,T,C)
  float* lnf_mean;   // (B,T)
  float* lnf_rstd;   // (B,T)
  float* losses;     // (B,T)
  float* lse;        // (B,T) log-sum-exp of each logits row
};

// Scratch, one layer's worth, reused by every layer in both passes: backward
// walks the layers one at a time, so one layer's activation gradients and
// recomputed outputs are enough.
struct ScratchView {
  float* ln;          // (B,T,C) a layernorm's output, for the matmul after it
  float* fch_gelu;    // (B,T,H) the activation's output, for the MLP projection
  float* logits;      // (head_rows,Vp) one chunk of logits; training turns it into d_logits
  float* d_residual;  // (B,T,C) gradient of the residual stream
  float* d_ln;        // (B,T,C) gradient of a layernorm output; d_lnf between the passes
  float* d_qkv;       // (B,T,3C)
  float* d_atty;      // (B,T,C)
  float* d_fch;       // (B,T,F) also holds the activation output's gradient before its backward (not SwiGLU)
  float* att_scratch; // attention_scratch_floats(n_threads, T, C, NH)
  // Mixed precision only (empty in fp32): one layer's qkv, atty and fch in
  // fp32, where forward computes them before they are stored in 16 bits and
  // backward widens them back.
  float* layer_qkv;   // (B,T,3C)
  float* layer_atty;  // (B,T,C)
  float* layer_fch;   // (B,T,F)
  float* d_act;       // (B,T,H) SwiGLU only: its output's gradient (its input's is twice as wide)
};

// Mixed precision's saved activations, in the 16-bit format (bf16 or fp16
// bits): the inputs and outputs of the linear layers, which backward reads
// only as operands of products that round them anyway (qkv also feeds
// attention, fch GELU; both read the stored values in forward too, so the
// two passes agree). The residual stream and layernorm statistics stay fp32:
// the stream sums every layer's output, and rounding it would compound.
struct HalfActivationView {
  uint16_t* qkv;   // (L,B,T,3C)
  uint16_t* atty;  // (L,B,T,C)
  uint16_t* fch;   // (L,B,T,F)
};

// Rows of logits the LM head computes at a time: B*T*Vp floats (206 MB for
// GPT-2 at B=4, T=256) shrink to 256*Vp (51 MB). 256 rows still give the
// vocabulary-gradient product a long enough sum that the chunks cost no
// measurable time; the chunking is fixed, so results do not depend on threads.
constexpr int kHeadRows = 256;

// Runs f, timed as `op` when a profiler is set.
template <typename Fn>
inline void Timed(Profiler* profiler, Op op, Pass pass, Fn&& f) {
  ProfileScope scope(profiler, op, pass);
  f();
}

class GPT2;
// The parameter tensors holding an inf or NaN, e.g. "qkvw (first at 37)";
// empty when every weight is finite.
std::string NonFiniteParams(const GPT2& model);

// Hands an op's output (n floats) to the anomaly detector, when one is set.
inline void Watch(const Context& ctx, bool backward, int layer, const char* op, const char* tensor, const float* out,
                  int64_t n) {
  if (ctx.anomaly) ctx.anomaly->Check(backward, layer, op, tensor, out, n);
}

// Told by Backward as parts of the gradient arena become final, so that a
// data-parallel trainer can start reducing them while backward goes on (see
// dist/grad_averager.h). In this order: the head (final norm; an untied LM
// head, whose gradient ForwardForTraining computed), each layer from the last
// to the first (its slice of the per-layer tensors), then the embeddings (wte,
// which a tied head also writes, and wpe).
class GradientListener {
 public:
  virtual ~GradientListener() = default;
  virtual void HeadReady() = 0;
  virtual void LayerReady(int layer) = 0;
  virtual void EmbeddingsReady() = 0;
};

// Kernels count the rows of a batch with int; B*T above 2^24 is refused.
Status CheckBatchTokens(int B, int T);

// Bytes held by the activation and backward arenas for a (B,T) batch.
int64_t ActivationBytes(const ModelConfig& cfg, int B, int T, int n_threads, Precision precision);

class GPT2 {
 public:
  // Sizes the parameter and gradient arenas. Validates the config.
  Status Init(const ModelConfig& cfg);
  // GPT-2 initialisation: N(0, 0.02) matrices, residual projections scaled by
  // 1/sqrt(2L), zero biases, unit layernorm gains, zero vocabulary padding.
  void InitWeights(Rng& rng);
  // Sizes the activation arenas for batches up to B x T with n_threads, laid
  // out for `precision` (a forward with another Context::precision lays them
  // out again).
  Status PrepareBatch(int B, int T, int n_threads, Precision precision = Precision::kFp32);

  // Forward pass over tokens (B,T). With targets (B,T), the per-position
  // losses and their mean in *mean_loss (NaN without). logits (B,T,Vp), or
  // null, receives every position's logits; the model itself keeps only a
  // chunk of them. Token ids are range-checked.
  Status Forward(const Context& ctx, const int32_t* tokens, const int32_t* targets, int B, int T, float* mean_loss,
                 float* logits = nullptr);
  // Forward for a training step: Forward with targets, and the LM head's
  // backward runs on each chunk of logits as soon as it is computed, adding
  // grad_scale x its gradient to grads() (d_loss per position = grad_scale /
  // (B*T)). Backward then finishes the pass.
  Status ForwardForTraining(const Context& ctx, const int32_t* tokens, const int32_t* targets, int B, int T,
                            float grad_scale, float* mean_loss);
  // Adds the rest of the batch's gradient, times the grad_scale given to
  // ForwardForTraining, to grads(). Fails unless that call came first, with
  // the same Context::precision. `ready` (optional) is told as parts of the
  // gradient become final.
  Status Backward(const Context& ctx, const int32_t* tokens, GradientListener* ready = nullptr);
  void ZeroGrad() { grads_.Zero(); }

  const ModelConfig& config() const { return cfg_; }
  float* params() { return params_.data(); }
  const float* params() const { return params_.data(); }
  float* grads() { return grads_.data(); }
  int64_t num_params() const { return static_cast<int64_t>(params_.size()); }
  ParamView param_view() { return MakeParamView(params_.data(), cfg_); }
  // RoPE's cos and sin tables (max_seq_len, HS/2); null without RoPE.
  const float* rope_cos() const { return rope_cos_.size() ? rope_cos_.data() : nullptr; }
  const float* rope_sin() const { return rope_sin_.size() ? rope_sin_.data() : nullptr; }
  ParamView grad_view() { return MakeParamView(grads_.data(), cfg_); }
  const ActivationView& acts() const { return acts_; }
  int batch() const { return B_; }
  int seq_len() const { return T_; }

  // Bytes held, for the memory report.
  uint64_t param_bytes() const { return params_.bytes(); }
  uint64_t grad_bytes() const { return grads_.bytes(); }
  uint64_t activation_bytes() const { return act_arena_.bytes() + scratch_arena_.bytes() + half_arena_.bytes(); }

 private:
  Status ForwardBody(const Context& ctx, const int32_t* tokens, const int32_t* targets, int B, int T);
  // LM head and loss over chunks of kHeadRows rows (gpt2_head.cc): the loss
  // when targets are given (else *mean_loss is NaN), every logit into
  // logits (B,T,Vp) when that is not null, and with grad_scale > 0 (training,
  // no logits) the head's backward, chunk by chunk.
  void HeadForward(const Context& ctx, const int32_t* targets, float grad_scale, float* logits, float* mean_loss);

  ModelConfig cfg_;
  FloatArena params_;
  FloatArena grads_;
  FloatArena act_arena_;
  FloatArena scratch_arena_;
  HalfArena half_arena_;
  FloatArena rope_cos_, rope_sin_;  // built once by Init with RoPE
  ActivationView acts_{};
  ScratchView scratch_{};
  HalfActivationView half_{};
  int B_ = 0, T_ = 0, n_threads_ = 0;  // shape the activation arenas hold
  Precision precision_ = Precision::kFp32;  // and the precision they are laid out for
  int cur_B_ = 0, cur_T_ = 0;          // shape of the last forward
  float grad_scale_ = 0.0f;            // of the last ForwardForTraining; 0 once Backward has run
};

}  // namespace cpu_llm
