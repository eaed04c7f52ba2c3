#include "data/gpt2_word_cache.h"

#include <cstring>

namespace cpu_llm {

uint64_t Gpt2WordCache::Hash(std::string_view s) {
  // Eight bytes per multiply; words are short, so this beats a byte-wise hash.
  uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, s.data() + i, s.size() - i);
  h = (h ^ tail) * 0x94D049BB133111EBull;
  return h ^ (h >> 29);
}

bool Gpt2WordCache::Lookup(std::string_view word, std::vector<int32_t>* ids) const {
  if (slots_.empty() || word.size() > kMaxWordBytes) return false;
  const uint64_t h = Hash(word);
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.n_ids == 0) return false;
    if (s.hash == h && s.key_len == word.size() && std::memcmp(keys_.data() + s.key_offset, word.data(), word.size()) == 0) {
      ids->insert(ids->end(), ids_.data() + s.ids_offset, ids_.data() + s.ids_offset + s.n_ids);
      return true;
    }
  }
}

void Gpt2WordCache::Rehash(size_t capacity) {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(capacity, Slot{});
  for (const Slot& s : old) {
    if (s.n_ids == 0) continue;
    size_t i = s.hash & (capacity - 1);
    while (slots_[i].n_ids != 0) i = (i + 1) & (capacity - 1);
    slots_[i] = s;
  }
}

void Gpt2WordCache::Insert(std::string_view word, const int32_t* first, size_t n) {
  if (word.size() > kMaxWordBytes || n == 0 || n > word.size()) return;
  if (count_ >= kMaxWords) {
    slots_.clear();
    keys_.clear();
    ids_.clear();
    count_ = 0;
  }
  if (2 * (count_ + 1) > slots_.size()) Rehash(slots_.empty() ? 4096 : 2 * slots_.size());
  const uint64_t h = Hash(word);
  const size_t mask = slots_.size() - 1;
  size_t i = h & mask;
  while (slots_[i].n_ids != 0) i = (i + 1) & mask;
  Slot& s = slots_[i];
  s.hash = h;
  s.key_offset = static_cast<uint32_t>(keys_.size());
  s.key_len = static_cast<uint16_t>(word.size());
  s.ids_offset = static_cast<uint32_t>(ids_.size());
  s.n_ids = static_cast<uint16_t>(n);
  keys_.append(word);
  ids_.insert(ids_.end(), first, first + n);
  count_++;
}

}  // namespace cpu_llm
