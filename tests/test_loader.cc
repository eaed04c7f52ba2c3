// The batch loader over token shards: window order (in order, shuffled,
// sliced by rank), read and mmap access, sync and async loading, resume,
// 64-bit offsets, and bad shards.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "core/sysinfo.h"
#include "data/async_loader.h"
#include "data/loader.h"
#include "data/shard.h"
#include "data/window_order.h"
#include "test_io_util.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::testing::RawShard;
using ::cpu_llm::testing::TempDir;
using ::cpu_llm::testing::WriteBytes;

constexpr int kB = 2, kT = 4, kVocab = 50;
// Token i of shard s: distinct per shard so a wrong shard shows.
uint16_t Tok(int s, int i) { return static_cast<uint16_t>((i + 13 * s) % kVocab); }

std::vector<uint16_t> ShardTokens(int s, int n) {
  std::vector<uint16_t> t(n);
  for (int i = 0; i < n; i++) t[i] = Tok(s, i);
  return t;
}

// Three shards of 20, 17 and 9 tokens with B*T = 8 (9 tokens per window):
// 2, 2 and 1 windows, 5 batches per epoch.
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
void ExpectBatch(BatchSource& dl, int shard, int offset) {
  std::vector<int32_t> in(kB * kT, -1), tg(kB * kT, -1);
  Status st = dl.Next(in.data(), tg.data());
  ASSERT_TRUE(st.ok()) << st.message();
  for (int k = 0; k < kB * kT; k++) {
    ASSERT_EQ(in[k], Tok(shard, offset + k)) << "shard " << shard << " offset " << offset << " k " << k;
    ASSERT_EQ(tg[k], Tok(shard, offset + k + 1)) << "shard " << shard << " offset " << offset << " k " << k;
  }
}

void ExpectPos(const BatchSource& dl, int64_t epoch, int64_t batch) {
  EXPECT_EQ(dl.position().epoch, epoch);
  EXPECT_EQ(dl.position().batch, batch);
}

// ------------------------------------------------------------ window order

TEST(WindowOrder, PermuteIndexIsABijection) {
  for (uint64_t n : {1ull, 2ull, 3ull, 5ull, 16ull, 17ull, 100ull, 255ull, 1000ull, (1ull << 20) + 7}) {
    std::vector<bool> seen(n, false);
    for (uint64_t i = 0; i < n; i++) {
      const uint64_t p = PermuteIndex(i, n, 0xABCDEFull);
      ASSERT_LT(p, n);
      ASSERT_FALSE(seen[p]) << "n " << n << " index " << i;
      seen[p] = true;
    }
  }
  // Not the identity, and the key matters.
  int moved = 0, differ = 0;
  for (uint64_t i = 0; i < 1000; i++) {
    moved += PermuteIndex(i, 1000, 1) != i;
    differ += PermuteIndex(i, 1000, 1) != PermuteIndex(i, 1000, 2);
  }
  EXPECT_GT(moved, 900);
  EXPECT_GT(differ, 900);
}

std::vector<WindowOrder::Window> Epoch(WindowOrder& order, int64_t epoch) {
  std::vector<WindowOrder::Window> out;
  for (int64_t b = 0; b < order.batches_per_epoch(); b++) out.push_back(order.At(epoch, b));
  return out;
}

TEST(WindowOrder, InOrderIsSourceBySourceFirstToLast) {
  WindowOrder order;
  ASSERT_TRUE(order.Init({2, 3, 1}, {}).ok());
  const std::vector<WindowOrder::Window> e = Epoch(order, 4);
  const int64_t want[6][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}, {1, 2}, {2, 0}};
  ASSERT_EQ(e.size(), 6u);
  for (int i = 0; i < 6; i++) {
    EXPECT_EQ(e[i].source, want[i][0]);
    EXPECT_EQ(e[i].index, want[i][1]);
  }
}

