// safetensors: the container (every validation error names the file), the
// Hugging Face GPT-2 / Llama layouts (names, transposes, fused tensors
// split), config.json, and export -> import round trips.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/rng.h"
#include "io/hf_export.h"
#include "io/hf_layout.h"
#include "io/safetensors.h"
#include "model/gpt2.h"
#include "test_io_util.h"
#include "train/checkpoint.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::testing::ReadBytes;
using ::cpu_llm::testing::ReadText;
using ::cpu_llm::testing::TempDir;
using ::cpu_llm::testing::WriteBytes;
using ::cpu_llm::testing::WriteText;

// A safetensors file from a header text and `data_bytes` zero bytes of data.
std::vector<uint8_t> RawFile(const std::string& header, size_t data_bytes, uint64_t declared_len = ~0ull) {
  const uint64_t n = declared_len == ~0ull ? header.size() : declared_len;
  std::vector<uint8_t> b(8 + header.size() + data_bytes, 0);
  std::memcpy(b.data(), &n, 8);
  std::memcpy(b.data() + 8, header.data(), header.size());
  return b;
}

// Opens bytes written to a file; returns the error message ("" when it opened).
std::string OpenError(const TempDir& dir, const std::vector<uint8_t>& bytes) {
  const std::string path = dir / "bad.safetensors";
  WriteBytes(path, bytes.data(), bytes.size());
  SafetensorsFile f;
  Status s = f.Open(path);
  if (!s.ok()) {
    EXPECT_NE(s.message().find(path), std::string::npos) << "names the file: " << s.message();
  }
  return s.ok() ? "" : s.message();
}

TEST(SafetensorsFile, RoundTripsEveryDtypeAndMetadata) {
  TempDir dir;
  const std::string path = dir / "t.safetensors";
  // Values every dtype holds exactly, so the check can be ==.
  const std::vector<float> vals = {0.5f, -2.0f, 1.25f, 0.0f, 3.0f, -0.75f};
  std::vector<StTensorOut> ts = {{"a", StDtype::kF32, {2, 3}, vals},
                                 {"b.weight", StDtype::kF16, {6}, vals},
                                 {"c", StDtype::kBF16, {3, 2}, vals}};
  ASSERT_TRUE(WriteSafetensors(path, ts, {{"format", "pt"}, {"note", "x"}}).ok());
  const std::vector<uint8_t> bytes = ReadBytes(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u) << "data starts 8-byte aligned";
  EXPECT_EQ(bytes.size(), 8 + n + 6 * 4 + 6 * 2 + 6 * 2);

  SafetensorsFile f;
  Status s = f.Open(path);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(f.tensors().size(), 3u);
  EXPECT_EQ(f.tensors()[0].name, "a");
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.metadata().at("note"), "x");
  for (const char* name : {"a", "b.weight", "c"}) {
    const StTensorInfo* t = f.Find(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->numel(), 6);
    std::vector<float> got(6);
    f.ReadF32(*t, got.data());
    EXPECT_EQ(got, vals) << name;
  }
  EXPECT_EQ(f.Find("b.weight")->dtype, StDtype::kF16);
  EXPECT_EQ(f.Find("c")->shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(f.Find("missing"), nullptr);
}

TEST(SafetensorsFile, WriterRefusesRepeatedNamesAndWrongCounts) {
  TempDir dir;
  EXPECT_FALSE(WriteSafetensors(dir / "x", {{"a", StDtype::kF32, {1}, {1}}, {"a", StDtype::kF32, {1}, {1}}}, {}).ok());
  EXPECT_FALSE(WriteSafetensors(dir / "x", {{"a", StDtype::kF32, {2}, {1}}}, {}).ok());
  EXPECT_FALSE(std::filesystem::exists(dir / "x"));
}

