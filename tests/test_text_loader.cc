// TextLoader: batches tokenized on the fly from text and JSONL files, the
// stream they come from, exact resume from a position without re-reading the
// text before it, and bad inputs and positions. Also DocumentReader::Seek,
// which the resume rests on.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/rng.h"
#include "data/document_reader.h"
#include "data/text_loader.h"
#include "data/tokenizer.h"
#include "test_io_util.h"

namespace cpu_llm {
namespace {

using testing::TempDir;
using testing::WriteText;

constexpr int kEot = ByteTokenizer::kEot;

// What `prepare` writes for these documents with the byte tokenizer.
std::vector<int32_t> ByteStream(const std::vector<std::string>& docs) {
  std::vector<int32_t> stream;
  for (const std::string& doc : docs) {
    stream.push_back(kEot);
    for (unsigned char c : doc) stream.push_back(c);
  }
  return stream;
}

struct Batch {
  std::vector<int32_t> inputs, targets;
  bool operator==(const Batch&) const = default;
};

Batch TakeBatch(TextLoader& loader, int n) {
  Batch b{std::vector<int32_t>(n), std::vector<int32_t>(n)};
  Status s = loader.Next(b.inputs.data(), b.targets.data());
  EXPECT_TRUE(s.ok()) << s.message();
  return b;
}

// The batch that starts at token `start` of the stream.
Batch BatchAt(const std::vector<int32_t>& stream, size_t start, int n) {
  return {std::vector<int32_t>(stream.begin() + start, stream.begin() + start + n),
          std::vector<int32_t>(stream.begin() + start + 1, stream.begin() + start + n + 1)};
}

// Random words (a few multi-byte), so pieces have spaces to be cut before.
std::string RandomText(Rng& rng, size_t bytes) {
  const char* words[] = {"the", "LORD", "said,", "unto", "Moses:", "it's", "caf\xC3\xA9", "42", "  ", "\n", "and"};
  std::string text;
  while (text.size() < bytes) {
    text += words[rng.NextU64() % 11];
    text += ' ';
  }
  return text;
}

// Two text files with a delimiter and a JSONL file (a blank line and an empty
// document in it), documents longer than a 16-byte piece.
struct SmallCorpus {
  std::vector<std::string> paths;
  std::vector<std::string> docs;  // non-empty documents, in order
  DocumentReaderOptions reader;

