#include "model/gpt2.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "core/profiler.h"
#include "kernels/attention.h"
#include "kernels/convert.h"
#include "kernels/crossentropy.h"
#include "kernels/encoder.h"
#include "kernels/gelu.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/residual.h"
#include "kernels/rope.h"
#include "model/block_ops.h"

namespace cpu_llm {

std::array<int64_t, kNumParamTensors> ParamSizes(const ModelConfig& cfg) {
  const int64_t Vp = cfg.padded_vocab_size, C = cfg.n_embd, L = cfg.n_layer, maxT = cfg.max_seq_len;
  const int64_t F = MlpFcRows(cfg), H = MlpHidden(cfg);
  const int64_t b = cfg.bias ? 1 : 0, nb = (cfg.bias && cfg.norm == NormKind::kLayerNorm) ? 1 : 0;
  const int64_t wpe = cfg.pos == PosKind::kLearned ? maxT * C : 0, head = cfg.tied_head ? 0 : Vp * C;
  return {Vp * C,    wpe,       L * C,     nb * L * C, L * 3 * C * C, b * L * 3 * C, L * C * C, b * L * C, L * C,
          nb * L * C, L * F * C, b * L * F, L * C * H,  b * L * C,     C,             nb * C,    head};
}

namespace {

// Points views' members (all T*, in order) at consecutive runs of base.
template <class View, size_t N, typename T>
View CarveView(T* base, const std::array<int64_t, N>& sizes) {
  static_assert(sizeof(View) == N * sizeof(T*));
  T* ptrs[N];
  for (size_t i = 0; i < N; i++) {
    ptrs[i] = base;
    base += sizes[i];
  }
  View view;
  std::memcpy(&view, ptrs, sizeof(view));
  return view;
}

}  // namespace

ParamView MakeParamView(float* base, const ModelConfig& cfg) {
  const auto sizes = ParamSizes(cfg);
  ParamView view = CarveView<ParamView>(base, sizes);
  // A tensor the block options leave out is null, not a pointer to the next one.
  float** ptrs = reinterpret_cast<float**>(&view);
  for (int i = 0; i < kNumParamTensors; i++)
    if (sizes[i] == 0) ptrs[i] = nullptr;
  return view;
}

bool ParamIsMatrix(int i) { return i == 0 || i == 1 || i == 4 || i == 6 || i == 10 || i == 12 || i == 16; }

const char* ParamName(int i) {
  static constexpr const char* kNames[kNumParamTensors] = {
      "wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb", "ln2w",
      "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb", "lmheadw"};
  return i >= 0 && i < kNumParamTensors ? kNames[i] : "?";
}

std::string NonFiniteParams(const GPT2& model) {
  const auto sizes = ParamSizes(model.config());
  std::string out;
  int64_t start = 0;
  for (int i = 0; i < kNumParamTensors; i++) {
    const int64_t at = FirstNonFinite(model.params() + start, sizes[i]);
    if (at >= 0) out += fmt::format("{}{} (first at {})", out.empty() ? "" : ", ", ParamName(i), at);
    start += sizes[i];
  }
  return out;
}

namespace {

// Sizes of the ActivationView tensors, in its order. In mixed precision qkv,
// atty and fch live in the HalfActivationView instead.
std::array<int64_t, 16> ActivationSizes(const ModelConfig& cfg, int B, int T, bool half) {
  const int64_t L = cfg.n_layer, C = cfg.n_embd, NH = cfg.n_head, F = MlpFcRows(cfg);
  const int64_t BT = (int64_t)B * T, f = half ? 0 : 1;
  return {BT * C,     L * BT,             L * BT,     f * L * BT * 3 * C, f * L * BT * C, L * B * NH * T,
          L * BT * C, L * BT,             L * BT,     f * L * BT * F,     L * BT * C,     BT * C,
          BT,         BT,                 BT,         BT};
}

// Sizes of the ScratchView tensors, in its order.
std::array<int64_t, 13> ScratchSizes(const ModelConfig& cfg, int B, int T, int n_threads, bool half) {
  const int64_t BT = (int64_t)B * T, C = cfg.n_embd, h = half ? 1 : 0, F = MlpFcRows(cfg), H = MlpHidden(cfg);
  const int64_t head_rows = std::min<int64_t>(BT, kHeadRows), swiglu = cfg.mlp == MlpKind::kSwiGlu ? 1 : 0;
  return {BT * C,     BT * H,     head_rows * cfg.padded_vocab_size,
          BT * C,     BT * C,     BT * 3 * C,
          BT * C,     BT * F,     attention_scratch_floats(n_threads, T, cfg.n_embd, cfg.n_head),
          h * BT * 3 * C, h * BT * C, h * BT * F, swiglu * BT * H};
}

// Sizes of the HalfActivationView tensors (mixed precision only).
std::array<int64_t, 3> HalfSizes(const ModelConfig& cfg, int B, int T, bool half) {
  const int64_t L = cfg.n_layer, C = cfg.n_embd, BT = (int64_t)B * T, h = half ? 1 : 0, F = MlpFcRows(cfg);
  return {h * L * BT * 3 * C, h * L * BT * C, h * L * BT * F};
}

template <size_t N>
int64_t Total(const std::array<int64_t, N>& sizes) {
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  return total;
}

}  // namespace

Status CheckBatchTokens(int B, int T) {
  if ((int64_t)B * T > (1 << 24)) return UsageError("--batch x --seq-len: {} x {} tokens is too large", B, T);
  return Status();
}

int64_t ActivationBytes(const ModelConfig& cfg, int B, int T, int n_threads, Precision precision) {
  const bool half = precision != Precision::kFp32;
  return 4 * (Total(ActivationSizes(cfg, B, T, half)) + Total(ScratchSizes(cfg, B, T, n_threads, half))) +
         2 * Total(HalfSizes(cfg, B, T, half));
}

Status GPT2::Init(const ModelConfig& cfg) {
  CPU_LLM_RETURN_IF_ERROR(ValidateConfig(cfg));
  cfg_ = cfg;
  const int64_t n = ParameterCount(cfg);
  params_.Resize(n);
  grads_.Resize(n);
  if (cfg.pos == PosKind::kRope) {
    const int HS = cfg.n_embd / cfg.n_head;
    rope_cos_.Resize((int64_t)cfg.max_seq_len * HS / 2);
    rope_sin_.Resize((int64_t)cfg.max_seq_len * HS / 2);
    rope_table(rope_cos_.data(), rope_sin_.data(), cfg.max_seq_len, HS, cfg.rope_theta);
  } else {
    rope_cos_.Resize(0);
    rope_sin_.Resize(0);
  }
  return Status();
}

void GPT2::InitWeights(Rng& rng) {
  ParamView p = param_view();
  const int64_t C = cfg_.n_embd, L = cfg_.n_layer;
  const float std_base = 0.02f;
  const float std_resid = 0.02f / std::sqrt(2.0f * cfg_.n_layer);
  auto normal = [&](float* w, int64_t n, float stddev) {
    for (int64_t i = 0; i < n; i++) w[i] = rng.Normal() * stddev;
  };
  params_.Zero();  // biases and vocabulary padding rows stay zero
  const int64_t F = MlpFcRows(cfg_), H = MlpHidden(cfg_);
  normal(p.wte, (int64_t)cfg_.vocab_size * C, std_base);
  if (p.wpe) normal(p.wpe, (int64_t)cfg_.max_seq_len * C, std_base);
  for (int64_t i = 0; i < L * C; i++) p.ln1w[i] = p.ln2w[i] = 1.0f;
  for (int64_t i = 0; i < C; i++) p.lnfw[i] = 1.0f;
  normal(p.qkvw, L * 3 * C * C, std_base);
  normal(p.attprojw, L * C * C, std_resid);
  normal(p.fcw, L * F * C, std_base);
  normal(p.fcprojw, L * C * H, std_resid);
  if (p.lmheadw) normal(p.lmheadw, (int64_t)cfg_.vocab_size * C, std_base);
}

Status GPT2::PrepareBatch(int B, int T, int n_threads, Precision precision) {
  if (B <= 0) return UsageError("--batch: must be positive (got {})", B);
  if (T <= 0) return UsageError("--seq-len: must be positive (got {})", T);
  if (T > cfg_.max_seq_len)
    return UsageError("--seq-len: {} exceeds the model's maximum sequence length {}", T, cfg_.max_seq_len);
  CPU_LLM_RETURN_IF_ERROR(CheckBatchTokens(B, T));
  if (B <= B_ && T <= T_ && n_threads <= n_threads_ && precision == precision_) return Status();
  B_ = B;
  T_ = T;
  n_threads_ = n_threads;
  precision_ = precision;
  const bool half = precision != Precision::kFp32;
  const auto act_sizes = ActivationSizes(cfg_, B, T, half);
  act_arena_.Resize(Total(act_sizes));
  acts_ = CarveView<ActivationView>(act_arena_.data(), act_sizes);
  const auto scratch_sizes = ScratchSizes(cfg_, B, T, n_threads, half);
  scratch_arena_.Resize(Total(scratch_sizes));
  scratch_ = CarveView<ScratchView>(scratch_arena_.data(), scratch_sizes);
  const auto half_sizes = HalfSizes(cfg_, B, T, half);
  half_arena_.Resize(Total(half_sizes));
  half_ = CarveView<HalfActivationView>(half_arena_.data(), half_sizes);
  return Status();
}

Status GPT2::Forward(const Context& ctx, const int32_t* tokens, const int32_t* targets, int B, int T,
                     float* mean_loss, float* logits) {
  CPU_LLM_RETURN_IF_ERROR(ForwardBody(ctx, tokens, targets, B, T));
  grad_scale_ = 0.0f;
  HeadForward(ctx, targets, 0.0f, logits, mean_loss);
  return Status();
}

Status GPT2::ForwardForTraining(const Context& ctx, const int32_t* tokens, const int32_t* targets, int B, int T,
                                float grad_scale, float* mean_loss) {
  if (!targets) return UsageError("a training forward pass needs targets");
  if (!(grad_scale > 0.0f)) return UsageError("gradient scale must be positive (got {})", grad_scale);
  CPU_LLM_RETURN_IF_ERROR(ForwardBody(ctx, tokens, targets, B, T));
  HeadForward(ctx, targets, grad_scale, nullptr, mean_loss);
  grad_scale_ = grad_scale;
  return Status();
}

// Everything up to the final layernorm's output a.lnf.
Status GPT2::ForwardBody(const Context& ctx, const int32_t* tokens, const int32_t* targets, int B, int T) {
  if (B > B_ || T > T_ || ctx.n_threads > n_threads_ || ctx.precision != precision_)
    CPU_LLM_RETURN_IF_ERROR(
        PrepareBatch(std::max(B, B_), std::max(T, T_), std::max(ctx.n_threads, n_threads_), ctx.precision));
  const int V = cfg_.vocab_size;
  for (int i = 0; i < B * T; i++) {
    if (tokens[i] < 0 || tokens[i] >= V)
      return RuntimeError("input token id {} at batch position {} is outside the vocabulary (0..{})", tokens[i], i, V - 1);
    if (targets && (targets[i] < 0 || targets[i] >= V))
      return RuntimeError("target token id {} at batch position {} is outside the vocabulary (0..{})", targets[i], i, V - 1);
  }
  cur_B_ = B;
  cur_T_ = T;
  const int C = cfg_.n_embd, NH = cfg_.n_head, L = cfg_.n_layer;
  const int BT = B * T;
  const ParamView p = param_view();
  const ActivationView& a = acts_;
  const ScratchView& s = scratch_;
  const Precision P = precision_;
  const bool half = P != Precision::kFp32;

  Profiler* prof = ctx.profiler;
  const Pass F = Pass::kForward;
  // Mixed precision: the layer's fp32 output saved in 16 bits, and rounded
  // in place so what comes next reads the saved values.
  auto store = [&](uint16_t* saved, float* x, int64_t n, int l, const char* tensor) {
    Timed(prof, Op::kConvert, F, [&] { store_rounded(ctx, P, saved, x, n); });
    Watch(ctx, false, l, "16-bit store", tensor, x, n);  // fp16 overflows here
  };
  const int64_t BTC = (int64_t)BT * C;
  const int64_t Fr = MlpFcRows(cfg_), H = MlpHidden(cfg_);
  Timed(prof, Op::kEncoder, F, [&] { encoder_forward(ctx, a.encoded, tokens, p.wte, p.wpe, B, T, C); });
  Watch(ctx, false, -1, "embedding", "encoded", a.encoded, BTC);
  for (int l = 0; l < L; l++) {
    const float* residual = l == 0 ? a.encoded : a.residual3 + (int64_t)(l - 1) * BT * C;
    const int64_t o1 = (int64_t)l * BT * C, o3 = 3 * o1, of = (int64_t)l * BT * Fr, os = (int64_t)l * BT;
    const int64_t w1 = (int64_t)l * C * C;
    float* qkv = half ? s.layer_qkv : a.qkv + o3;
    float* atty = half ? s.layer_atty : a.atty + o1;
    float* att_lse = a.att_lse + (int64_t)l * B * NH * T;
    float* residual2 = a.residual2 + o1;
    float* residual3 = a.residual3 + o1;
    float* fch = half ? s.layer_fch : a.fch + of;

    Timed(prof, Op::kLayerNorm, F, [&] {
      NormForward(ctx, cfg_, s.ln, a.ln1_mean + os, a.ln1_rstd + os, residual, p.ln1w + l * C, At(p.ln1b, l * C), BT);
    });
    Watch(ctx, false, l, NormName(cfg_.norm), "ln1 output", s.ln, BTC);
    Timed(prof, Op::kMatmulQkv, F,
          [&] { matmul_forward(ctx, qkv, s.ln, p.qkvw + 3 * w1, At(p.qkvb, l * 3 * C), BT, C, 3 * C); });
    Watch(ctx, false, l, "matmul qkv", "qkv", qkv, 3 * BTC);
    // RoPE rotates q and k before anything stores or reads them.
    if (cfg_.pos == PosKind::kRope) {
      Timed(prof, Op::kAttention, F, [&] { rope_forward(ctx, qkv, rope_cos(), rope_sin(), B, T, C, NH, 0); });
      Watch(ctx, false, l, "rope", "qkv", qkv, 3 * BTC);
    }
    if (half) store(half_.qkv + o3, qkv, 3 * BTC, l, "qkv");
    Timed(prof, Op::kAttention, F,
          [&] { attention_forward(ctx, atty, att_lse, s.att_scratch, qkv, B, T, C, NH); });
    Watch(ctx, false, l, "attention", "atty", atty, BTC);
    if (half) store(half_.atty + o1, atty, BTC, l, "atty");
    // The projection lands in residual2 and the residual is added in place.
    Timed(prof, Op::kMatmulAttnProj, F,
          [&] { matmul_forward(ctx, residual2, atty, p.attprojw + w1, At(p.attprojb, l * C), BT, C, C); });
    Watch(ctx, false, l, "matmul attn proj", "attn proj output", residual2, BTC);
    Timed(prof, Op::kResidual, F, [&] { residual_forward(ctx, residual2, residual, residual2, BTC); });
    Watch(ctx, false, l, "residual", "residual2", residual2, BTC);
    Timed(prof, Op::kLayerNorm, F, [&] {
      NormForward(ctx, cfg_, s.ln, a.ln2_mean + os, a.ln2_rstd + os, residual2, p.ln2w + l * C, At(p.ln2b, l * C), BT);
    });
    Watch(ctx, false, l, NormName(cfg_.norm), "ln2 output", s.ln, BTC);
    Timed(prof, Op::kMatmulFc, F,
          [&] { matmul_forward(ctx, fch, s.ln, p.fcw + l * Fr * C, At(p.fcb, l * Fr), BT, C, (int)Fr); });
    Watch(ctx, false, l, "matmul fc", "fch", fch, (int64_t)BT * Fr);
    if (half) store(half_.fch + of, fch, (int64_t)BT * Fr, l, "fch");
    Timed(prof, Op::kGelu, F, [&] { ActivationForward(ctx, cfg_, s.fch_gelu, fch, BT); });
    Watch(ctx, false, l, MlpName(cfg_.mlp), "activation output", s.fch_gelu, (int64_t)BT * H);
    Timed(prof, Op::kMatmulFcProj, F, [&] {
      matmul_forward(ctx, residual3, s.fch_gelu, p.fcprojw + l * C * H, At(p.fcprojb, l * C), BT, (int)H, C);
    });
    Watch(ctx, false, l, "matmul fc proj", "fc proj output", residual3, BTC);
    Timed(prof, Op::kResidual, F, [&] { residual_forward(ctx, residual3, residual2, residual3, BTC); });
    Watch(ctx, false, l, "residual", "residual3", residual3, BTC);
  }
  const float* last = a.residual3 + (int64_t)(L - 1) * BT * C;
  Timed(prof, Op::kLayerNorm, F,
        [&] { NormForward(ctx, cfg_, a.lnf, a.lnf_mean, a.lnf_rstd, last, p.lnfw, p.lnfb, BT); });
  Watch(ctx, false, -1, NormName(cfg_.norm), "final norm output", a.lnf, BTC);
  return Status();
}

}  // namespace cpu_llm