TEST(SafetensorsFile, ValidationErrorsNameTheFileAndProblem) {
  TempDir dir;
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  EXPECT_EQ(OpenError(dir, RawFile(ok, 8)), "");
  EXPECT_HAS_SUBSTR(OpenError(dir, {1, 2, 3}), "shorter than the 8-byte header length");
  EXPECT_HAS_SUBSTR(OpenError(dir, RawFile(ok, 8, 1000)), "runs past the end of the file");
  EXPECT_HAS_SUBSTR(OpenError(dir, RawFile(ok, 8, 1ull << 40)), "implausible");
  EXPECT_HAS_SUBSTR(OpenError(dir, RawFile(ok, 4)), "out of range");  // truncated data
  EXPECT_HAS_SUBSTR(OpenError(dir, RawFile("{\"a\":", 0)), "not valid JSON");
  EXPECT_HAS_SUBSTR(OpenError(dir, RawFile("[1,2]", 0)), "not a JSON object");
  EXPECT_HAS_SUBSTR(OpenError(dir, RawFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}})", 8)),
                    "out of range");
  EXPECT_HAS_SUBSTR(OpenError(dir, RawFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8)),
                    "out of range");
  EXPECT_HAS_SUBSTR(OpenError(dir, RawFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                           R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12)),
                    "overlap");
  EXPECT_HAS_SUBSTR(OpenError(dir, RawFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12)),
                    "no holes");
  EXPECT_HAS_SUBSTR(OpenError(dir, RawFile(ok, 12)), "after the last tensor");
  EXPECT_HAS_SUBSTR(OpenError(dir, RawFile(R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}})", 8)),
                    "8 bytes for shape [2] of F16 (expected 4)");
  EXPECT_HAS_SUBSTR(OpenError(dir, RawFile(R"({"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", 8)),
                    "unsupported dtype 'I64'");
  EXPECT_HAS_SUBSTR(OpenError(dir, RawFile(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8)),
                    "not a non-negative integer");
  EXPECT_HAS_SUBSTR(OpenError(dir, RawFile(R"({"a":{"dtype":"F32","shape":[2]}})", 8)), "expected an object");
  EXPECT_HAS_SUBSTR(OpenError(dir, RawFile(R"({"__metadata__":{"k":1}})", 0)), "not a string");
  SafetensorsFile f;
  Status s = f.Open(dir / "missing.safetensors");
  EXPECT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), "missing.safetensors");
}

ModelConfig Tiny(bool llama) {
  ModelConfig c;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 8;
  c.max_seq_len = 6;
  c.vocab_size = 11;
  c.padded_vocab_size = PadVocab(11);
  if (llama) {
    c.norm = NormKind::kRmsNorm;
    c.mlp = MlpKind::kSwiGlu;
    c.pos = PosKind::kRope;
    c.bias = false;
    c.tied_head = false;
    c.mlp_hidden = 12;
  }
  return c;
}

// Every parameter holds its own index: a misplaced value shows where it came from.
void IndexModel(const ModelConfig& c, GPT2* m) {
  ASSERT_TRUE(m->Init(c).ok());
  for (int64_t i = 0; i < m->num_params(); i++) m->params()[i] = static_cast<float>(i);
}

const StTensorOut& Named(const std::vector<StTensorOut>& ts, const std::string& name) {
  for (const StTensorOut& t : ts)
    if (t.name == name) return t;
  static StTensorOut none;
  ADD_FAILURE() << "no tensor " << name;
  return none;
}

TEST(SafetensorsHfLayout, Gpt2NamesCropAndTransposeConv1D) {
  const ModelConfig c = Tiny(false);
  GPT2 m;
  IndexModel(c, &m);
  ParamView p = m.param_view();
  const std::vector<StTensorOut> ts = ToHfTensors(m, HfArch::kGpt2, StDtype::kF32);
  ASSERT_EQ(ts.size(), 2u + 12u * 2 + 2u);
  EXPECT_EQ(ts[0].name, "wte.weight");
  EXPECT_EQ(ts[2].name, "h.0.ln_1.weight");
  EXPECT_EQ(ts.back().name, "ln_f.bias");
  const int C = 8, V = 11, H = 32;
  const StTensorOut& wte = Named(ts, "wte.weight");
  EXPECT_EQ(wte.shape, (std::vector<int64_t>{V, C})) << "the vocabulary padding is cut off";
  EXPECT_EQ(wte.values.back(), p.wte[V * C - 1]);
  // Conv1D: HF (in, out)[i][o] = our (out, in)[o][i], for layer 1.
  const StTensorOut& attn = Named(ts, "h.1.attn.c_attn.weight");
  EXPECT_EQ(attn.shape, (std::vector<int64_t>{C, 3 * C}));
  const float* qkv1 = p.qkvw + 3 * C * C;
  for (int i = 0; i < C; i++)
    for (int o = 0; o < 3 * C; o++) ASSERT_EQ(attn.values[i * 3 * C + o], qkv1[o * C + i]) << i << "," << o;
  const StTensorOut& proj = Named(ts, "h.1.mlp.c_proj.weight");
  EXPECT_EQ(proj.shape, (std::vector<int64_t>{H, C}));
  EXPECT_EQ(proj.values[5 * C + 3], p.fcprojw[C * H + 3 * H + 5]);
  EXPECT_EQ(Named(ts, "h.1.mlp.c_fc.bias").values[0], p.fcb[H]);
  EXPECT_EQ(Named(ts, "h.0.attn.c_proj.bias").shape, (std::vector<int64_t>{C}));
}

