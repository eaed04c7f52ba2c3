// A single 64-byte-aligned allocation of floats (or of 16-bit values, for
// mixed precision) carved into named tensors. The model sizes each arena once
// (parameters, gradients, activations, optimizer state) so a training step
// never allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace cpu_llm {

template <typename T>
class Arena {
 public:
  Arena() = default;
  explicit Arena(size_t n) { Resize(n); }

  void Resize(size_t n) {
    size_ = n;
    // Round the byte count up to the alignment, as aligned_alloc requires.
    size_t bytes = ((n * sizeof(T) + 63) / 64) * 64;
    data_.reset(static_cast<T*>(std::aligned_alloc(64, bytes ? bytes : 64)));
    if (!data_) throw std::bad_alloc();
    std::memset(data_.get(), 0, bytes ? bytes : 64);
  }
  void Zero() { std::memset(data_.get(), 0, size_ * sizeof(T)); }

  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  size_t size() const { return size_; }
  size_t bytes() const { return size_ * sizeof(T); }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T, Free> data_;
  size_t size_ = 0;
};

using FloatArena = Arena<float>;
using HalfArena = Arena<uint16_t>;  // bf16 or fp16 bit patterns

}  // namespace cpu_llm