TEST(WindowOrder, ShuffledEpochsVisitEveryWindowOnceSourceBySource) {
  const std::vector<int64_t> windows = {7, 1, 30, 12, 5};
  WindowOrder order;
  ASSERT_TRUE(order.Init(windows, {true, 42, 0, 1}).ok());
  std::vector<std::vector<WindowOrder::Window>> epochs;
  for (int64_t e = 0; e < 3; e++) {
    epochs.push_back(Epoch(order, e));
    std::set<std::pair<int64_t, int64_t>> seen;
    std::set<int64_t> finished;  // sources whose windows are behind us
    for (size_t i = 0; i < epochs[e].size(); i++) {
      const auto& w = epochs[e][i];
      ASSERT_LT(w.index, windows[w.source]);
      EXPECT_TRUE(seen.insert({w.source, w.index}).second);
      EXPECT_EQ(finished.count(w.source), 0u) << "a source's windows come together";
      if (i > 0 && epochs[e][i - 1].source != w.source) finished.insert(epochs[e][i - 1].source);
    }
    EXPECT_EQ(seen.size(), 55u);
  }
  auto same = [](const auto& a, const auto& b) {
    for (size_t i = 0; i < a.size(); i++)
      if (a[i].source != b[i].source || a[i].index != b[i].index) return false;
    return true;
  };
  EXPECT_FALSE(same(epochs[0], epochs[1]));
  EXPECT_FALSE(same(epochs[1], epochs[2]));
  // Deterministic: a fresh order with the same seed, asked out of order.
  WindowOrder again;
  ASSERT_TRUE(again.Init(windows, {true, 42, 0, 1}).ok());
  EXPECT_TRUE(same(Epoch(again, 2), epochs[2]));
  EXPECT_TRUE(same(Epoch(again, 0), epochs[0]));
  WindowOrder other_seed;
  ASSERT_TRUE(other_seed.Init(windows, {true, 43, 0, 1}).ok());
  EXPECT_FALSE(same(Epoch(other_seed, 0), epochs[0]));
}

TEST(WindowOrder, RanksTakeDisjointSlicesOfTheSameSequence) {
  const std::vector<int64_t> windows = {7, 1, 30, 12, 5};  // 55 windows
  WindowOrder whole;
  ASSERT_TRUE(whole.Init(windows, {true, 9, 0, 1}).ok());
  const auto sequence = Epoch(whole, 1);
  constexpr int kWorld = 4;
  for (int r = 0; r < kWorld; r++) {
    WindowOrder rank;
    ASSERT_TRUE(rank.Init(windows, {true, 9, r, kWorld}).ok());
    ASSERT_EQ(rank.batches_per_epoch(), 55 / kWorld);  // 13; the last 3 windows are left out
    for (int64_t b = 0; b < rank.batches_per_epoch(); b++) {
      const auto w = rank.At(1, b);
      EXPECT_EQ(w.source, sequence[b * kWorld + r].source);
      EXPECT_EQ(w.index, sequence[b * kWorld + r].index);
    }
  }
}

TEST(WindowOrder, BadRanksAndTooLittleDataAreErrors) {
  WindowOrder order;
  EXPECT_FALSE(order.Init({3}, {false, 0, 2, 2}).ok());
  EXPECT_FALSE(order.Init({3}, {false, 0, -1, 2}).ok());
  Status s = order.Init({1, 1}, {false, 0, 0, 3});
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), "fewer than the 3 processes");
}

// ------------------------------------------------ loader: access x mode

// Every loader test below runs on read and mmap access, through the step's
// own reads (sync) and through the background thread (async).
class DataLoaderAccess : public ::testing::TestWithParam<std::tuple<DataAccess, LoaderMode>> {
 protected:
  // Opens `dl` over paths and returns what the test should read from.
  // `after_open` runs before the thread starts reading ahead.
  BatchSource* Open(const std::vector<std::string>& paths, LoaderOptions opt = {},
                    const std::function<void()>& after_open = [] {}) {
    opt.B = kB;
    opt.T = kT;
    opt.vocab_size = kVocab;
    opt.access = std::get<0>(GetParam());
    Status s = dl.OpenShards(paths, opt);
    EXPECT_TRUE(s.ok()) << s.message();
    after_open();
    if (std::get<1>(GetParam()) == LoaderMode::kSync) return &dl;
    EXPECT_TRUE(async.Start(&dl, kB, kT, 3).ok());
    return &async;
  }
  DataLoader dl;
  AsyncLoader async;  // declared after dl: stops before dl goes away
};
INSTANTIATE_TEST_SUITE_P(AccessAndMode, DataLoaderAccess,
                         ::testing::Combine(::testing::Values(DataAccess::kRead, DataAccess::kMmap),
                                            ::testing::Values(LoaderMode::kSync, LoaderMode::kAsync)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) == DataAccess::kRead ? "read" : "mmap") + "_" +
                                  (std::get<1>(info.param) == LoaderMode::kSync ? "sync" : "async");
                         });

