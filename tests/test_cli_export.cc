// `export`, `import` and `eval` end to end: flag and file errors, the llm.c
// formats, the safetensors round trip, and the loss an independent torch
// implementation of HF's GPT-2 / Llama (tools/hf_gpt2_loss.py) computes from
// the exported folder against cpu_llm's own on the same batch.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/rng.h"
#include "data/shard.h"
#include "data/token_map.h"
#include "model/gpt2.h"
#include "test_io_util.h"
#include "test_model_util.h"
#include "train/checkpoint.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::testing::BinaryTest;
using ::cpu_llm::testing::ByteTokens;
using ::cpu_llm::testing::ProcessResult;
using ::cpu_llm::testing::ReadBytes;
using ::cpu_llm::testing::ReadText;
using ::cpu_llm::testing::RunProcess;

constexpr const char* kPython = "/usr/bin/python3";

ModelConfig Small(bool llama, int vocab = 257) { return test::TinyConfig(2, 32, llama, vocab, 32); }

// Random weights ten times GPT-2's init, biases and norm gains included, so
// a misplaced or mis-transposed tensor moves the loss far (at GPT-2's init
// every logit is near zero and the loss near ln V whatever the layout).
std::string WriteModel(const std::string& path, const ModelConfig& c) {
  GPT2 m;
  EXPECT_TRUE(m.Init(c).ok());
  Rng rng(11);
  const auto sizes = ParamSizes(c);
  float* p = m.params();
  for (int t = 0; t < kNumParamTensors; t++) {
    const std::string name = ParamName(t);
    const bool gain = name == "ln1w" || name == "ln2w" || name == "lnfw";
    for (int64_t i = 0; i < sizes[t]; i++) p[i] = (gain ? 1.0f : 0.0f) + 0.2f * rng.Normal();
    // The vocabulary padding stays zero, as in a trained model.
    if ((name == "wte" || name == "lmheadw") && sizes[t] > 0)
      std::fill(p + static_cast<int64_t>(c.vocab_size) * c.n_embd, p + sizes[t], 0.0f);
    p += sizes[t];
  }
  EXPECT_TRUE(SaveModel(path, m).ok());
  return path;
}

class ExportCli : public BinaryTest {
 protected:
  std::string Dir(const std::string& name) const { return dir_ / name; }
  std::string Shard() {
    std::string text;
    for (int i = 0; i < 8; i++) text += "In the beginning God created the heaven and the earth. ";
    const std::string path = Dir("tokens.bin");
    EXPECT_TRUE(WriteShard(path, ByteTokens(text)).ok());
    return path;
  }
  static double Loss(const ProcessResult& r) {
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_TRUE(j.is_object() && j.contains("loss")) << "stdout: " << r.out << "\nstderr: " << r.err;
    return j.is_object() && j.contains("loss") ? j["loss"].get<double>() : NAN;
  }
  static bool HaveTorch() {
    if (!std::filesystem::exists(kPython)) return false;
    ::cpu_llm::testing::TempDir tmp;
    return RunProcess(kPython, {"-c", "import torch, numpy"}, tmp.path()).exit_code == 0;
  }
  // |torch - cpu_llm| / cpu_llm for the model at `model` exported with `dtype`.
  double TorchRelativeDiff(const std::string& model, const std::string& dtype, double* cpu_loss) {
    const std::string shard = Shard(), out = Dir("hf_" + dtype);
    ProcessResult e = Run({"eval", "--checkpoint", model, "--data", shard, "--batch", "2", "--seq-len", "16",
                           "--threads", "1"});
    ExpectSuccess(e);
    *cpu_loss = Loss(e);
    ExpectSuccess(Run({"export", "--checkpoint", model, "--format", "safetensors", "--out", out, "--dtype", dtype}));
    ProcessResult py = RunProcess(kPython, {std::string(CPU_LLM_SOURCE_DIR) + "/tools/hf_gpt2_loss.py", out, shard,
                                            "--batch", "2", "--seq-len", "16"}, dir_.path());
    EXPECT_EQ(py.exit_code, 0) << py.err;
    const double torch_loss = Loss(py);
    std::printf("[ measured ] %s %s: cpu_llm %.9g, torch %.9g, relative difference %.3g\n", model.c_str(),
                dtype.c_str(), *cpu_loss, torch_loss, std::fabs(torch_loss - *cpu_loss) / *cpu_loss);
    return std::fabs(torch_loss - *cpu_loss) / *cpu_loss;
  }
};

TEST_F(ExportCli, BadFlagsAreUsageErrors) {
  const std::string m = WriteModel(Dir("m.bin"), Small(false));
  ExpectError(Run({"export", "--checkpoint", m, "--format", "onnx", "--out", Dir("x")}), 2, "--format: unknown format 'onnx'");
  ExpectError(Run({"export", "--checkpoint", m, "--format", "safetensors", "--out", Dir("x"), "--dtype", "q4"}), 2,
              "--dtype: unknown dtype 'q4'");
  ExpectError(Run({"export", "--checkpoint", m, "--format", "llmc-fp32", "--out", Dir("x"), "--dtype", "f16"}), 2,
              "--dtype: not used by --format llmc-fp32");
  ExpectError(Run({"export", "--checkpoint", m, "--format", "safetensors"}), 2, "--out");
  ExpectError(Run({"import", "--format", "gguf", "--in", Dir("x"), "--out", Dir("y.bin")}), 2, "--format");
  ExpectError(Run({"eval", "--checkpoint", m, "--data", Dir("t.bin"), "--seq-len", "0"}), 2, "--seq-len");
  ExpectError(Run({"eval", "--checkpoint", m, "--data", Dir("t.bin"), "--seq-len", "64"}), 2, "--seq-len");
}

