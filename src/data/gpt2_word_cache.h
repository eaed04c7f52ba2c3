// Pre-token -> token ids cache for one encoding session. Text repeats its
// words, so most pre-tokens are found here and never reach BPE. Open
// addressing over flat arrays: a lookup touches one slot and two arenas, where
// a node-based map would chase a pointer per probe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cpu_llm {

class Gpt2WordCache {
 public:
  // Words longer than this are not cached (rare, and they would crowd the arenas).
  static constexpr size_t kMaxWordBytes = 128;

  // Appends the cached ids of `word` to *ids and returns true, or returns false.
  bool Lookup(std::string_view word, std::vector<int32_t>* ids) const;
  // Caches ids[first, end) for `word`. Once the cache holds kMaxWords it
  // starts over empty, so adversarial input cannot grow it without bound.
  void Insert(std::string_view word, const int32_t* first, size_t n);

 private:
  static constexpr size_t kMaxWords = size_t{1} << 17;
  struct Slot {
    uint64_t hash = 0;
    uint32_t key_offset = 0, ids_offset = 0;
    uint16_t key_len = 0, n_ids = 0;  // n_ids 0 marks an empty slot
  };
  static uint64_t Hash(std::string_view s);
  void Rehash(size_t capacity);

  std::vector<Slot> slots_;
  std::string keys_;
  std::vector<int32_t> ids_;
  size_t count_ = 0;
};

}  // namespace cpu_llm