TEST_P(DataLoaderAccess, ShardSequenceMovesOnAndWraps) {
  TempDir dir;
  BatchSource* src = Open(WriteThreeShards(dir));
  EXPECT_EQ(dl.num_sources(), 3);
  EXPECT_EQ(dl.total_tokens(), 20 + 17 + 9);
  EXPECT_EQ(dl.batches_per_epoch(), 5);
  for (int epoch = 0; epoch < 2; epoch++) {
    ExpectPos(*src, epoch, 0);
    ExpectBatch(*src, 0, 0);
    ExpectPos(*src, epoch, 1);
    ExpectBatch(*src, 0, 8);  // the next window (16..24) would not fit in 20 tokens
    ExpectBatch(*src, 1, 0);
    ExpectBatch(*src, 1, 8);  // uses the last token exactly
    ExpectPos(*src, epoch, 4);
    ExpectBatch(*src, 2, 0);  // a one-batch shard
  }
  ExpectPos(*src, 2, 0);
  ASSERT_TRUE(src->Reset().ok());
  ExpectPos(*src, 0, 0);
  ExpectBatch(*src, 0, 0);
}

TEST_P(DataLoaderAccess, SeekResumesAtTheSameBatch) {
  TempDir dir;
  std::vector<std::string> paths = WriteThreeShards(dir);
  BatchSource* a = Open(paths);
  std::vector<int32_t> in(kB * kT), tg(kB * kT);
  for (int i = 0; i < 3; i++) ASSERT_TRUE(a->Next(in.data(), tg.data()).ok());
  const LoaderPosition saved = a->position();
  ExpectPos(*a, 0, 3);
  std::vector<int32_t> want_in(kB * kT), want_tg(kB * kT);
  ASSERT_TRUE(a->Next(want_in.data(), want_tg.data()).ok());

  DataLoader b;  // a fresh loader, as after a restart
  ASSERT_TRUE(b.OpenShards(paths, kB, kT, kVocab, TokenFileFormat::kLlmc, std::get<0>(GetParam())).ok());
  ASSERT_TRUE(b.Seek(saved).ok());
  ASSERT_TRUE(b.Next(in.data(), tg.data()).ok());
  EXPECT_EQ(in, want_in);
  EXPECT_EQ(tg, want_tg);
  EXPECT_EQ(b.position(), a->position());

  // A position in a later epoch keeps its epoch.
  LoaderPosition later;
  later.epoch = 5;
  later.batch = 4;
  ASSERT_TRUE(a->Seek(later).ok());
  ExpectBatch(*a, 2, 0);
  ExpectPos(*a, 6, 0);
  // Positions that do not exist are errors, not crashes.
  for (auto [epoch, batch] : {std::pair{0, 5}, {0, -1}, {-1, 0}}) {
    LoaderPosition bad;
    bad.epoch = epoch;
    bad.batch = batch;
    EXPECT_FALSE(b.Seek(bad).ok()) << epoch << " " << batch;
  }
}

