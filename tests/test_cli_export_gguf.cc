// `cpu_llm export --format gguf`, end to end: a tiny GPT-2 model file becomes
// a GGUF file that validates; bad inputs give one-line errors with the exit
// codes main() promises (1 for files, 2 for flags).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/rng.h"
#include "io/gguf_validate.h"
#include "model/gpt2.h"
#include "test_io_util.h"
#include "train/checkpoint.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::testing::ProcessResult;

class CliExportGguf : public ::cpu_llm::testing::BinaryTest {
 protected:
  // A tiny model on GPT-2's vocabulary (the only one exported), in dir_.
  std::string SaveTiny(const std::string& name, int vocab = 50257) {
    ModelConfig c;
    c.n_layer = 1;
    c.n_head = 2;
    c.n_embd = 16;
    c.max_seq_len = 16;
    c.vocab_size = vocab;
    c.padded_vocab_size = PadVocab(vocab);
    GPT2 m;
    EXPECT_TRUE(m.Init(c).ok());
    Rng rng(1);
    m.InitWeights(rng);
    const std::string path = dir_ / name;
    EXPECT_TRUE(SaveModel(path, m).ok());
    return path;
  }
};

TEST_F(CliExportGguf, WritesAFileThatValidates) {
  const std::string model = SaveTiny("model_00000010.bin");
  for (const char* dtype : {"f32", "f16", "bf16"}) {
    const std::string out = dir_ / (std::string("m_") + dtype + ".gguf");
    ProcessResult r = Run({"export", "--checkpoint", model, "--format", "gguf", "--out", out, "--dtype", dtype});
    ExpectSuccess(r);
    EXPECT_HAS_SUBSTR(r.out, "architecture gpt2");
    EXPECT_HAS_SUBSTR(r.out, "validated " + out);
    Status s = ValidateGguf(out);
    EXPECT_TRUE(s.ok()) << s.message();
  }
}

TEST_F(CliExportGguf, MissingCheckpointIsAOneLineErrorNamingTheFile) {
  const std::string missing = dir_ / "nope.bin";
  ProcessResult r = Run({"export", "--checkpoint", missing, "--format", "gguf", "--out", dir_ / "x.gguf"});
  ExpectError(r, 1, missing);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "x.gguf"));
}

TEST_F(CliExportGguf, BadFlagsAreUsageErrors) {
  const std::string model = SaveTiny("m.bin");
  ExpectError(Run({"export", "--checkpoint", model, "--format", "gguf", "--out", dir_ / "x.gguf", "--dtype", "q4"}), 2,
              "--dtype");
  ExpectError(Run({"export", "--checkpoint", model, "--format", "onnx", "--out", dir_ / "x.gguf"}), 2, "--format");
  ExpectError(Run({"export", "--checkpoint", model, "--format", "gguf"}), 2, "--out");
}

TEST_F(CliExportGguf, ByteTokenizerModelIsRefusedWithTheReason) {
  const std::string model = SaveTiny("bytes.bin", 257);
  ExpectError(Run({"export", "--checkpoint", model, "--format", "gguf", "--out", dir_ / "x.gguf"}), 2,
              "byte tokenizer");
}

}  // namespace
}  // namespace cpu_llm
