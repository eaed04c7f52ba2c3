// Streams documents out of text and JSONL files in pieces of bounded size, so
// `prepare` runs in constant memory whatever the size of its inputs.
//
// Pieces are cut only where GPT-2's pre-tokenizer would cut anyway: before an
// ASCII space that follows a printable ASCII character. No pre-token of the
// GPT-2 pattern spans such a position (a match can contain a space only as
// its first character, or inside a run of whitespace), so tokenizing the
// pieces one by one gives exactly the tokens of the whole document. Text with
// no such position for a whole piece (megabytes without a space) is cut at a
// UTF-8 character boundary instead, the one place where piecewise
// tokenization may differ from whole-document tokenization.
//
// Where a piece is cut depends only on the text from the piece's first byte
// on, never on how much the reader happened to have read ahead, so a reader
// sent back to a piece's place (Seek) cuts the same pieces from there on.
// That is what lets TextLoader resume without re-reading what came before.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/status.h"

namespace cpu_llm {

struct DocumentReaderOptions {
  std::string format = "auto";  // auto (by extension), text, jsonl
  std::string delimiter;        // text: separates documents; empty = one document per file
  std::string jsonl_field = "text";
  size_t piece_bytes = 1 << 20;  // target size of a piece
};

// A place in the inputs a reader can be sent back to: the first byte of a
// text piece, or the start of a JSONL line. A JSONL line is parsed whole, so
// all pieces of one JSONL document share their line's place.
struct ReaderPlace {
  int64_t file = 0;         // index into the input paths
  int64_t byte_offset = 0;  // in that file
  bool in_document = false; // the text there continues a document (text files only)

  bool operator==(const ReaderPlace&) const = default;
};

class DocumentReader {
 public:
  ~DocumentReader();
  // Checks every input is a readable regular file; nothing is read yet.
  Status Open(const std::vector<std::string>& paths, const DocumentReaderOptions& opt);

  // Fills *piece with the next piece of text. *starts_document is true on the
  // first piece of each document; *done becomes true when the inputs are
  // exhausted (then *piece is empty). Empty documents are skipped.
  Status Next(std::string* piece, bool* starts_document, bool* done);

  // Where the piece Next returned last came from.
  const ReaderPlace& place() const { return place_; }
  // Continues at `place` (from place()): Next returns the pieces that followed
  // it the first time, starting with the first piece at that place. A place
  // that cannot exist (no such file, offset past its end, in_document in a
  // JSONL file) is an error. documents() counts from here on.
  Status Seek(const ReaderPlace& place);

  uint64_t total_bytes() const { return total_bytes_; }
  uint64_t bytes_read() const { return bytes_done_ + file_offset_; }
  int64_t documents() const { return documents_; }

 private:
  enum class Format { kText, kJsonl };
  Status OpenFile(size_t index);
  Status ReadMore(bool* eof);         // appends a block of the current text file to pending_
  Status ReadJsonlDocument(bool* eof);  // loads the next JSONL document into pending_
  bool TakePiece(std::string* piece, bool final);
  size_t SafeCut(size_t limit) const;
  std::string JsonlLine() const;  // "path:line" of the JSONL line just read, for messages

  DocumentReaderOptions opt_;
  std::vector<std::string> paths_;
  std::vector<Format> formats_;
  std::vector<uint64_t> sizes_;  // of each input, when opened
  size_t file_index_ = 0;
  FILE* file_ = nullptr;
  uint64_t file_offset_ = 0, bytes_done_ = 0, total_bytes_ = 0;
  int64_t line_number_ = 0;      // lines read since line_origin_
  uint64_t line_origin_ = 0;     // byte offset line counting started at (a Seek's, or 0)
  uint64_t line_offset_ = 0;     // where the current JSONL document's line starts
  ReaderPlace place_;
  std::string pending_;          // text of the current document not yet handed out
  bool doc_open_ = false;        // a document is in progress
  bool doc_started_ = false;     // its first piece has been handed out
  bool file_eof_ = true;         // current file fully read into pending_
  int64_t documents_ = 0;
  char* line_buf_ = nullptr;     // getline(3) buffer for JSONL
  size_t line_cap_ = 0;
};

}  // namespace cpu_llm
