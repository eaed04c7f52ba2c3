// GPT-2 BPE against the reference encoder (gpt-3-encoder@1.1.4): fixtures
// made by tools/gen_bpe_fixtures.sh under node, a literal restatement of the
// reference's merge rules, round trips, the invalid-UTF-8 policy, threads and
// llm.c's tokenizer file.
#include <algorithm>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/rng.h"
#include "data/corpus.h"
#include "data/gpt2_tokenizer.h"
#include "data/llmc_tokenizer.h"
#include "data/shard.h"
#include "data/utf8.h"
#include "gpt2_reference_bpe.h"
#include "test_io_util.h"

namespace cpu_llm {
namespace {

using testing::ReferenceBpe;
using testing::TempDir;

const std::string kFixtures = CPU_LLM_FIXTURE_DIR;

// Loading parses 1.5 MB of vocabulary; share one tokenizer across tests.
const Gpt2Tokenizer& Tok() {
  static const std::unique_ptr<Gpt2Tokenizer> tok = [] {
    std::unique_ptr<Gpt2Tokenizer> t;
    Status s = Gpt2Tokenizer::Load(&t);
    EXPECT_TRUE(s.ok()) << s.message();
    return t;
  }();
  return *tok;
}

std::string FromHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

struct TortureCase {
  std::string name, bytes, text;  // text: the bytes as node decodes them
  std::vector<int32_t> ids;
};

// bpe_torture.txt holds "case <name> <n>\n" + n raw bytes + "\n" per case.
std::vector<TortureCase> LoadTorture() {
  const std::string raw = testing::ReadText(kFixtures + "/bpe_torture.txt");
  std::vector<TortureCase> cases;
  size_t pos = 0;
  while (pos < raw.size()) {
    const size_t nl = raw.find('\n', pos);
    const std::string line = raw.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty() || line[0] == '#') continue;
    char name[128];
    size_t n = 0;
    EXPECT_EQ(std::sscanf(line.c_str(), "case %127s %zu", name, &n), 2) << line;
    cases.push_back({name, raw.substr(pos, n), "", {}});
    pos += n + 1;
  }
  const nlohmann::json j = nlohmann::json::parse(testing::ReadText(kFixtures + "/bpe_torture_expected.json"));
  EXPECT_EQ(j["cases"].size(), cases.size());
  for (size_t i = 0; i < cases.size() && i < j["cases"].size(); i++) {
    EXPECT_EQ(j["cases"][i]["name"].get<std::string>(), cases[i].name);
    cases[i].ids = j["cases"][i]["ids"].get<std::vector<int32_t>>();
    cases[i].text = FromHex(j["cases"][i]["text_utf8_hex"].get<std::string>());
  }
  return cases;
}

std::vector<std::pair<std::string, std::string>> MergeLines(std::string_view vocab_bpe) {
  std::vector<std::pair<std::string, std::string>> merges;
  std::istringstream in{std::string(vocab_bpe)};
  std::string line;
  std::getline(in, line);  // version
  while (std::getline(in, line)) {
    const size_t sp = line.find(' ');
    if (sp != std::string::npos) merges.emplace_back(line.substr(0, sp), line.substr(sp + 1));
  }
  return merges;
}

std::unordered_map<std::string, int32_t> EncoderMap(std::string_view json) {
  std::unordered_map<std::string, int32_t> m;
  const nlohmann::json j = nlohmann::json::parse(json);
  for (const auto& [k, v] : j.items()) m[k] = v.get<int32_t>();
  return m;
}

std::string ByteChar(unsigned char b) {
  std::string s;
  AppendUtf8(Gpt2ByteToCodePoint()[b], &s);
  return s;
}

TEST(Gpt2Tokenizer, Basics) {
  const Gpt2Tokenizer& tok = Tok();
  EXPECT_EQ(tok.name(), "gpt2");
  EXPECT_EQ(tok.vocab_size(), 50257);
  EXPECT_EQ(tok.eot_token(), 50256);
  EXPECT_EQ(tok.Decode(50256), "<|endoftext|>");
  EXPECT_TRUE(tok.Encode("").empty());
  EXPECT_EQ(tok.Decode(-1), "");
  EXPECT_EQ(tok.Decode(50257), "");
  std::unique_ptr<Tokenizer> made;
  ASSERT_TRUE(MakeTokenizer("gpt2", &made).ok());
  EXPECT_EQ(made->name(), "gpt2");
  EXPECT_EQ(made->Encode("Hello world"), (std::vector<int32_t>{15496, 995}));
  Status s = MakeTokenizer("nope", &made);
  EXPECT_HAS_SUBSTR(s.message(), "gpt2");
}

TEST(Gpt2Tokenizer, EndOfTextInTextIsOrdinaryText) {
  const std::vector<int32_t> ids = Tok().Encode("<|endoftext|>");
  EXPECT_EQ(ids, (std::vector<int32_t>{27, 91, 437, 1659, 5239, 91, 29}));
  EXPECT_EQ(Tok().Decode(ids), "<|endoftext|>");
}

TEST(Gpt2Tokenizer, TortureCasesMatchReference) {
  const std::vector<TortureCase> cases = LoadTorture();
  ASSERT_GE(cases.size(), 40u);
  EXPECT_EQ(cases[0].name, "empty");
  EXPECT_TRUE(cases[0].bytes.empty());
  std::unique_ptr<Gpt2Session> session = Tok().NewSession();
  for (const TortureCase& c : cases) {
    EXPECT_EQ(Tok().Encode(c.bytes), c.ids) << c.name;
    std::vector<int32_t> ids;
    session->Encode(c.bytes, &ids);
    EXPECT_EQ(ids, c.ids) << c.name;
    EXPECT_EQ(RepairUtf8(c.bytes), c.text) << c.name;
    // Decode gives the exact bytes, so valid text comes back unchanged and
    // invalid text comes back repaired.
    EXPECT_EQ(Tok().Decode(c.ids), c.text) << c.name;
    if (IsValidUtf8(c.bytes)) {
      EXPECT_EQ(c.text, c.bytes) << c.name;
    }
  }
}

TEST(Gpt2Tokenizer, WholeCorpusMatchesReference) {
  std::string text;
  ASSERT_TRUE(LoadBundledCorpus(&text).ok());
  std::vector<uint16_t> expected;
  Status s = ReadShard(kFixtures + "/gpt2_kjv_ids.bin", 50257, &expected);
  ASSERT_TRUE(s.ok()) << s.message();
  const std::vector<int32_t> ids = Tok().Encode(text);
  ASSERT_EQ(ids.size(), expected.size());
  size_t mismatches = 0, first = ids.size();
  for (size_t i = 0; i < ids.size(); i++) {
    if (ids[i] != expected[i]) {
      mismatches++;
      first = std::min(first, i);
    }
  }
  EXPECT_EQ(mismatches, 0u) << "first at token " << first;
  EXPECT_EQ(Tok().Decode(ids), text);
  EXPECT_EQ(std::set<int32_t>(ids.begin(), ids.end()).size(), 9830u);  // vocabulary the corpus uses
}

// Every code point falls in the class node's regex puts it in: letter,
// number, JavaScript whitespace or other. Probed through the splitter: a
// letter joins a preceding "a", a number a "1", whitespace a "\t", other a "!".
TEST(Gpt2Tokenizer, CharacterClassesMatchNode) {
  const nlohmann::json j = nlohmann::json::parse(testing::ReadText(kFixtures + "/js_unicode_classes.json"));
  std::vector<char> expected(0x110000, 'O');
  for (const char* cls : {"L", "N", "S"}) {
    for (const auto& r : j[cls]) {
      for (uint32_t c = r[0].get<uint32_t>(); c <= r[1].get<uint32_t>(); c++) expected[c] = cls[0];
    }
  }
  Gpt2Splitter splitter(Tok().pattern());
  size_t wrong = 0;
  for (char32_t c = 0; c < 0x110000; c++) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    std::string ch;
    AppendUtf8(c, &ch);
    auto joins = [&](const std::string& before, const std::string& after) {
      const std::string s = before + after;
      return splitter.Next(s, 0) == s.size();
    };
    char got = '?';
    if (joins("a", ch)) got = 'L';
    if (joins("1", ch)) got = got == '?' ? 'N' : '!';
    if (joins(ch, "\t")) got = got == '?' ? 'S' : '!';
    if (joins("!", ch)) got = got == '?' ? 'O' : '!';
    if (got != expected[c] && wrong++ < 10) ADD_FAILURE() << "U+" << std::hex << uint32_t{c} << ": " << got;
  }
  EXPECT_EQ(wrong, 0u);
}