// Shuffled: each batch is still one window of one shard, every window comes
// once per epoch, and a fresh loader resumes the same sequence.
TEST_P(DataLoaderAccess, ShuffledWindowsAreWholeAndResume) {
  TempDir dir;
  std::vector<std::string> paths;
  for (int s = 0; s < 4; s++) {
    paths.push_back(dir / ("shard_" + std::to_string(s) + ".bin"));
    ASSERT_TRUE(WriteShard(paths.back(), ShardTokens(s, 8 * (3 + 2 * s) + 1 + s)).ok());  // 3, 5, 7, 9 windows
  }
  LoaderOptions opt;
  opt.order = {true, 7, 0, 1};
  BatchSource* src = Open(paths, opt);
  ASSERT_EQ(dl.batches_per_epoch(), 24);
  std::vector<int32_t> in(kB * kT), tg(kB * kT);
  std::vector<std::vector<int32_t>> seen;
  std::vector<LoaderPosition> before;
  for (int i = 0; i < 3 * 24; i++) {
    before.push_back(src->position());
    ASSERT_TRUE(src->Next(in.data(), tg.data()).ok());
    // Which shard and window: Tok(s, 0) = 13 s mod 50 and consecutive tokens.
    bool found = false;
    for (int s = 0; s < 4 && !found; s++)
      for (int w = 0; w < 3 + 2 * s && !found; w++) {
        bool match = true;
        for (int k = 0; k < kB * kT && match; k++) match = in[k] == Tok(s, w * 8 + k) && tg[k] == Tok(s, w * 8 + k + 1);
        found = match;
      }
    ASSERT_TRUE(found) << "batch " << i << " is not a window of any shard";
    seen.push_back(in);
  }
  EXPECT_NE(std::vector(seen.begin(), seen.begin() + 24), std::vector(seen.begin() + 24, seen.begin() + 48));
  for (int i : {0, 5, 23, 24, 47, 50}) {
    DataLoader fresh;
    LoaderOptions fresh_opt = BatchShape(kB, kT, kVocab);
    fresh_opt.access = std::get<0>(GetParam());
    fresh_opt.order = opt.order;
    ASSERT_TRUE(fresh.OpenShards(paths, fresh_opt).ok());
    ASSERT_TRUE(fresh.Seek(before[i]).ok());
    for (int j = i; j < i + 3; j++) {
      ASSERT_TRUE(fresh.Next(in.data(), tg.data()).ok());
      EXPECT_EQ(in, seen[j]) << "resumed before batch " << i << ", batch " << j;
    }
  }
}

TEST_P(DataLoaderAccess, ShardRemovedOrChangedAfterOpenIsAnError) {
  TempDir dir;
  std::vector<std::string> paths = WriteThreeShards(dir);
  BatchSource* src = Open(paths, {}, [&] {
    ASSERT_TRUE(std::filesystem::remove(paths[1]));
    ASSERT_TRUE(WriteShard(paths[2], ShardTokens(2, 30)).ok());  // valid, but not what was opened
  });
  ExpectBatch(*src, 0, 0);  // shard 0 was loaded (read) or mapped at open
  ExpectBatch(*src, 0, 8);
  std::vector<int32_t> in(kB * kT), tg(kB * kT);
  Status s = src->Next(in.data(), tg.data());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), ErrorKind::kRuntime);
  EXPECT_HAS_SUBSTR(s.message(), paths[1]);
  LoaderPosition last;
  last.batch = 4;
  s = src->Seek(last);
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), paths[2]);
  EXPECT_FALSE(src->Next(in.data(), tg.data()).ok());  // no stale read-ahead after a failed seek
}

TEST_P(DataLoaderAccess, TokenOutsideVocabularyIsAnErrorNamingFileAndIndex) {
  TempDir dir;
  std::vector<std::string> paths = WriteThreeShards(dir);
  std::vector<uint16_t> t = ShardTokens(1, 17);
  t[12] = kVocab + 3;  // headers check out; the ids are checked when read
  ASSERT_TRUE(WriteShard(paths[1], t).ok());
  BatchSource* src = Open(paths);
  ExpectBatch(*src, 0, 0);
  ExpectBatch(*src, 0, 8);
  std::vector<int32_t> in(kB * kT), tg(kB * kT);
  Status s = src->Next(in.data(), tg.data());
  if (std::get<0>(GetParam()) == DataAccess::kMmap) {  // mapped: found when its window is read
    ASSERT_TRUE(s.ok()) << s.message();
    s = src->Next(in.data(), tg.data());
  }
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), paths[1]);
  EXPECT_HAS_SUBSTR(s.message(), "index 12");
}

// A mapped shard truncated after it was mapped is an error naming it, not a SIGBUS.
TEST(DataLoaderMmap, TruncationWhileTrainingIsAnError) {
  TempDir dir;
  std::vector<std::string> paths = WriteThreeShards(dir);
  DataLoader t;
  ASSERT_TRUE(t.OpenShards(paths, kB, kT, kVocab, TokenFileFormat::kLlmc, DataAccess::kMmap).ok());
  std::vector<int32_t> in(kB * kT), tg(kB * kT);
  ASSERT_TRUE(t.Next(in.data(), tg.data()).ok());
  std::filesystem::resize_file(paths[0], 1024 + 2 * 10);
  Status s = t.Next(in.data(), tg.data());
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), paths[0]);
  EXPECT_HAS_SUBSTR(s.message(), "changed size");
}

