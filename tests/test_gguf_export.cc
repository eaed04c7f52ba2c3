// GGUF export (io/gguf_export.h): a tiny GPT-2 and a tiny Llama-style model
// export, validate, and hold the checkpoint's weights (exact in f32, within
// rounding in f16/bf16); a forward pass written from llama.cpp's semantics
// (ggml dims, interleaved RoPE, its tensor names) over the exported file
// gives our model's logits; the q/k permutation is checked against our RoPE
// kernel; pruned vocabularies are put back into GPT-2 ids; what llama.cpp
// cannot express is refused.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "core/context.h"
#include "core/rng.h"
#include "data/token_map.h"
#include "io/gguf.h"
#include "io/gguf_export.h"
#include "io/gguf_validate.h"
#include "kernels/rope.h"
#include "model/gpt2.h"
#include "test_io_util.h"
#include "test_model_util.h"
#include "train/checkpoint.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::testing::TempDir;

constexpr int kGpt2Vocab = 50257;

ModelConfig Config(bool llama, bool tied) {
  ModelConfig c = test::TinyConfig(2, 8, llama, kGpt2Vocab);
  c.tied_head = tied;
  return c;
}

void MakeModel(const ModelConfig& cfg, GPT2* m, float scale = 1.0f) {
  ASSERT_TRUE(m->Init(cfg).ok());
  Rng rng(11);
  for (int64_t i = 0; i < m->num_params(); i++) m->params()[i] = scale * rng.Normal();
}

std::vector<float> Read(const GgufFile& f, const std::string& name) {
  std::vector<float> v;
  Status s = ReadGgufTensor(f, name, &v);
  EXPECT_TRUE(s.ok()) << s.message();
  return v;
}

void ExpectNear(const std::vector<float>& got, const float* want, size_t n, GgufDtype d, const std::string& what) {
  ASSERT_EQ(got.size(), n) << what;
  const double rel = d == GgufDtype::kF32 ? 0.0 : d == GgufDtype::kF16 ? 1.0 / 2048 : 1.0 / 256;
  const double abs = d == GgufDtype::kF16 ? 6e-8 : 0.0;
  for (size_t i = 0; i < n; i++)
    ASSERT_LE(std::fabs(got[i] - want[i]), std::fabs(want[i]) * rel + abs) << what << " [" << i << "]";
}

class GgufExport : public ::testing::TestWithParam<GgufDtype> {
 protected:
  TempDir dir_;
};

TEST_P(GgufExport, Gpt2HoldsTheCheckpointsWeights) {
  const GgufDtype d = GetParam();
  GPT2 m;
  MakeModel(Config(false, true), &m);
  const std::string path = dir_ / "g.gguf";
  GgufExportSummary sum;
  Status s = WriteGgufModel(m, path, d, "g", &sum);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(ValidateGguf(path).ok());
  EXPECT_EQ(sum.arch, "gpt2");
  GgufFile f;
  ASSERT_TRUE(ReadGguf(path, &f).ok());
  EXPECT_EQ(f.Find("gpt2.block_count")->At<uint32_t>(), 2u);
  EXPECT_EQ(f.Find("gpt2.feed_forward_length")->At<uint32_t>(), 64u);
  EXPECT_EQ(f.Find("gpt2.context_length")->At<uint32_t>(), 8u);
  EXPECT_EQ(f.Find("tokenizer.ggml.tokens")->strings[220], "\xC4\xA0");  // " " is U+0120 in encoder.json
  EXPECT_EQ(f.Find("tokenizer.ggml.tokens")->strings[50256], "<|endoftext|>");
  EXPECT_EQ(f.Find("tokenizer.ggml.merges")->strings[0], "\xC4\xA0 t");  // vocab.bpe's first merge
  EXPECT_EQ(f.FindTensor("output.weight"), nullptr);  // tied: llama.cpp reuses token_embd
  const ParamView p = m.param_view();
  const int64_t C = 16, V = kGpt2Vocab;
  ExpectNear(Read(f, "token_embd.weight"), p.wte, V * C, d, "wte");  // padding rows cropped
  ExpectNear(Read(f, "position_embd.weight"), p.wpe, 8 * C, d, "wpe");
  ExpectNear(Read(f, "output_norm.bias"), p.lnfb, C, GgufDtype::kF32, "lnfb");
  ExpectNear(Read(f, "blk.1.attn_qkv.weight"), p.qkvw + 3 * C * C, 3 * C * C, d, "qkvw");
  ExpectNear(Read(f, "blk.1.attn_qkv.bias"), p.qkvb + 3 * C, 3 * C, GgufDtype::kF32, "qkvb");
  ExpectNear(Read(f, "blk.1.ffn_up.weight"), p.fcw + 4 * C * C, 4 * C * C, d, "fcw");
  ExpectNear(Read(f, "blk.1.ffn_down.weight"), p.fcprojw + 4 * C * C, 4 * C * C, d, "fcprojw");
  ExpectNear(Read(f, "blk.1.ffn_norm.weight"), p.ln2w + C, C, GgufDtype::kF32, "ln2w");
  for (const GgufTensorInfo& t : f.tensors)
    EXPECT_EQ(t.type, t.dims.size() == 1 ? 0u : static_cast<uint32_t>(d == GgufDtype::kF32 ? 0 : d == GgufDtype::kF16 ? 1 : 30))
        << t.name;
}