TEST(Gpt2Tokenizer, MergeLoopMatchesReferenceRules) {
  const Gpt2Vocab& vocab = Tok().vocab();
  ReferenceBpe ref(MergeLines(EmbeddedGpt2VocabBpe()), EncoderMap(EmbeddedGpt2EncoderJson()));
  Gpt2BpeScratch scratch;
  Rng rng(7);
  const std::string punct = "\",'[](){}.:;!?- a";
  auto check = [&](const std::string& word) {
    std::vector<int32_t> got;
    Gpt2BpeWord(vocab, word, &scratch, &got);
    ASSERT_EQ(got, ref.Encode(word)) << word;
  };
  for (int i = 0; i < 20000; i++) {
    std::string w = rng.NextU64() % 2 ? " " : "";
    for (int n = 1 + rng.NextU64() % 12; n > 0; n--) w.push_back(punct[rng.NextU64() % punct.size()]);
    check(w);
  }
  for (int i = 0; i < 3000; i++) {
    std::string w;
    for (int n = 1 + rng.NextU64() % 16; n > 0; n--) w.push_back(static_cast<char>(rng.NextU64()));
    check(w);
  }
  std::string text;
  ASSERT_TRUE(LoadBundledCorpus(&text).ok());
  std::istringstream words(text.substr(0, 200000));
  for (std::string w; words >> w;) check(" " + w);
  check(std::string(20000, 'a'));
  check(std::string(64, ','));
  std::string letters;
  for (int i = 0; i < 2000; i++) letters.push_back(static_cast<char>('a' + rng.NextU64() % 26));
  check(letters);
}

