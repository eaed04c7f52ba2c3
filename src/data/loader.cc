#include "data/loader.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "core/file_io.h"

namespace cpu_llm {

Status ParseDataAccess(const std::string& name, DataAccess* access) {
  if (name == "read") *access = DataAccess::kRead;
  else if (name == "mmap") *access = DataAccess::kMmap;
  else return UsageError("--data-access: unknown access '{}' (expected read or mmap)", name);
  return Status();
}

// Checks the batch shape and that every source holds a batch, then numbers
// the windows.
Status DataLoader::Configure(const LoaderOptions& opt) {
  if (opt.B <= 0) return UsageError("--batch: must be positive (got {})", opt.B);
  if (opt.T <= 0) return UsageError("--seq-len: must be positive (got {})", opt.T);
  opt_ = opt;
  const int64_t n = static_cast<int64_t>(opt.B) * opt.T;
  total_tokens_ = 0;
  std::vector<int64_t> windows;
  for (const Source& s : sources_) {
    if (s.n_tokens < n + 1)
      return RuntimeError("{}: {} tokens, fewer than one batch needs (B*T+1 = {})", s.name, s.n_tokens, n + 1);
    total_tokens_ += s.n_tokens;
    windows.push_back((s.n_tokens - 1) / n);
  }
  CPU_LLM_RETURN_IF_ERROR(order_.Init(windows, opt.order));
  pos_ = LoaderPosition{};
  return Status();
}

Status DataLoader::OpenShards(const std::vector<std::string>& paths, const LoaderOptions& opt) {
  if (paths.empty()) return UsageError("no data files given");
  sources_.clear();
  loaded_ = -1;
  tokens_ = nullptr;
  for (const std::string& p : paths) {
    uint64_t n = 0;
    CPU_LLM_RETURN_IF_ERROR(opt.format == TokenFileFormat::kLlmc ? ReadShardHeader(p, &n) : ReadNanoGptHeader(p, &n));
    sources_.push_back({p, static_cast<int64_t>(n), true});
  }
  CPU_LLM_RETURN_IF_ERROR(Configure(opt));
  description_ = fmt::format("{} shard(s), {} tokens{}", sources_.size(), total_tokens_,
                             opt.order.shuffle ? ", shuffled" : "");
  return Reset();
}

Status DataLoader::OpenTokens(std::vector<uint16_t> tokens, const std::string& name, const LoaderOptions& opt) {
  sources_.clear();
  for (size_t i = 0; i < tokens.size(); i++)
    if (tokens[i] >= opt.vocab_size)
      return RuntimeError("{}: token id {} at index {} is outside the vocabulary (0..{})", name, tokens[i], i,
                          opt.vocab_size - 1);
  sources_.push_back({name, static_cast<int64_t>(tokens.size()), false});
  CPU_LLM_RETURN_IF_ERROR(Configure(opt));
  current_ = std::move(tokens);
  tokens_ = current_.data();
  loaded_ = 0;
  description_ = fmt::format("{}, {} tokens{}", name, total_tokens_, opt.order.shuffle ? ", shuffled" : "");
  return Reset();
}

Status DataLoader::Load(int64_t source) {
  if (loaded_ == source) return Status();
  const Source& s = sources_[source];
  if (!s.on_disk) return Status();  // in-memory tokens are always loaded
  loaded_ = -1;
  if (opt_.access == DataAccess::kMmap) {
    const uint64_t want = WindowByte(0) + static_cast<uint64_t>(s.n_tokens) * sizeof(uint16_t);
    CPU_LLM_RETURN_IF_ERROR(mapped_.Open(s.name));
    if (mapped_.size() != want)
      return RuntimeError("{}: shard changed since it was opened ({} bytes, expected {})", s.name, mapped_.size(), want);
    CPU_LLM_RETURN_IF_ERROR(PointAtMapping());
  } else {
    CPU_LLM_RETURN_IF_ERROR(opt_.format == TokenFileFormat::kLlmc ? ReadShard(s.name, opt_.vocab_size, &current_)
                                                                 : ReadNanoGpt(s.name, opt_.vocab_size, &current_));
    if (static_cast<int64_t>(current_.size()) != s.n_tokens)
      return RuntimeError("{}: shard changed since it was opened ({} tokens, was {})", s.name, current_.size(),
                          s.n_tokens);
    tokens_ = current_.data();
  }
  loaded_ = source;
  PrefetchAhead(0, opt_.prefetch_windows);  // mapped shards only
  return Status();
}

Status DataLoader::PointAtMapping() {
  CPU_LLM_RETURN_IF_ERROR(mapped_.Advise(opt_.advice));
  // The header is 1024 bytes and mappings are page-aligned: the tokens are aligned for uint16_t.
  tokens_ = reinterpret_cast<const uint16_t*>(mapped_.data() + WindowByte(0));
  mapped_since_remap_ = 0;
  return Status();
}

uint64_t DataLoader::WindowByte(int64_t index) const {
  const uint64_t header = opt_.format == TokenFileFormat::kLlmc ? kShardHeaderBytes : 0;
  return header + static_cast<uint64_t>(index) * opt_.B * opt_.T * sizeof(uint16_t);
}

void DataLoader::PrefetchAhead(int64_t from, int64_t count) {
  if (opt_.access != DataAccess::kMmap || loaded_ < 0 || !sources_[loaded_].on_disk) return;
  const uint64_t window_bytes = (static_cast<uint64_t>(opt_.B) * opt_.T + 1) * sizeof(uint16_t);
  for (int64_t k = from; k < from + count; k++) {
    LoaderPosition p = pos_;
    p.batch += k;
    p.epoch += p.batch / order_.batches_per_epoch();
    p.batch %= order_.batches_per_epoch();
    const WindowOrder::Window w = order_.At(p.epoch, p.batch);
    if (w.source == loaded_) mapped_.Prefetch(WindowByte(w.index), window_bytes);
  }
}

Status DataLoader::Seek(const LoaderPosition& pos) {
  if (pos.epoch < 0 || pos.batch < 0 || pos.batch >= order_.batches_per_epoch())
    return RuntimeError("data position: batch {} of epoch {} does not exist ({} batches per epoch)", pos.batch,
                        pos.epoch, order_.batches_per_epoch());
  pos_ = LoaderPosition{};
  pos_.epoch = pos.epoch;
  pos_.batch = pos.batch;
  return Load(next_window().source);
}

Status DataLoader::InOrderPosition(int64_t source, int64_t offset, int64_t epoch, LoaderPosition* pos) const {
  const int64_t n = static_cast<int64_t>(opt_.B) * opt_.T;
  if (source < 0 || source >= num_sources())
    return RuntimeError("data position: source {} does not exist (have {})", source, num_sources());
  if (offset < 0 || offset % n != 0 || offset + n + 1 > sources_[source].n_tokens)
    return RuntimeError("data position: offset {} is not a batch of {}", offset, sources_[source].name);
  pos->epoch = epoch;
  pos->batch = offset / n;
  for (int64_t s = 0; s < source; s++) pos->batch += (sources_[s].n_tokens - 1) / n;
  return Status();
}

Status DataLoader::CountTokens(std::vector<int64_t>* counts) const {
  auto count = [&](const Source& s, const uint16_t* p, int64_t n, int64_t first) -> Status {
    for (int64_t i = 0; i < n; i++) {
      if (p[i] >= counts->size())
        return RuntimeError("{}: token id {} at index {} is outside the vocabulary (0..{})", s.name, p[i], first + i,
                            counts->size() - 1);
      (*counts)[p[i]]++;
    }
    return Status();
  };
  // Files are read in blocks: memory stays one block whatever their size.
  std::vector<uint16_t> block(std::min<int64_t>(int64_t{1} << 22, total_tokens_));
  for (const Source& s : sources_) {
    if (!s.on_disk) {
      CPU_LLM_RETURN_IF_ERROR(count(s, current_.data(), s.n_tokens, 0));
      continue;
    }
    std::FILE* f = std::fopen(s.name.c_str(), "rb");
    if (!f) return RuntimeError("{}: cannot open: {}", s.name, ErrnoText(errno));
    Status st;
    if (::fseeko(f, static_cast<off_t>(WindowByte(0)), SEEK_SET) != 0)
      st = RuntimeError("{}: cannot seek: {}", s.name, ErrnoText(errno));
    for (int64_t done = 0; st.ok() && done < s.n_tokens; done += static_cast<int64_t>(block.size())) {
      const size_t want = static_cast<size_t>(std::min<int64_t>(block.size(), s.n_tokens - done));
      if (std::fread(block.data(), sizeof(uint16_t), want, f) != want)
        st = RuntimeError("{}: read failed or the shard shrank while being counted", s.name);
      else
        st = count(s, block.data(), static_cast<int64_t>(want), done);
    }
    std::fclose(f);
    CPU_LLM_RETURN_IF_ERROR(st);
  }
  return Status();
}

Status DataLoader::Next(int32_t* inputs, int32_t* targets) {
  const int64_t n = static_cast<int64_t>(opt_.B) * opt_.T;
  const WindowOrder::Window w = next_window();
  const Source& src = sources_[w.source];
  CPU_LLM_RETURN_IF_ERROR(Load(w.source));
  const int64_t offset = w.index * n;
  const uint16_t* p = tokens_ + offset;
  if (opt_.access == DataAccess::kMmap && src.on_disk) {
    CPU_LLM_RETURN_IF_ERROR(mapped_.CheckSize());
    for (int64_t i = 0; i <= n; i++)
      if (p[i] >= opt_.vocab_size)
        return RuntimeError("{}: token id {} at index {} is outside the vocabulary (0..{})", src.name, p[i],
                            offset + i, opt_.vocab_size - 1);
  }
  for (int64_t i = 0; i < n; i++) {
    inputs[i] = p[i];
    targets[i] = p[i + 1];
  }
  if (opt_.access == DataAccess::kMmap && src.on_disk && opt_.resident_budget_bytes > 0) {
    // A fault maps up to 16 pages around the one touched (fault-around).
    mapped_since_remap_ += static_cast<uint64_t>(n + 1) * sizeof(uint16_t) + (64 << 10);
    if (mapped_since_remap_ >= opt_.resident_budget_bytes) {
      CPU_LLM_RETURN_IF_ERROR(mapped_.Remap());
      CPU_LLM_RETURN_IF_ERROR(PointAtMapping());
    }
  }
  if (++pos_.batch == order_.batches_per_epoch()) {
    pos_.batch = 0;
    pos_.epoch++;
  }
  // The window entering the prefetch distance (the ones before it were hinted already).
  if (opt_.prefetch_windows > 0) PrefetchAhead(opt_.prefetch_windows - 1, 1);
  return Status();
}

}  // namespace cpu_llm