// Offsets past 4 GiB: a sparse headerless file of 2.25 G tokens (4.5 GiB on
// paper, a few KB on disk) whose last window is read through the mapping.
TEST(DataLoaderMmap, WindowsPastFourGiBAreRead) {
  TempDir dir;
  const std::string path = dir / "big.bin";
  const int B = 1024, T = 1024;                       // 1 Mi tokens per window
  const int64_t n_tokens = (int64_t{9} << 28) + 5;   // 2.25 Gi tokens + 5
  const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, n_tokens * 2), 0);
  const int64_t windows = (n_tokens - 1) / (int64_t{B} * T);  // 2304
  const int64_t last = (windows - 1) * B * T;                 // token offset of the last window
  const uint16_t marks[3] = {7, 8, 9};
  ASSERT_EQ(::pwrite(fd, marks, sizeof(marks), last * 2), static_cast<ssize_t>(sizeof(marks)));
  ASSERT_EQ(::pwrite(fd, marks, sizeof(marks), (last + int64_t{B} * T - 1) * 2), static_cast<ssize_t>(sizeof(marks)));
  ::close(fd);
  ASSERT_GT(last * 2, int64_t{1} << 32);

  DataLoader dl;
  Status s = dl.OpenShards({path}, B, T, 50257, TokenFileFormat::kNanoGpt, DataAccess::kMmap);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(dl.total_tokens(), n_tokens);
  EXPECT_EQ(dl.batches_per_epoch(), windows);
  LoaderPosition pos;
  pos.batch = windows - 1;
  ASSERT_TRUE(dl.Seek(pos).ok());
  std::vector<int32_t> in(static_cast<size_t>(B) * T), tg(static_cast<size_t>(B) * T);
  ASSERT_TRUE(dl.Next(in.data(), tg.data()).ok());
  EXPECT_EQ(in[0], 7);
  EXPECT_EQ(in[1], 8);
  EXPECT_EQ(in[2], 9);
  EXPECT_EQ(in[3], 0);
  EXPECT_EQ(in[B * T - 1], 7);
  EXPECT_EQ(tg[B * T - 1], 8);  // the window's extra token, past the last input
  EXPECT_EQ(dl.position().epoch, 1);
}

// Mapped windows are dropped from the process every resident budget's worth:
// reading 64 MB of a shard with a 4 MB budget leaves the resident set within
// it, while keeping the pages mapped grows it by about what was read.
// ASan's allocator (quarantine, shadow pages) adds megabytes of resident
// memory of its own: seen 10.5 MB in a CI run. Still far below the 48 MB
// the kept pages add, so the check keeps its meaning.
#if defined(__SANITIZE_ADDRESS__)
constexpr int64_t kReleasedRssLimit = 24 << 20;
#else
constexpr int64_t kReleasedRssLimit = 8 << 20;
#endif

TEST(DataLoaderMmap, ReleasedPagesKeepTheResidentSetFlat) {
  TempDir dir;
  const std::string path = dir / "shard.bin";
  std::vector<uint16_t> tokens((32 << 20) + 1);  // 64 MiB of tokens
  for (size_t i = 0; i < tokens.size(); i++) tokens[i] = static_cast<uint16_t>(i % 50000);
  ASSERT_TRUE(WriteShard(path, tokens).ok());
  tokens = {};
  const int B = 16, T = 1024;
  std::vector<int32_t> in(B * T), tg(B * T);
  for (bool release : {true, false}) {
    DataLoader dl;
    LoaderOptions opt = BatchShape(B, T, 50257);
    opt.access = DataAccess::kMmap;
    opt.resident_budget_bytes = release ? 4 << 20 : 0;
    ASSERT_TRUE(dl.OpenShards({path}, opt).ok());
    const uint64_t before = CurrentRssBytes();
    for (int64_t b = 0; b < dl.batches_per_epoch(); b++) ASSERT_TRUE(dl.Next(in.data(), tg.data()).ok());
    const int64_t grew = static_cast<int64_t>(CurrentRssBytes()) - static_cast<int64_t>(before);
    if (release) EXPECT_LT(grew, kReleasedRssLimit) << "released: RSS grew by " << grew;
    else EXPECT_GT(grew, 48 << 20) << "kept: RSS grew by " << grew;
  }
}

