#include "data/gpt2_pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <new>

#include "data/utf8.h"

namespace cpu_llm {

namespace {

// JavaScript's \s: WhiteSpace plus LineTerminator.
constexpr const char* kJsSpace =
    "\\t\\n\\x0B\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}";

// Letters and digits of Unicode 15.0-17.0 that Unicode 14 (PCRE2 10.42) does
// not know: the difference between node's /\p{L}/u and /\p{N}/u and PCRE2's.
// Harmless when PCRE2 already knows them.
constexpr const char* kNewLetters =
    "\\x{88F}\\x{C5C}\\x{CDC}\\x{1C89}-\\x{1C8A}\\x{A7CB}-\\x{A7CF}\\x{A7D2}\\x{A7D4}"
    "\\x{A7DA}-\\x{A7DC}\\x{A7F1}\\x{105C0}-\\x{105F3}\\x{10940}-\\x{10959}\\x{10D4A}-\\x{10D65}"
    "\\x{10D6F}-\\x{10D85}\\x{10EC2}-\\x{10EC7}\\x{1123F}-\\x{11240}\\x{11380}-\\x{11389}\\x{1138B}"
    "\\x{1138E}\\x{11390}-\\x{113B5}\\x{113B7}\\x{113D1}\\x{113D3}\\x{11BC0}-\\x{11BE0}"
    "\\x{11DB0}-\\x{11DDB}\\x{11F02}\\x{11F04}-\\x{11F10}\\x{11F12}-\\x{11F33}\\x{1342F}"
    "\\x{13441}-\\x{13446}\\x{13460}-\\x{143FA}\\x{16100}-\\x{1611D}\\x{16D40}-\\x{16D6C}"
    "\\x{16EA0}-\\x{16EB8}\\x{16EBB}-\\x{16ED3}\\x{16FF2}-\\x{16FF3}\\x{187F8}-\\x{187FF}\\x{18CFF}"
    "\\x{18D09}-\\x{18D1E}\\x{18D80}-\\x{18DF2}\\x{1B132}\\x{1B155}\\x{1DF25}-\\x{1DF2A}"
    "\\x{1E030}-\\x{1E06D}\\x{1E4D0}-\\x{1E4EB}\\x{1E5D0}-\\x{1E5ED}\\x{1E5F0}\\x{1E6C0}-\\x{1E6DE}"
    "\\x{1E6E0}-\\x{1E6E2}\\x{1E6E4}-\\x{1E6E5}\\x{1E6E7}-\\x{1E6ED}\\x{1E6F0}-\\x{1E6F4}"
    "\\x{1E6FE}-\\x{1E6FF}\\x{2B739}-\\x{2B73F}\\x{2CEA2}-\\x{2CEAD}\\x{2EBF0}-\\x{2EE5D}"
    "\\x{31350}-\\x{33479}";
constexpr const char* kNewDigits =
    "\\x{10D40}-\\x{10D49}\\x{116D0}-\\x{116E3}\\x{11BF0}-\\x{11BF9}\\x{11DE0}-\\x{11DE9}"
    "\\x{11F50}-\\x{11F59}\\x{16130}-\\x{16139}\\x{16D70}-\\x{16D79}\\x{16FF4}-\\x{16FF6}"
    "\\x{1CCF0}-\\x{1CCF9}\\x{1D2C0}-\\x{1D2D3}\\x{1E4F0}-\\x{1E4F9}\\x{1E5F1}-\\x{1E5FA}";

// Each pre-token is matched where the previous one ended; the reference's
// global search never skips text because some alternative always matches.
constexpr uint32_t kCompileOptions = PCRE2_UTF | PCRE2_UCP | PCRE2_ANCHORED | PCRE2_NO_UTF_CHECK;

}  // namespace

struct Gpt2Pattern::Impl {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Impl() { pcre2_code_free(code); }
};

struct Gpt2Splitter::Impl {
  const Gpt2Pattern::Impl* pattern = nullptr;
  pcre2_match_data* match = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;
  ~Impl() {
    pcre2_match_data_free(match);
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(jit_stack);
  }
};

std::string Gpt2Pattern::Source() {
  const std::string space = kJsSpace;
  const std::string letter = std::string("\\p{L}") + kNewLetters;
  const std::string digit = std::string("\\p{N}") + kNewDigits;
  return "'s|'t|'re|'ve|'m|'ll|'d| ?[" + letter + "]+| ?[" + digit + "]+| ?[^" + space + letter + digit + "]+|[" +
         space + "]+(?![^" + space + "])|[" + space + "]+";
}

Gpt2Pattern::Gpt2Pattern(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gpt2Pattern::~Gpt2Pattern() = default;
bool Gpt2Pattern::jit() const { return impl_->jit; }

Status Gpt2Pattern::Compile(std::unique_ptr<Gpt2Pattern>* out) {
  const std::string source = Source();
  int error = 0;
  PCRE2_SIZE offset = 0;
  auto impl = std::make_unique<Impl>();
  impl->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(source.data()), source.size(), kCompileOptions, &error,
                             &offset, nullptr);
  if (impl->code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    return RuntimeError("gpt2 tokenizer: PCRE2 rejects the pre-tokenizer pattern at offset {}: {}", offset,
                        reinterpret_cast<const char*>(message));
  }
  // JIT can be missing (unsupported CPU, no executable memory); the
  // interpreter gives the same matches, only slower.
  impl->jit = pcre2_jit_compile(impl->code, PCRE2_JIT_COMPLETE) == 0;
  out->reset(new Gpt2Pattern(std::move(impl)));
  return Status();
}

Gpt2Splitter::Gpt2Splitter(const Gpt2Pattern& pattern) : impl_(std::make_unique<Impl>()) {
  impl_->pattern = pattern.impl_.get();
  impl_->match = pcre2_match_data_create_from_pattern(impl_->pattern->code, nullptr);
  impl_->context = pcre2_match_context_create(nullptr);
  if (impl_->match == nullptr || impl_->context == nullptr) throw std::bad_alloc();
  if (impl_->pattern->jit) {
    // Repeats of one character class need no stack per character, so the
    // default would do; a private stack keeps that true for any input.
    impl_->jit_stack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, nullptr);
    if (impl_->jit_stack == nullptr) throw std::bad_alloc();
    pcre2_jit_stack_assign(impl_->context, nullptr, impl_->jit_stack);
  }
}

Gpt2Splitter::~Gpt2Splitter() = default;

size_t Gpt2Splitter::Next(std::string_view text, size_t pos) {
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  const int rc = impl_->pattern->jit
                     ? pcre2_jit_match(impl_->pattern->code, subject, text.size(), pos, 0, impl_->match, impl_->context)
                     : pcre2_match(impl_->pattern->code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, impl_->match,
                                   impl_->context);
  if (rc > 0) {
    const PCRE2_SIZE end = pcre2_get_ovector_pointer(impl_->match)[1];
    if (end > pos) return end;
  }
  // Unreachable for valid UTF-8 (every character starts some alternative);
  // should a match ever fail, the character stands alone rather than being lost.
  size_t bad = 0;
  const size_t len = Utf8SequenceAt(text, pos, &bad);
  return pos + (len > 0 ? len : bad);
}

}  // namespace cpu_llm
