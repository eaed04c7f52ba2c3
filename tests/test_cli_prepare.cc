// `cpu_llm prepare` end to end, and training on what it writes: every bad
// input gets exit code 1 or 2 and one stderr line naming the file/flag.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <filesystem>
#include <string>
#include <vector>

#include "data/shard.h"
#include "test_cli_util.h"
#include "test_io_util.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::testing::ProcessResult;
using ::cpu_llm::testing::ReadText;
using ::cpu_llm::testing::StepLosses;
using ::cpu_llm::testing::WriteBytes;
using ::cpu_llm::testing::WriteText;

namespace fs = std::filesystem;

class CliPrepare : public ::cpu_llm::testing::BinaryTest {
 protected:
  std::vector<std::string> Prepare(std::vector<std::string> inputs, const std::string& out,
                                   std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {"prepare", "--tokenizer", "bytes", "--out", out, "-q"};
    a.insert(a.end(), inputs.begin(), inputs.end());
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  std::string Corpus(int verses = 3000) {
    std::string text;
    for (int i = 0; i < verses; i++) text += "And God said, Let there be light: and there was light " + std::to_string(i) + ".\n";
    WriteText(dir_ / "corpus.txt", text);
    return dir_ / "corpus.txt";
  }
};

TEST_F(CliPrepare, PreparedShardsTrainAndSample) {
  ProcessResult r = Run(Prepare({Corpus()}, dir_ / "data", {"--shard-tokens", "50000"}));
  ExpectSuccess(r);
  EXPECT_HAS_SUBSTR(r.out, "documents: 1");
  EXPECT_HAS_SUBSTR(r.out, "vocabulary coverage:");
  EXPECT_TRUE(fs::exists(dir_ / "data/train_000000.bin"));
  EXPECT_TRUE(fs::exists(dir_ / "data/train_000001.bin"));
  EXPECT_TRUE(fs::exists(dir_ / "data/val_000000.bin"));
  EXPECT_TRUE(fs::exists(dir_ / "data/bytes_tokenizer.bin"));
  r = Run({"train", "--tokenizer", "bytes", "--train-data", dir_ / "data/train_*.bin", "--val-data", dir_ / "data/val_*.bin", "--model", "d1",
           "--channels", "32", "--heads", "2", "-b", "2", "-t", "32", "--steps", "3", "--val-batches", "1",
           "--sample-tokens", "5", "--threads", "1", "--out", dir_ / "run"});
  ExpectSuccess(r);
  EXPECT_HAS_SUBSTR(r.out, "val loss");
}

// prepare --prune-vocab counts the train split while writing it; training
// with its map is the same run as counting the same shards in `train`, and
// the map also prunes text data read on the fly (which `train` cannot count).
TEST_F(CliPrepare, VocabularyMapFromPrepareTrainsLikeTrainsOwnCount) {
  const std::string corpus = Corpus(400);
  ProcessResult r = Run(Prepare({corpus}, dir_ / "data", {"--prune-vocab", "1", "--val-fraction", "0.2"}));
  ExpectSuccess(r);
  EXPECT_HAS_SUBSTR(r.out, "vocabulary map: " + (dir_ / "data/vocab_map.bin"));
  EXPECT_HAS_SUBSTR(r.out, "--vocab-map " + (dir_ / "data/vocab_map.bin"));
  auto train = [&](const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> a = {"train", "--tokenizer", "bytes", "--model", "d1", "--channels", "32", "--heads", "2",
                                  "-b", "2", "-t", "32", "--steps", "3", "--val-batches", "1", "--sample-tokens", "0",
                                  "--threads", "1", "--out", dir_ / out};
    a.insert(a.end(), extra.begin(), extra.end());
    return Run(a);
  };
  const std::string shards = dir_ / "data/train_*.bin", val = dir_ / "data/val_*.bin";
  ProcessResult counted = train("counted", {"--train-data", shards, "--val-data", val, "--prune-vocab", "1"});
  ProcessResult mapped =
      train("mapped", {"--train-data", shards, "--val-data", val, "--vocab-map", dir_ / "data/vocab_map.bin"});
  ExpectSuccess(counted);
  ExpectSuccess(mapped);
  // Digits, the letters and punctuation of the verse, newline, end-of-text: well under 257.
  EXPECT_HAS_SUBSTR(mapped.out, "vocabulary: pruned to the ");
  EXPECT_EQ(ReadText(dir_ / "counted/vocab_map.bin"), ReadText(dir_ / "mapped/vocab_map.bin"));
  ASSERT_EQ(StepLosses(mapped.out).size(), 3u) << mapped.out;
  EXPECT_EQ(StepLosses(counted.out), StepLosses(mapped.out));
  ProcessResult text = train("text", {"--train-data", corpus, "--data-format", "text", "--vocab-map",
                                      dir_ / "data/vocab_map.bin"});
  ExpectSuccess(text);
  EXPECT_HAS_SUBSTR(text.out, "vocabulary: pruned to the ");
  EXPECT_TRUE(fs::exists(dir_ / "text/vocab_map.bin"));

  ExpectError(train("x1", {"--vocab-map", dir_ / "nope.bin"}), 1, dir_ / "nope.bin");
  ExpectError(train("x2", {"--vocab-map", dir_ / "data/vocab_map.bin", "--prune-vocab", "1"}), 2, "--vocab-map");
  ExpectError(Run({"train", "--vocab-map", dir_ / "data/vocab_map.bin", "--steps", "1", "--out", dir_ / "x3"}), 2,
              "--vocab-map");  // a bytes map given to the GPT-2 tokenizer
  WriteText(dir_ / "junk.bin", "not a map");
  ExpectError(train("x4", {"--vocab-map", dir_ / "junk.bin"}), 1, dir_ / "junk.bin");
  ExpectError(Run(Prepare({corpus}, dir_ / "o", {"--prune-vocab", "-2"})), 2, "--prune-vocab");
}

TEST_F(CliPrepare, TrainsOnNanoGptTokenFiles) {
  std::vector<uint16_t> tokens;
  for (int i = 0; i < 4000; i++) tokens.push_back(static_cast<uint16_t>("abc def\n"[i % 8]));
  WriteBytes(dir_ / "train.bin", tokens.data(), tokens.size() * 2);
  ProcessResult r = Run({"train", "--tokenizer", "bytes", "--train-data", dir_ / "train.bin", "--data-format", "nanogpt", "--model", "d1",
                         "--channels", "32", "--heads", "2", "-b", "2", "-t", "16", "--steps", "2", "--sample-tokens",
                         "0", "--threads", "1", "--out", dir_ / "run"});
  ExpectSuccess(r);
  // Without the flag the same file is refused, with a hint.
  r = Run({"train", "--train-data", dir_ / "train.bin", "--steps", "1", "--out", dir_ / "run2"});
  ExpectError(r, 1, dir_ / "train.bin");
  EXPECT_HAS_SUBSTR(r.err, "--data-format nanogpt");
  WriteBytes(dir_ / "odd.bin", tokens.data(), 7);
  ExpectError(Run({"train", "--train-data", dir_ / "odd.bin", "--data-format", "nanogpt", "--out", dir_ / "run3"}), 1,
              dir_ / "odd.bin");
  ExpectError(Run({"train", "--data-format", "parquet", "--out", dir_ / "run4"}), 2, "--data-format");
}

TEST_F(CliPrepare, MissingInput) { ExpectError(Run(Prepare({dir_ / "nope.txt"}, dir_ / "o")), 1, dir_ / "nope.txt"); }

TEST_F(CliPrepare, DirectoryAsInput) {
  fs::create_directory(dir_ / "folder");
  ExpectError(Run(Prepare({dir_ / "folder"}, dir_ / "o")), 1, dir_ / "folder");
}

TEST_F(CliPrepare, NonEmptyOutputFolderNeedsForce) {
  const std::string corpus = Corpus(200);
  ExpectSuccess(Run(Prepare({corpus}, dir_ / "o")));
  ProcessResult r = Run(Prepare({corpus}, dir_ / "o"));
  ExpectError(r, 1, dir_ / "o");
  EXPECT_HAS_SUBSTR(r.err, "--force");
  ExpectSuccess(Run(Prepare({corpus}, dir_ / "o", {"--force"})));
}

TEST_F(CliPrepare, EmptyInput) {
  WriteText(dir_ / "empty.txt", "");
  ExpectError(Run(Prepare({dir_ / "empty.txt"}, dir_ / "o")), 1, "no text");
}

TEST_F(CliPrepare, BinaryFile) {
  std::string bin(1000, '\x7f');
  bin[500] = '\0';
  WriteText(dir_ / "blob.dat", bin);
  ProcessResult r = Run(Prepare({dir_ / "blob.dat"}, dir_ / "o"));
  ExpectError(r, 1, dir_ / "blob.dat");
  EXPECT_HAS_SUBSTR(r.err, "binary");
}

TEST_F(CliPrepare, JsonlBadJsonNamesTheLine) {
  WriteText(dir_ / "d.jsonl", "{\"text\": \"one\"}\n{\"text\": \"two\"}\n{\"text\": oops}\n");
  ExpectError(Run(Prepare({dir_ / "d.jsonl"}, dir_ / "o")), 1, dir_ / "d.jsonl:3");
}

TEST_F(CliPrepare, JsonlWithoutTextNamesTheLine) {
  WriteText(dir_ / "d.jsonl", "{\"text\": \"one\"}\n{\"title\": \"two\"}\n");
  ProcessResult r = Run(Prepare({dir_ / "d.jsonl"}, dir_ / "o"));
  ExpectError(r, 1, dir_ / "d.jsonl:2");
  EXPECT_HAS_SUBSTR(r.err, "\"text\"");
}

TEST_F(CliPrepare, BadFlags) {
  const std::string corpus = Corpus(10);
  ExpectError(Run(Prepare({corpus}, dir_ / "o", {"--val-fraction", "2"})), 2, "--val-fraction");
  ExpectError(Run(Prepare({corpus}, dir_ / "o", {"--shard-tokens", "0"})), 2, "--shard-tokens");
  ExpectError(Run(Prepare({corpus}, dir_ / "o", {"--format", "csv"})), 2, "--format");
  ExpectError(Run({"prepare", corpus}), 2, "--out");
  ExpectError(Run({"prepare", "--out", dir_ / "o"}), 2, "inputs");
}

// A 100 MB document on one line streams through in bounded pieces.
TEST_F(CliPrepare, HundredMegabyteSingleLine) {
  {
    std::string chunk;
    while (chunk.size() < (1 << 20)) chunk += "the quick brown fox jumps over the lazy dog ";
    chunk.resize(1 << 20);
    std::FILE* f = std::fopen((dir_ / "line.txt").c_str(), "wb");
    for (int i = 0; i < 100; i++) std::fwrite(chunk.data(), 1, chunk.size(), f);
    std::fclose(f);
  }
  ProcessResult r = Run(Prepare({dir_ / "line.txt"}, dir_ / "o", {"--shard-tokens", "200000000", "--val-fraction", "0"}));
  ExpectSuccess(r);
  uint64_t n = 0;
  ASSERT_TRUE(ReadShardHeader(dir_ / "o/train_000000.bin", &n).ok());
  EXPECT_EQ(n, 100u * (1 << 20) + 1);  // every byte, plus the end-of-text token
  fs::remove(dir_ / "line.txt");
}

// Disk full: an error naming the shard, and no incomplete shard under a final name.
TEST_F(CliPrepare, DiskFullLeavesNoPartialShard) {
  const std::string mnt = dir_ / "small";
  fs::create_directory(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") != 0) GTEST_SKIP() << "cannot mount a tmpfs; needs root";
  struct Unmount {
    std::string dir;
    ~Unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
  } unmount{mnt};
  ProcessResult r = Run(Prepare({Corpus(20000)}, mnt + "/o", {"--shard-tokens", "50000"}));
  ExpectError(r, 1, mnt + "/o/");
  EXPECT_HAS_SUBSTR(r.err, "No space");
  for (const auto& e : fs::directory_iterator(mnt + "/o")) {
    const std::string name = e.path().filename().string();
    EXPECT_EQ(name.find(".tmp."), std::string::npos) << name;
    if (e.path().extension() == ".bin" && name.find("tokenizer") == std::string::npos) {
      uint64_t n = 0;
      EXPECT_TRUE(ReadShardHeader(e.path().string(), &n).ok()) << name;  // complete, or absent
    }
  }
}

}  // namespace
}  // namespace cpu_llm