TEST_P(GgufExport, LlamaHoldsTheCheckpointsWeightsWithQkPermuted) {
  const GgufDtype d = GetParam();
  GPT2 m;
  MakeModel(Config(true, false), &m);
  const std::string path = dir_ / "l.gguf";
  Status s = WriteGgufModel(m, path, d, "l");
  ASSERT_TRUE(s.ok()) << s.message();
  GgufFile f;
  ASSERT_TRUE(ReadGguf(path, &f).ok());
  const ModelConfig& c = m.config();
  const int64_t C = 16, H = MlpHidden(c), V = kGpt2Vocab;
  EXPECT_EQ(f.Find("general.architecture")->strings[0], "llama");
  EXPECT_EQ(f.Find("llama.rope.dimension_count")->At<uint32_t>(), 8u);
  EXPECT_EQ(f.Find("llama.rope.freq_base")->At<float>(), 10000.0f);
  EXPECT_EQ(f.Find("llama.feed_forward_length")->At<uint32_t>(), static_cast<uint32_t>(H));
  const ParamView p = m.param_view();
  const float* qkvw = p.qkvw + 3 * C * C;  // layer 1
  const std::vector<float> q = PermuteRopeRows(qkvw, 2, 8, 16), k = PermuteRopeRows(qkvw + C * C, 2, 8, 16);
  ExpectNear(Read(f, "blk.1.attn_q.weight"), q.data(), C * C, d, "q");
  ExpectNear(Read(f, "blk.1.attn_k.weight"), k.data(), C * C, d, "k");
  ExpectNear(Read(f, "blk.1.attn_v.weight"), qkvw + 2 * C * C, C * C, d, "v");
  ExpectNear(Read(f, "blk.1.ffn_gate.weight"), p.fcw + 2 * H * C, H * C, d, "gate");
  ExpectNear(Read(f, "blk.1.ffn_up.weight"), p.fcw + 2 * H * C + H * C, H * C, d, "up");
  ExpectNear(Read(f, "output.weight"), p.lmheadw, V * C, d, "lm head");
  ExpectNear(Read(f, "output_norm.weight"), p.lnfw, C, GgufDtype::kF32, "lnfw");
}

INSTANTIATE_TEST_SUITE_P(Dtypes, GgufExport, ::testing::Values(GgufDtype::kF32, GgufDtype::kF16, GgufDtype::kBf16));

// ------------------------------------------- a forward pass as llama.cpp runs it

// y (out) = W x for a ggml matrix W with dims {in, out}: row o is contiguous.
std::vector<double> MatVec(const std::vector<float>& w, const std::vector<double>& x, size_t out) {
  std::vector<double> y(out, 0.0);
  for (size_t o = 0; o < out; o++)
    for (size_t i = 0; i < x.size(); i++) y[o] += w[o * x.size() + i] * x[i];
  return y;
}

std::vector<double> Norm(const std::vector<double>& x, const std::vector<float>& w, const std::vector<float>* b) {
  const size_t n = x.size();
  double mean = 0, var = 0;
  if (b) for (double v : x) mean += v / n;
  for (double v : x) var += (v - mean) * (v - mean) / n;
  std::vector<double> y(n);
  for (size_t i = 0; i < n; i++) y[i] = (x[i] - mean) / std::sqrt(var + 1e-5) * w[i] + (b ? (*b)[i] : 0.0);
  return y;
}

