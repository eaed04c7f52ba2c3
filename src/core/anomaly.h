// Anomaly detection (`train --detect-anomaly`, and the trainer's replay of a
// step that went non-finite): the model hands the output of each op to
// Check as it is computed, and the first one holding an inf or NaN is kept,
// so a blow-up is traced to the op where it started rather than to the loss
// where it ends. Off (Context::anomaly null), a check is one branch.
#pragma once

#include <cstdint>
#include <string>

namespace cpu_llm {

class AnomalyDetector {
 public:
  // out (n floats) is what `op` of `layer` (-1: outside the blocks) just
  // wrote into `tensor`, in the forward (backward = false) or backward pass.
  // Only the first non-finite output is kept; the later ones follow from it.
  void Check(bool backward, int layer, const char* op, const char* tensor, const float* out, int64_t n);

  bool found() const { return found_; }
  // "forward, layer 1, matmul qkv: qkv holds 96 non-finite values of 1536
  // (first: nan at 5)"; empty when nothing was found.
  std::string Describe() const;
  void Reset() { *this = AnomalyDetector(); }

 private:
  bool found_ = false;
  bool backward_ = false;
  int layer_ = -1;
  const char* op_ = "";
  const char* tensor_ = "";
  int64_t count_ = 0, n_ = 0, first_ = 0;
  float first_value_ = 0.0f;
};

// The first index in x[0..n) that is inf or NaN, or -1.
int64_t FirstNonFinite(const float* x, int64_t n);

}  // namespace cpu_llm
