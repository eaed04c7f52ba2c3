// The train/val split used by `prepare` and by training on the bundled
// corpus: the token stream is cut into blocks of kSplitBlockTokens, and each
// block goes to val with probability val_fraction, decided by a hash of its
// index and the seed. Deterministic, needs no look-ahead (works on streams of
// any length), and spreads val over the whole corpus instead of taking its tail.
#pragma once

#include <cstdint>

namespace cpu_llm {

constexpr int64_t kSplitBlockTokens = 1024;

inline bool IsValBlock(int64_t block, double val_fraction, uint64_t seed) {
  uint64_t z = static_cast<uint64_t>(block) + seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) / 9007199254740992.0 < val_fraction;
}

}  // namespace cpu_llm
