// `prepare`: the document reader's pieces and boundaries, and the shards
// RunPrepare writes (exact tokens, split, determinism, bad inputs).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "core/rng.h"
#include "data/corpus.h"
#include "data/document_reader.h"
#include "data/prepare.h"
#include "data/shard.h"
#include "data/split.h"
#include "test_io_util.h"

namespace cpu_llm {
namespace {

using testing::ReadText;
using testing::TempDir;
using testing::WriteText;

// All documents of a reader, each the concatenation of its pieces.
struct ReadResult {
  std::vector<std::string> docs;
  std::vector<std::string> pieces;
  std::vector<bool> starts;  // per piece: first piece of a document
};
ReadResult ReadAll(const std::vector<std::string>& paths, DocumentReaderOptions opt, Status* status = nullptr) {
  DocumentReader r;
  ReadResult out;
  Status s = r.Open(paths, opt);
  while (s.ok()) {
    std::string piece;
    bool starts = false, done = false;
    s = r.Next(&piece, &starts, &done);
    if (!s.ok() || done) break;
    EXPECT_FALSE(piece.empty());
    if (starts || out.docs.empty()) out.docs.emplace_back();
    out.docs.back() += piece;
    out.pieces.push_back(piece);
    out.starts.push_back(starts);
  }
  if (status) *status = s;
  else EXPECT_TRUE(s.ok()) << s.message();
  return out;
}

TEST(PrepareReader, OneDocumentPerFileAndDelimiters) {
  TempDir dir;
  WriteText(dir / "a.txt", "first file\nline two\n");
  WriteText(dir / "b.txt", "");
  WriteText(dir / "c.txt", "doc one<SEP>doc two<SEP><SEP>doc three");
  DocumentReaderOptions opt;
  ReadResult r = ReadAll({dir / "a.txt", dir / "b.txt", dir / "c.txt"}, opt);
  ASSERT_EQ(r.docs.size(), 2u);  // the empty file is no document
  EXPECT_EQ(r.docs[0], "first file\nline two\n");
  EXPECT_EQ(r.docs[1], "doc one<SEP>doc two<SEP><SEP>doc three");
  opt.delimiter = "<SEP>";
  r = ReadAll({dir / "a.txt", dir / "c.txt"}, opt);
  ASSERT_EQ(r.docs.size(), 4u);  // the empty document between two delimiters is skipped
  EXPECT_EQ(r.docs[1], "doc one");
  EXPECT_EQ(r.docs[2], "doc two");
  EXPECT_EQ(r.docs[3], "doc three");
}

// A delimiter split across the reader's blocks is still found, and large
// documents come out in pieces that reassemble exactly.
TEST(PrepareReader, SmallPiecesReassembleAndCutOnlyBeforeSpaces) {
  TempDir dir;
  Rng rng(5);
  std::string text;
  const char* words[] = {"the", "LORD", "said,", "unto", "Moses:", "and", "it", "came", "to", "pass", "\n"};
  for (int i = 0; i < 5000; i++) {
    text += words[rng.NextU64() % 11];
    text += (rng.NextU64() % 7 == 0) ? "##" : " ";
  }
  WriteText(dir / "t.txt", text);
  DocumentReaderOptions opt;
  opt.piece_bytes = 64;
  opt.delimiter = "##";
  ReadResult r = ReadAll({dir / "t.txt"}, opt);
  std::string joined;
  for (size_t i = 0; i < r.docs.size(); i++) joined += (i ? "##" : "") + r.docs[i];
  // Empty documents ("####") vanish, so compare with them removed.
  std::string expect = text;
  for (size_t p; (p = expect.find("####")) != std::string::npos;) expect.erase(p, 2);
  if (expect.size() >= 2 && expect.compare(expect.size() - 2, 2, "##") == 0) expect.resize(expect.size() - 2);
  EXPECT_EQ(joined, expect);
  for (const std::string& p : r.pieces) EXPECT_LE(p.size(), 64u);
  // Inside a document every cut is right before a space that follows a printable ASCII char.
  size_t cuts = 0;
  for (size_t i = 0; i + 1 < r.pieces.size(); i++) {
    if (r.starts[i + 1]) continue;  // a document boundary, not a cut
    EXPECT_EQ(r.pieces[i + 1][0], ' ') << "piece " << i + 1;
    EXPECT_TRUE(r.pieces[i].back() > 0x20 && r.pieces[i].back() < 0x7F) << "piece " << i;
    cuts++;
  }
  EXPECT_GT(cuts, 50u);
}

TEST(PrepareReader, TextWithoutSpacesIsCutAtUtf8Boundaries) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 300; i++) text += "\xE4\xB8\xAD";  // U+4E2D, 3 bytes, no spaces at all
  WriteText(dir / "cjk.txt", text);
  DocumentReaderOptions opt;
  opt.piece_bytes = 32;
  ReadResult r = ReadAll({dir / "cjk.txt"}, opt);
  ASSERT_EQ(r.docs.size(), 1u);
  EXPECT_EQ(r.docs[0], text);
  for (const std::string& p : r.pieces) EXPECT_EQ(p.size() % 3, 0u);
}