  explicit SmallCorpus(const TempDir& dir) {
    WriteText(dir / "a.txt",
              "In the beginning God created the heaven and the earth.<D>And the earth was without form, and void;"
              "<D><D>and darkness was upon the face of the deep.");
    WriteText(dir / "b.txt", "And God said, Let there be light: and there was light.<D>");
    WriteText(dir / "c.jsonl",
              "{\"text\": \"And God saw the light, that it was good.\"}\n\n{\"text\": \"\"}\n"
              "{\"text\": \"And God divided the light\\nfrom the darkness.\", \"id\": 7}\n");
    paths = {dir / "a.txt", dir / "b.txt", dir / "c.jsonl"};
    docs = {"In the beginning God created the heaven and the earth.", "And the earth was without form, and void;",
            "and darkness was upon the face of the deep.", "And God said, Let there be light: and there was light.",
            "And God saw the light, that it was good.", "And God divided the light\nfrom the darkness."};
    reader.delimiter = "<D>";
    reader.piece_bytes = 16;
  }
};

TEST(TextLoader, BatchesFollowTheStreamAcrossPiecesFilesAndEpochs) {
  TempDir dir;
  const SmallCorpus corpus(dir);
  const std::vector<int32_t> stream = ByteStream(corpus.docs);
  const int B = 2, T = 8, n = B * T;
  const size_t per_epoch = (stream.size() - 1) / n;
  ASSERT_NE((stream.size() - 1) % n, 0u) << "the test wants a tail to drop";

  ByteTokenizer tok;
  TextLoader loader;
  Status s = loader.Open(corpus.paths, corpus.reader, tok, B, T, tok.vocab_size());
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(loader.description(), "3 text file(s), 0.3 KB, tokenized on the fly (bytes)");
  bool saw_mid_document = false;
  for (size_t k = 0; k < 2 * per_epoch + 2; k++) {
    SCOPED_TRACE("batch " + std::to_string(k));
    const LoaderPosition pos = loader.position();
    EXPECT_EQ(pos.epoch, static_cast<int64_t>(k / per_epoch));
    EXPECT_EQ(pos.batch, static_cast<int64_t>(k % per_epoch));
    saw_mid_document |= pos.in_document && pos.skip_tokens > 0;
    EXPECT_EQ(TakeBatch(loader, n), BatchAt(stream, (k % per_epoch) * n, n));
  }
  EXPECT_TRUE(saw_mid_document) << "16-byte pieces should split documents";
}

TEST(TextLoader, Gpt2TokensEqualEachDocumentEncodedWhole) {
  std::unique_ptr<Tokenizer> tok;
  ASSERT_TRUE(MakeTokenizer("gpt2", &tok).ok());
  TempDir dir;
  Rng rng(11);
  std::vector<std::string> docs = {RandomText(rng, 1500), "Don't stop:   3.14 apples\t\tand  \xE6\x97\xA5\xE6\x9C\xAC "
                                                          "\xF0\x9F\x98\x80 they'll  say  ",
                                   RandomText(rng, 2500), RandomText(rng, 900)};
  WriteText(dir / "a.txt", docs[0] + "\n===\n" + docs[1] + "\n===\n" + docs[2]);
  WriteText(dir / "b.jsonl", nlohmann::json{{"text", docs[3]}}.dump() + "\n");
  DocumentReaderOptions reader;
  reader.delimiter = "\n===\n";
  reader.piece_bytes = 48;
  std::vector<int32_t> stream;
  for (const std::string& doc : docs) {
    stream.push_back(tok->eot_token());
    const std::vector<int32_t> ids = tok->Encode(doc);
    stream.insert(stream.end(), ids.begin(), ids.end());
  }

  const int B = 2, T = 32, n = B * T;
  TextLoader loader;
  Status s = loader.Open({dir / "a.txt", dir / "b.jsonl"}, reader, *tok, B, T, tok->vocab_size());
  ASSERT_TRUE(s.ok()) << s.message();
  const size_t per_epoch = (stream.size() - 1) / n;
  ASSERT_GT(per_epoch, 20u);
  for (size_t k = 0; k < per_epoch; k++) ASSERT_EQ(TakeBatch(loader, n), BatchAt(stream, k * n, n)) << k;
  EXPECT_EQ(loader.position().epoch, 1);
}

// For every batch of three epochs, a fresh loader sent to the position taken
// before it returns that batch and the ones after.
void ExpectResumeEverywhere(const std::vector<std::string>& paths, const DocumentReaderOptions& reader) {
  ByteTokenizer tok;
  const int B = 2, T = 4, n = B * T, kFollow = 3;
  TextLoader loader;
  Status s = loader.Open(paths, reader, tok, B, T, tok.vocab_size());
  ASSERT_TRUE(s.ok()) << s.message();
  std::vector<LoaderPosition> positions;
  std::vector<Batch> batches;
  while (loader.position().epoch < 3) {
    positions.push_back(loader.position());
    batches.push_back(TakeBatch(loader, n));
  }
  for (int f = 0; f < kFollow; f++) batches.push_back(TakeBatch(loader, n));

  for (size_t k = 0; k < positions.size(); k++) {
    SCOPED_TRACE("batch " + std::to_string(k));
    TextLoader resumed;
    ASSERT_TRUE(resumed.Open(paths, reader, tok, B, T, tok.vocab_size()).ok());
    s = resumed.Seek(positions[k]);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(resumed.position(), positions[k]);
    for (int f = 0; f < kFollow; f++) EXPECT_EQ(TakeBatch(resumed, n), batches[k + f]) << "+" << f;
  }
  ASSERT_TRUE(loader.Reset().ok());
  EXPECT_EQ(TakeBatch(loader, n), batches[0]);
}

TEST(TextLoader, ResumesExactlyFromEveryPositionInTextFiles) {
  TempDir dir;
  const SmallCorpus corpus(dir);
  ExpectResumeEverywhere({corpus.paths[0], corpus.paths[1]}, corpus.reader);
  // No delimiter: one document per file, so most positions are mid-document.
  DocumentReaderOptions no_delimiter = corpus.reader;
  no_delimiter.delimiter.clear();
  ExpectResumeEverywhere({corpus.paths[0], corpus.paths[1]}, no_delimiter);
}

TEST(TextLoader, ResumesExactlyFromEveryPositionInJsonl) {
  TempDir dir;
  const SmallCorpus corpus(dir);
  WriteText(dir / "d.jsonl", "{\"text\": \"short\"}\n{\"text\": \"a longer document, cut into several pieces\"}\n");
  ExpectResumeEverywhere({corpus.paths[2], dir / "d.jsonl"}, corpus.reader);
}

// Forwards to the byte tokenizer, counting the bytes it is asked to encode.
class CountingTokenizer final : public Tokenizer {
 public:
  std::string name() const override { return bytes_.name(); }
  int vocab_size() const override { return bytes_.vocab_size(); }
  int eot_token() const override { return bytes_.eot_token(); }
  std::vector<int32_t> Encode(std::string_view text) const override {
    encoded_bytes_ += static_cast<int64_t>(text.size());
    return bytes_.Encode(text);
  }
  std::string Decode(int32_t token) const override { return bytes_.Decode(token); }
  int64_t encoded_bytes() const { return encoded_bytes_; }