// The comma-keyed ranks on a small vocabulary where they change the result:
// "a," + "b" is not a merge line, but its key "a,,b" is that of "a" + ",b".
TEST(Gpt2Tokenizer, CommaKeyedRanksLikeReference) {
  nlohmann::json enc;
  for (int b = 0; b < 256; b++) enc[ByteChar(static_cast<unsigned char>(b))] = b;
  const std::vector<std::pair<std::string, std::string>> merges = {
      {"a", ","}, {",", "b"}, {"a", ",b"}, {",", ","}, {",,", "b"}, {",", ",b"}, {"b", "a"}, {"a,b", "a,b"}, {"ba", ","}};
  std::string bpe = "#version: test\n";
  for (const auto& [l, r] : merges) {
    bpe += l + " " + r + "\n";
    if (!enc.contains(l + r)) enc[l + r] = static_cast<int>(enc.size());
  }
  enc["<|endoftext|>"] = static_cast<int>(enc.size());
  Gpt2Vocab vocab;
  Status s = ParseGpt2Vocab(enc.dump(), bpe, &vocab);
  ASSERT_TRUE(s.ok()) << s.message();
  const int32_t a_comma = enc["a,"].get<int32_t>(), b = enc["b"].get<int32_t>();
  const Gpt2Merge* m = vocab.merges.Find(a_comma, b);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->merged, enc["a,b"].get<int32_t>());
  EXPECT_EQ(m->rank, 2);
  // ",," + "b" and "," + ",b" share the key ",,,b": the later line's rank for both.
  EXPECT_EQ(vocab.merges.Find(enc[",,"].get<int32_t>(), b)->rank, 5);

  ReferenceBpe ref(merges, EncoderMap(enc.dump()));
  Gpt2BpeScratch scratch;
  // Every word over {a, b, ','} up to 9 characters, some with a leading space.
  std::vector<std::string> words = {""};
  for (int len = 1; len <= 9; len++) {
    std::vector<std::string> longer;
    for (const std::string& w : words) {
      for (char c : std::string("ab,")) longer.push_back(w + c);
    }
    for (const std::string& w : longer) {
      std::vector<int32_t> got;
      Gpt2BpeWord(vocab, w, &scratch, &got);
      ASSERT_EQ(got, ref.Encode(w)) << w;
    }
    words = std::move(longer);
  }
}