TEST(SafetensorsHfLayout, LlamaSplitsFusedQkvAndGateUp) {
  const ModelConfig c = Tiny(true);
  GPT2 m;
  IndexModel(c, &m);
  ParamView p = m.param_view();
  const std::vector<StTensorOut> ts = ToHfTensors(m, HfArch::kLlama, StDtype::kF32);
  ASSERT_EQ(ts.size(), 1u + 9u * 2 + 2u);
  EXPECT_EQ(ts[0].name, "model.embed_tokens.weight");
  EXPECT_EQ(ts.back().name, "lm_head.weight");
  const int C = 8, H = 12, V = 11;
  const float* qkv1 = p.qkvw + 3 * C * C;
  EXPECT_EQ(Named(ts, "model.layers.1.self_attn.q_proj.weight").values[0], qkv1[0]);
  EXPECT_EQ(Named(ts, "model.layers.1.self_attn.k_proj.weight").values[0], qkv1[C * C]);
  EXPECT_EQ(Named(ts, "model.layers.1.self_attn.v_proj.weight").values[3], qkv1[2 * C * C + 3]);
  const float* fc1 = p.fcw + 2 * H * C;
  const StTensorOut& gate = Named(ts, "model.layers.1.mlp.gate_proj.weight");
  EXPECT_EQ(gate.shape, (std::vector<int64_t>{H, C}));
  EXPECT_EQ(gate.values[0], fc1[0]);
  EXPECT_EQ(Named(ts, "model.layers.1.mlp.up_proj.weight").values[0], fc1[H * C]);
  EXPECT_EQ(Named(ts, "model.layers.1.mlp.down_proj.weight").shape, (std::vector<int64_t>{C, H}));
  EXPECT_EQ(Named(ts, "lm_head.weight").shape, (std::vector<int64_t>{V, C}));
  EXPECT_EQ(Named(ts, "lm_head.weight").values[0], p.lmheadw[0]);
}

TEST(SafetensorsHfLayout, RefusesBlocksHfCannotExpress) {
  HfArch arch;
  EXPECT_TRUE(HfArchFor(Tiny(false), &arch).ok());
  EXPECT_EQ(arch, HfArch::kGpt2);
  EXPECT_TRUE(HfArchFor(Tiny(true), &arch).ok());
  EXPECT_EQ(arch, HfArch::kLlama);
  std::vector<ModelConfig> bad(5, Tiny(false));
  bad[0].mlp = MlpKind::kRelu2;
  bad[1].pos = PosKind::kRope;                  // RoPE with LayerNorm
  bad[2].norm = NormKind::kRmsNorm;             // RMSNorm with learned positions
  bad[3].bias = false;                          // GPT-2 always has biases
  bad[4] = Tiny(true);
  bad[4].mlp = MlpKind::kSilu;                  // Llama's MLP is gated
  for (const ModelConfig& c : bad) {
    Status s = HfArchFor(c, &arch);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.kind(), ErrorKind::kUsage);
    EXPECT_HAS_SUBSTR(s.message(), "no Hugging Face architecture");
  }
}

void RandomModel(const ModelConfig& c, GPT2* m) {
  ASSERT_TRUE(m->Init(c).ok());
  Rng rng(3);
  m->InitWeights(rng);
}

// Export, import, save: the same bytes as saving the model directly.
TEST(SafetensorsHfExport, RoundTripF32IsByteIdentical) {
  ModelConfig untied = Tiny(false);
  untied.tied_head = false;
  for (const ModelConfig& c : {Tiny(false), Tiny(true), untied}) {
    TempDir dir;
    GPT2 m;
    RandomModel(c, &m);
    ASSERT_TRUE(SaveModel(dir / "a.bin", m).ok());
    Status s = ExportHfSafetensors(m, dir / "hf", StDtype::kF32, {{"cpu_llm_checkpoint", "a.bin"}});
    ASSERT_TRUE(s.ok()) << s.message();
    GPT2 back;
    s = ImportHfSafetensors(dir / "hf", &back);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_TRUE(SaveModel(dir / "b.bin", back).ok());
    EXPECT_EQ(ReadBytes(dir / "a.bin"), ReadBytes(dir / "b.bin")) << DescribeConfig(c);
    // The file alone (config.json beside it) imports too.
    GPT2 again;
    ASSERT_TRUE(ImportHfSafetensors(dir / "hf/model.safetensors", &again).ok());
  }
}

