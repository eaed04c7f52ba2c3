// `bench --data-io`: plan items 2 (memory-mapped shards) and 7 (asynchronous
// loading) measured on a generated dataset bigger than a small machine would
// want to hold in RAM (8 x 1 GB llm.c shards, and the same tokens as one 8 GB
// headerless file), deleted afterwards. Every run starts from a cold page
// cache for the data (the files' pages are dropped with posix_fadvise, and
// the share still resident is recorded), because a dataset larger than RAM
// is read from disk, not from cache.
//
// Parts (each a list of runs, alternating the sides compared):
//   growth  read vs mmap, `cpu_llm train` children on 1, 2, 4 ... shards:
//           set-up time (to the first step) and peak RSS
//   single  read vs mmap on the one big file (offsets past 4 GiB)
//   advice  the loader alone, in this process: madvise normal / sequential /
//           random, windows in order and shuffled, MB/s and RSS growth,
//           and the same with mapped pages kept instead of released
//   loader  sync vs async `train` on the mapped shards, shuffled: the step's
//           data-wait share and tokens/s
//   text    sync vs async `train` on raw text tokenized on the fly
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace cpu_llm {

struct DataIoOptions {
  std::string parent_dir;  // where the data is generated (default: the temporary folder)
  int shards = 8;
  int64_t shard_tokens = 500'000'000;  // 1 GB each
  int runs = 3;                        // per side of each comparison
  int steps = 60;                      // per train run
  int threads = 0;                     // train children (0: all cores)
  std::vector<std::string> parts = {"growth", "single", "advice", "loader", "text"};
};

Status RunDataIo(const DataIoOptions& opt, nlohmann::json* out);

// Console summary and the report's sections (medians over the runs).
std::string DataIoTable(const nlohmann::json& result);
std::string DataIoMmapSection(const nlohmann::json& result);   // plan item 2
std::string DataIoAsyncSection(const nlohmann::json& result);  // plan item 7

}  // namespace cpu_llm
