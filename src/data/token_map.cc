#include "data/token_map.h"

#include <cstring>

#include "core/file_io.h"

namespace cpu_llm {
namespace {

constexpr int kHeaderInts = 256;

}  // namespace

Status TokenMap::FromCounts(const std::vector<int64_t>& counts, int64_t min_count, int eot, TokenMap* map) {
  if (min_count < 1) return UsageError("--prune-vocab: the minimum count must be at least 1 (got {})", min_count);
  if (eot < 0 || eot >= static_cast<int>(counts.size()))
    return RuntimeError("vocabulary pruning: end-of-text id {} is outside the vocabulary ({})", eot, counts.size());
  map->min_count_ = min_count;
  map->to_source_.clear();
  for (size_t id = 0; id < counts.size(); id++)
    if (counts[id] >= min_count || static_cast<int>(id) == eot) map->to_source_.push_back(static_cast<int32_t>(id));
  map->IndexSources(static_cast<int>(counts.size()));
  return Status();
}

void TokenMap::IndexSources(int source_vocab) {
  to_model_.assign(source_vocab, unknown());
  for (size_t m = 0; m < to_source_.size(); m++) to_model_[to_source_[m]] = static_cast<int32_t>(m);
}

int64_t TokenMap::MapInPlace(int32_t* ids, int64_t n) const {
  int64_t unknowns = 0;
  const int32_t unk = unknown();
  for (int64_t i = 0; i < n; i++) {
    ids[i] = to_model_[ids[i]];
    unknowns += ids[i] == unk;
  }
  return unknowns;
}

Status TokenMap::Save(const std::string& path) const {
  int32_t h[kHeaderInts] = {kTokenMapMagic, 1, source_vocab(), model_vocab(), static_cast<int32_t>(min_count_)};
  AtomicFileWriter w(path);
  w.Write(h, sizeof(h));
  w.Write(to_source_.data(), to_source_.size() * sizeof(int32_t));
  return w.Finish();
}

Status TokenMap::Load(const std::string& path) {
  std::vector<uint8_t> bytes;
  CPU_LLM_RETURN_IF_ERROR(ReadFileBytes(path, &bytes));
  if (bytes.size() < kHeaderInts * sizeof(int32_t))
    return RuntimeError("{}: truncated vocabulary map: {} bytes, shorter than the header", path, bytes.size());
  int32_t h[kHeaderInts];
  std::memcpy(h, bytes.data(), sizeof(h));
  if (h[0] != kTokenMapMagic) return RuntimeError("{}: not a vocabulary map (magic {}, expected {})", path, h[0], kTokenMapMagic);
  if (h[1] != 1) return RuntimeError("{}: unsupported vocabulary map version {} (expected 1)", path, h[1]);
  const int32_t source = h[2], model = h[3];
  if (source < 1 || source > (1 << 24) || model < 2 || model > source + 1 || h[4] < 1)
    return RuntimeError("{}: corrupt vocabulary map header (vocabularies {} and {})", path, source, model);
  const uint64_t expected = sizeof(h) + static_cast<uint64_t>(model - 1) * sizeof(int32_t);
  if (bytes.size() != expected)
    return RuntimeError("{}: {} vocabulary map: {} bytes, expected {}", path,
                        bytes.size() < expected ? "truncated" : "corrupt", bytes.size(), expected);
  std::vector<int32_t> kept(model - 1);
  std::memcpy(kept.data(), bytes.data() + sizeof(h), kept.size() * sizeof(int32_t));
  for (size_t m = 0; m < kept.size(); m++)
    if (kept[m] < 0 || kept[m] >= source || (m > 0 && kept[m] <= kept[m - 1]))
      return RuntimeError("{}: corrupt vocabulary map (entry {} is {})", path, m, kept[m]);
  to_source_ = std::move(kept);
  min_count_ = h[4];
  IndexSources(source);
  return Status();
}

}  // namespace cpu_llm
