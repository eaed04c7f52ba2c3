// Data layer: llm.c token shards, globbing, the batch loader, the byte
// tokenizer and the bundled corpus.
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

// ---------------------------------------------------------------- loader

constexpr int kB = 2, kT = 4, kVocab = 50;
// Token i of shard s: distinct per shard so a wrong shard shows.
uint16_t Tok(int s, int i) { return static_cast<uint16_t>((i + 13 * s) % kVocab); }

std::vector<uint16_t> ShardTokens(int s, int n) {
  std::vector<uint16_t> t(n);
  for (int i = 0; i < n; i++) t[i] = Tok(s, i);
  return t;
}

// Three shards of 20, 17 and 9 tokens with B*T = 8 (9 tokens per batch).
std::vector<std::string> WriteThreeShards(const TempDir& dir) {
  const int sizes[3] = {20, 17, 9};
  std::vector<std::string> paths;
  for (int s = 0; s < 3; s++) {
    paths.push_back(dir / ("shard_" + std::to_string(s) + ".bin"));
    EXPECT_TRUE(WriteShard(paths.back(), ShardTokens(s, sizes[s])).ok());
  }
  return paths;
}

// Takes one batch and checks it is tokens [offset, offset+B*T] of shard s.
void ExpectBatch(DataLoader& dl, int shard, int offset) {
  std::vector<int32_t> in(kB * kT, -1), tg(kB * kT, -1);
  Status st = dl.Next(in.data(), tg.data());
  ASSERT_TRUE(st.ok()) << st.message();
  for (int k = 0; k < kB * kT; k++) {
    ASSERT_EQ(in[k], Tok(shard, offset + k)) << "shard " << shard << " offset " << offset << " k " << k;
    ASSERT_EQ(tg[k], Tok(shard, offset + k + 1)) << "shard " << shard << " offset " << offset << " k " << k;
  }
}

void ExpectPos(const DataLoader& dl, int64_t source, int64_t offset, int64_t epoch) {
  LoaderPosition p = dl.position();
  EXPECT_EQ(p.source, source);
  EXPECT_EQ(p.offset, offset);
  EXPECT_EQ(p.epoch, epoch);
}

class DataLoaderAccess : public ::testing::TestWithParam<DataAccess> {};
INSTANTIATE_TEST_SUITE_P(ReadAndMmap, DataLoaderAccess, ::testing::Values(DataAccess::kRead, DataAccess::kMmap),
                         [](const auto& info) { return info.param == DataAccess::kRead ? "read" : "mmap"; });

TEST_P(DataLoaderAccess, ShardSequenceMovesOnAndWraps) {
  TempDir dir;
  DataLoader dl;
  Status s = dl.OpenShards(WriteThreeShards(dir), kB, kT, kVocab, TokenFileFormat::kLlmc, GetParam());
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(dl.num_sources(), 3);
  EXPECT_EQ(dl.total_tokens(), 20 + 17 + 9);
  for (int epoch = 0; epoch < 2; epoch++) {
    ExpectPos(dl, 0, 0, epoch);
    ExpectBatch(dl, 0, 0);
    ExpectPos(dl, 0, 8, epoch);
    ExpectBatch(dl, 0, 8);  // the next batch (16..24) would not fit in 20 tokens
    ExpectPos(dl, 1, 0, epoch);
    ExpectBatch(dl, 1, 0);
    ExpectPos(dl, 1, 8, epoch);
    ExpectBatch(dl, 1, 8);  // uses the last token exactly
    ExpectPos(dl, 2, 0, epoch);
    ExpectBatch(dl, 2, 0);  // a one-batch shard
  }
  ExpectPos(dl, 0, 0, 2);
  ASSERT_TRUE(dl.Reset().ok());
  ExpectPos(dl, 0, 0, 0);
  ExpectBatch(dl, 0, 0);
}

