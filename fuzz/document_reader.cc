// DocumentReader over one text or JSONL file, with small pieces so that
// cutting is exercised. Input layout: byte 0 chooses the format (bit 0:
// jsonl, else text) and the piece size (16 + the other bits); byte 1 % 4 is
// the length of the text delimiter that follows; the rest is the file.
//
// Checked (document_reader.h): pieces are non-empty and at most piece_bytes
// long; for text the pieces are the file with the delimiters taken out; and
// Seek back to a piece's place() gives the same pieces from there on, which
// is what resuming TextLoader relies on.
#include <string>
#include <vector>

#include "data/document_reader.h"
#include "fuzz_util.h"

using namespace cpu_llm;

namespace {

struct Piece {
  std::string text;
  bool starts_document;
  ReaderPlace place;
};

// Reads to the end (or the first error, then returns false).
bool ReadAll(DocumentReader* reader, std::vector<Piece>* out, size_t limit) {
  while (out->size() < limit) {
    Piece p;
    bool done = false;
    if (!reader->Next(&p.text, &p.starts_document, &done).ok()) return false;
    if (done) {
      FUZZ_CHECK(p.text.empty());
      return true;
    }
    p.place = reader->place();
    out->push_back(std::move(p));
  }
  return true;
}

// `text` without the delimiters the reader ends documents at: leftmost first,
// no overlaps.
std::string WithoutDelimiters(const std::string& text, const std::string& delim) {
  if (delim.empty()) return text;
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = text.find(delim, pos)) != std::string::npos; pos = hit + delim.size())
    out.append(text, pos, hit - pos);
  out.append(text, pos);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  DocumentReaderOptions opt;
  opt.format = (data[0] & 1) ? "jsonl" : "text";
  opt.piece_bytes = 16 + (data[0] >> 1);
  const size_t delim_len = std::min<size_t>(data[1] % 4, size - 2);
  if (opt.format == "text") opt.delimiter.assign(reinterpret_cast<const char*>(data + 2), delim_len);
  const std::string file(reinterpret_cast<const char*>(data + 2 + delim_len), size - 2 - delim_len);
  const std::string path = fuzz::WriteInput(file, "input.txt");

  DocumentReader reader;
  FUZZ_CHECK(reader.Open({path}, opt).ok());
  std::vector<Piece> pieces;
  // A piece holds at least one byte of the file (a JSONL one at least one of
  // its line), so there are never more pieces than bytes.
  const size_t limit = file.size() + 1;
  if (!ReadAll(&reader, &pieces, limit)) return 0;
  FUZZ_CHECK(pieces.size() < limit);
  std::string joined;
  for (const Piece& p : pieces) {
    FUZZ_CHECK(!p.text.empty() && p.text.size() <= opt.piece_bytes);
    joined += p.text;
  }
  if (opt.format == "text") FUZZ_CHECK(joined == WithoutDelimiters(file, opt.delimiter));

  // Resume at the first piece, one in the middle and the last one.
  for (size_t k : {size_t{0}, pieces.size() / 2, pieces.size() - 1}) {
    if (k >= pieces.size()) break;
    while (k > 0 && pieces[k - 1].place == pieces[k].place) k--;  // the first piece at that place
    DocumentReader again;
    FUZZ_CHECK(again.Open({path}, opt).ok());
    FUZZ_CHECK(again.Seek(pieces[k].place).ok());
    std::vector<Piece> rest;
    FUZZ_CHECK(ReadAll(&again, &rest, limit));
    FUZZ_CHECK(rest.size() == pieces.size() - k);
    for (size_t i = 0; i < rest.size(); i++) {
      FUZZ_CHECK(rest[i].text == pieces[k + i].text);
      FUZZ_CHECK(rest[i].starts_document == pieces[k + i].starts_document);
      FUZZ_CHECK(rest[i].place == pieces[k + i].place);
    }
  }
  return 0;
}
