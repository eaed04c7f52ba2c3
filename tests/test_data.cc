// Data layer: llm.c token shards, globbing, the byte tokenizer and the
// bundled corpus (the batch loader is in test_loader.cc).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/rng.h"
#include "data/corpus.h"
#include "data/split.h"
#include "data/loader.h"
#include "data/shard.h"
#include "data/tokenizer.h"
#include "test_io_util.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::testing::RawShard;
using ::cpu_llm::testing::TempDir;
using ::cpu_llm::testing::WriteBytes;

// ---------------------------------------------------------------- shards

TEST(DataShard, WriteReadRoundTrip) {
  TempDir dir;
  std::vector<uint16_t> tokens;
  for (int i = 0; i < 5000; i++) tokens.push_back(static_cast<uint16_t>((i * 7919) % 50257));
  const std::string path = dir / "shard.bin";
  ASSERT_TRUE(WriteShard(path, tokens).ok());

  // Exactly llm.c's layout: 256 int32 header, then the uint16 ids.
  std::vector<uint8_t> bytes = ::cpu_llm::testing::ReadBytes(path);
  ASSERT_EQ(bytes.size(), 1024 + 2 * tokens.size());
  EXPECT_EQ(bytes, RawShard(20240520, 1, static_cast<int32_t>(tokens.size()), tokens));

  uint64_t n = 0;
  ASSERT_TRUE(ReadShardHeader(path, &n).ok());
  EXPECT_EQ(n, tokens.size());
  std::vector<uint16_t> back;
  Status s = ReadShard(path, 50257, &back);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(back, tokens);
  // No temp file is left beside it.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

TEST(DataShard, EmptyShardRoundTrip) {
  TempDir dir;
  ASSERT_TRUE(WriteShard(dir / "e.bin", {}).ok());
  std::vector<uint16_t> back{1, 2, 3};
  ASSERT_TRUE(ReadShard(dir / "e.bin", 10, &back).ok());
  EXPECT_TRUE(back.empty());
}

// Writes `bytes` to a file and expects ReadShardHeader (and ReadShard) to fail
// with a runtime error naming the file and containing `what`.
void ExpectBadShard(const std::vector<uint8_t>& bytes, const std::string& what) {
  TempDir dir;
  const std::string path = dir / "bad.bin";
  WriteBytes(path, bytes.data(), bytes.size());
  uint64_t n = 0;
  Status s = ReadShardHeader(path, &n);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), ErrorKind::kRuntime);
  EXPECT_HAS_SUBSTR(s.message(), path);
  EXPECT_HAS_SUBSTR(s.message(), what);
  std::vector<uint16_t> tokens;
  Status s2 = ReadShard(path, 50257, &tokens);
  ASSERT_FALSE(s2.ok());
  EXPECT_HAS_SUBSTR(s2.message(), path);
}

TEST(DataShard, HeaderMissingFile) {
  TempDir dir;
  uint64_t n = 0;
  Status s = ReadShardHeader(dir / "nope.bin", &n);
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), dir / "nope.bin");
  EXPECT_HAS_SUBSTR(s.message(), "No such file");
}

TEST(DataShard, HeaderDirectory) {
  TempDir dir;
  uint64_t n = 0;
  Status s = ReadShardHeader(dir.path(), &n);
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), dir.path());
  EXPECT_HAS_SUBSTR(s.message(), "directory");
}

TEST(DataShard, HeaderWrongMagic) { ExpectBadShard(RawShard(12345, 1, 4, {1, 2, 3, 4}), "magic 12345"); }
TEST(DataShard, HeaderWrongVersion) { ExpectBadShard(RawShard(20240520, 2, 4, {1, 2, 3, 4}), "version 2"); }

TEST(DataShard, HeaderShorterThanHeader) {
  std::vector<uint8_t> bytes = RawShard(20240520, 1, 0, {});
  bytes.resize(100);
  ExpectBadShard(bytes, "truncated");
  ExpectBadShard({}, "truncated");
}

TEST(DataShard, HeaderDeclaresMoreTokensThanPresent) {
  ExpectBadShard(RawShard(20240520, 1, 10, {1, 2, 3, 4}), "truncated");
}

TEST(DataShard, HeaderTrailingGarbage) {
  std::vector<uint8_t> bytes = RawShard(20240520, 1, 4, {1, 2, 3, 4});
  bytes.push_back(0xAB);
  ExpectBadShard(bytes, "corrupt");
}

TEST(DataShard, HeaderNegativeCount) { ExpectBadShard(RawShard(20240520, 1, -4, {}), "negative"); }

TEST(DataShard, TokenOutsideVocabularyNamesFileAndIndex) {
  TempDir dir;
  const std::string path = dir / "v.bin";
  ASSERT_TRUE(WriteShard(path, {1, 2, 300, 4}).ok());
  std::vector<uint16_t> tokens;
  Status s = ReadShard(path, 257, &tokens);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), ErrorKind::kRuntime);
  EXPECT_HAS_SUBSTR(s.message(), path);
  EXPECT_HAS_SUBSTR(s.message(), "token id 300");
  EXPECT_HAS_SUBSTR(s.message(), "index 2");
  // The header alone is fine: ids are checked only when tokens are read.
  uint64_t n = 0;
  EXPECT_TRUE(ReadShardHeader(path, &n).ok());
  EXPECT_TRUE(ReadShard(path, 301, &tokens).ok());
}

