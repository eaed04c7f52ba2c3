// Byte-level BPE on one pre-token, with the reference encoder's merge order.
//
// Each round the reference takes the lowest rank among the adjacent pairs; if
// several different pairs share it (only possible through the comma-keyed
// ranks, see gpt2_vocab.h) it takes the rightmost one, then merges every
// occurrence of that pair left to right without overlap, and starts a new
// round. Pairs formed by a merge only count from the next round. We keep that
// order but find the lowest rank with a heap instead of rescanning the word,
// so a long word costs O(n log n) rather than O(n^2).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "data/gpt2_vocab.h"

namespace cpu_llm {

// Reused from word to word so that merging allocates nothing once warm.
struct Gpt2BpeScratch {
  struct Pair {
    int32_t rank, node, left, right, merged;
  };
  std::vector<int32_t> sym, next, prev;
  std::vector<Pair> heap, round;
};

// Appends the token ids of `word` (raw bytes, not empty) to *ids.
void Gpt2BpeWord(const Gpt2Vocab& vocab, std::string_view word, Gpt2BpeScratch* scratch, std::vector<int32_t>* ids);

}  // namespace cpu_llm