TEST(SafetensorsHfExport, RoundTrip16BitIsWithinRounding) {
  for (StDtype d : {StDtype::kF16, StDtype::kBF16}) {
    TempDir dir;
    GPT2 m;
    RandomModel(Tiny(false), &m);
    ASSERT_TRUE(ExportHfSafetensors(m, dir.path(), d, {}).ok());
    GPT2 back;
    ASSERT_TRUE(ImportHfSafetensors(dir.path(), &back).ok());
    ASSERT_EQ(back.num_params(), m.num_params());
    // Half an ulp of the format, relative: 2^-8 for bf16 (7 stored mantissa bits), 2^-11 for fp16 (10).
    const float rel = d == StDtype::kBF16 ? 1.0f / 256 : 1.0f / 2048;
    int64_t differ = 0;
    for (int64_t i = 0; i < m.num_params(); i++) {
      const float a = m.params()[i], b = back.params()[i];
      ASSERT_LE(std::fabs(a - b), std::fabs(a) * rel + 1e-7f) << i;
      differ += a != b;
    }
    EXPECT_GT(differ, 0) << "the weights were rounded";
    nlohmann::json j = nlohmann::json::parse(ReadText(dir / "config.json"));
    EXPECT_EQ(j["torch_dtype"], d == StDtype::kBF16 ? "bfloat16" : "float16");
  }
}

TEST(SafetensorsHfExport, ConfigJsonHasHfFields) {
  TempDir dir;
  ModelConfig c = Tiny(false);
  c.vocab_size = 50257;
  c.padded_vocab_size = PadVocab(c.vocab_size);
  GPT2 m;
  RandomModel(c, &m);
  ASSERT_TRUE(ExportHfSafetensors(m, dir.path(), StDtype::kF32, {{"cpu_llm_checkpoint", "m.bin"}}).ok());
  nlohmann::json j = nlohmann::json::parse(ReadText(dir / "config.json"));
  EXPECT_EQ(j["model_type"], "gpt2");
  EXPECT_EQ(j["architectures"][0], "GPT2LMHeadModel");
  EXPECT_EQ(j["vocab_size"], 50257);
  EXPECT_EQ(j["n_positions"], 6);
  EXPECT_EQ(j["n_embd"], 8);
  EXPECT_EQ(j["n_layer"], 2);
  EXPECT_EQ(j["n_head"], 2);
  EXPECT_EQ(j["activation_function"], "gelu_new");
  EXPECT_EQ(j["layer_norm_epsilon"], 1e-5);
  EXPECT_EQ(j["bos_token_id"], 50256);
  EXPECT_EQ(j["eos_token_id"], 50256);
  EXPECT_EQ(j["cpu_llm_checkpoint"], "m.bin");
  SafetensorsFile f;
  ASSERT_TRUE(f.Open(dir / "model.safetensors").ok());
  EXPECT_EQ(f.metadata().at("format"), "pt") << "transformers requires it";
  EXPECT_EQ(f.Find("wte.weight")->shape, (std::vector<int64_t>{50257, 8}));
}

TEST(SafetensorsHfImport, ErrorsNameTheFile) {
  TempDir dir;
  GPT2 m;
  RandomModel(Tiny(false), &m);
  ASSERT_TRUE(ExportHfSafetensors(m, dir.path(), StDtype::kF32, {}).ok());
  const std::string cfg_path = dir / "config.json";
  const std::string good = ReadText(cfg_path);
  auto import_error = [&](const std::string& config_text) {
    WriteText(cfg_path, config_text);
    GPT2 back;
    Status s = ImportHfSafetensors(dir.path(), &back);
    return s.ok() ? std::string() : s.message();
  };
  nlohmann::json j = nlohmann::json::parse(good);
  j["n_embd"] = 16;
  EXPECT_HAS_SUBSTR(import_error(j.dump()), "model.safetensors: tensor 'wte.weight' has shape [11, 8], expected [11, 16]");
  j = nlohmann::json::parse(good);
  j["n_layer"] = 3;
  EXPECT_HAS_SUBSTR(import_error(j.dump()), "missing tensor 'h.2.ln_1.weight'");
  j = nlohmann::json::parse(good);
  j["n_layer"] = 1;
  EXPECT_HAS_SUBSTR(import_error(j.dump()), "unexpected tensor 'h.1.ln_1.weight'");
  j = nlohmann::json::parse(good);
  j["layer_norm_epsilon"] = 1e-6;
  EXPECT_HAS_SUBSTR(import_error(j.dump()), "config.json: \"layer_norm_epsilon\"");
  j = nlohmann::json::parse(good);
  j["model_type"] = "bert";
  EXPECT_HAS_SUBSTR(import_error(j.dump()), "model_type \"bert\"");
  EXPECT_HAS_SUBSTR(import_error("{oops"), "config.json: not valid JSON");
  std::filesystem::remove(cfg_path);
  GPT2 back;
  Status s = ImportHfSafetensors(dir.path(), &back);
  EXPECT_HAS_SUBSTR(s.message(), "config.json");
  s = ImportHfSafetensors(dir / "nowhere", &back);
  EXPECT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), "nowhere");
}

}  // namespace
}  // namespace cpu_llm
