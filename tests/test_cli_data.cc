// `train`'s data options end to end: shuffled windows, the async loader,
// --batch-tokens, exact resume, and shards that change under a running job.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "data/shard.h"
#include "model/gpt2.h"
#include "train/checkpoint.h"
#include "test_cli_util.h"
#include "test_io_util.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::testing::ByteTokens;
using ::cpu_llm::testing::Cli;
using ::cpu_llm::testing::CountLines;
using ::cpu_llm::testing::ProcessResult;
using ::cpu_llm::testing::ReadBytes;
using ::cpu_llm::testing::ReadMetrics;
using ::cpu_llm::testing::RunProcess;
using ::cpu_llm::testing::StepLosses;

class CliData : public Cli {
 protected:
  // Two train shards of byte tokens (n0 and n1 tokens) under dir_/data.
  std::string WriteShards(int n0, int n1) {
    const std::string data = dir_ / "data";
    std::filesystem::create_directories(data);
    std::string text;
    for (int i = 0; static_cast<int>(text.size()) < n0 + n1; i++)
      text += "verse " + std::to_string(i) + ": In the beginning God created the heaven and the earth.\n";
    EXPECT_TRUE(WriteShard(data + "/train_000.bin", ByteTokens(text.substr(0, n0))).ok());
    EXPECT_TRUE(WriteShard(data + "/train_001.bin", ByteTokens(text.substr(n0, n1))).ok());
    return data + "/train_*.bin";
  }
};

