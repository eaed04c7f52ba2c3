#include "data/async_loader.h"

#include <algorithm>
#include <chrono>

namespace cpu_llm {

Status ParseLoaderMode(const std::string& name, LoaderMode* mode) {
  if (name == "sync") *mode = LoaderMode::kSync;
  else if (name == "async") *mode = LoaderMode::kAsync;
  else return UsageError("--loader: unknown loader '{}' (expected sync or async)", name);
  return Status();
}

Status AsyncLoader::Start(BatchSource* source, int B, int T, int depth) {
  if (depth < 1) return UsageError("--loader-depth: must be at least 1 (got {})", depth);
  Stop();
  source_ = source;
  n_ = static_cast<size_t>(B) * T;
  ring_.resize(depth);
  for (Slot& s : ring_) {
    s.inputs.resize(n_);
    s.targets.resize(n_);
  }
  head_ = count_ = 0;
  stop_ = false;
  position_ = source->position();
  thread_ = std::thread([this] { Run(); });
  return Status();
}

void AsyncLoader::Stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  freed_cv_.notify_all();
  thread_.join();
}

// Once the ring is full the thread sleeps until half of it is free, then
// refills it in one go: one wake-up per depth/2 batches instead of one per
// batch (a wake-up costs the consumer a futex call, tens of microseconds in
// a VM, and the step is what waits for it).
void AsyncLoader::Run() {
  size_t tail = head_;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (count_ == ring_.size()) freed_cv_.wait(lock, [&] { return stop_ || count_ <= LowWater(); });
      if (stop_) return;
    }
    // The slot at tail is free: only this thread touches it until it is counted.
    Slot& slot = ring_[tail];
    slot.status = source_->Next(slot.inputs.data(), slot.targets.data());
    slot.after = source_->position();
    const bool failed = !slot.status.ok();
    {
      std::lock_guard<std::mutex> lock(mu_);
      count_++;
    }
    filled_cv_.notify_one();
    tail = (tail + 1) % ring_.size();
    if (failed) return;  // the error reaches the consumer in order; nothing after it
  }
}

Status AsyncLoader::Next(int32_t* inputs, int32_t* targets) {
  if (!source_) return RuntimeError("async loader: not started");
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (count_ == 0) {
      const auto t0 = std::chrono::steady_clock::now();
      filled_cv_.wait(lock, [&] { return count_ > 0; });
      wait_ns_ += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
    }
  }
  Slot& slot = ring_[head_];
  if (!slot.status.ok()) return slot.status;  // stays at the head: the error repeats
  std::copy(slot.inputs.begin(), slot.inputs.end(), inputs);
  std::copy(slot.targets.begin(), slot.targets.end(), targets);
  position_ = slot.after;
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    head_ = (head_ + 1) % ring_.size();
    count_--;
    wake = count_ == LowWater();
  }
  if (wake) freed_cv_.notify_one();
  return Status();
}

Status AsyncLoader::Seek(const LoaderPosition& pos) {
  if (!source_) return RuntimeError("async loader: not started");
  Stop();
  Status s = source_->Seek(pos);
  if (!s.ok()) {  // nothing read ahead is valid now: the error is all that is left
    head_ = 0;
    count_ = 1;
    ring_[0].status = s;
    return s;
  }
  return Start(source_, 1, static_cast<int>(n_), static_cast<int>(ring_.size()));
}

std::string AsyncLoader::description() const {
  return source_ ? fmt::format("{}, read {} batches ahead on a thread", source_->description(), ring_.size()) : "";
}

}  // namespace cpu_llm