 private:
  ByteTokenizer bytes_;
  mutable int64_t encoded_bytes_ = 0;
};

TEST(TextLoader, SeekTokenizesOnlyFromThePosition) {
  TempDir dir;
  Rng rng(3);
  WriteText(dir / "a.txt", RandomText(rng, 100000));
  WriteText(dir / "b.txt", RandomText(rng, 100000));
  const std::vector<std::string> paths = {dir / "a.txt", dir / "b.txt"};
  DocumentReaderOptions reader;
  reader.piece_bytes = 256;
  const int B = 4, T = 32, n = B * T;

  CountingTokenizer first_tok;
  TextLoader first;
  ASSERT_TRUE(first.Open(paths, reader, first_tok, B, T, first_tok.vocab_size()).ok());
  while (!(first.position().file == 1 && first.position().byte_offset > 50000)) TakeBatch(first, n);
  const LoaderPosition late = first.position();
  const Batch expect = TakeBatch(first, n);
  ASSERT_GT(first_tok.encoded_bytes(), 150000);

  CountingTokenizer resumed_tok;
  TextLoader resumed;
  ASSERT_TRUE(resumed.Open(paths, reader, resumed_tok, B, T, resumed_tok.vocab_size()).ok());
  Status s = resumed.Seek(late);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(TakeBatch(resumed, n), expect);
  // Open reads ahead one batch and Seek one more, each at most a piece past it.
  EXPECT_LT(resumed_tok.encoded_bytes(), 4 * (n + 256));
}

TEST(TextLoader, FewerTokensThanOneBatchIsAnErrorNamingTheFiles) {
  TempDir dir;
  WriteText(dir / "a.txt", "short");
  WriteText(dir / "b.txt", "text");
  ByteTokenizer tok;
  TextLoader loader;
  Status s = loader.Open({dir / "a.txt", dir / "b.txt"}, DocumentReaderOptions{}, tok, 2, 8, tok.vocab_size());
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), dir / "a.txt");
  EXPECT_HAS_SUBSTR(s.message(), dir / "b.txt");
  EXPECT_HAS_SUBSTR(s.message(), "11 tokens, fewer than one batch needs (B*T+1 = 17)");
  int32_t in[16], tgt[16];
  EXPECT_FALSE(loader.Next(in, tgt).ok());

  s = loader.Open({dir / "missing.txt"}, DocumentReaderOptions{}, tok, 2, 8, tok.vocab_size());
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), dir / "missing.txt");
}

TEST(TextLoader, TokenOutsideTheVocabularyIsAnErrorNamingTheFile) {
  TempDir dir;
  WriteText(dir / "empty.txt", "");
  WriteText(dir / "b.txt", "plenty of text for a batch of sixteen tokens");
  ByteTokenizer tok;
  TextLoader loader;
  // The end-of-text token (256) does not fit a 256-token vocabulary.
  Status s = loader.Open({dir / "empty.txt", dir / "b.txt"}, DocumentReaderOptions{}, tok, 2, 8, 256);
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), dir / "b.txt");
  EXPECT_HAS_SUBSTR(s.message(), "token id 256");
  EXPECT_HAS_SUBSTR(s.message(), "(0..255)");
}