// ggml's "normal" RoPE (the llama architecture's): channel pairs (2i, 2i+1)
// of each head turned by pos * base^(-2i/HS).
void RopeInterleaved(std::vector<double>* x, int HS, int pos, double base) {
  for (size_t h = 0; h < x->size() / HS; h++)
    for (int i = 0; i < HS / 2; i++) {
      const double a = pos * std::pow(base, -2.0 * i / HS);
      double& x0 = (*x)[h * HS + 2 * i];
      double& x1 = (*x)[h * HS + 2 * i + 1];
      const double r0 = x0 * std::cos(a) - x1 * std::sin(a), r1 = x0 * std::sin(a) + x1 * std::cos(a);
      x0 = r0;
      x1 = r1;
    }
}

// Logits (T, V) of `tokens` from the GGUF file alone.
std::vector<std::vector<double>> GgufForward(const GgufFile& f, const std::vector<int>& tokens) {
  const bool llama = f.Find("general.architecture")->strings[0] == "llama";
  const std::string a = llama ? "llama." : "gpt2.";
  const size_t C = f.Find(a + "embedding_length")->At<uint32_t>(), L = f.Find(a + "block_count")->At<uint32_t>();
  const size_t NH = f.Find(a + "attention.head_count")->At<uint32_t>(), HS = C / NH;
  const size_t F = f.Find(a + "feed_forward_length")->At<uint32_t>(), T = tokens.size();
  const size_t V = f.Find("tokenizer.ggml.tokens")->count;
  auto W = [&](const std::string& n) { return Read(f, n); };
  const std::vector<float> emb = W("token_embd.weight");
  const std::vector<float> pos = llama ? std::vector<float>(T * C, 0.0f) : W("position_embd.weight");
  std::vector<std::vector<double>> x(T, std::vector<double>(C));
  for (size_t t = 0; t < T; t++)
    for (size_t i = 0; i < C; i++) x[t][i] = emb[tokens[t] * C + i] + pos[t * C + i];
  auto add = [](std::vector<double>& y, const std::vector<float>& b) { for (size_t i = 0; i < y.size(); i++) y[i] += b[i]; };
  for (size_t l = 0; l < L; l++) {
    const std::string b = "blk." + std::to_string(l) + ".";
    std::vector<std::vector<double>> q(T), k(T), v(T);
    for (size_t t = 0; t < T; t++) {
      const std::vector<float> nb = llama ? std::vector<float>() : W(b + "attn_norm.bias");
      const std::vector<double> h = Norm(x[t], W(b + "attn_norm.weight"), llama ? nullptr : &nb);
      if (llama) {
        q[t] = MatVec(W(b + "attn_q.weight"), h, C);
        k[t] = MatVec(W(b + "attn_k.weight"), h, C);
        v[t] = MatVec(W(b + "attn_v.weight"), h, C);
        const double base = f.Find("llama.rope.freq_base")->At<float>();
        RopeInterleaved(&q[t], static_cast<int>(HS), static_cast<int>(t), base);
        RopeInterleaved(&k[t], static_cast<int>(HS), static_cast<int>(t), base);
      } else {
        std::vector<double> qkv = MatVec(W(b + "attn_qkv.weight"), h, 3 * C);
        add(qkv, W(b + "attn_qkv.bias"));
        q[t].assign(qkv.begin(), qkv.begin() + C);
        k[t].assign(qkv.begin() + C, qkv.begin() + 2 * C);
        v[t].assign(qkv.begin() + 2 * C, qkv.end());
      }
    }
    for (size_t t = 0; t < T; t++) {
      std::vector<double> att(C, 0.0);
      for (size_t hd = 0; hd < NH; hd++) {
        std::vector<double> s(t + 1);
        double mx = -1e300, sum = 0;
        for (size_t u = 0; u <= t; u++) {
          for (size_t i = 0; i < HS; i++) s[u] += q[t][hd * HS + i] * k[u][hd * HS + i] / std::sqrt(double(HS));
          mx = std::max(mx, s[u]);
        }
        for (double& e : s) sum += (e = std::exp(e - mx));
        for (size_t u = 0; u <= t; u++)
          for (size_t i = 0; i < HS; i++) att[hd * HS + i] += s[u] / sum * v[u][hd * HS + i];
      }
      std::vector<double> o = MatVec(W(b + "attn_output.weight"), att, C);
      if (!llama) add(o, W(b + "attn_output.bias"));
      for (size_t i = 0; i < C; i++) x[t][i] += o[i];
      const std::vector<float> nb = llama ? std::vector<float>() : W(b + "ffn_norm.bias");
      const std::vector<double> h = Norm(x[t], W(b + "ffn_norm.weight"), llama ? nullptr : &nb);
      std::vector<double> up = MatVec(W(b + "ffn_up.weight"), h, F), act(F);
      if (llama) {
        const std::vector<double> g = MatVec(W(b + "ffn_gate.weight"), h, F);
        for (size_t i = 0; i < F; i++) act[i] = g[i] / (1 + std::exp(-g[i])) * up[i];
      } else {
        add(up, W(b + "ffn_up.bias"));
        for (size_t i = 0; i < F; i++)
          act[i] = 0.5 * up[i] * (1 + std::tanh(std::sqrt(2 / M_PI) * (up[i] + 0.044715 * up[i] * up[i] * up[i])));
      }
      std::vector<double> dn = MatVec(W(b + "ffn_down.weight"), act, C);
      if (!llama) add(dn, W(b + "ffn_down.bias"));
      for (size_t i = 0; i < C; i++) x[t][i] += dn[i];
    }
  }
  const std::vector<float> head = f.FindTensor("output.weight") ? W("output.weight") : emb;
  const std::vector<float> fb = llama ? std::vector<float>() : W("output_norm.bias");
  std::vector<std::vector<double>> logits(T);
  for (size_t t = 0; t < T; t++) logits[t] = MatVec(head, Norm(x[t], W("output_norm.weight"), llama ? nullptr : &fb), V);
  return logits;
}