TEST_P(DataLoaderAccess, SeekResumesAtTheSameBatch) {
  TempDir dir;
  std::vector<std::string> paths = WriteThreeShards(dir);
  DataLoader a;
  ASSERT_TRUE(a.OpenShards(paths, kB, kT, kVocab, TokenFileFormat::kLlmc, GetParam()).ok());
  std::vector<int32_t> in(kB * kT), tg(kB * kT);
  for (int i = 0; i < 3; i++) ASSERT_TRUE(a.Next(in.data(), tg.data()).ok());
  const LoaderPosition saved = a.position();
  ExpectPos(a, 1, 8, 0);
  std::vector<int32_t> want_in(kB * kT), want_tg(kB * kT);
  ASSERT_TRUE(a.Next(want_in.data(), want_tg.data()).ok());

  DataLoader b;  // a fresh loader, as after a restart
  ASSERT_TRUE(b.OpenShards(paths, kB, kT, kVocab, TokenFileFormat::kLlmc, GetParam()).ok());
  ASSERT_TRUE(b.Seek(saved).ok());
  ExpectPos(b, 1, 8, 0);
  ASSERT_TRUE(b.Next(in.data(), tg.data()).ok());
  EXPECT_EQ(in, want_in);
  EXPECT_EQ(tg, want_tg);
  EXPECT_EQ(b.position().source, a.position().source);
  EXPECT_EQ(b.position().offset, a.position().offset);

  // A position in a later epoch keeps its epoch.
  ASSERT_TRUE(b.Seek({2, 0, 5}).ok());
  ExpectBatch(b, 2, 0);
  ExpectPos(b, 0, 0, 6);
  // Positions that do not exist are errors, not crashes.
  EXPECT_FALSE(b.Seek({3, 0, 0}).ok());
  EXPECT_FALSE(b.Seek({-1, 0, 0}).ok());
  EXPECT_FALSE(b.Seek({2, 1, 0}).ok());  // shard 2 has no batch at offset 1
  EXPECT_FALSE(b.Seek({0, -8, 0}).ok());
}

// Mapped shards: a token outside the vocabulary is found when its batch is
// read (the file is not read ahead), and a shard truncated after it was
// mapped is an error naming it, not a SIGBUS.
TEST(DataLoaderMmap, BadTokenAndTruncationWhileTrainingAreErrors) {
  TempDir dir;
  std::vector<std::string> paths = WriteThreeShards(dir);
  {
    std::vector<uint16_t> bad(20);
    for (int i = 0; i < 20; i++) bad[i] = static_cast<uint16_t>(Tok(1, i));
    bad[12] = kVocab + 3;
    ASSERT_TRUE(WriteShard(paths[1], bad).ok());
  }
  DataLoader dl;
  ASSERT_TRUE(dl.OpenShards(paths, kB, kT, kVocab, TokenFileFormat::kLlmc, DataAccess::kMmap).ok());
  std::vector<int32_t> in(kB * kT), tg(kB * kT);
  ASSERT_TRUE(dl.Next(in.data(), tg.data()).ok());
  ASSERT_TRUE(dl.Next(in.data(), tg.data()).ok());
  ASSERT_TRUE(dl.Next(in.data(), tg.data()).ok());  // shard 1, tokens 0..8
  Status s = dl.Next(in.data(), tg.data());          // shard 1, tokens 8..16 hold the bad one
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(paths[1]), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("index 12"), std::string::npos) << s.message();

  DataLoader t;
  ASSERT_TRUE(t.OpenShards(paths, kB, kT, kVocab, TokenFileFormat::kLlmc, DataAccess::kMmap).ok());
  ASSERT_TRUE(t.Next(in.data(), tg.data()).ok());
  std::filesystem::resize_file(paths[0], 1024 + 2 * 10);
  s = t.Next(in.data(), tg.data());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(paths[0]), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("changed size"), std::string::npos) << s.message();
}

TEST(DataLoader, ShardSmallerThanOneBatchIsAnErrorNamingIt) {
  TempDir dir;
  std::vector<std::string> paths = WriteThreeShards(dir);
  const std::string small = dir / "small.bin";
  ASSERT_TRUE(WriteShard(small, ShardTokens(0, kB * kT)).ok());  // one short of B*T+1
  paths.push_back(small);
  DataLoader dl;
  Status s = dl.OpenShards(paths, kB, kT, kVocab);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), ErrorKind::kRuntime);
  EXPECT_HAS_SUBSTR(s.message(), small);
  EXPECT_HAS_SUBSTR(s.message(), "9");
}

TEST(DataLoader, BadShardFailsAtOpen) {
  TempDir dir;
  std::vector<std::string> paths = WriteThreeShards(dir);
  std::vector<uint8_t> bad = RawShard(20240520, 1, 100, ShardTokens(0, 10));
  WriteBytes(paths[1], bad.data(), bad.size());
  DataLoader dl;
  Status s = dl.OpenShards(paths, kB, kT, kVocab);
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), paths[1]);
  EXPECT_FALSE(dl.OpenShards({}, kB, kT, kVocab).ok());
}

