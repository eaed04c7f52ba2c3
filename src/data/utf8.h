// UTF-8 checks and repair for the GPT-2 tokenizer. The reference encoder works
// on JavaScript strings, so bytes that are not UTF-8 never reach it; we give
// them the meaning node gives them when it reads a file as 'utf8' (the WHATWG
// decoder): each maximal invalid subpart becomes one U+FFFD. A leading BOM is
// kept, as fs.readFileSync keeps it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cpu_llm {

// Well-formed UTF-8: shortest forms only, no surrogates, nothing past U+10FFFF.
bool IsValidUtf8(std::string_view text);

// `text` with each maximal invalid subpart replaced by U+FFFD (EF BF BD);
// equal to `text` when it is already valid.
std::string RepairUtf8(std::string_view text);

// Length of the well-formed sequence at text[pos], or 0 if there is none
// there. On 0, *invalid_len is the length of the maximal invalid subpart
// (at least 1) that the WHATWG decoder turns into one U+FFFD.
size_t Utf8SequenceAt(std::string_view text, size_t pos, size_t* invalid_len);

// Decodes the well-formed sequence of length n at text[pos].
char32_t DecodeUtf8At(std::string_view text, size_t pos, size_t n);

void AppendUtf8(char32_t cp, std::string* out);

}  // namespace cpu_llm
