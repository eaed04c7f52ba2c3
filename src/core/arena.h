// A single 64-byte-aligned float allocation carved into named tensors. The
// model sizes each arena once (parameters, gradients, activations, optimizer
// state) so a training step never allocates.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace cpu_llm {

class FloatArena {
 public:
  FloatArena() = default;
  explicit FloatArena(size_t n_floats) { Resize(n_floats); }

  void Resize(size_t n_floats) {
    size_ = n_floats;
    // Round the byte count up to the alignment, as aligned_alloc requires.
    size_t bytes = ((n_floats * sizeof(float) + 63) / 64) * 64;
    data_.reset(static_cast<float*>(std::aligned_alloc(64, bytes ? bytes : 64)));
    if (!data_) throw std::bad_alloc();
    std::memset(data_.get(), 0, bytes ? bytes : 64);
  }
  void Zero() { std::memset(data_.get(), 0, size_ * sizeof(float)); }

  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  size_t size() const { return size_; }
  size_t bytes() const { return size_ * sizeof(float); }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  size_t size_ = 0;
};

}  // namespace cpu_llm