TEST(DataLoader, TokenOutsideVocabularyInLaterShard) {
  TempDir dir;
  std::vector<std::string> paths = WriteThreeShards(dir);
  std::vector<uint16_t> t = ShardTokens(1, 17);
  t[5] = kVocab;  // headers check out; the ids are checked when the shard loads
  ASSERT_TRUE(WriteShard(paths[1], t).ok());
  DataLoader dl;
  ASSERT_TRUE(dl.OpenShards(paths, kB, kT, kVocab).ok());
  std::vector<int32_t> in(kB * kT), tg(kB * kT);
  ASSERT_TRUE(dl.Next(in.data(), tg.data()).ok());
  ASSERT_TRUE(dl.Next(in.data(), tg.data()).ok());
  Status s = dl.Next(in.data(), tg.data());
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), paths[1]);
  EXPECT_HAS_SUBSTR(s.message(), "index 5");
}

TEST(DataLoader, InMemoryTokensBehaveTheSame) {
  DataLoader dl;
  Status s = dl.OpenTokens(ShardTokens(0, 20), "mem", kB, kT, kVocab);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(dl.num_sources(), 1);
  EXPECT_EQ(dl.total_tokens(), 20);
  EXPECT_HAS_SUBSTR(dl.description(), "mem");
  for (int epoch = 0; epoch < 3; epoch++) {
    ExpectPos(dl, 0, 0, epoch);
    ExpectBatch(dl, 0, 0);
    ExpectPos(dl, 0, 8, epoch);
    ExpectBatch(dl, 0, 8);
  }
  ExpectPos(dl, 0, 0, 3);
  ASSERT_TRUE(dl.Seek({0, 8, 1}).ok());
  ExpectBatch(dl, 0, 8);
  ExpectPos(dl, 0, 0, 2);

  DataLoader small;
  s = small.OpenTokens(ShardTokens(0, 8), "tiny tokens", kB, kT, kVocab);
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), "tiny tokens");

  std::vector<uint16_t> bad = ShardTokens(0, 20);
  bad[7] = 60;
  s = small.OpenTokens(bad, "bad tokens", kB, kT, kVocab);
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), "bad tokens");
  EXPECT_HAS_SUBSTR(s.message(), "index 7");
}

TEST(DataLoader, NonPositiveBatchIsAUsageError) {
  DataLoader dl;
  Status s = dl.OpenTokens(ShardTokens(0, 20), "mem", 0, kT, kVocab);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), ErrorKind::kUsage);
  s = dl.OpenTokens(ShardTokens(0, 20), "mem", kB, -1, kVocab);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), ErrorKind::kUsage);
}

TEST(DataLoader, ShardDeletedAfterOpenIsAnError) {
  TempDir dir;
  std::vector<std::string> paths = WriteThreeShards(dir);
  DataLoader dl;
  ASSERT_TRUE(dl.OpenShards(paths, kB, kT, kVocab).ok());
  ASSERT_TRUE(std::filesystem::remove(paths[1]));
  std::vector<int32_t> in(kB * kT), tg(kB * kT);
  ASSERT_TRUE(dl.Next(in.data(), tg.data()).ok());  // shard 0 is already loaded
  ASSERT_TRUE(dl.Next(in.data(), tg.data()).ok());
  Status s = dl.Next(in.data(), tg.data());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), ErrorKind::kRuntime);
  EXPECT_HAS_SUBSTR(s.message(), paths[1]);
}

TEST(DataLoader, ShardChangedAfterOpenIsAnError) {
  TempDir dir;
  std::vector<std::string> paths = WriteThreeShards(dir);
  DataLoader dl;
  ASSERT_TRUE(dl.OpenShards(paths, kB, kT, kVocab).ok());
  ASSERT_TRUE(WriteShard(paths[1], ShardTokens(1, 30)).ok());  // valid, but not what was opened
  std::vector<int32_t> in(kB * kT), tg(kB * kT);
  ASSERT_TRUE(dl.Next(in.data(), tg.data()).ok());
  ASSERT_TRUE(dl.Next(in.data(), tg.data()).ok());
  Status s = dl.Next(in.data(), tg.data());
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), paths[1]);
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
