// The model against PyTorch: logits, loss, every parameter gradient and ten
// AdamW steps, read from fixtures that tools/gen_parity_fixtures.py writes
// (float64 PyTorch from the same float32 weights). No torch needed here.
// Every test runs on 1 and 2 threads with the built-in matmul and with each
// library backend (plan item 9), against the same fixtures and tolerances,
// for GPT-2's block and for three variants of the block options (plan item
// 10) that between them use every option: "llama" (RMSNorm, SwiGLU, RoPE, no
// biases, untied head), "relu2" (LayerNorm without biases, squared ReLU) and
// "silu" (SiLU, RoPE, biases, untied head).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "core/file_io.h"
#include "model/gpt2.h"
#include "optim/adamw.h"
#include "train/checkpoint.h"
#include "train/step.h"

namespace cpu_llm {

// For GoogleTest's names of the parameters (ctest lists them): "blas", not bytes.
static void PrintTo(MatmulBackend backend, std::ostream* os) { *os << MatmulBackendName(backend); }

namespace {

struct Expected {
  int B, T, n_steps, V, Vp;
  int64_t n_params;
  float lr, beta1, beta2, eps, weight_decay, grad_clip;
  std::vector<int32_t> inputs, targets;
  std::vector<float> logits, grads, step_losses, step_norms;
  float loss;
};

const std::string kDir = CPU_LLM_FIXTURE_DIR;

// "parity_" for GPT-2's block, "parity_<variant>_" for the others.
std::string Prefix(const std::string& variant) { return kDir + "/parity_" + (variant.empty() ? "" : variant + "_"); }

Expected ReadExpected(const std::string& variant) {
  std::vector<uint8_t> bytes;
  Status s = ReadFileBytes(Prefix(variant) + "expected.bin", &bytes);
  EXPECT_TRUE(s.ok()) << s.message();
  Expected e{};
  const uint8_t* p = bytes.data();
  auto take = [&](void* dst, size_t n) {
    EXPECT_LE(static_cast<size_t>(p - bytes.data()) + n, bytes.size());
    std::memcpy(dst, p, n);
    p += n;
  };
  int32_t h[256];
  float hp[256];
  take(h, sizeof(h));
  take(hp, sizeof(hp));
  EXPECT_EQ(h[0], 20241127);
  EXPECT_EQ(h[1], 1);
  e.B = h[2], e.T = h[3], e.n_steps = h[4], e.n_params = h[5], e.V = h[6], e.Vp = h[7];
  e.lr = hp[0], e.beta1 = hp[1], e.beta2 = hp[2], e.eps = hp[3], e.weight_decay = hp[4], e.grad_clip = hp[5];
  const size_t BT = static_cast<size_t>(e.B) * e.T;
  e.inputs.resize(BT);
  e.targets.resize(BT);
  e.logits.resize(BT * e.Vp);
  e.grads.resize(e.n_params);
  e.step_losses.resize(e.n_steps);
  e.step_norms.resize(e.n_steps);
  take(e.inputs.data(), BT * 4);
  take(e.targets.data(), BT * 4);
  take(e.logits.data(), e.logits.size() * 4);
  take(&e.loss, 4);
  take(e.grads.data(), e.grads.size() * 4);
  take(e.step_losses.data(), e.n_steps * 4);
  take(e.step_norms.data(), e.n_steps * 4);
  EXPECT_EQ(static_cast<size_t>(p - bytes.data()), bytes.size());
  return e;
}

class Parity : public ::testing::TestWithParam<std::tuple<std::string, int, MatmulBackend>> {
 protected:
  void SetUp() override {
    expected_ = ReadExpected(std::get<0>(GetParam()));
    Status s = LoadModel(Prefix(std::get<0>(GetParam())) + "model.bin", &model_);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_EQ(model_.num_params(), expected_.n_params);
    ASSERT_EQ(model_.config().vocab_size, expected_.V);
    ASSERT_EQ(model_.config().padded_vocab_size, expected_.Vp);
    ctx_.n_threads = std::get<1>(GetParam());
    ctx_.matmul = std::get<2>(GetParam());
    ASSERT_TRUE(model_.PrepareBatch(expected_.B, expected_.T, ctx_.n_threads).ok());
  }
  Expected expected_;
  GPT2 model_;
  Context ctx_;
};

TEST_P(Parity, LogitsAndLossMatchPyTorch) {
  const Expected& e = expected_;
  float no_loss = 0.0f;
  std::vector<float> logits(e.logits.size());
  ASSERT_TRUE(model_.Forward(ctx_, e.inputs.data(), nullptr, e.B, e.T, &no_loss, logits.data()).ok());
  EXPECT_TRUE(std::isnan(no_loss));
  double max_diff = 0.0;
  for (size_t i = 0; i < e.logits.size(); i++) max_diff = std::max(max_diff, (double)std::fabs(logits[i] - e.logits[i]));
  EXPECT_LT(max_diff, 1e-5) << "largest logit difference";

  float loss = 0.0f;
  ASSERT_TRUE(model_.Forward(ctx_, e.inputs.data(), e.targets.data(), e.B, e.T, &loss).ok());
  EXPECT_NEAR(loss, e.loss, 1e-5);
}

TEST_P(Parity, EveryGradientTensorMatchesPyTorch) {
  const Expected& e = expected_;
  float loss = 0.0f;
  model_.ZeroGrad();
  ASSERT_TRUE(model_.ForwardForTraining(ctx_, e.inputs.data(), e.targets.data(), e.B, e.T, 1.0f, &loss).ok());
  ASSERT_TRUE(model_.Backward(ctx_, e.inputs.data()).ok());
  const char* names[kNumParamTensors] = {"wte",  "wpe",  "ln1w", "ln1b", "qkvw", "qkvb",    "attprojw", "attprojb",
                                         "ln2w", "ln2b", "fcw",  "fcb",  "fcprojw", "fcprojb", "lnfw", "lnfb",
                                         "lmheadw"};
  auto sizes = ParamSizes(model_.config());
  int64_t offset = 0;
  for (int t = 0; t < kNumParamTensors; t++) {
    if (sizes[t] == 0) continue;  // a tensor this block does not have
    double max_ref = 0.0, max_diff = 0.0;
    for (int64_t i = offset; i < offset + sizes[t]; i++) {
      max_ref = std::max(max_ref, (double)std::fabs(e.grads[i]));
      max_diff = std::max(max_diff, (double)std::fabs(model_.grads()[i] - e.grads[i]));
    }
    ASSERT_GT(max_ref, 0.0) << names[t] << " has an all-zero reference gradient";
    EXPECT_LT(max_diff / max_ref, 1e-4) << names[t] << ": max diff " << max_diff << ", max |grad| " << max_ref;
    offset += sizes[t];
  }
  // The vocabulary padding rows never receive gradient.
  const ParamView g = model_.grad_view();
  const int C = model_.config().n_embd;
  for (int64_t i = (int64_t)e.V * C; i < (int64_t)e.Vp * C; i++) {
    ASSERT_EQ(g.wte[i], 0.0f);
    if (g.lmheadw) ASSERT_EQ(g.lmheadw[i], 0.0f);
  }
}

TEST_P(Parity, TenAdamWStepsMatchPyTorch) {
  const Expected& e = expected_;
  AdamWConfig cfg;
  cfg.beta1 = e.beta1;
  cfg.beta2 = e.beta2;
  cfg.eps = e.eps;
  cfg.weight_decay = e.weight_decay;
  cfg.grad_clip = e.grad_clip;
  AdamW adamw;
  adamw.Init(model_.config(), cfg);
  for (int step = 1; step <= e.n_steps; step++) {
    StepStats stats;
    ASSERT_TRUE(TrainStep(ctx_, model_, adamw, e.inputs.data(), e.targets.data(), e.B, e.T, e.lr, step, nullptr, &stats).ok());
    EXPECT_NEAR(stats.loss, e.step_losses[step - 1], 1e-4) << "step " << step;
    EXPECT_NEAR(stats.grad_norm, e.step_norms[step - 1], 1e-4 * std::max(1.0f, e.step_norms[step - 1]))
        << "step " << step;
  }
  // The clip threshold was actually crossed, so clipping was exercised.
  EXPECT_GT(e.step_norms[0], e.grad_clip);
}

INSTANTIATE_TEST_SUITE_P(BlockThreadsAndMatmul, Parity,
                         ::testing::Combine(::testing::Values(std::string(), std::string("llama"),
                                                              std::string("relu2"), std::string("silu")),
                                            ::testing::Values(1, 2),
                                            ::testing::Values(MatmulBackend::kTiled, MatmulBackend::kBlas,
                                                              MatmulBackend::kOneDnn)),
                         [](const ::testing::TestParamInfo<Parity::ParamType>& info) {
                           const std::string& v = std::get<0>(info.param);
                           return (v.empty() ? std::string("gpt2") : v) + "_" + std::to_string(std::get<1>(info.param)) +
                                  "threads_" + MatmulBackendName(std::get<2>(info.param));
                         });

}  // namespace
}  // namespace cpu_llm