TEST(PrepareReader, JsonlDocumentsAndErrorsWithLineNumbers) {
  TempDir dir;
  WriteText(dir / "ok.jsonl", "{\"text\": \"alpha\", \"id\": 1}\n\n{\"text\": \"beta\\nwith newline\"}\n{\"text\": \"\"}\n");
  ReadResult r = ReadAll({dir / "ok.jsonl"}, DocumentReaderOptions{});
  ASSERT_EQ(r.docs.size(), 2u);
  EXPECT_EQ(r.docs[0], "alpha");
  EXPECT_EQ(r.docs[1], "beta\nwith newline");

  WriteText(dir / "bad.jsonl", "{\"text\": \"fine\"}\n{\"text\": \"broken\n");
  Status s;
  ReadAll({dir / "bad.jsonl"}, DocumentReaderOptions{}, &s);
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), dir / "bad.jsonl:2");
  EXPECT_HAS_SUBSTR(s.message(), "JSON");

  WriteText(dir / "nofield.jsonl", "{\"text\": \"fine\"}\n{\"body\": \"no text\"}\n");
  ReadAll({dir / "nofield.jsonl"}, DocumentReaderOptions{}, &s);
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), dir / "nofield.jsonl:2");
  EXPECT_HAS_SUBSTR(s.message(), "\"text\"");
}

TEST(PrepareReader, BinaryMissingAndDirectoryInputsAreErrors) {
  TempDir dir;
  std::string binary = "ELF";
  binary += '\0';
  binary += "\x01\x02";
  WriteText(dir / "prog", binary);
  Status s;
  ReadAll({dir / "prog"}, DocumentReaderOptions{}, &s);
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), dir / "prog");
  EXPECT_HAS_SUBSTR(s.message(), "binary");
  DocumentReader reader;
  s = reader.Open({dir / "missing.txt"}, DocumentReaderOptions{});
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), dir / "missing.txt");
  s = reader.Open({dir.path()}, DocumentReaderOptions{});
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), "directory");
}

