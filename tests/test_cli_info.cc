// `cpu_llm info`, end to end on the files the project itself writes: each is
// recognised by its content, the model of a checkpoint, its GGUF export and
// its safetensors export reads as the same model, and the training figures
// are the ones `train` allocates and the bench counts.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/rng.h"
#include "data/shard.h"
#include "model/gpt2.h"
#include "test_cli_util.h"
#include "train/checkpoint.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::testing::Cli;
using ::cpu_llm::testing::ProcessResult;
using ::cpu_llm::testing::WriteText;

using CliInfo = Cli;

// The line of `text` that starts with `prefix` (empty if none).
std::string LineStarting(const std::string& text, const std::string& prefix) {
  const size_t at = text.find("\n" + prefix);
  const size_t begin = text.rfind(prefix, 0) == 0 ? 0 : at == std::string::npos ? std::string::npos : at + 1;
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find('\n', begin) - begin);
}

TEST_F(CliInfo, ACheckpointsModelCostsWhatTrainAllocates) {
  const ProcessResult run = Run(Train(Out()));  // B=2 T=16, one thread
  ExpectSuccess(run);
  const ProcessResult r =
      Run({"info", Out() + "/model_00000003.bin", "--batch", "2", "--seq-len", "16", "--threads", "1"});
  ExpectSuccess(r);
  EXPECT_HAS_SUBSTR(r.out, "format: llm.c model file, version 3 (fp32 weights)\n");
  EXPECT_EQ(LineStarting(r.out, "model: "), LineStarting(run.out, "model: "));
  // The same four arenas train reported for the same B, T and threads.
  ASSERT_NE(LineStarting(run.out, "memory: "), "");
  EXPECT_EQ(LineStarting(r.out, "memory: "), LineStarting(run.out, "memory: "));
  ModelConfig cfg;
  ASSERT_TRUE(ReadModelConfig(Out() + "/model_00000003.bin", &cfg).ok());
  EXPECT_HAS_SUBSTR(r.out, fmt::format("parameters: {}\n", ParameterCount(cfg)).substr(0, 13));
  EXPECT_HAS_SUBSTR(r.out, fmt::format("FLOPs per token: {:.2f} MFLOP to train", TrainFlopsPerToken(cfg, 16) / 1e6));
  EXPECT_HAS_SUBSTR(r.out, "training at B=2 T=16 fp32 with 1 thread(s): ");
  EXPECT_HAS_SUBSTR(r.out, " within this machine's ");
  // bf16 keeps 16-bit copies of the saved activations: more memory in all
  // at a batch where activations dominate.
  const std::string model = Out() + "/model_00000003.bin";
  const ProcessResult fp32 = Run({"info", model, "-b", "64", "-t", "16", "--threads", "1"});
  const ProcessResult bf16 = Run({"info", model, "-b", "64", "-t", "16", "--threads", "1", "--precision", "bf16"});
  ExpectSuccess(bf16);
  EXPECT_NE(LineStarting(bf16.out, "memory: "), LineStarting(fp32.out, "memory: "));
  EXPECT_HAS_SUBSTR(bf16.out, "training at B=64 T=16 bf16 with 1 thread(s): ");
}

TEST_F(CliInfo, AStateFileAndARunFolderShowTheRun) {
  ExpectSuccess(Run(Train(Out(), {"--lr", "0.003"})));
  const ProcessResult state = Run({"info", Out() + "/state_00000003.bin"});
  ExpectSuccess(state);
  EXPECT_HAS_SUBSTR(state.out, "format: cpu_llm training state (checksum verified)\n");
  EXPECT_HAS_SUBSTR(state.out, "step: 3 (updates skipped: 0), trained with B=2 T=16, seed 1337, bytes tokenizer\n");
  EXPECT_TRUE(std::regex_search(state.out, std::regex("run config:\n(  .*\n)*  .* lr=0.003\\s"))) << state.out;
  EXPECT_HAS_SUBSTR(state.out, "model file: " + Out() + "/model_00000003.bin\nmodel: L=1 NH=2 C=32");
  EXPECT_HAS_SUBSTR(state.out, "training at B=16 T=16 ");  // the run's T by default
  const ProcessResult folder = Run({"info", Out()});
  ExpectSuccess(folder);
  EXPECT_HAS_SUBSTR(folder.out, "run folder: " + Out() + ", newest checkpoint " + Out() + "/state_00000003.bin\n");
  EXPECT_HAS_SUBSTR(folder.out, "step: 3 ");
}