void ExpectSameLogits(const ModelConfig& cfg) {
  TempDir dir;
  GPT2 m;
  MakeModel(cfg, &m, 0.3f);
  const std::string path = dir / "m.gguf";
  ASSERT_TRUE(WriteGgufModel(m, path, GgufDtype::kF32, "m").ok());
  GgufFile f;
  ASSERT_TRUE(ReadGguf(path, &f).ok());
  const std::vector<int> tokens = {50256, 464, 220, 11, 198, 3290};
  const int T = static_cast<int>(tokens.size()), Vp = cfg.padded_vocab_size;
  const Context ctx{1};
  ASSERT_TRUE(m.PrepareBatch(1, T, 1).ok());
  std::vector<int32_t> ids(tokens.begin(), tokens.end());
  std::vector<float> ours(static_cast<size_t>(T) * Vp);
  float loss = 0;
  ASSERT_TRUE(m.Forward(ctx, ids.data(), nullptr, 1, T, &loss, ours.data()).ok());
  const auto ref = GgufForward(f, tokens);
  for (int t = 0; t < T; t++)
    for (int v = 0; v < kGpt2Vocab; v += 7)
      ASSERT_NEAR(ours[static_cast<size_t>(t) * Vp + v], ref[t][v], 2e-3 + 1e-4 * std::fabs(ref[t][v]))
          << "position " << t << " token " << v;
}

TEST(GgufForward, Gpt2FileGivesOurLogits) { ExpectSameLogits(Config(false, true)); }
TEST(GgufForward, LlamaFileGivesOurLogits) { ExpectSameLogits(Config(true, false)); }
TEST(GgufForward, TiedLlamaFileGivesOurLogits) { ExpectSameLogits(Config(true, true)); }

// ------------------------------------------------------- RoPE permutation

// Our kernel rotates (i, i + HS/2); llama.cpp rotates (2i, 2i + 1). With
// the permuted projection, llama.cpp's rotated q is ours with channels
// permuted, so every score q.k is the same.
TEST(GgufRope, PermutedProjectionUnderInterleavedRopeMatchesOurKernel) {
  const int C = 32, NH = 4, HS = C / NH, maxT = 40;
  const float theta = 10000.0f;
  Rng rng(5);
  std::vector<float> wq(C * C), wk(C * C), x(C), y(C);
  for (float& w : wq) w = rng.Normal();
  for (float& w : wk) w = rng.Normal();
  for (float& v : x) v = rng.Normal();
  for (float& v : y) v = rng.Normal();
  std::vector<float> cos_t(maxT * HS / 2), sin_t(maxT * HS / 2);
  rope_table(cos_t.data(), sin_t.data(), maxT, HS, theta);
  const std::vector<float> pq = PermuteRopeRows(wq.data(), NH, HS, C), pk = PermuteRopeRows(wk.data(), NH, HS, C);
  const Context ctx{1};
  auto proj = [&](const std::vector<float>& w, const std::vector<float>& in) {
    std::vector<double> d(in.begin(), in.end());
    return MatVec(w, d, C);
  };
  for (int pos : {0, 1, 7, 39}) {
    // Ours: q from x at `pos`, k from y at pos 3, through the kernel.
    std::vector<float> row_q(3 * C, 0.0f), row_k(3 * C, 0.0f);
    const auto q = proj(wq, x), k = proj(wk, y);
    for (int i = 0; i < C; i++) row_q[i] = static_cast<float>(q[i]), row_k[C + i] = static_cast<float>(k[i]);
    rope_forward(ctx, row_q.data(), cos_t.data(), sin_t.data(), 1, 1, C, NH, pos);
    rope_forward(ctx, row_k.data(), cos_t.data(), sin_t.data(), 1, 1, C, NH, 3);
    // llama.cpp's: the permuted projections, interleaved rotation.
    auto lq = proj(pq, x), lk = proj(pk, y);
    RopeInterleaved(&lq, HS, pos, theta);
    RopeInterleaved(&lk, HS, 3, theta);
    for (int h = 0; h < NH; h++)
      for (int i = 0; i < HS / 2; i++)
        for (int j = 0; j < 2; j++) {
          ASSERT_NEAR(lq[h * HS + 2 * i + j], row_q[h * HS + j * HS / 2 + i], 1e-4) << pos;
          ASSERT_NEAR(lk[h * HS + 2 * i + j], row_k[C + h * HS + j * HS / 2 + i], 1e-4) << pos;
        }
    for (int h = 0; h < NH; h++) {
      double ours = 0, theirs = 0;
      for (int i = 0; i < HS; i++) ours += row_q[h * HS + i] * row_k[C + h * HS + i], theirs += lq[h * HS + i] * lk[h * HS + i];
      EXPECT_NEAR(ours, theirs, 1e-3 * (1 + std::fabs(ours))) << "head " << h << " pos " << pos;
    }
  }
}

