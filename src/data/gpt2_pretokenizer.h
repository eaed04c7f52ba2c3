// GPT-2 pre-tokenisation: cutting text into the pieces BPE runs on, with the
// reference's regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// run by PCRE2 (UTF, UCP, JIT). Two things differ from a literal translation,
// both so that PCRE2 cuts exactly where JavaScript does:
//  - \s is spelled out as JavaScript's whitespace set. PCRE2's \s also takes
//    U+0085 and U+180E and leaves out U+FEFF, which JavaScript's does not.
//  - \p{L} and \p{N} are widened by the letters and digits Unicode added after
//    the Unicode version of the PCRE2 we build against (Debian 12's 10.42 is
//    Unicode 14; the node that made the fixtures is Unicode 17).
// A test checks every code point's class against a table dumped from node.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace cpu_llm {

// The compiled pattern. Immutable once made, so threads share one.
class Gpt2Pattern {
 public:
  static Status Compile(std::unique_ptr<Gpt2Pattern>* out);
  ~Gpt2Pattern();
  Gpt2Pattern(const Gpt2Pattern&) = delete;
  Gpt2Pattern& operator=(const Gpt2Pattern&) = delete;
  // False where PCRE2 has no JIT for this machine; matching then uses the interpreter.
  bool jit() const;
  // The pattern text handed to PCRE2.
  static std::string Source();

 private:
  friend class Gpt2Splitter;
  struct Impl;
  explicit Gpt2Pattern(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Per-thread match state (PCRE2 match data and JIT stack) over a shared pattern.
class Gpt2Splitter {
 public:
  explicit Gpt2Splitter(const Gpt2Pattern& pattern);  // throws std::bad_alloc like any allocation
  ~Gpt2Splitter();
  Gpt2Splitter(const Gpt2Splitter&) = delete;
  Gpt2Splitter& operator=(const Gpt2Splitter&) = delete;

  // End of the pre-token that starts at text[pos]. `text` must be valid UTF-8
  // and pos < text.size() must be at a character boundary.
  size_t Next(std::string_view text, size_t pos);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cpu_llm