TEST(Gpt2Tokenizer, RefusesBrokenVocabulary) {
  Gpt2Vocab vocab;
  EXPECT_HAS_SUBSTR(ParseGpt2Vocab("not json", "#v\n", &vocab).message(), "encoder.json");
  nlohmann::json enc;
  for (int b = 0; b < 256; b++) enc[ByteChar(static_cast<unsigned char>(b))] = b;
  enc["<|endoftext|>"] = 256;
  EXPECT_TRUE(ParseGpt2Vocab(enc.dump(), "#v\n", &vocab).ok());
  // A merge whose result the vocabulary lacks would make the reference emit undefined.
  EXPECT_HAS_SUBSTR(ParseGpt2Vocab(enc.dump(), "#v\na b\n", &vocab).message(), "not in encoder.json");
  EXPECT_HAS_SUBSTR(ParseGpt2Vocab(enc.dump(), "#v\nab c\n", &vocab).message(), "not in encoder.json");
  enc["x"] = 999;
  EXPECT_HAS_SUBSTR(ParseGpt2Vocab(enc.dump(), "#v\n", &vocab).message(), "permutation");
}

// Random text from many scripts, whitespace kinds and planes round-trips.
TEST(Gpt2Tokenizer, RandomUtf8RoundTrips) {
  const std::vector<std::pair<char32_t, char32_t>> ranges = {
      {0x20, 0x7E},     {0x09, 0x0D},     {0xA0, 0x24F},    {0x300, 0x36F},   {0x370, 0x3FF},   {0x400, 0x4FF},
      {0x590, 0x5FF},   {0x600, 0x6FF},   {0x900, 0x97F},   {0xE00, 0xE7F},   {0x1680, 0x1680}, {0x2000, 0x206F},
      {0x3000, 0x30FF}, {0x4E00, 0x9FFF}, {0xAC00, 0xD7A3}, {0xFE00, 0xFEFF}, {0xFF00, 0xFFEF}, {0x1F300, 0x1FAFF},
      {0x10000, 0x10FFFF}, {0x85, 0x85},  {0x200D, 0x200D}, {'\'', '\''},     {'s', 's'},       {' ', ' '}};
  Rng rng(11);
  std::unique_ptr<Gpt2Session> session = Tok().NewSession();
  for (int i = 0; i < 3000; i++) {
    std::string s;
    for (int n = rng.NextU64() % 64; n > 0; n--) {
      const auto& [lo, hi] = ranges[rng.NextU64() % ranges.size()];
      const char32_t c = lo + static_cast<char32_t>(rng.NextU64() % (hi - lo + 1));
      if (c < 0xD800 || c > 0xDFFF) AppendUtf8(c, &s);
    }
    ASSERT_TRUE(IsValidUtf8(s));
    std::vector<int32_t> ids;
    session->Encode(s, &ids);
    for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < 50256) << id;
    ASSERT_EQ(Tok().Decode(ids), s);
  }
}