// ---------------------------------------------------- from a checkpoint file

TEST(GgufExportFile, PrunedVocabularyGoesBackToGpt2Ids) {
  TempDir dir;
  std::vector<int64_t> counts(kGpt2Vocab, 0);
  for (int id : {5, 220, 464, 1000}) counts[id] = 3;
  TokenMap map;
  ASSERT_TRUE(TokenMap::FromCounts(counts, 1, kGpt2Vocab - 1, &map).ok());
  ModelConfig cfg = Config(false, true);
  cfg.vocab_size = map.model_vocab();
  cfg.padded_vocab_size = PadVocab(cfg.vocab_size);
  GPT2 m;
  MakeModel(cfg, &m);
  ASSERT_TRUE(SaveModel(dir / "model_00000001.bin", m).ok());
  ASSERT_TRUE(map.Save(dir / "vocab_map.bin").ok());
  GgufExportSummary sum;
  Status s = ExportGguf(dir / "model_00000001.bin", dir / "m.gguf", GgufDtype::kF32, &sum);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(sum.expanded_vocab);
  EXPECT_EQ(sum.vocab, kGpt2Vocab);
  GgufFile f;
  ASSERT_TRUE(ReadGguf(dir / "m.gguf", &f).ok());
  const std::vector<float> emb = Read(f, "token_embd.weight");
  const float* wte = m.param_view().wte;
  for (int id : {220, 1000, 7, 50256}) {  // kept, kept, never seen (the unknown row), end-of-text
    const int row = map.ToModel(id);
    for (int i = 0; i < 16; i++) ASSERT_EQ(emb[id * 16 + i], wte[row * 16 + i]) << id;
  }
}

TEST(GgufExportFile, RefusesWhatLlamaCppCannotRun) {
  TempDir dir;
  GPT2 m;
  ModelConfig bytes = Config(false, true);
  bytes.vocab_size = 257;
  bytes.padded_vocab_size = PadVocab(257);
  MakeModel(bytes, &m);
  ASSERT_TRUE(SaveModel(dir / "bytes.bin", m).ok());
  Status s = ExportGguf(dir / "bytes.bin", dir / "b.gguf", GgufDtype::kF32);
  EXPECT_EQ(s.kind(), ErrorKind::kUsage);
  EXPECT_NE(s.message().find("byte tokenizer"), std::string::npos) << s.message();

  ModelConfig mixed = Config(false, true);
  mixed.norm = NormKind::kRmsNorm;  // GPT-2's block with RMSNorm: neither gpt2 nor llama
  GPT2 m2;
  MakeModel(mixed, &m2);
  ASSERT_TRUE(SaveModel(dir / "mixed.bin", m2).ok());
  s = ExportGguf(dir / "mixed.bin", dir / "m.gguf", GgufDtype::kF32);
  EXPECT_EQ(s.kind(), ErrorKind::kUsage);
  EXPECT_NE(s.message().find("no llama.cpp architecture"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("mixed.bin"), std::string::npos) << s.message();
  EXPECT_FALSE(std::filesystem::exists(dir / "m.gguf"));
}

}  // namespace
}  // namespace cpu_llm
