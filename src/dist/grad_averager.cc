#include "dist/grad_averager.h"

#include <algorithm>
#include <cstring>

#include "core/timer.h"

namespace cpu_llm {
namespace {

// llm.c's tensor order (gpt2.h ParamView): the ones a layer owns one L-th of.
constexpr int kFirstLayerTensor = 2, kLastLayerTensor = 13;  // ln1w .. fcprojb
constexpr int kLnfw = 14, kLnfb = 15, kLmHead = 16, kWte = 0, kWpe = 1;

}  // namespace

Status GradientAverager::Init(Communicator* comm, const ModelConfig& cfg, float* grads, int64_t bucket_floats) {
  if (bucket_floats < 1) return UsageError("--bucket-mb: must be positive");
  comm_ = comm;
  grads_ = grads;
  const auto sizes = ParamSizes(cfg);
  int64_t offsets[kNumParamTensors] = {};
  for (int i = 1; i < kNumParamTensors; i++) offsets[i] = offsets[i - 1] + sizes[i - 1];
  auto whole = [&](std::initializer_list<int> tensors) {
    Part p;
    for (int t : tensors)
      if (sizes[t] > 0) p.slices.push_back({offsets[t], sizes[t]});
    return p;
  };
  parts_.clear();
  parts_.push_back(whole({kLnfw, kLnfb, kLmHead}));
  const int L = cfg.n_layer;
  for (int l = L - 1; l >= 0; l--) {
    Part p;
    for (int t = kFirstLayerTensor; t <= kLastLayerTensor; t++)
      if (sizes[t] > 0) p.slices.push_back({offsets[t] + l * (sizes[t] / L), sizes[t] / L});
    parts_.push_back(std::move(p));
  }
  parts_.push_back(whole({kWte, kWpe}));

  // Lay the parts out in the order they become final and cut buckets.
  bucket_ends_.clear();
  int64_t at = 0, in_bucket = 0;
  for (size_t i = 0; i < parts_.size(); i++) {
    parts_[i].begin = at;
    for (const Slice& s : parts_[i].slices) at += s.count;
    in_bucket += at - parts_[i].begin;
    if (in_bucket >= bucket_floats || i + 1 == parts_.size()) {
      bucket_ends_.push_back(i);
      in_bucket = 0;
    }
  }
  buffer_.assign(static_cast<size_t>(at) + 1, 0.0f);  // + the loss
  return Status();
}

void GradientAverager::Begin(float loss) {
  next_part_ = next_bucket_ = 0;
  bucket_begin_ = 0;
  error_ = Status();
  buffer_.back() = loss;
}

void GradientAverager::Ready(size_t index) {
  if (index != next_part_) {
    if (error_.ok()) error_ = RuntimeError("gradient averaging: part {} reported before part {}", index, next_part_);
    return;
  }
  next_part_++;
  float* out = buffer_.data() + parts_[index].begin;
  for (const Slice& s : parts_[index].slices) {
    std::memcpy(out, grads_ + s.offset, static_cast<size_t>(s.count) * sizeof(float));
    out += s.count;
  }
  if (index == bucket_ends_[next_bucket_]) {
    const bool last = index + 1 == parts_.size();
    const int64_t end = last ? static_cast<int64_t>(buffer_.size()) : out - buffer_.data();
    Status s = comm_->StartAllreduceSum(buffer_.data() + bucket_begin_, end - bucket_begin_);
    if (!s.ok() && error_.ok()) error_ = s;
    bucket_begin_ = end;
    next_bucket_++;
  }
  comm_->Progress();
}

void GradientAverager::HeadReady() { Ready(0); }
void GradientAverager::LayerReady(int layer) { Ready(parts_.size() - 2 - static_cast<size_t>(layer)); }
void GradientAverager::EmbeddingsReady() { Ready(parts_.size() - 1); }

Status GradientAverager::Finish(float* mean_loss) {
  Timer wait;
  Status s = comm_->WaitAll();
  wait_ms_ = wait.Ms();
  CPU_LLM_RETURN_IF_ERROR(error_);
  CPU_LLM_RETURN_IF_ERROR(s);
  if (next_part_ != parts_.size())
    return RuntimeError("gradient averaging: backward reported {} of {} parts", next_part_, parts_.size());
  const float inv = 1.0f / static_cast<float>(comm_->world());
  for (const Part& p : parts_) {
    const float* in = buffer_.data() + p.begin;
    for (const Slice& sl : p.slices) {
      float* g = grads_ + sl.offset;
      for (int64_t i = 0; i < sl.count; i++) g[i] = in[i] * inv;
      in += sl.count;
    }
  }
  *mean_loss = buffer_.back() * inv;
  return Status();
}

}  // namespace cpu_llm