TEST(TextLoader, PositionsThatDoNotExistAreErrors) {
  TempDir dir;
  const SmallCorpus corpus(dir);
  ByteTokenizer tok;
  TextLoader loader;
  ASSERT_TRUE(loader.Open(corpus.paths, corpus.reader, tok, 2, 4, tok.vocab_size()).ok());
  const Batch first = TakeBatch(loader, 8);
  const auto a_size = static_cast<int64_t>(std::filesystem::file_size(corpus.paths[0]));
  const LoaderPosition bad[] = {
      {.file = -1},
      {.file = 3},
      {.file = 0, .byte_offset = -1},
      {.file = 0, .byte_offset = a_size + 1},
      {.epoch = -1},
      {.batch = -1},
      {.skip_tokens = -1},
      {.skip_tokens = 100},                    // the first piece yields 17 tokens
      {.file = 1, .byte_offset = 0, .skip_tokens = 1000000},  // far more than the data yields
      {.file = 2, .in_document = true},         // JSONL documents are resumed from their line
  };
  for (const LoaderPosition& pos : bad) {
    SCOPED_TRACE(fmt::format("file {} offset {} skip {} epoch {}", pos.file, pos.byte_offset, pos.skip_tokens,
                             pos.epoch));
    EXPECT_FALSE(loader.Seek(pos).ok());
    int32_t in[8], tgt[8];
    EXPECT_FALSE(loader.Next(in, tgt).ok()) << "a failed Seek leaves no batch to take";
  }
  ASSERT_TRUE(loader.Seek({.file = 0, .byte_offset = a_size}).ok()) << "the end of a file exists";
  ASSERT_TRUE(loader.Reset().ok());
  EXPECT_EQ(TakeBatch(loader, 8), first);
}

TEST(TextLoader, JsonlLineThatIsNotJsonIsAnErrorWithItsLineNumber) {
  TempDir dir;
  WriteText(dir / "bad.jsonl",
            "{\"text\": \"one document\"}\n\n{\"text\": \"another document\"}\n{\"text\": \"a third\"}\n{not json\n");
  ByteTokenizer tok;
  TextLoader loader;
  ASSERT_TRUE(loader.Open({dir / "bad.jsonl"}, DocumentReaderOptions{}, tok, 1, 8, tok.vocab_size()).ok());
  LoaderPosition at_line_three;
  Status s;
  int32_t in[8], tgt[8];
  while ((s = loader.Next(in, tgt)).ok())
    if (loader.position().byte_offset > 0 && at_line_three.byte_offset == 0) at_line_three = loader.position();
  EXPECT_HAS_SUBSTR(s.message(), dir / "bad.jsonl:5: not valid JSON");
  // Resumed past the first lines, the reader still counts lines from the top of the file.
  ASSERT_GT(at_line_three.byte_offset, 0);
  ASSERT_TRUE(loader.Seek(at_line_three).ok());
  while ((s = loader.Next(in, tgt)).ok()) {
  }
  EXPECT_HAS_SUBSTR(s.message(), dir / "bad.jsonl:5: not valid JSON");
}

// DocumentReader::Seek to any piece's place gives the pieces that followed it,
// also where a delimiter straddles the end of a piece.
TEST(TextLoaderReader, SeekToAPieceReplaysThePiecesAfterIt) {
  TempDir dir;
  Rng rng(9);
  std::string text;
  for (int i = 0; i < 60; i++) text += RandomText(rng, rng.NextU64() % 40) + " <DOC> ";
  WriteText(dir / "t.txt", text);
  for (size_t piece_bytes : {16, 23, 40}) {
    SCOPED_TRACE("piece_bytes " + std::to_string(piece_bytes));
    DocumentReaderOptions opt;
    opt.delimiter = " <DOC> ";
    opt.piece_bytes = piece_bytes;
    DocumentReader reader;
    ASSERT_TRUE(reader.Open({dir / "t.txt"}, opt).ok());
    std::vector<std::string> pieces;
    std::vector<ReaderPlace> places;
    std::string piece;
    bool starts = false, done = false;
    while (reader.Next(&piece, &starts, &done).ok() && !done) {
      pieces.push_back(piece);
      places.push_back(reader.place());
      EXPECT_EQ(reader.place().in_document, !starts);
    }
    ASSERT_TRUE(done);
    for (size_t i = 0; i < pieces.size(); i++) {
      DocumentReader resumed;
      ASSERT_TRUE(resumed.Open({dir / "t.txt"}, opt).ok());
      ASSERT_TRUE(resumed.Seek(places[i]).ok());
      for (size_t j = i; j < pieces.size(); j++) {
        ASSERT_TRUE(resumed.Next(&piece, &starts, &done).ok());
        ASSERT_FALSE(done);
        ASSERT_EQ(piece, pieces[j]) << "seeked to piece " << i;
        ASSERT_EQ(resumed.place(), places[j]);
      }
      ASSERT_TRUE(resumed.Next(&piece, &starts, &done).ok());
      EXPECT_TRUE(done);
    }
  }
}

}  // namespace
}  // namespace cpu_llm
