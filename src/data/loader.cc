#include "data/loader.h"


namespace cpu_llm {

Status ParseDataAccess(const std::string& name, DataAccess* access) {
  if (name == "read") *access = DataAccess::kRead;
  else if (name == "mmap") *access = DataAccess::kMmap;
  else return UsageError("--data-access: unknown access '{}' (expected read or mmap)", name);
  return Status();
}

Status DataLoader::CheckSizes() {
  if (B_ <= 0) return UsageError("--batch: must be positive (got {})", B_);
  if (T_ <= 0) return UsageError("--seq-len: must be positive (got {})", T_);
  const int64_t need = (int64_t)B_ * T_ + 1;
  total_tokens_ = 0;
  for (const Source& s : sources_) {
    if (s.n_tokens < need)
      return RuntimeError("{}: {} tokens, fewer than one batch needs (B*T+1 = {})", s.name, s.n_tokens, need);
    total_tokens_ += s.n_tokens;
  }
  return Status();
}

Status DataLoader::OpenShards(const std::vector<std::string>& paths, int B, int T, int vocab_size,
                              TokenFileFormat format, DataAccess access) {
  if (paths.empty()) return UsageError("no data files given");
  format_ = format;
  access_ = access;
  sources_.clear();
  B_ = B;
  T_ = T;
  vocab_size_ = vocab_size;
  for (const std::string& p : paths) {
    uint64_t n = 0;
    CPU_LLM_RETURN_IF_ERROR(format == TokenFileFormat::kLlmc ? ReadShardHeader(p, &n) : ReadNanoGptHeader(p, &n));
    sources_.push_back({p, static_cast<int64_t>(n), true});
  }
  CPU_LLM_RETURN_IF_ERROR(CheckSizes());
  description_ = fmt::format("{} shard(s), {} tokens", sources_.size(), total_tokens_);
  loaded_ = -1;
  return Reset();
}

Status DataLoader::OpenTokens(std::vector<uint16_t> tokens, const std::string& name, int B, int T, int vocab_size) {
  sources_.clear();
  B_ = B;
  T_ = T;
  vocab_size_ = vocab_size;
  for (size_t i = 0; i < tokens.size(); i++)
    if (tokens[i] >= vocab_size)
      return RuntimeError("{}: token id {} at index {} is outside the vocabulary (0..{})", name, tokens[i], i,
                          vocab_size - 1);
  sources_.push_back({name, static_cast<int64_t>(tokens.size()), false});
  CPU_LLM_RETURN_IF_ERROR(CheckSizes());
  current_ = std::move(tokens);
  tokens_ = current_.data();
  loaded_ = 0;
  description_ = fmt::format("{}, {} tokens", name, total_tokens_);
  return Reset();
}

Status DataLoader::Load(int64_t source) {
  if (loaded_ == source) return Status();
  const Source& s = sources_[source];
  if (!s.on_disk) return Status();  // in-memory tokens are always loaded
  loaded_ = -1;
  if (access_ == DataAccess::kMmap) {
    CPU_LLM_RETURN_IF_ERROR(mapped_.Open(s.name));
    const uint64_t header = format_ == TokenFileFormat::kLlmc ? kShardHeaderBytes : 0;
    if (mapped_.size() != header + static_cast<uint64_t>(s.n_tokens) * sizeof(uint16_t))
      return RuntimeError("{}: shard changed since it was opened ({} bytes, expected {})", s.name, mapped_.size(),
                          header + static_cast<uint64_t>(s.n_tokens) * sizeof(uint16_t));
    // The header is 1024 bytes and mappings are page-aligned: the tokens are aligned for uint16_t.
    tokens_ = reinterpret_cast<const uint16_t*>(mapped_.data() + header);
  } else {
    CPU_LLM_RETURN_IF_ERROR(format_ == TokenFileFormat::kLlmc ? ReadShard(s.name, vocab_size_, &current_)
                                                             : ReadNanoGpt(s.name, vocab_size_, &current_));
    if (static_cast<int64_t>(current_.size()) != s.n_tokens)
      return RuntimeError("{}: shard changed since it was opened ({} tokens, was {})", s.name, current_.size(),
                          s.n_tokens);
    tokens_ = current_.data();
  }
  loaded_ = source;
  return Status();
}

Status DataLoader::Seek(const LoaderPosition& pos) {
  if (pos.source < 0 || pos.source >= num_sources())
    return RuntimeError("data position: source {} does not exist (have {})", pos.source, num_sources());
  if (pos.offset < 0 || pos.offset + (int64_t)B_ * T_ + 1 > sources_[pos.source].n_tokens)
    return RuntimeError("data position: offset {} is outside {}", pos.offset, sources_[pos.source].name);
  pos_ = pos;
  return Load(pos.source);
}

Status DataLoader::Next(int32_t* inputs, int32_t* targets) {
  const int64_t n = (int64_t)B_ * T_;
  CPU_LLM_RETURN_IF_ERROR(Load(pos_.source));
  const uint16_t* p = tokens_ + pos_.offset;
  if (access_ == DataAccess::kMmap && sources_[pos_.source].on_disk) {
    CPU_LLM_RETURN_IF_ERROR(mapped_.CheckSize());
    for (int64_t i = 0; i <= n; i++)
      if (p[i] >= vocab_size_)
        return RuntimeError("{}: token id {} at index {} is outside the vocabulary (0..{})",
                            sources_[pos_.source].name, p[i], pos_.offset + i, vocab_size_ - 1);
  }
  for (int64_t i = 0; i < n; i++) {
    inputs[i] = p[i];
    targets[i] = p[i + 1];
  }
  pos_.offset += n;
  if (pos_.offset + n + 1 > sources_[pos_.source].n_tokens) {
    pos_.offset = 0;
    pos_.source++;
    if (pos_.source == num_sources()) {
      pos_.source = 0;
      pos_.epoch++;
    }
  }
  return Status();
}

}  // namespace cpu_llm
