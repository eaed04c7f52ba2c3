#include "data/utf8.h"

#include <cstdint>
#include <cstring>

namespace cpu_llm {

namespace {

// Bounds for the second byte depend on the lead byte: that is how UTF-8 rules
// out overlong forms (E0, F0), surrogates (ED) and code points past U+10FFFF (F4).
struct LeadInfo {
  uint8_t n_cont;  // continuation bytes that follow, 0 for ASCII, 0xFF for never-valid
  uint8_t lo, hi;  // allowed range of the first continuation byte
};

LeadInfo Lead(unsigned char b) {
  if (b < 0x80) return {0, 0, 0};
  if (b >= 0xC2 && b <= 0xDF) return {1, 0x80, 0xBF};
  if (b == 0xE0) return {2, 0xA0, 0xBF};
  if (b == 0xED) return {2, 0x80, 0x9F};
  if (b >= 0xE1 && b <= 0xEF) return {2, 0x80, 0xBF};
  if (b == 0xF0) return {3, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3) return {3, 0x80, 0xBF};
  if (b == 0xF4) return {3, 0x80, 0x8F};
  return {0xFF, 0, 0};
}

}  // namespace

size_t Utf8SequenceAt(std::string_view text, size_t pos, size_t* invalid_len) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const LeadInfo lead = Lead(p[pos]);
  if (lead.n_cont == 0) return 1;
  if (lead.n_cont == 0xFF) {
    *invalid_len = 1;
    return 0;
  }
  // The WHATWG decoder stops at the first byte that cannot continue the
  // sequence and decodes that byte afresh, so the bad subpart is what came before.
  size_t i = 1;
  for (; i <= lead.n_cont; i++) {
    if (pos + i >= text.size()) break;
    const unsigned char c = p[pos + i];
    const unsigned char lo = i == 1 ? lead.lo : 0x80, hi = i == 1 ? lead.hi : 0xBF;
    if (c < lo || c > hi) break;
  }
  if (i == lead.n_cont + 1u) return i;
  *invalid_len = i;
  return 0;
}

char32_t DecodeUtf8At(std::string_view text, size_t pos, size_t n) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data()) + pos;
  switch (n) {
    case 1: return p[0];
    case 2: return (char32_t{p[0] & 0x1Fu} << 6) | (p[1] & 0x3Fu);
    case 3: return (char32_t{p[0] & 0x0Fu} << 12) | (char32_t{p[1] & 0x3Fu} << 6) | (p[2] & 0x3Fu);
    default:
      return (char32_t{p[0] & 0x07u} << 18) | (char32_t{p[1] & 0x3Fu} << 12) | (char32_t{p[2] & 0x3Fu} << 6) |
             (p[3] & 0x3Fu);
  }
}

bool IsValidUtf8(std::string_view text) {
  size_t pos = 0;
  const size_t n = text.size();
  while (pos < n) {
    // Most text is ASCII: skip it eight bytes at a time.
    if (pos + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, text.data() + pos, 8);
      if ((w & 0x8080808080808080ull) == 0) {
        pos += 8;
        continue;
      }
    }
    size_t bad = 0;
    const size_t len = Utf8SequenceAt(text, pos, &bad);
    if (len == 0) return false;
    pos += len;
  }
  return true;
}

std::string RepairUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t bad = 0;
    const size_t len = Utf8SequenceAt(text, pos, &bad);
    if (len > 0) {
      out.append(text.data() + pos, len);
      pos += len;
    } else {
      out.append("\xEF\xBF\xBD");
      pos += bad;
    }
  }
  return out;
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace cpu_llm