// A run stopped at step 3 and resumed reaches the same weights at step 6 as
// one that never stopped, shuffled and async, and async reads the batches
// sync does.
TEST_F(CliData, ShuffledAsyncRunResumesExactly) {
  const std::string glob = WriteShards(700, 500);
  steps_ = "6";
  const std::vector<std::string> data = {"--train-data", glob, "--shuffle", "--checkpoint-every", "3"};
  auto with = [&](std::vector<std::string> a, std::vector<std::string> b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  ProcessResult whole = Run(Train(dir_ / "whole", with(data, {"--loader", "async", "--loader-depth", "2"})));
  ExpectSuccess(whole);
  EXPECT_HAS_SUBSTR(whole.out, "shuffled, read 2 batches ahead on a thread");
  EXPECT_HAS_SUBSTR(whole.out, "async loader)");
  ProcessResult sync = Run(Train(dir_ / "sync", data));
  ExpectSuccess(sync);
  EXPECT_EQ(StepLosses(sync.out), StepLosses(whole.out));
  EXPECT_EQ(ReadBytes(dir_ / "sync/model_00000006.bin"), ReadBytes(dir_ / "whole/model_00000006.bin"));
  for (const auto& j : ReadMetrics(dir_ / "sync/metrics.jsonl"))
    if (j.contains("loss")) EXPECT_GE(j.value("data_ms", -1.0), 0.0);

  // In order, the batches differ (the first one is the same window only by chance).
  ProcessResult in_order = Run(Train(dir_ / "in_order", {"--train-data", glob}));
  ExpectSuccess(in_order);
  const std::vector<std::string> shuffled = StepLosses(sync.out);
  ASSERT_EQ(shuffled.size(), 6u);
  EXPECT_NE(StepLosses(in_order.out), std::vector<std::string>(shuffled.begin(), shuffled.begin() + 3));

  const std::string resumed = dir_ / "resumed";
  std::filesystem::create_directories(resumed);
  for (const char* f : {"model_00000003.bin", "state_00000003.bin"})
    std::filesystem::copy_file(dir_ / ("whole/" + std::string(f)), resumed + "/" + f);
  ProcessResult r = Run(Train(resumed, with(data, {"--loader", "async", "--resume"})));
  ExpectSuccess(r);
  EXPECT_HAS_SUBSTR(r.out, "resuming at step 3");
  EXPECT_EQ(ReadBytes(resumed + "/model_00000006.bin"), ReadBytes(dir_ / "whole/model_00000006.bin"));

  // The order is part of the run: resuming it in another order is refused.
  ExpectError(Run(Train(resumed, {"--train-data", glob, "--resume"})), 2, "--shuffle");
}

// Raw text tokenized on the fly: sync and async read the same batches, a run
// resumed from its step-3 checkpoint ends with the same weights, and bad
// text data is a one-line error.
TEST_F(CliData, TrainsOnRawTextAndResumesExactly) {
  std::string text;
  for (int i = 0; i < 60; i++) text += "Verse " + std::to_string(i) + ". And God said, Let there be light.\n";
  const std::string path = dir_ / "corpus.txt";
  ::cpu_llm::testing::WriteText(path, text);
  steps_ = "6";
  const std::vector<std::string> data = {"--train-data", path, "--data-format", "text", "--checkpoint-every", "3",
                                         "--doc-delimiter", "\\n"};
  ProcessResult sync = Run(Train(dir_ / "sync", data));
  ExpectSuccess(sync);
  EXPECT_HAS_SUBSTR(sync.out, "tokenized on the fly");
  std::vector<std::string> async_args = data;
  async_args.insert(async_args.end(), {"--loader", "async"});
  ProcessResult async = Run(Train(dir_ / "async", async_args));
  ExpectSuccess(async);
  EXPECT_EQ(StepLosses(async.out), StepLosses(sync.out));
  EXPECT_EQ(ReadBytes(dir_ / "async/model_00000006.bin"), ReadBytes(dir_ / "sync/model_00000006.bin"));

  const std::string resumed = dir_ / "resumed";
  std::filesystem::create_directories(resumed);
  for (const char* f : {"model_00000003.bin", "state_00000003.bin"})
    std::filesystem::copy_file(dir_ / ("sync/" + std::string(f)), resumed + "/" + f);
  std::vector<std::string> resume_args = data;
  resume_args.push_back("--resume");
  ProcessResult r = Run(Train(resumed, resume_args));
  ExpectSuccess(r);
  EXPECT_EQ(ReadBytes(resumed + "/model_00000006.bin"), ReadBytes(dir_ / "sync/model_00000006.bin"));
  // Token files cannot resume a text run.
  ASSERT_TRUE(WriteShard(dir_ / "corpus.bin", ByteTokens(text)).ok());
  ExpectError(Run(Train(resumed, {"--train-data", dir_ / "corpus.bin", "--resume"})), 2, "read its data as text");

  ::cpu_llm::testing::WriteText(dir_ / "short.txt", "too short");
  ExpectError(Run(Train(Out(), {"--train-data", dir_ / "short.txt", "--data-format", "text"})), 1, "short.txt");
  ExpectError(Run(Train(Out(), {"--train-data", path, "--data-format", "text", "--shuffle"})), 2, "--shuffle");
  ExpectError(Run(Train(Out(), {"--data-format", "jsonl"})), 2, "--train-data");
}

// The bf16 file of a pruned model against its fp32 checkpoint (V=8: the
// sorted `kept` bytes, end-of-text 256, unknown).
void ExpectBf16ExportInTokenizerIds(const std::string& fp32_path, const std::string& bf16_path,
                                    const std::string& kept) {
  GPT2 pruned, full;
  ASSERT_TRUE(LoadModel(fp32_path, &pruned).ok());
  ASSERT_TRUE(LoadModel(bf16_path, &full).ok());
  ASSERT_EQ(full.config().vocab_size, 257);
  const int C = full.config().n_embd;
  std::string sorted = kept;
  std::sort(sorted.begin(), sorted.end());
  auto model_row = [&](int id) {
    if (id == 256) return static_cast<int>(sorted.size());  // end-of-text, after the kept bytes
    const size_t at = sorted.find(static_cast<char>(id));
    return at == std::string::npos ? static_cast<int>(sorted.size()) + 1 : static_cast<int>(at);  // unknown last
  };
  for (int id = 0; id < full.config().padded_vocab_size; id++)
    for (int c = 0; c < C; c++) {
      const float want = id < 257 ? pruned.params()[static_cast<int64_t>(model_row(id)) * C + c] : 0.0f;
      ASSERT_NEAR(full.params()[static_cast<int64_t>(id) * C + c], want, std::fabs(want) / 128 + 1e-30)
          << "id " << id << " channel " << c;
    }
  // Past the embeddings the parameters are the same (bf16-rounded).
  const int64_t rest = pruned.num_params() - static_cast<int64_t>(pruned.config().padded_vocab_size) * C;
  ASSERT_EQ(full.num_params() - static_cast<int64_t>(full.config().padded_vocab_size) * C, rest);
  for (int64_t i = 0; i < rest; i++) {
    const float want = pruned.params()[pruned.num_params() - rest + i];
    ASSERT_NEAR(full.params()[full.num_params() - rest + i], want, std::fabs(want) / 128 + 1e-30) << i;
  }
}

// --prune-vocab: the model's vocabulary is the bytes the data uses plus
// end-of-text and unknown; the map is written beside the checkpoints, a
// resumed run and `sample` pick it up, and what is sampled comes only from
// the kept bytes.
TEST_F(CliData, PrunedVocabularyTrainsResumesAndSamples) {
  std::string text;
  for (int i = 0; i < 40; i++) text += "abba cab dab; ";
  const std::string data = dir_ / "abc.bin";
  ASSERT_TRUE(WriteShard(data, ByteTokens(text)).ok());
  ProcessResult r =
      Run(Train(Out(), {"--train-data", data, "--prune-vocab", "1", "--checkpoint-every", "2", "--export-bf16"}));
  ExpectSuccess(r);
  // The llm.c export is in the tokenizer's ids: each kept byte's row where
  // the byte is, every other byte on the 'unknown' row (the pruned model's
  // last), padding rows zero.
  ExpectBf16ExportInTokenizerIds(Out() + "/model_00000002.bin", Out() + "/model_00000002.bf16.bin", "abcd; ");
  EXPECT_HAS_SUBSTR(r.out, "V=8 ");  // a b c d ; and space, end-of-text, unknown
  EXPECT_HAS_SUBSTR(r.out, "vocabulary: pruned to the 7 of 257 bytes ids");
  EXPECT_TRUE(std::filesystem::is_regular_file(Out() + "/vocab_map.bin"));
  steps_ = "4";
  ProcessResult resumed = Run(Train(Out(), {"--train-data", data, "--resume"}));
  ExpectSuccess(resumed);
  EXPECT_HAS_SUBSTR(resumed.out, "vocabulary: pruned");
  ProcessResult s = Run({"sample", "--checkpoint", Out() + "/model_00000004.bin", "--prompt", "ab", "--tokens", "40",
                         "--temperature", "1.5", "--threads", "1"});
  ExpectSuccess(s);
  for (char c : s.out.substr(2)) EXPECT_NE(std::string("abcd; \n<|endoftext|>").find(c), std::string::npos) << s.out;

  ExpectError(Run(Train(dir_ / "x", {"--prune-vocab", "-2"})), 2, "--prune-vocab");
  ExpectError(Run(Train(dir_ / "x", {"--prune-vocab", "1", "--vocab", "300"})), 2, "--vocab");
  ExpectError(Run(Train(dir_ / "x", {"--train-data", data, "--prune-vocab", "1", "--init-from",
                                     Out() + "/model_00000004.bin"})), 2, "--prune-vocab");
  ::cpu_llm::testing::WriteText(dir_ / "t.txt", text);
  ExpectError(Run(Train(dir_ / "x", {"--train-data", dir_ / "t.txt", "--data-format", "text", "--prune-vocab", "1"})),
              2, "--prune-vocab");
}

TEST_F(CliData, BatchTokensSetsTheAccumulation) {
  ProcessResult r = Run(Train(Out(), {"--batch-tokens", "128"}));
  ExpectSuccess(r);
  EXPECT_HAS_SUBSTR(r.out, "B=2 T=16 x 4 accumulated micro-batches (128 tokens/step)");
  ExpectError(Run(Train(Out(), {"--batch-tokens", "100"})), 2, "--batch-tokens");
  ExpectError(Run(Train(Out(), {"--batch-tokens", "128", "--grad-accum", "2"})), 2, "--grad-accum 4");
  ExpectError(Run(Train(Out(), {"--loader", "eager"})), 2, "--loader");
  ExpectError(Run(Train(Out(), {"--loader-depth", "0"})), 2, "--loader-depth");
  ExpectError(Run(Train(Out(), {"--mmap-advice", "often"})), 2, "--mmap-advice");
}

// A shard truncated while the job runs: a one-line error naming it when the
// loader reaches it, and the checkpoints written before are whole (the run
// resumes from the last of them once the shard is restored).
TEST_F(CliData, ShardTruncatedWhileTrainingStopsWithCheckpointIntact) {
  const std::string glob = WriteShards(32 * 2000 + 1, 2000);
  const std::string second = dir_ / "data/train_001.bin";
  const std::vector<uint8_t> saved = ReadBytes(second);
  steps_ = "3000";
  for (const char* loader : {"sync", "async"}) {
    const std::string out = dir_ / (std::string("run_") + loader);
    std::vector<std::string> args = Train(out, {"--train-data", glob, "--data-access", "mmap", "--loader", loader,
                                                "--checkpoint-every", "100", "--log-every", "0", "--val-every", "0"});
    std::string cmd = "\"" + std::string(CPU_LLM_BINARY) + "\"";
    for (const std::string& a : args) cmd += " '" + a + "'";
    // Start the job, wait for its first checkpoint, then cut the second shard short.
    const std::string script = "cd '" + dir_.path() + "'\n" + cmd + " >job.out 2>job.err & pid=$!\n"
                               "while [ ! -f '" + out + "/state_00000100.bin' ] && kill -0 $pid 2>/dev/null; do sleep 0.005; done\n"
                               "truncate -s 3000 '" + second + "'\n"
                               "wait $pid; echo $? >job.rc\n";
    ProcessResult sh = RunProcess("/bin/sh", {"-c", script}, dir_.path());
    ASSERT_EQ(sh.exit_code, 0) << sh.err;
    const std::string err = ::cpu_llm::testing::ReadText(dir_ / "job.err");
    EXPECT_EQ(::cpu_llm::testing::ReadText(dir_ / "job.rc"), "1\n") << err;
    EXPECT_EQ(CountLines(err), 1u) << err;
    EXPECT_HAS_SUBSTR(err, second);
    // 2000 batches in the first shard: checkpoints 100..2000 were written before the error.
    ASSERT_TRUE(std::filesystem::is_regular_file(out + "/state_00002000.bin")) << err;
    EXPECT_FALSE(std::filesystem::exists(out + "/state_00002100.bin"));
    ::cpu_llm::testing::WriteBytes(second, saved.data(), saved.size());
    steps_ = "2001";
    ProcessResult r = Run(Train(out, {"--train-data", glob, "--data-access", "mmap", "--resume"}));
    ExpectSuccess(r);
    EXPECT_HAS_SUBSTR(r.out, "resuming at step 2000");
    steps_ = "3000";
  }
}

}  // namespace
}  // namespace cpu_llm
