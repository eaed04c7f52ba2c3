// The crash-safe writer under every checkpoint and export (AtomicFileWriter):
// a write that fails, is cut short or fills the disk leaves the old file and
// no temp file behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/file_io.h"
#include "core/rng.h"
#include "data/shard.h"
#include "model/gpt2.h"
#include "test_io_util.h"
#include "test_model_util.h"
#include "train/checkpoint.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::testing::ReadBytes;
using ::cpu_llm::testing::ReadText;
using ::cpu_llm::testing::TempDir;
using ::cpu_llm::testing::TempFilesUnder;
using ::cpu_llm::testing::WriteBytes;
using ::cpu_llm::testing::WriteText;

void MakeTinyModel(GPT2* model) {
  ASSERT_TRUE(model->Init(test::TinyConfig(2, 8, /*llama=*/false, 257)).ok());
  Rng rng(7);
  model->InitWeights(rng);
}

TEST(CheckpointAtomic, WriteReplacesAndLeavesNoTemp) {
  TempDir dir;
  const std::string path = dir / "f.bin";
  WriteText(path, "old content");
  ASSERT_TRUE(WriteFileAtomic(path, "new", 3).ok());
  EXPECT_EQ(ReadText(path), "new");
  EXPECT_TRUE(TempFilesUnder(dir.path()).empty());
}

TEST(CheckpointAtomic, DestructorWithoutFinishLeavesNothing) {
  TempDir dir;
  const std::string fresh = dir / "fresh.bin", existing = dir / "existing.bin";
  WriteText(existing, "old content");
  {
    AtomicFileWriter a(fresh), b(existing);
    std::vector<uint8_t> big(3 << 20, 0x5A);  // more than the buffer: reaches the temp file
    a.Write(big.data(), big.size());
    b.Write(big.data(), big.size());
    EXPECT_EQ(TempFilesUnder(dir.path()).size(), 2u);
  }
  EXPECT_FALSE(std::filesystem::exists(fresh));
  EXPECT_EQ(ReadText(existing), "old content");
  EXPECT_TRUE(TempFilesUnder(dir.path()).empty());
}

TEST(CheckpointAtomic, UncreatableTempFileIsAnErrorNamingThePath) {
  TempDir dir;
  WriteText(dir / "plain", "I am a file");
  const std::string path = dir / "plain/out.bin";  // parent is a regular file
  AtomicFileWriter w(path);
  w.Write("abc", 3);
  w.WritePod(int64_t{42});
  Status s = w.Finish();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), ErrorKind::kRuntime);
  EXPECT_HAS_SUBSTR(s.message(), path);
  EXPECT_EQ(ReadText(dir / "plain"), "I am a file");
  EXPECT_TRUE(TempFilesUnder(dir.path()).empty());

  Status s2 = WriteShard(dir / "plain/shard.bin", {1, 2, 3});
  ASSERT_FALSE(s2.ok());
  EXPECT_HAS_SUBSTR(s2.message(), dir / "plain/shard.bin");
}

TEST(CheckpointAtomic, RenameOntoAFolderFails) {
  TempDir dir;
  const std::string path = dir / "target";
  std::filesystem::create_directory(path);
  WriteText(dir / "target/keep", "kept");
  Status s = WriteFileAtomic(path, "data", 4);
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), path);
  EXPECT_EQ(ReadText(dir / "target/keep"), "kept");
  EXPECT_TRUE(TempFilesUnder(dir.path()).empty());
}

// RLIMIT_FSIZE makes write() fail with EFBIG past a size: a disk-full stand-in
// that needs no privileges. Restored before the test ends.
TEST(CheckpointAtomic, FailedWriteKeepsTheOldFile) {
  TempDir dir;
  const std::string path = dir / "model.bin";
  WriteText(path, "old model");
  GPT2 model;
  MakeTinyModel(&model);

  struct rlimit old_limit;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old_limit;
  small.rlim_cur = 16 * 1024;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  Status s = SaveModel(path, model);  // ~52 KB
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::signal(SIGXFSZ, old_handler);

  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), ErrorKind::kRuntime);
  EXPECT_HAS_SUBSTR(s.message(), path);
  EXPECT_EQ(ReadText(path), "old model");
  EXPECT_TRUE(TempFilesUnder(dir.path()).empty());
}

}  // namespace
}  // namespace cpu_llm
