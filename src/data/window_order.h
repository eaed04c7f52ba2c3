// The order in which a loader visits the windows (batches) of its sources.
//
// Source s holds windows 0..n_s-1 (window w is tokens [w*B*T, (w+1)*B*T]).
// An epoch is one sequence of all windows: source by source, each source's
// windows together, so a loader that reads one shard at a time touches each
// shard once per epoch. In order, sources and windows come first to last.
// Shuffled, epoch e visits the sources in a permutation drawn from (seed, e)
// and each source's windows in a permutation drawn from (seed, e, source):
// deterministic, different every epoch, and kept in O(number of sources)
// memory whatever the size of the data (a keyed bijection, not a table).
//
// With `world` processes, rank r takes sequence positions r, r+world,
// r+2*world, ...; every rank gets floor(windows / world) batches per epoch
// (the remainder is left out), so ranks stay in step and never share a window.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"

namespace cpu_llm {

struct WindowOrderOptions {
  bool shuffle = false;
  uint64_t seed = 0;
  int rank = 0, world = 1;
};

// A bijection of [0, n) chosen by `key`: a four-round Feistel network over
// the smallest even power-of-two domain >= n, walking the cycle until the
// value falls back inside [0, n) (under four steps on average).
uint64_t PermuteIndex(uint64_t index, uint64_t n, uint64_t key);

class WindowOrder {
 public:
  Status Init(const std::vector<int64_t>& windows_per_source, const WindowOrderOptions& opt);

  // Where batch `batch` (0-based, of this rank) of epoch `epoch` comes from.
  struct Window {
    int64_t source = 0;
    int64_t index = 0;  // window index inside the source
  };
  Window At(int64_t epoch, int64_t batch);

  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  int64_t total_windows() const { return total_windows_; }

 private:
  void PrepareEpoch(int64_t epoch);

  WindowOrderOptions opt_;
  std::vector<int64_t> windows_;  // per source
  int64_t total_windows_ = 0, batches_per_epoch_ = 0;
  // The epoch the two tables below describe.
  int64_t prepared_epoch_ = -1;
  std::vector<int64_t> source_order_;  // sequence slot -> source
  std::vector<int64_t> starts_;        // sequence index of each slot's first window, plus the total
};

}  // namespace cpu_llm