TEST(Gpt2Tokenizer, InvalidUtf8IsDecodedLikeNode) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(RepairUtf8("a\x80z"), "a" + r + "z");
  EXPECT_EQ(RepairUtf8("\xF0\x9F\x98z"), r + "z");            // truncated: one U+FFFD for the whole prefix
  EXPECT_EQ(RepairUtf8("\xE0\x80\xAF"), r + r + r);           // overlong: the lead cannot take 0x80
  EXPECT_EQ(RepairUtf8("\xED\xA0\x80"), r + r + r);           // surrogate
  EXPECT_EQ(RepairUtf8("\xF4\x90\x80\x80"), r + r + r + r);   // past U+10FFFF
  EXPECT_EQ(RepairUtf8("\xC3"), r);
  EXPECT_EQ(RepairUtf8("\xFF\xFE"), r + r);
  EXPECT_EQ(RepairUtf8("\xEF\xBB\xBFok"), "\xEF\xBB\xBFok");  // a BOM is kept
  Rng rng(5);
  std::unique_ptr<Gpt2Session> session = Tok().NewSession();
  for (int i = 0; i < 3000; i++) {
    std::string s;
    for (int n = rng.NextU64() % 24; n > 0; n--) {
      const uint64_t x = rng.NextU64();
      s.push_back(static_cast<char>(x % 3 == 0 ? 0x80 | (x >> 8) % 64 : (x % 3 == 1 ? 0xC0 + (x >> 8) % 64 : x >> 8)));
    }
    const std::string fixed = RepairUtf8(s);
    ASSERT_TRUE(IsValidUtf8(fixed));
    ASSERT_EQ(IsValidUtf8(s), fixed == s);
    std::vector<int32_t> ids, fixed_ids;
    session->Encode(s, &ids);
    session->Encode(fixed, &fixed_ids);
    ASSERT_EQ(ids, fixed_ids);
    ASSERT_EQ(Tok().Decode(ids), fixed);
  }
}

TEST(Gpt2Tokenizer, DecodeGivesRawTokenBytes) {
  const Gpt2Vocab& vocab = Tok().vocab();
  for (int b = 0; b < 256; b++) EXPECT_EQ(Tok().Decode(vocab.byte_token[b]), std::string(1, static_cast<char>(b)));
  // "日" is split across tokens whose bytes are not UTF-8 on their own.
  const std::vector<int32_t> ids = Tok().Encode("日");
  ASSERT_GT(ids.size(), 1u);
  EXPECT_FALSE(IsValidUtf8(Tok().Decode(ids[0])));
  EXPECT_EQ(Tok().Decode(ids), "日");
}

TEST(Gpt2Tokenizer, LongInputs) {
  const std::string spaces(1 << 20, ' ');
  EXPECT_EQ(Tok().Decode(Tok().Encode(spaces + "x" + spaces)), spaces + "x" + spaces);
  const std::string word(200000, 'a');
  const std::vector<int32_t> ids = Tok().Encode(word);
  EXPECT_LE(ids.size(), word.size() / 4);
  EXPECT_EQ(Tok().Decode(ids), word);
  std::string digits;
  for (int i = 0; i < 100000; i++) digits += static_cast<char>('0' + i % 10);
  EXPECT_EQ(Tok().Decode(Tok().Encode(digits)), digits);
}