// ------------------------------------------------------------ bad input

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
  EXPECT_HAS_SUBSTR(s.message(), "fewer than one batch needs (B*T+1 = 9)");
}

TEST(DataLoader, HeaderDisagreeingWithSizeFailsAtOpen) {
  TempDir dir;
  std::vector<std::string> paths = WriteThreeShards(dir);
  std::vector<uint8_t> bad = RawShard(20240520, 1, 100, ShardTokens(0, 10));
  WriteBytes(paths[1], bad.data(), bad.size());
  DataLoader dl;
  Status s = dl.OpenShards(paths, kB, kT, kVocab);
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), paths[1]);
  s = dl.OpenShards({}, kB, kT, kVocab);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), ErrorKind::kUsage);
}

TEST(DataLoader, InMemoryTokensBehaveTheSame) {
  DataLoader dl;
  Status s = dl.OpenTokens(ShardTokens(0, 20), "mem", kB, kT, kVocab);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(dl.num_sources(), 1);
  EXPECT_EQ(dl.total_tokens(), 20);
  EXPECT_HAS_SUBSTR(dl.description(), "mem");
  for (int epoch = 0; epoch < 3; epoch++) {
    ExpectPos(dl, epoch, 0);
    ExpectBatch(dl, 0, 0);
    ExpectBatch(dl, 0, 8);
  }
  ExpectPos(dl, 3, 0);

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

// Checkpoints of state version 1 held (source, token offset).
TEST(DataLoader, InOrderPositionConvertsSourceAndOffset) {
  TempDir dir;
  DataLoader dl;
  ASSERT_TRUE(dl.OpenShards(WriteThreeShards(dir), kB, kT, kVocab).ok());
  LoaderPosition pos;
  ASSERT_TRUE(dl.InOrderPosition(1, 8, 2, &pos).ok());
  EXPECT_EQ(pos.epoch, 2);
  EXPECT_EQ(pos.batch, 3);
  ASSERT_TRUE(dl.Seek(pos).ok());
  ExpectBatch(dl, 1, 8);
  EXPECT_FALSE(dl.InOrderPosition(1, 4, 0, &pos).ok());  // not a window start
  EXPECT_FALSE(dl.InOrderPosition(2, 8, 0, &pos).ok());  // past shard 2's only window
  EXPECT_FALSE(dl.InOrderPosition(3, 0, 0, &pos).ok());
}

// ------------------------------------------------------------ async

// The thread's error arrives after the batches read before it, and position()
// is the consumer's, not the read-ahead's.
TEST(AsyncLoader, ErrorsArriveInOrderAndPositionIsTheConsumers) {
  TempDir dir;
  std::vector<std::string> paths = WriteThreeShards(dir);
  std::vector<uint16_t> t = ShardTokens(2, 9);
  t[3] = kVocab;
  ASSERT_TRUE(WriteShard(paths[2], t).ok());  // the fifth batch fails to load
  DataLoader dl;
  ASSERT_TRUE(dl.OpenShards(paths, kB, kT, kVocab).ok());
  AsyncLoader async;
  ASSERT_TRUE(async.Start(&dl, kB, kT, 8).ok());
  ExpectBatch(async, 0, 0);
  ExpectPos(async, 0, 1);
  ExpectBatch(async, 0, 8);
  ExpectBatch(async, 1, 0);
  ExpectBatch(async, 1, 8);
  ExpectPos(async, 0, 4);
  std::vector<int32_t> in(kB * kT), tg(kB * kT);
  Status s = async.Next(in.data(), tg.data());
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), paths[2]);
  EXPECT_FALSE(async.Next(in.data(), tg.data()).ok());  // and stays failed
  ExpectPos(async, 0, 4);
  // Seeking away from the bad shard recovers.
  ASSERT_TRUE(async.Seek(LoaderPosition{}).ok());
  ExpectBatch(async, 0, 0);
  EXPECT_GE(async.wait_ns(), 0);
  EXPECT_HAS_SUBSTR(async.description(), "ahead on a thread");
  LoaderMode mode;
  EXPECT_EQ(ParseLoaderMode("fast", &mode).kind(), ErrorKind::kUsage);
}

}  // namespace
}  // namespace cpu_llm