std::vector<uint16_t> ReadShards(const std::vector<std::string>& paths) {
  std::vector<uint16_t> all, part;
  for (const std::string& p : paths) {
    Status s = ReadShard(p, 65536, &part);
    EXPECT_TRUE(s.ok()) << s.message();
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

PrepareOptions BytesOptions(const std::vector<std::string>& inputs, const std::string& out) {
  PrepareOptions o;
  o.inputs = inputs;
  o.out_dir = out;
  o.tokenizer = "bytes";
  o.shard_tokens = 3000;
  o.val_fraction = 0.2;
  o.quiet = true;
  o.threads = 2;
  return o;
}

// The shards hold exactly EOT + bytes of every document, split by blocks as
// IsValBlock says, in shards of the requested size.
TEST(Prepare, ShardsHoldExactlyTheDocumentsSplitByBlocks) {
  TempDir dir;
  std::string a, b;
  for (int i = 0; i < 900; i++) a += "In the beginning God created the heaven and the earth. ";
  for (int i = 0; i < 300; i++) b += "And the earth was without form, and void. ";
  WriteText(dir / "a.txt", a);
  WriteText(dir / "b.txt", b);
  PrepareSummary sum;
  ASSERT_TRUE(RunPrepare(BytesOptions({dir / "a.txt", dir / "b.txt"}, dir / "out"), &sum).ok());
  std::vector<uint16_t> expect = {256};
  for (unsigned char c : a) expect.push_back(c);
  expect.push_back(256);
  for (unsigned char c : b) expect.push_back(c);

  std::vector<uint16_t> train = ReadShards(sum.train_shards), val = ReadShards(sum.val_shards);
  std::vector<uint16_t> rebuilt;
  size_t ti = 0, vi = 0;
  for (int64_t block = 0; (int64_t)rebuilt.size() < (int64_t)expect.size(); block++) {
    const size_t n = std::min<size_t>(kSplitBlockTokens, expect.size() - rebuilt.size());
    const bool to_val = IsValBlock(block, 0.2, 1337);
    std::vector<uint16_t>& src = to_val ? val : train;
    size_t& at = to_val ? vi : ti;
    ASSERT_LE(at + n, src.size());
    rebuilt.insert(rebuilt.end(), src.begin() + at, src.begin() + at + n);
    at += n;
  }
  EXPECT_EQ(ti, train.size());
  EXPECT_EQ(vi, val.size());
  EXPECT_EQ(rebuilt, expect);
  EXPECT_EQ(sum.documents, 2);
  EXPECT_EQ(sum.train_tokens + sum.val_tokens, (int64_t)expect.size());
  EXPECT_GT(sum.val_tokens, 0);
  EXPECT_GT(sum.train_shards.size(), 1u);
  for (size_t i = 0; i + 1 < sum.train_shards.size(); i++) {
    uint64_t n = 0;
    ASSERT_TRUE(ReadShardHeader(sum.train_shards[i], &n).ok());
    EXPECT_EQ(n, 3000u);
  }
  EXPECT_TRUE(std::filesystem::exists(dir / "out/prepare.json"));
  EXPECT_TRUE(std::filesystem::exists(sum.tokenizer_file));
}

// GPT-2 BPE through prepare, cut into 4 KB pieces, gives exactly the ids the
// reference encoder gives for the whole corpus as one string.
TEST(Prepare, Gpt2PiecesMatchTheReferenceOnTheWholeCorpus) {
  TempDir dir;
  std::string text;
  ASSERT_TRUE(LoadBundledCorpus(&text).ok());
  WriteText(dir / "kjv.txt", text);
  PrepareOptions o = BytesOptions({dir / "kjv.txt"}, dir / "out");
  o.tokenizer = "gpt2";
  o.val_fraction = 0.0;
  o.shard_tokens = 300000;
  o.reader.piece_bytes = 4096;
  PrepareSummary sum;
  ASSERT_TRUE(RunPrepare(o, &sum).ok());
  std::vector<uint16_t> expect;
  ASSERT_TRUE(ReadShard(std::string(CPU_LLM_FIXTURE_DIR) + "/gpt2_kjv_ids.bin", 50257, &expect).ok());
  expect.insert(expect.begin(), 50256);
  const std::vector<uint16_t> got = ReadShards(sum.train_shards);
  ASSERT_EQ(got.size(), expect.size());
  for (size_t i = 0; i < got.size(); i++) ASSERT_EQ(got[i], expect[i]) << "token " << i;
  EXPECT_EQ(sum.distinct_ids, 9831);  // 9830 ids of text + end-of-text
}

TEST(Prepare, DeterministicAndRefusesANonEmptyFolderUnlessForced) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 2000; i++) text += "word" + std::to_string(i) + " ";
  WriteText(dir / "t.txt", text);
  PrepareSummary s1, s2;
  ASSERT_TRUE(RunPrepare(BytesOptions({dir / "t.txt"}, dir / "one"), &s1).ok());
  Status again = RunPrepare(BytesOptions({dir / "t.txt"}, dir / "one"), &s2);
  ASSERT_FALSE(again.ok());
  EXPECT_HAS_SUBSTR(again.message(), dir / "one");
  EXPECT_HAS_SUBSTR(again.message(), "--force");
  WriteText(dir / "one/train_000099.bin", "stale");
  PrepareOptions forced = BytesOptions({dir / "t.txt"}, dir / "one");
  forced.force = true;
  ASSERT_TRUE(RunPrepare(forced, &s2).ok());
  EXPECT_FALSE(std::filesystem::exists(dir / "one/train_000099.bin"));
  ASSERT_TRUE(RunPrepare(BytesOptions({dir / "t.txt"}, dir / "two"), &s2).ok());
  ASSERT_EQ(s1.train_shards.size(), s2.train_shards.size());
  for (size_t i = 0; i < s1.train_shards.size(); i++)
    EXPECT_EQ(ReadText(s1.train_shards[i]), ReadText(s2.train_shards[i]));
}

TEST(Prepare, EmptyInputIsAnError) {
  TempDir dir;
  WriteText(dir / "empty.txt", "");
  PrepareSummary s;
  Status st = RunPrepare(BytesOptions({dir / "empty.txt"}, dir / "out"), &s);
  ASSERT_FALSE(st.ok());
  EXPECT_HAS_SUBSTR(st.message(), "no text");
}

TEST(Prepare, BadOptionsAreUsageErrors) {
  TempDir dir;
  WriteText(dir / "t.txt", "some text");
  PrepareSummary s;
  PrepareOptions o = BytesOptions({dir / "t.txt"}, dir / "out");
  o.val_fraction = 1.5;
  EXPECT_EQ(RunPrepare(o, &s).exit_code(), 2);
  o = BytesOptions({dir / "t.txt"}, dir / "out");
  o.shard_tokens = 0;
  EXPECT_EQ(RunPrepare(o, &s).exit_code(), 2);
  o = BytesOptions({dir / "t.txt"}, dir / "out");
  o.tokenizer = "nope";
  EXPECT_EQ(RunPrepare(o, &s).exit_code(), 2);
  o = BytesOptions({dir / "t.txt"}, dir / "out");
  o.reader.format = "xml";
  EXPECT_EQ(RunPrepare(o, &s).exit_code(), 2);
}

}  // namespace
}  // namespace cpu_llm