// ---------------------------------------------------------------- globs

TEST(DataGlob, SortedMatches) {
  TempDir dir;
  for (const char* name : {"train_002.bin", "train_000.bin", "train_010.bin", "train_001.bin", "val_000.bin"})
    ASSERT_TRUE(WriteShard(dir / name, {1}).ok());
  std::vector<std::string> paths;
  ASSERT_TRUE(ExpandGlob(dir / "train_*.bin", &paths).ok());
  EXPECT_EQ(paths, (std::vector<std::string>{dir / "train_000.bin", dir / "train_001.bin", dir / "train_002.bin",
                                             dir / "train_010.bin"}));
  // A plain path is a glob matching itself.
  ASSERT_TRUE(ExpandGlob(dir / "val_000.bin", &paths).ok());
  EXPECT_EQ(paths, std::vector<std::string>{dir / "val_000.bin"});
}

TEST(DataGlob, EmptyMatchNamesPattern) {
  TempDir dir;
  std::vector<std::string> paths;
  const std::string pattern = dir / "nothing_*.bin";
  Status s = ExpandGlob(pattern, &paths);
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), pattern);
  s = ExpandGlob(dir / "missing.bin", &paths);
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), dir / "missing.bin");
}

// ---------------------------------------------------------------- tokenizer

TEST(DataTokenizer, ByteRoundTripAllBytes) {
  ByteTokenizer tok;
  EXPECT_EQ(tok.name(), "bytes");
  EXPECT_EQ(tok.vocab_size(), 257);
  EXPECT_EQ(tok.eot_token(), 256);
  EXPECT_EQ(ByteTokenizer::kEot, 256);
  std::string all;
  for (int b = 0; b < 256; b++) {
    const std::string one(1, static_cast<char>(b));
    std::vector<int32_t> ids = tok.Encode(one);
    ASSERT_EQ(ids, std::vector<int32_t>{b});
    ASSERT_EQ(tok.Decode(b), one);
    all += one;
  }
  std::vector<int32_t> ids = tok.Encode(all);
  ASSERT_EQ(ids.size(), 256u);
  EXPECT_EQ(tok.Decode(ids), all);
  EXPECT_EQ(tok.Decode(256), "<|endoftext|>");
  EXPECT_TRUE(tok.Encode("").empty());
}

TEST(DataTokenizer, ByteRoundTripRandomBinary) {
  ByteTokenizer tok;
  Rng rng(42);
  for (int trial = 0; trial < 200; trial++) {
    std::string s(rng.NextU64() % 300, '\0');
    for (char& c : s) c = static_cast<char>(rng.NextU64() & 0xFF);
    std::vector<int32_t> ids = tok.Encode(s);
    ASSERT_EQ(ids.size(), s.size());
    for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < 256);
    ASSERT_EQ(tok.Decode(ids), s);
  }
  const std::string text = "In the beginning\n\0\xff\xc3\xa9 UTF-8 and not";
  EXPECT_EQ(tok.Decode(tok.Encode(text)), text);
}

TEST(DataTokenizer, MakeTokenizer) {
  std::unique_ptr<Tokenizer> tok;
  ASSERT_TRUE(MakeTokenizer("bytes", &tok).ok());
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(tok->vocab_size(), 257);
  std::unique_ptr<Tokenizer> none;
  Status s = MakeTokenizer("nope", &none);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), ErrorKind::kUsage);
  EXPECT_EQ(s.exit_code(), 2);
  EXPECT_HAS_SUBSTR(s.message(), "--tokenizer");
  EXPECT_HAS_SUBSTR(s.message(), "nope");
  EXPECT_EQ(none, nullptr);
}

// ---------------------------------------------------------------- corpus

TEST(DataCorpus, BundledKjv) {
  std::string text;
  Status s = LoadBundledCorpus(&text);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(text.size(), 4137850u);
  EXPECT_EQ(text.rfind("In the beginning God created", 0), 0u);
  EXPECT_NE(text.find("Jesus wept."), std::string::npos);
}

TEST(DataCorpus, SplitByBlocksFollowsIsValBlock) {
  std::vector<uint16_t> tokens(100 * 1024 + 300);
  for (size_t i = 0; i < tokens.size(); i++) tokens[i] = static_cast<uint16_t>(i % 65000);
  std::vector<uint16_t> train, val;
  SplitByBlocks(tokens, 0.2, 7, &train, &val);
  ASSERT_EQ(train.size() + val.size(), tokens.size());
  size_t ti = 0, vi = 0, val_blocks = 0;
  for (int64_t b = 0; b * 1024 < (int64_t)tokens.size(); b++) {
    const size_t n = std::min<size_t>(1024, tokens.size() - b * 1024);
    const bool to_val = IsValBlock(b, 0.2, 7);
    val_blocks += to_val;
    const std::vector<uint16_t>& src = to_val ? val : train;
    size_t& at = to_val ? vi : ti;
    ASSERT_TRUE(std::equal(src.begin() + at, src.begin() + at + n, tokens.begin() + b * 1024)) << "block " << b;
    at += n;
  }
  EXPECT_GT(val_blocks, 8u);  // about 20 of 101
  EXPECT_LT(val_blocks, 35u);
  SplitByBlocks(tokens, 0.0, 7, &train, &val);
  EXPECT_TRUE(val.empty());
}

}  // namespace
}  // namespace cpu_llm