TEST_F(CliInfo, ExportsDescribeTheSameModel) {
  ModelConfig c;
  c.n_layer = 1;
  c.n_head = 2;
  c.n_embd = 16;
  c.max_seq_len = 16;
  GPT2 m;  // GPT-2's vocabulary: what GGUF export takes
  ASSERT_TRUE(m.Init(c).ok());
  Rng rng(1);
  m.InitWeights(rng);
  const std::string model = dir_ / "model.bin", gguf = dir_ / "m.gguf", hf = dir_ / "hf";
  ASSERT_TRUE(SaveModel(model, m).ok());
  ExpectSuccess(Run({"export", "--checkpoint", model, "--format", "gguf", "--out", gguf, "--dtype", "f16"}));
  ExpectSuccess(Run({"export", "--checkpoint", model, "--format", "safetensors", "--out", hf}));
  const ProcessResult a = Run({"info", model}), g = Run({"info", gguf}), s = Run({"info", hf});
  ExpectSuccess(a);
  ExpectSuccess(g);
  ExpectSuccess(s);
  EXPECT_HAS_SUBSTR(g.out, "format: GGUF version 3, ");
  EXPECT_HAS_SUBSTR(g.out, "architecture: gpt2");
  EXPECT_HAS_SUBSTR(g.out, "tokenizer: gpt2 (pre gpt-2), 50,257 tokens, 50,000 merges\n");
  EXPECT_HAS_SUBSTR(g.out, "spec check: passes\n");
  EXPECT_HAS_SUBSTR(s.out, "format: safetensors, ");
  EXPECT_HAS_SUBSTR(s.out, "(Hugging Face GPT2LMHeadModel)");
  const std::string line = LineStarting(a.out, "model: ");
  ASSERT_NE(line.find("L=1 NH=2 C=16 maxT=16 V=50257"), std::string::npos) << line;
  EXPECT_EQ(LineStarting(g.out, "model: "), line);
  EXPECT_EQ(LineStarting(s.out, "model: "), line);
  EXPECT_EQ(LineStarting(g.out, "memory: "), LineStarting(a.out, "memory: "));
  EXPECT_EQ(LineStarting(s.out, "FLOPs per token: "), LineStarting(a.out, "FLOPs per token: "));
}

TEST_F(CliInfo, ShardsTokenizersAndVocabularyMaps) {
  std::vector<uint16_t> tokens = {1, 2, 3, 50256, 7, 7, 50256, 300};
  ASSERT_TRUE(WriteShard(dir_ / "s.bin", tokens).ok());
  const ProcessResult shard = Run({"info", dir_ / "s.bin"});
  ExpectSuccess(shard);
  EXPECT_HAS_SUBSTR(shard.out, "format: llm.c token shard, version 1 (uint16 token ids)\ntokens: 8 (");
  EXPECT_HAS_SUBSTR(shard.out, "token ids: 6 distinct, largest 50256; fits the gpt2 (50257 ids) tokenizer\n");
  EXPECT_HAS_SUBSTR(shard.out, "documents: 2 GPT-2 end-of-text tokens");
  // prepare writes a tokenizer file beside its shards, and a map with --prune-vocab.
  WriteText(dir_ / "t.txt", "In the beginning God created the heaven and the earth.\n");
  ExpectSuccess(Run({"prepare", dir_ / "t.txt", "--out", dir_ / "data", "--prune-vocab", "1", "--quiet"}));
  const ProcessResult tok = Run({"info", dir_ / "data/gpt2_tokenizer.bin"});
  ExpectSuccess(tok);
  EXPECT_HAS_SUBSTR(tok.out, "format: llm.c tokenizer file, version 2\ntokens: 50,257 (longest ");
  EXPECT_HAS_SUBSTR(tok.out, "end-of-text id 50256");
  const ProcessResult map = Run({"info", dir_ / "data/vocab_map.bin"});
  ExpectSuccess(map);
  EXPECT_HAS_SUBSTR(map.out, "format: cpu_llm vocabulary map");
  EXPECT_HAS_SUBSTR(map.out, "of the tokenizer's 50,257 ids");
}

TEST_F(CliInfo, BadFilesGetOneLine) {
  ExpectError(Run({"info", dir_ / "none.bin"}), 1, dir_ / "none.bin");
  WriteText(dir_ / "notes.txt", "just some text\n");
  ExpectError(Run({"info", dir_ / "notes.txt"}), 1, dir_ / "notes.txt: not a format cpu_llm knows");
  std::filesystem::create_directories(dir_ / "empty");
  ExpectError(Run({"info", dir_ / "empty"}), 1, dir_ / "empty: a folder with no checkpoint");
  ExpectError(Run({"info", dir_ / "notes.txt", "--precision", "fp8"}), 2, "--precision");
  ExpectError(Run({"info", dir_ / "notes.txt", "--batch", "0"}), 2, "--batch: must be positive");
  ExpectError(Run({"info"}), 2, "file is required");
}

}  // namespace
}  // namespace cpu_llm
