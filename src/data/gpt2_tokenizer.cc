#include "data/gpt2_tokenizer.h"

#include "data/utf8.h"

namespace cpu_llm {

Gpt2Session::Gpt2Session(const Gpt2Tokenizer& tokenizer) : tok_(tokenizer), splitter_(tokenizer.pattern()) {}

void Gpt2Session::Encode(std::string_view text, std::vector<int32_t>* ids) {
  if (IsValidUtf8(text)) {
    EncodeValid(text, ids);
    return;
  }
  const std::string repaired = RepairUtf8(text);
  EncodeValid(repaired, ids);
}

void Gpt2Session::EncodeValid(std::string_view text, std::vector<int32_t>* ids) {
  for (size_t pos = 0; pos < text.size();) {
    const size_t end = splitter_.Next(text, pos);
    EncodeWord(text.substr(pos, end - pos), ids);
    pos = end;
  }
}

void Gpt2Session::EncodeWord(std::string_view word, std::vector<int32_t>* ids) {
  const Gpt2Vocab& vocab = tok_.vocab();
  if (word.size() == 1) {
    ids->push_back(vocab.byte_token[static_cast<unsigned char>(word[0])]);
    return;
  }
  if (cache_.Lookup(word, ids)) return;
  const size_t before = ids->size();
  Gpt2BpeWord(vocab, word, &scratch_, ids);
  cache_.Insert(word, ids->data() + before, ids->size() - before);
}

Status Gpt2Tokenizer::Load(std::unique_ptr<Gpt2Tokenizer>* out) {
  std::unique_ptr<Gpt2Tokenizer> tok(new Gpt2Tokenizer());
  CPU_LLM_RETURN_IF_ERROR(ParseGpt2Vocab(EmbeddedGpt2EncoderJson(), EmbeddedGpt2VocabBpe(), &tok->vocab_));
  if (tok->vocab_.token_bytes.size() != static_cast<size_t>(kVocabSize) || tok->vocab_.eot != kEot)
    return RuntimeError("gpt2 tokenizer: embedded vocabulary has {} tokens and end-of-text {} (expected {} and {})",
                        tok->vocab_.token_bytes.size(), tok->vocab_.eot, kVocabSize, kEot);
  CPU_LLM_RETURN_IF_ERROR(Gpt2Pattern::Compile(&tok->pattern_));
  *out = std::move(tok);
  return Status();
}

std::vector<int32_t> Gpt2Tokenizer::Encode(std::string_view text) const {
  std::unique_ptr<Gpt2Session> session;
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!pool_.empty()) {
      session = std::move(pool_.back());
      pool_.pop_back();
    }
  }
  if (!session) session = NewSession();
  std::vector<int32_t> ids;
  session->Encode(text, &ids);
  std::lock_guard<std::mutex> lock(pool_mu_);
  pool_.push_back(std::move(session));
  return ids;
}

std::string Gpt2Tokenizer::Decode(int32_t token) const {
  if (token < 0 || token >= kVocabSize) return "";
  return vocab_.token_bytes[token];
}

Status LoadGpt2Tokenizer(std::unique_ptr<Tokenizer>* out) {
  std::unique_ptr<Gpt2Tokenizer> tok;
  CPU_LLM_RETURN_IF_ERROR(Gpt2Tokenizer::Load(&tok));
  *out = std::move(tok);
  return Status();
}

}  // namespace cpu_llm
