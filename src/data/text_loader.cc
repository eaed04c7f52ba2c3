#include "data/text_loader.h"

#include <algorithm>

#include "core/units.h"

namespace cpu_llm {

Status TextLoader::Open(const std::vector<std::string>& paths, const DocumentReaderOptions& reader,
                        const Tokenizer& tok, int B, int T, int vocab_size) {
  if (B <= 0) return UsageError("--batch: must be positive (got {})", B);
  if (T <= 0) return UsageError("--seq-len: must be positive (got {})", T);
  if (vocab_size <= 0) return UsageError("vocabulary size must be positive (got {})", vocab_size);
  tokens_.clear();
  segments_.clear();
  CPU_LLM_RETURN_IF_ERROR(reader_.Open(paths, reader));
  tok_ = &tok;
  paths_ = paths;
  B_ = B;
  T_ = T;
  vocab_size_ = vocab_size;
  description_ = fmt::format("{} text file(s), {}, tokenized on the fly ({})", paths.size(),
                             ByteSizeText(static_cast<double>(reader_.total_bytes())), tok.name());
  return Seek(LoaderPosition{});
}

Status TextLoader::Seek(const LoaderPosition& pos) {
  tokens_.clear();  // unusable until this succeeds
  segments_.clear();
  if (!tok_) return RuntimeError("data position: the text loader is not open");
  if (pos.epoch < 0 || pos.batch < 0 || pos.skip_tokens < 0)
    return RuntimeError("data position: negative epoch, batch or token count ({}, {}, {})", pos.epoch, pos.batch,
                        pos.skip_tokens);
  CPU_LLM_RETURN_IF_ERROR(Restart({pos.file, pos.byte_offset, pos.in_document}, pos.skip_tokens));
  epoch_ = pos.epoch;
  batch_ = pos.batch;
  return Fill();
}

LoaderPosition TextLoader::position() const {
  LoaderPosition pos;
  pos.epoch = epoch_;
  pos.batch = batch_;
  if (!segments_.empty()) {
    const Segment& head = segments_.front();
    pos.file = head.place.file;
    pos.byte_offset = head.place.byte_offset;
    pos.in_document = head.place.in_document;
    pos.skip_tokens = head.first_token;
  }
  return pos;
}

Status TextLoader::Next(int32_t* inputs, int32_t* targets) {
  const int64_t n = static_cast<int64_t>(B_) * T_;
  if (static_cast<int64_t>(tokens_.size()) < n + 1)
    return RuntimeError("text loader: no batch ready (not open, or the last Seek failed)");
  std::copy(tokens_.begin(), tokens_.begin() + n, inputs);
  std::copy(tokens_.begin() + 1, tokens_.begin() + n + 1, targets);
  Consume(n);
  batch_++;
  return Fill();
}

// Tokenizes until the next batch is buffered; at the end of the data the
// tail is dropped and the stream starts over in the next epoch.
Status TextLoader::Fill() {
  const int64_t need = static_cast<int64_t>(B_) * T_ + 1;
  while (static_cast<int64_t>(tokens_.size()) < need) {
    bool done = false;
    CPU_LLM_RETURN_IF_ERROR(TokenizePiece(&done));
    if (!done) continue;
    if (buffer_starts_stream_)  // the whole stream is in the buffer and still too short
      return RuntimeError("{}: {} tokens, fewer than one batch needs (B*T+1 = {})", FileList(), tokens_.size(),
                          need);
    CPU_LLM_RETURN_IF_ERROR(Restart(ReaderPlace{}, 0));
    epoch_++;
    batch_ = 0;
  }
  return Status();
}

// Appends the tokens of the reader's next piece, less any still to skip.
Status TextLoader::TokenizePiece(bool* done) {
  bool starts_document = false;
  CPU_LLM_RETURN_IF_ERROR(reader_.Next(&piece_, &starts_document, done));
  if (*done) {
    if (skip_tokens_ > 0)
      return RuntimeError("data position: {} tokens to skip run past the end of the data", skip_tokens_);
    return Status();
  }
  const ReaderPlace& place = reader_.place();
  if (!(place == place_)) {
    if (skip_tokens_ > 0)
      return RuntimeError("{}: data position: the text at byte {} has {} tokens, fewer than the {} to skip",
                          paths_[place_.file], place_.byte_offset, place_tokens_, place_tokens_ + skip_tokens_);
    place_ = place;
    place_tokens_ = 0;
  }
  piece_tokens_.clear();
  if (starts_document) piece_tokens_.push_back(tok_->eot_token());
  const std::vector<int32_t> ids = tok_->Encode(piece_);
  piece_tokens_.insert(piece_tokens_.end(), ids.begin(), ids.end());
  for (int32_t id : piece_tokens_)
    if (id < 0 || id >= vocab_size_)
      return RuntimeError("{}: token id {} from {} is outside the vocabulary (0..{})", paths_[place.file], id,
                          tok_->name(), vocab_size_ - 1);

  const int64_t n = static_cast<int64_t>(piece_tokens_.size());
  const int64_t skip = std::min(skip_tokens_, n);
  skip_tokens_ -= skip;
  if (n > skip) {
    segments_.push_back({place_, place_tokens_ + skip, n - skip});
    tokens_.insert(tokens_.end(), piece_tokens_.begin() + skip, piece_tokens_.end());
  }
  place_tokens_ += n;
  return Status();
}

// Empties the buffer and sends the reader to `place`, whose first
// `skip_tokens` tokens the next pieces drop.
Status TextLoader::Restart(const ReaderPlace& place, int64_t skip_tokens) {
  tokens_.clear();
  segments_.clear();
  CPU_LLM_RETURN_IF_ERROR(reader_.Seek(place));
  place_ = place;
  place_tokens_ = 0;
  skip_tokens_ = skip_tokens;
  buffer_starts_stream_ = place == ReaderPlace{} && skip_tokens == 0;
  return Status();
}

void TextLoader::Consume(int64_t n) {
  tokens_.erase(tokens_.begin(), tokens_.begin() + n);
  while (n > 0) {
    Segment& head = segments_.front();
    const int64_t take = std::min(n, head.n_tokens);
    head.first_token += take;
    head.n_tokens -= take;
    n -= take;
    if (head.n_tokens == 0) segments_.pop_front();
  }
  buffer_starts_stream_ = false;
}

std::string TextLoader::FileList() const {
  std::string list;
  for (size_t i = 0; i < paths_.size() && i < 3; i++) list += (i ? ", " : "") + paths_[i];
  if (paths_.size() > 3) list += fmt::format(" and {} more", paths_.size() - 3);
  return list;
}

}  // namespace cpu_llm
