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

class DocumentReader {
 public:
  ~DocumentReader();
  // Checks every input is a readable regular file; nothing is read yet.
  Status Open(const std::vector<std::string>& paths, const DocumentReaderOptions& opt);

  // Fills *piece with the next piece of text. *starts_document is true on the
  // first piece of each document; *done becomes true when the inputs are
  // exhausted (then *piece is empty). Empty documents are skipped.
  Status Next(std::string* piece, bool* starts_document, bool* done);

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

  DocumentReaderOptions opt_;
  std::vector<std::string> paths_;
  std::vector<Format> formats_;
  size_t file_index_ = 0;
  FILE* file_ = nullptr;
  uint64_t file_offset_ = 0, bytes_done_ = 0, total_bytes_ = 0;
  int64_t line_number_ = 0;
  std::string pending_;          // text of the current document not yet handed out
  bool doc_open_ = false;        // a document is in progress
  bool doc_started_ = false;     // its first piece has been handed out
  bool file_eof_ = true;         // current file fully read into pending_
  int64_t documents_ = 0;
  char* line_buf_ = nullptr;     // getline(3) buffer for JSONL
  size_t line_cap_ = 0;
};

}  // namespace cpu_llm
