// A small deterministic random number generator. std::normal_distribution is
// implementation-defined, so the same seed would give different models on
// different standard libraries; this one gives the same bits everywhere.
#pragma once

#include <cmath>
#include <cstdint>

namespace cpu_llm {

class Rng {
 public:
  explicit Rng(uint64_t seed = 1) { Seed(seed); }

  void Seed(uint64_t seed) {
    // splitmix64 spreads a small seed over the whole state; state 0 is banned.
    state_ = seed + 0x9E3779B97F4A7C15ull;
    state_ = Mix(state_);
    if (state_ == 0) state_ = 0x9E3779B97F4A7C15ull;
  }

  // xorshift64* step.
  uint64_t NextU64() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1Dull;
  }
  // Uniform in [0, 1) with 24 random bits.
  float Uniform() { return static_cast<float>(NextU64() >> 40) / 16777216.0f; }
  // Standard normal by Box-Muller over two uniforms in (0, 1].
  float Normal() {
    double u1 = (static_cast<double>(NextU64() >> 11) + 1.0) / 9007199254740992.0;
    double u2 = static_cast<double>(NextU64() >> 11) / 9007199254740992.0;
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  }

  uint64_t state() const { return state_; }
  void set_state(uint64_t s) { state_ = s ? s : 0x9E3779B97F4A7C15ull; }

 private:
  static uint64_t Mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t state_ = 0;
};

}  // namespace cpu_llm