TEST(Gpt2Tokenizer, ThreadsGiveSameIds) {
  std::string text;
  ASSERT_TRUE(LoadBundledCorpus(&text).ok());
  std::vector<std::string_view> docs;
  const size_t piece = text.size() / 16;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = std::min(text.size(), text.find('\n', std::min(text.size(), pos + piece)));
    end = end == std::string::npos ? text.size() : end + 1;
    docs.push_back(std::string_view(text).substr(pos, end - pos));
    pos = end;
  }
  std::vector<std::vector<int32_t>> single(docs.size()), threaded(docs.size()), pooled(docs.size());
  {
    std::unique_ptr<Gpt2Session> session = Tok().NewSession();
    for (size_t d = 0; d < docs.size(); d++) session->Encode(docs[d], &single[d]);
  }
  // One session per thread, and the shared const Encode() from both at once.
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; t++) {
    threads.emplace_back([&, t] {
      std::unique_ptr<Gpt2Session> session = Tok().NewSession();
      for (size_t d = t; d < docs.size(); d += 2) session->Encode(docs[d], &threaded[d]);
      for (size_t d = 1 - t; d < docs.size(); d += 2) pooled[d] = Tok().Encode(docs[d]);
    });
  }
  for (std::thread& th : threads) th.join();
  for (size_t d = 0; d < docs.size(); d++) {
    EXPECT_EQ(threaded[d], single[d]) << d;
    EXPECT_EQ(pooled[d], single[d]) << d;
  }
}

TEST(Gpt2Tokenizer, LlmcTokenizerFileRoundTrip) {
  TempDir dir;
  const std::string path = dir / "gpt2_tokenizer.bin";
  Status s = WriteLlmcTokenizer(path, Tok());
  ASSERT_TRUE(s.ok()) << s.message();
  const std::vector<uint8_t> raw = testing::ReadBytes(path);
  ASSERT_GE(raw.size(), 1024u);
  uint32_t header[4];
  std::memcpy(header, raw.data(), sizeof(header));
  EXPECT_EQ(header[0], 20240328u);
  EXPECT_EQ(header[1], 2u);
  EXPECT_EQ(header[2], 50257u);
  EXPECT_EQ(header[3], 50256u);
  LlmcTokenizerFile file;
  s = ReadLlmcTokenizer(path, &file);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(file.eot_token, 50256);
  ASSERT_EQ(file.tokens.size(), 50257u);
  for (int id = 0; id < 50257; id++) ASSERT_EQ(file.tokens[id], Tok().Decode(id)) << id;

  ASSERT_TRUE(WriteLlmcTokenizer(dir / "bytes.bin", ByteTokenizer()).ok());
  ASSERT_TRUE(ReadLlmcTokenizer(dir / "bytes.bin", &file).ok());
  EXPECT_EQ(file.tokens.size(), 257u);
  EXPECT_EQ(file.tokens[256], "<|endoftext|>");

  testing::WriteBytes(dir / "cut.bin", raw.data(), raw.size() - 3);
  EXPECT_HAS_SUBSTR(ReadLlmcTokenizer(dir / "cut.bin", &file).message(), "truncated");
  std::vector<uint8_t> bad = raw;
  bad[0] ^= 1;
  testing::WriteBytes(dir / "bad.bin", bad.data(), bad.size());
  EXPECT_HAS_SUBSTR(ReadLlmcTokenizer(dir / "bad.bin", &file).message(), "magic");
}

// Found by fuzz/llmc_tokenizer.cc: a header declaring ~4 billion tokens made
// the reader reserve that many strings (about 100 GB) before it looked at the
// rest of the file. Now the count is refused first, with no allocation.
TEST(Gpt2Tokenizer, LlmcTokenizerFileHugeTokenCount) {
  TempDir dir;
  std::vector<uint8_t> raw(1024 + 4, 0);
  const uint32_t header[4] = {20240328u, 2u, 0xB2000000u, 0u};
  std::memcpy(raw.data(), header, sizeof(header));
  raw[1024] = 1;
  raw[1025] = 'a';
  raw[1026] = 1;
  raw[1027] = 'b';
  testing::WriteBytes(dir / "huge.bin", raw.data(), raw.size());
  LlmcTokenizerFile file;
  EXPECT_HAS_SUBSTR(ReadLlmcTokenizer(dir / "huge.bin", &file).message(), "cannot hold the 2986344448 tokens");
}

}  // namespace
}  // namespace cpu_llm