TEST_F(ExportCli, BadFilesAreRuntimeErrorsNamingTheFile) {
  ExpectError(Run({"export", "--checkpoint", Dir("none.bin"), "--format", "safetensors", "--out", Dir("x")}), 1,
              "none.bin");
  ExpectError(Run({"import", "--format", "safetensors", "--in", Dir("nowhere"), "--out", Dir("y.bin")}), 1, "nowhere");
  const std::string m = WriteModel(Dir("m.bin"), Small(false));
  ExpectSuccess(Run({"export", "--checkpoint", m, "--format", "safetensors", "--out", Dir("hf")}));
  ::cpu_llm::testing::WriteText(Dir("hf/model.safetensors"), "garbage!garbage!");
  ExpectError(Run({"import", "--format", "safetensors", "--in", Dir("hf"), "--out", Dir("y.bin")}), 1,
              "hf/model.safetensors");
  ExpectError(Run({"eval", "--checkpoint", m, "--data", Dir("missing.bin"), "--seq-len", "16"}), 1, "missing.bin");
}

TEST_F(ExportCli, RefusesABlockHfCannotExpress) {
  ModelConfig c = Small(false);
  c.mlp = MlpKind::kRelu2;
  const std::string m = WriteModel(Dir("m.bin"), c);
  ExpectError(Run({"export", "--checkpoint", m, "--format", "safetensors", "--out", Dir("hf")}), 2,
              "no Hugging Face architecture");
  EXPECT_FALSE(std::filesystem::exists(Dir("hf/model.safetensors")));
}

TEST_F(ExportCli, LlmcFormats) {
  const std::string m = WriteModel(Dir("m.bin"), Small(false));
  ExpectSuccess(Run({"export", "--checkpoint", m, "--format", "llmc-fp32", "--out", Dir("a.bin")}));
  EXPECT_EQ(ReadBytes(Dir("a.bin")), ReadBytes(m));
  ExpectSuccess(Run({"export", "--checkpoint", m, "--format", "llmc-bf16", "--out", Dir("b.bin")}));
  WeightFormat f;
  ModelConfig c;
  ASSERT_TRUE(ReadModelConfig(Dir("b.bin"), &c, &f).ok());
  EXPECT_EQ(f, WeightFormat::kBf16);
}

TEST_F(ExportCli, SafetensorsRoundTripIsByteIdentical) {
  for (bool llama : {false, true}) {
    const std::string m = WriteModel(Dir("m.bin"), Small(llama));
    ExpectSuccess(Run({"export", "--checkpoint", m, "--format", "safetensors", "--out", Dir("hf")}));
    ExpectSuccess(Run({"import", "--format", "safetensors", "--in", Dir("hf"), "--out", Dir("back.bin")}));
    EXPECT_EQ(ReadBytes(Dir("back.bin")), ReadBytes(m)) << (llama ? "llama" : "gpt2");
  }
}

// A pruned vocabulary goes back to the tokenizer's ids, as --export-bf16 does.
TEST_F(ExportCli, PrunedVocabularyIsExpanded) {
  std::vector<int64_t> counts(257, 0);
  for (unsigned char ch : std::string("hello world")) counts[ch]++;
  TokenMap map;
  ASSERT_TRUE(TokenMap::FromCounts(counts, 1, 256, &map).ok());
  ASSERT_TRUE(map.Save(Dir("vocab_map.bin")).ok());
  const std::string m = WriteModel(Dir("m.bin"), Small(false, map.model_vocab()));
  ExpectSuccess(Run({"export", "--checkpoint", m, "--format", "safetensors", "--out", Dir("hf")}));
  nlohmann::json j = nlohmann::json::parse(ReadText(Dir("hf/config.json")));
  EXPECT_EQ(j["vocab_size"], 257);
  EXPECT_HAS_SUBSTR(j["cpu_llm_vocabulary"].get<std::string>(), "expanded from a pruned vocabulary");
}

TEST_F(ExportCli, TorchLossMatchesGpt2) {
  if (!HaveTorch()) GTEST_SKIP() << kPython << " cannot import torch and numpy: install python3-torch";
  const std::string m = WriteModel(Dir("gpt2.bin"), Small(false));
  double cpu = 0;
  EXPECT_LT(TorchRelativeDiff(m, "f32", &cpu), 1e-4);
  EXPECT_GT(cpu, 0.5) << "the test batch is not trivially predicted";
  // 16-bit weights move the loss by their rounding only.
  EXPECT_LT(TorchRelativeDiff(m, "bf16", &cpu), 3e-2);
  EXPECT_LT(TorchRelativeDiff(m, "f16", &cpu), 3e-3);
}

TEST_F(ExportCli, TorchLossMatchesLlama) {
  if (!HaveTorch()) GTEST_SKIP() << kPython << " cannot import torch and numpy: install python3-torch";
  const std::string m = WriteModel(Dir("llama.bin"), Small(true));
  double cpu = 0;
  EXPECT_LT(TorchRelativeDiff(m, "f32", &cpu), 1e-4);
}

}  // namespace
}  // namespace cpu_llm
