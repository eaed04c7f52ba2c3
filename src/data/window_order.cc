#include "data/window_order.h"

#include <algorithm>

#include "core/rng.h"

namespace cpu_llm {
namespace {

uint64_t Mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t EpochKey(uint64_t seed, int64_t epoch) { return Mix64(seed ^ Mix64(static_cast<uint64_t>(epoch) + 1)); }

}  // namespace

uint64_t PermuteIndex(uint64_t index, uint64_t n, uint64_t key) {
  if (n <= 1) return 0;
  int bits = 2;
  while (bits < 64 && (uint64_t{1} << bits) < n) bits += 2;
  const int half = bits / 2;
  const uint64_t mask = (uint64_t{1} << half) - 1;
  uint64_t x = index;
  do {  // cycle-walking: x < n on entry, so the walk ends back inside [0, n)
    uint64_t left = x >> half, right = x & mask;
    for (int round = 0; round < 4; round++) {
      const uint64_t f = Mix64(right ^ Mix64(key + static_cast<uint64_t>(round))) & mask;
      const uint64_t next_right = left ^ f;
      left = right;
      right = next_right;
    }
    x = (left << half) | right;
  } while (x >= n);
  return x;
}

Status WindowOrder::Init(const std::vector<int64_t>& windows_per_source, const WindowOrderOptions& opt) {
  if (opt.world < 1 || opt.rank < 0 || opt.rank >= opt.world)
    return UsageError("data rank {} of {} processes does not exist", opt.rank, opt.world);
  opt_ = opt;
  windows_ = windows_per_source;
  total_windows_ = 0;
  for (int64_t w : windows_) total_windows_ += w;
  batches_per_epoch_ = total_windows_ / opt.world;
  if (batches_per_epoch_ == 0)
    return RuntimeError("the data has {} batches, fewer than the {} processes sharing it", total_windows_, opt.world);
  prepared_epoch_ = -1;
  return Status();
}

void WindowOrder::PrepareEpoch(int64_t epoch) {
  const int64_t n = static_cast<int64_t>(windows_.size());
  source_order_.resize(n);
  for (int64_t i = 0; i < n; i++) source_order_[i] = i;
  if (opt_.shuffle) {  // Fisher-Yates, from the epoch's own generator
    Rng rng(EpochKey(opt_.seed, epoch));
    for (int64_t i = n - 1; i > 0; i--) std::swap(source_order_[i], source_order_[rng.NextU64() % (i + 1)]);
  }
  starts_.resize(n + 1);
  starts_[0] = 0;
  for (int64_t i = 0; i < n; i++) starts_[i + 1] = starts_[i] + windows_[source_order_[i]];
  prepared_epoch_ = epoch;
}

WindowOrder::Window WindowOrder::At(int64_t epoch, int64_t batch) {
  if (epoch != prepared_epoch_) PrepareEpoch(epoch);
  const int64_t seq = batch * opt_.world + opt_.rank;
  // The slot whose range of sequence indices holds seq.
  const int64_t slot = std::upper_bound(starts_.begin(), starts_.end(), seq) - starts_.begin() - 1;
  Window w;
  w.source = source_order_[slot];
  w.index = seq - starts_[slot];
  if (opt_.shuffle)
    w.index = static_cast<int64_t>(PermuteIndex(static_cast<uint64_t>(w.index), static_cast<uint64_t>(windows_[w.source]),
                                                EpochKey(opt_.seed, epoch) ^ Mix64(static_cast<uint64_t>(w.source))));
  return w;
}

}  // namespace cpu_llm
