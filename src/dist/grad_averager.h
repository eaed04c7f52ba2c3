// Data-parallel gradient averaging (issue 9), overlapped with backward.
//
// Each rank runs backward on its own slice of the batch; the update needs the
// mean of the ranks' gradients. Backward tells the averager (a
// GradientListener) as parts of the gradient arena become final: the head,
// then each layer from the last to the first, then the embeddings. Each part
// is copied into a flat buffer, and once the parts copied since the last
// start hold bucket_floats (or the last part is in) their all-reduce starts,
// so the reduction of the late layers runs while the early layers' backward
// computes. The copy makes a bucket one message: a layer's tensors lie apart
// in llm.c's layout (every layer's qkvw, then every layer's attprojw, ...).
// Finish waits and writes sum / world back into the arena.
//
// Every rank builds the same plan from the config, so the buckets match
// message for message. The buffer is sized once, in Init.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "dist/communicator.h"
#include "model/gpt2.h"

namespace cpu_llm {

class GradientAverager final : public GradientListener {
 public:
  // grads: the model's gradient arena (num_params floats, llm.c layout).
  Status Init(Communicator* comm, const ModelConfig& cfg, float* grads, int64_t bucket_floats);

  // Before the backward whose gradients are averaged. `loss` (this rank's
  // mean) rides in the last bucket: the mean loss costs no message of its own.
  void Begin(float loss);
  void HeadReady() override;
  void LayerReady(int layer) override;
  void EmbeddingsReady() override;
  // Waits for the reductions; grads = mean over ranks, *mean_loss likewise.
  Status Finish(float* mean_loss);

  int num_buckets() const { return static_cast<int>(bucket_ends_.size()); }
  int64_t buffer_floats() const { return static_cast<int64_t>(buffer_.size()); }
  // Milliseconds the last Finish waited for the network.
  double wait_ms() const { return wait_ms_; }

 private:
  struct Slice {
    int64_t offset = 0, count = 0;  // in the gradient arena
  };
  struct Part {
    std::vector<Slice> slices;
    int64_t begin = 0;  // where its slices start in the buffer
  };
  // Copies part `index` (which must be the next) into the buffer and starts
  // the bucket it completes.
  void Ready(size_t index);

  Communicator* comm_ = nullptr;
  float* grads_ = nullptr;
  std::vector<Part> parts_;           // head, layers L-1..0, embeddings
  std::vector<size_t> bucket_ends_;   // a bucket ends after these parts
  std::vector<float> buffer_;         // every part, then the loss
  size_t next_part_ = 0, next_bucket_ = 0;
  int64_t bucket_begin_ = 0;
  Status error_;
  double wait_ms_ = 0.0;
};

}  // namespace cpu_llm
