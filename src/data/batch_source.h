// A stream of training batches: token shards (DataLoader), raw text tokenized
// on the fly (TextLoader), or either behind a background thread
// (AsyncLoader). The trainer sees only this interface.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace cpu_llm {

// Where the next batch starts; saved in checkpoints so that a resumed run
// continues at the same token.
struct LoaderPosition {
  int64_t epoch = 0;  // completed passes over the data
  // Token shards: batches this rank has taken so far in this epoch (an index
  // into the epoch's window order, see DataLoader).
  int64_t batch = 0;
  // Raw text: the next batch's first token is `skip_tokens` tokens into the
  // tokens of the text that starts at byte `byte_offset` of input `file`;
  // `in_document` says that text continues a document (no end-of-text token
  // before it).
  int64_t file = 0;
  int64_t byte_offset = 0;
  int64_t skip_tokens = 0;
  bool in_document = false;

  bool operator==(const LoaderPosition&) const = default;
};

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Fills inputs and targets (B*T each) with the next batch and advances.
  virtual Status Next(int32_t* inputs, int32_t* targets) = 0;
  virtual Status Seek(const LoaderPosition& pos) = 0;
  // Back to the first batch of the first epoch.
  Status Reset() { return Seek(LoaderPosition{}); }
  // The position of the batch the next call to Next returns.
  virtual LoaderPosition position() const = 0;
  virtual std::string description() const = 0;
};

}  // namespace cpu_llm
