// Batches straight from text and JSONL files, tokenized as they are read, so
// training needs no `prepare` step.
//
// The token stream is exactly what `prepare` writes for the same files (less
// its train/val split): every document preceded by the end-of-text token,
// documents in file order. Batches are B*T+1 consecutive tokens of it, inputs
// the first B*T and targets the same shifted by one, and each batch starts
// B*T tokens after the previous one, like the shard loader. At the end of the
// stream the tail too short for a batch is dropped and the next epoch starts
// from the beginning.
//
// Memory stays at about one batch of tokens plus one piece of text
// (DocumentReaderOptions::piece_bytes), whatever the size of the files: the
// loader tokenizes only as far ahead as the next batch needs.
//
// A position names the place (DocumentReader's ReaderPlace) of the text that
// yields the next batch's first token, and how many of that text's tokens to
// skip (its end-of-text token included, when the text starts a document).
// Seek therefore reads and tokenizes only from that place on: resuming after
// gigabytes of text costs one piece of tokenization, not gigabytes.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/batch_source.h"
#include "data/document_reader.h"
#include "data/tokenizer.h"

namespace cpu_llm {

class TextLoader final : public BatchSource {
 public:
  // `reader` decides each file's format, the text delimiter and the JSONL
  // field; `tok` must outlive the loader. Tokenizes until the first batch is
  // ready: fewer tokens than one batch in all the files is an error.
  Status Open(const std::vector<std::string>& paths, const DocumentReaderOptions& reader, const Tokenizer& tok,
              int B, int T, int vocab_size);

  // Reads ahead to the following batch before returning, so position() can
  // tell when the epoch is over; an error doing so is this call's error.
  Status Next(int32_t* inputs, int32_t* targets) override;
  // After a failed Seek the loader is unusable until a Seek succeeds.
  Status Seek(const LoaderPosition& pos) override;
  // `batch` counts the batches taken in this epoch, for the record only.
  LoaderPosition position() const override;
  std::string description() const override { return description_; }

 private:
  // A run of buffered tokens that came from one place, the first of them
  // being token `first_token` of what that place yields.
  struct Segment {
    ReaderPlace place;
    int64_t first_token = 0;
    int64_t n_tokens = 0;
  };
  Status Fill();
  Status TokenizePiece(bool* done);
  Status Restart(const ReaderPlace& place, int64_t skip_tokens);
  void Consume(int64_t n);
  std::string FileList() const;

  DocumentReader reader_;
  const Tokenizer* tok_ = nullptr;
  std::vector<std::string> paths_;
  int B_ = 0, T_ = 0, vocab_size_ = 0;
  int64_t epoch_ = 0;
  int64_t batch_ = 0;                // batches taken in this epoch
  std::vector<int32_t> tokens_;      // the next batch's tokens first, then what was read ahead
  std::deque<Segment> segments_;     // where tokens_ came from, in the same order
  bool buffer_starts_stream_ = false;  // tokens_[0] is the first token of the stream
  ReaderPlace place_;                // place of the text being tokenized
  int64_t place_tokens_ = 0;         // tokens that place has yielded so far
  int64_t skip_tokens_ = 0;          // tokens still to drop to reach a Seek's position
  std::string piece_;
  std::vector<int32_t> piece_tokens_;
  std::string description_;
};

}  // namespace cpu_llm
