// Vocabulary pruning's map (plan item 10): which ids are kept, the unknown
// id, the round trip to tokenizer ids, the file, and the loader's counts.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "data/loader.h"
#include "data/shard.h"
#include "data/token_map.h"
#include "test_io_util.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::testing::ReadBytes;
using ::cpu_llm::testing::TempDir;
using ::cpu_llm::testing::WriteBytes;

// Tokenizer vocabulary of 10, end-of-text 9; ids 1, 4 and 7 seen, 4 once.
TokenMap SampleMap(int64_t min_count) {
  std::vector<int64_t> counts(10, 0);
  counts[1] = 5;
  counts[4] = 1;
  counts[7] = 3;
  TokenMap map;
  EXPECT_TRUE(TokenMap::FromCounts(counts, min_count, 9, &map).ok());
  return map;
}

TEST(TokenMap, KeepsSeenIdsAndEndOfTextThenUnknown) {
  const TokenMap map = SampleMap(1);
  EXPECT_EQ(map.source_vocab(), 10);
  EXPECT_EQ(map.model_vocab(), 5);  // 1, 4, 7, 9 and unknown
  EXPECT_EQ(map.unknown(), 4);
  const int32_t kept[4] = {1, 4, 7, 9};
  for (int m = 0; m < 4; m++) {
    EXPECT_EQ(map.ToSource(m), kept[m]);
    EXPECT_EQ(map.ToModel(kept[m]), m);
  }
  EXPECT_EQ(map.ToModel(0), 4);
  EXPECT_EQ(map.ToModel(8), 4);
  EXPECT_EQ(map.ToSource(4), -1);  // unknown maps back to nothing
  std::vector<int32_t> ids = {7, 0, 9, 3, 1};
  EXPECT_EQ(map.MapInPlace(ids.data(), 5), 2);
  EXPECT_EQ(ids, (std::vector<int32_t>{2, 4, 3, 4, 0}));

  const TokenMap strict = SampleMap(2);  // id 4 (seen once) goes
  EXPECT_EQ(strict.model_vocab(), 4);
  EXPECT_EQ(strict.ToModel(4), strict.unknown());
  EXPECT_EQ(strict.ToModel(9), 2);  // end-of-text stays though never counted
  TokenMap bad;
  EXPECT_EQ(TokenMap::FromCounts(std::vector<int64_t>(10, 1), 0, 9, &bad).kind(), ErrorKind::kUsage);
  EXPECT_FALSE(TokenMap::FromCounts(std::vector<int64_t>(10, 1), 1, 10, &bad).ok());
}

TEST(TokenMap, FileRoundTripAndCorruptFiles) {
  TempDir dir;
  const std::string path = dir / "vocab_map.bin";
  const TokenMap map = SampleMap(1);
  ASSERT_TRUE(map.Save(path).ok());
  TokenMap back;
  Status s = back.Load(path);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(back.model_vocab(), map.model_vocab());
  EXPECT_EQ(back.source_vocab(), map.source_vocab());
  EXPECT_EQ(back.min_count(), 1);
  for (int id = 0; id < 10; id++) EXPECT_EQ(back.ToModel(id), map.ToModel(id));

  const std::vector<uint8_t> good = ReadBytes(path);
  auto expect_bad = [&](std::vector<uint8_t> bytes, const std::string& what) {
    WriteBytes(path, bytes.data(), bytes.size());
    TokenMap m;
    Status st = m.Load(path);
    ASSERT_FALSE(st.ok()) << what;
    EXPECT_HAS_SUBSTR(st.message(), path);
    EXPECT_HAS_SUBSTR(st.message(), what);
  };
  std::vector<uint8_t> b = good;
  b[0] ^= 1;
  expect_bad(b, "not a vocabulary map");
  expect_bad(std::vector<uint8_t>(good.begin(), good.end() - 4), "truncated");
  expect_bad(std::vector<uint8_t>(good.begin(), good.begin() + 100), "truncated");
  b = good;
  b[1024 + 4] = 0;  // entry 1 (was 4) now 0: not ascending
  expect_bad(b, "entry 1");
  b = good;
  b[12] = 99;  // model vocabulary larger than the tokenizer's + 1
  expect_bad(b, "corrupt vocabulary map header");
}

TEST(TokenMap, LoaderCountsEveryTokenOnce) {
  TempDir dir;
  std::vector<std::string> paths = {dir / "a.bin", dir / "b.bin"};
  ASSERT_TRUE(WriteShard(paths[0], {1, 2, 2, 3, 3, 3, 9, 9, 9, 9}).ok());
  ASSERT_TRUE(WriteShard(paths[1], {0, 2, 4, 6, 8, 2}).ok());
  DataLoader dl;
  ASSERT_TRUE(dl.OpenShards(paths, 1, 4, 10).ok());
  std::vector<int64_t> counts(10, 0);
  ASSERT_TRUE(dl.CountTokens(&counts).ok());
  EXPECT_EQ(counts, (std::vector<int64_t>{1, 1, 4, 3, 1, 0, 1, 0, 1, 4}));
  std::vector<int64_t> small(5, 0);  // ids 6, 8, 9 are past it
  Status s = dl.CountTokens(&small);
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), paths[0]);

  DataLoader mem;
  ASSERT_TRUE(mem.OpenTokens({5, 5, 1, 0, 5, 5}, "mem", 1, 4, 10).ok());
  std::vector<int64_t> c(10, 0);
  ASSERT_TRUE(mem.CountTokens(&c).ok());
  EXPECT_EQ(c[5], 4);
  EXPECT_EQ(c[1], 1);
}

}  // namespace
}  // namespace cpu_llm
