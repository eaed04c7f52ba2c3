// Issue 10's disk-full promises, end to end: a write that fails for lack of
// space (ENOSPC on a full tmpfs or /dev/full, EFBIG under `ulimit -f`) while
// writing a checkpoint, a shard or the metrics gives a one-line error naming
// the file, a non-zero exit, no temporary file left behind, and the previous
// checkpoint intact: the run resumes from it once there is room again.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "test_cli_util.h"
#include "train/checkpoint.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::testing::ProcessResult;
using ::cpu_llm::testing::ReadBytes;
using ::cpu_llm::testing::ReadText;
using ::cpu_llm::testing::RunProcess;
using ::cpu_llm::testing::WriteText;
namespace fs = std::filesystem;

class CliDiskFull : public ::cpu_llm::testing::Cli {
 protected:
  static std::string Quote(const std::string& s) { return "'" + s + "'"; }
  static std::string Command(const std::vector<std::string>& args) {
    std::string cmd = Quote(CPU_LLM_BINARY);
    for (const std::string& a : args) cmd += " " + Quote(a);
    return cmd;
  }
  // Runs args with files capped at `kb` KiB: a write past it fails with
  // EFBIG (SIGXFSZ, which would kill the process, is ignored).
  ProcessResult RunWithFileLimit(const std::vector<std::string>& args, int kb) {
    // bash's ulimit -f counts KiB.
    const std::string sh = "trap '' XFSZ; ulimit -f " + std::to_string(kb) + " && exec " + Command(args);
    ProcessResult r = RunProcess("/bin/bash", {"-c", sh}, dir_.path());
    EXPECT_FALSE(r.signaled) << r.err;
    return r;
  }
  std::vector<std::string> Names(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
  void ExpectNoTempFiles(const std::string& dir) {
    for (const std::string& n : Names(dir)) EXPECT_EQ(n.find(".tmp."), std::string::npos) << dir << "/" << n;
  }
};

TEST_F(CliDiskFull, CheckpointThatDoesNotFitLeavesThePreviousOneIntact) {
  steps_ = "2";
  ExpectSuccess(Run(Train(Out())));
  const std::string model2 = Out() + "/model_00000002.bin", state2 = Out() + "/state_00000002.bin";
  const auto model_bytes = ReadBytes(model2), state_bytes = ReadBytes(state2);
  ASSERT_GT(model_bytes.size(), 100u * 1024);  // so a 64 KiB cap stops its successor
  const auto before = Names(Out());

  steps_ = "4";
  // A cap of 64 KiB leaves metrics.jsonl room.
  const ProcessResult r = RunWithFileLimit(Train(Out(), {"--resume"}), 64);
  ExpectError(r, 1, Out() + "/model_00000004.bin: write failed: File too large");
  EXPECT_EQ(Names(Out()), before);  // nothing new, no temp file
  EXPECT_EQ(ReadBytes(model2), model_bytes);
  EXPECT_EQ(ReadBytes(state2), state_bytes);
  EXPECT_TRUE(VerifyStateFile(state2).ok());

  const ProcessResult again = Run(Train(Out(), {"--resume"}));
  ExpectSuccess(again);
  EXPECT_HAS_SUBSTR(again.out, "resuming at step 2");
  EXPECT_TRUE(fs::exists(Out() + "/state_00000004.bin"));
}

TEST_F(CliDiskFull, MetricsOnAFullDeviceStopTheRunWithTheFileNamed) {
  steps_ = "2";
  ExpectSuccess(Run(Train(Out())));
  const auto state_bytes = ReadBytes(Out() + "/state_00000002.bin");
  // /dev/full fails every write with ENOSPC.
  fs::remove(Out() + "/metrics.jsonl");
  fs::create_symlink("/dev/full", Out() + "/metrics.jsonl");
  steps_ = "4";
  ExpectError(Run(Train(Out(), {"--resume"})), 1, Out() + "/metrics.jsonl: write failed: No space left on device");
  EXPECT_EQ(ReadBytes(Out() + "/state_00000002.bin"), state_bytes);
  EXPECT_FALSE(fs::exists(Out() + "/state_00000004.bin"));
  ExpectNoTempFiles(Out());
}

TEST_F(CliDiskFull, PrepareShardThatDoesNotFitIsNotLeftHalfWritten) {
  std::string text;
  for (int i = 0; i < 3000; i++) text += "And God said, Let there be light: and there was light " + std::to_string(i) + ".\n";
  WriteText(dir_ / "corpus.txt", text);  // ~190 KB: one shard of 2 bytes a token passes 64 KiB
  const std::string out = dir_ / "data";
  const ProcessResult r = RunWithFileLimit(
      {"prepare", "--tokenizer", "bytes", "--out", out, "-q", dir_ / "corpus.txt"}, 64);
  ExpectError(r, 1, "write failed: File too large");
  EXPECT_HAS_SUBSTR(r.err, out + "/train_000000.bin");
  ExpectNoTempFiles(out);
  EXPECT_FALSE(fs::exists(out + "/train_000000.bin"));
}

// A real full file system: a 2 MiB tmpfs in a private mount namespace
// (`unshare -rm`, no root needed where user namespaces are allowed; skipped
// where they are not). The run checkpoints at step 2, a filler leaves the
// disk 48 KiB short of the next checkpoint, the resumed run fails with
// ENOSPC, and once the filler is gone the same --resume goes on from step 2.
TEST_F(CliDiskFull, FullTmpfsDuringACheckpoint) {
  if (RunProcess("/usr/bin/unshare", {"-rm", "true"}, dir_.path()).exit_code != 0)
    GTEST_SKIP() << "unshare -rm is not permitted here";
  const std::string mnt = dir_ / "mnt", run = mnt + "/run";
  fs::create_directory(mnt);
  steps_ = "2";
  const std::string first = Command(Train(run));
  steps_ = "4";
  const std::string resume = Command(Train(run, {"--resume"}));
  const std::string d = Quote(dir_.path());
  const std::string sh =
      "mount -t tmpfs -o size=2m none " + Quote(mnt) + " || exit 77\n" + first + " >/dev/null || exit 3\n" +
      "cp " + Quote(run + "/state_00000002.bin") +
      " " + d + "/state2.before\n" +
      "avail=$(df -B1 --output=avail " + Quote(mnt) + " | tail -1)\n" +
      "fallocate -l $((avail - 49152)) " + Quote(mnt + "/filler") + " || exit 4\n" +
      resume + " >" + d + "/full.out 2>" + d + "/full.err; echo $? >" + d + "/full.rc\n" +
      "ls " + Quote(run) + " >" + d + "/full.ls\n" +
      "cp " + Quote(run + "/state_00000002.bin") + " " + d + "/state2.after\n" +
      "rm " + Quote(mnt + "/filler") + "\n" +
      resume + " >" + d + "/again.out 2>" + d + "/again.err; echo $? >" + d + "/again.rc\n";
  const ProcessResult r = RunProcess("/usr/bin/unshare", {"-rm", "/bin/bash", "-c", sh}, dir_.path());
  if (r.exit_code == 77) GTEST_SKIP() << "cannot mount a tmpfs in a user namespace here: " << r.err;
  ASSERT_EQ(r.exit_code, 0) << r.err;

  EXPECT_EQ(ReadText(dir_ / "full.rc"), "1\n") << ReadText(dir_ / "full.err");
  const std::string err = ReadText(dir_ / "full.err");
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_HAS_SUBSTR(err, "write failed: No space left on device");
  EXPECT_HAS_SUBSTR(err, run + "/");
  const std::string listing = ReadText(dir_ / "full.ls");
  EXPECT_EQ(listing.find(".tmp."), std::string::npos) << listing;
  EXPECT_EQ(listing.find("state_00000004"), std::string::npos) << listing;
  EXPECT_EQ(ReadBytes(dir_ / "state2.after"), ReadBytes(dir_ / "state2.before"));
  EXPECT_EQ(ReadText(dir_ / "again.rc"), "0\n") << ReadText(dir_ / "again.err");
  EXPECT_HAS_SUBSTR(ReadText(dir_ / "again.out"), "resuming at step 2");
}

}  // namespace
}  // namespace cpu_llm
