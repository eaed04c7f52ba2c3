// Plan item 7: batches read on a background thread. While the step computes,
// the thread fills a ring of the next `depth` batches from any BatchSource
// (shard windows, or raw text it tokenizes), so the step finds its batch
// ready instead of waiting for disk or the tokenizer. The batches and their
// order are exactly the source's; position() is that of the next batch the
// consumer takes, not of the thread's read-ahead, so checkpoints resume at
// the same token.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "data/batch_source.h"

namespace cpu_llm {

// "sync" (the step reads its own batches) or "async" (AsyncLoader).
enum class LoaderMode { kSync, kAsync };
Status ParseLoaderMode(const std::string& name, LoaderMode* mode);

class AsyncLoader final : public BatchSource {
 public:
  AsyncLoader() = default;
  ~AsyncLoader() override { Stop(); }
  AsyncLoader(const AsyncLoader&) = delete;
  AsyncLoader& operator=(const AsyncLoader&) = delete;

  // Starts reading from `source` (which the loader owns the use of from now
  // on; it must outlive it) at the source's current position.
  Status Start(BatchSource* source, int B, int T, int depth);

  // Takes the next batch; an error the thread met is returned here, in
  // order, after the batches read before it.
  Status Next(int32_t* inputs, int32_t* targets) override;
  // Stops the thread, moves the source, starts again.
  Status Seek(const LoaderPosition& pos) override;
  LoaderPosition position() const override { return position_; }
  std::string description() const override;

  // Nanoseconds Next has spent waiting for the thread: the data wait that is
  // left after overlapping.
  int64_t wait_ns() const { return wait_ns_; }

 private:
  struct Slot {
    std::vector<int32_t> inputs, targets;
    Status status;
    LoaderPosition after;  // the source's position after this batch
  };
  void Run();
  void Stop();
  size_t LowWater() const { return ring_.size() / 2; }

  BatchSource* source_ = nullptr;
  size_t n_ = 0;  // B*T
  std::vector<Slot> ring_;
  std::mutex mu_;
  std::condition_variable filled_cv_, freed_cv_;
  size_t head_ = 0, count_ = 0;  // next slot to take; slots filled and not taken
  bool stop_ = false;
  std::thread thread_;
  LoaderPosition position_;
  int64_t wait_ns_ = 0;
};

}  // namespace cpu_llm
