#include "data/gpt2_vocab.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "data/utf8.h"

extern "C" const char cpu_llm_gpt2_encoder_json_begin[];
extern "C" const char cpu_llm_gpt2_encoder_json_end[];
extern "C" const char cpu_llm_gpt2_vocab_bpe_begin[];
extern "C" const char cpu_llm_gpt2_vocab_bpe_end[];

namespace cpu_llm {

std::string_view EmbeddedGpt2EncoderJson() {
  return {cpu_llm_gpt2_encoder_json_begin,
          static_cast<size_t>(cpu_llm_gpt2_encoder_json_end - cpu_llm_gpt2_encoder_json_begin)};
}

std::string_view EmbeddedGpt2VocabBpe() {
  return {cpu_llm_gpt2_vocab_bpe_begin, static_cast<size_t>(cpu_llm_gpt2_vocab_bpe_end - cpu_llm_gpt2_vocab_bpe_begin)};
}

void Gpt2MergeTable::Reserve(size_t n_pairs) {
  // At most half full, so probe runs stay short.
  const size_t capacity = std::bit_ceil(std::max<size_t>(16, 2 * n_pairs));
  keys_.assign(capacity, kEmpty);
  values_.assign(capacity, Gpt2Merge{-1, -1});
  mask_ = capacity - 1;
  size_ = 0;
}

void Gpt2MergeTable::Insert(int32_t left, int32_t right, Gpt2Merge merge) {
  if (2 * (size_ + 1) > keys_.size()) {
    std::vector<uint64_t> old_keys = std::move(keys_);
    std::vector<Gpt2Merge> old_values = std::move(values_);
    Reserve(size_ + 1);
    for (size_t i = 0; i < old_keys.size(); i++) {
      if (old_keys[i] != kEmpty)
        Insert(static_cast<int32_t>(old_keys[i] >> 32), static_cast<int32_t>(old_keys[i] & 0xFFFFFFFFu), old_values[i]);
    }
  }
  const uint64_t key = Key(left, right);
  uint64_t i = Slot(key);
  while (keys_[i] != kEmpty && keys_[i] != key) i = (i + 1) & mask_;
  if (keys_[i] == kEmpty) size_++;
  keys_[i] = key;
  values_[i] = merge;
}

std::array<char32_t, 256> Gpt2ByteToCodePoint() {
  std::array<char32_t, 256> map{};
  char32_t next = 256;
  for (int b = 0; b < 256; b++) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    map[b] = printable ? static_cast<char32_t>(b) : next++;
  }
  return map;
}

namespace {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using IdMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

// Collects the top-level "key": integer members of encoder.json without
// building a DOM (a DOM of 50k members costs several times the parse).
class EncoderJsonReader final : public nlohmann::json_sax<nlohmann::json> {
 public:
  std::vector<std::pair<std::string, int64_t>> members;
  std::string error;

  bool start_object(std::size_t) override { return ++depth_ == 1 || Fail("nested object"); }
  bool end_object() override { return --depth_ == 0 || Fail("nested object"); }
  bool key(string_t& k) override {
    key_ = std::move(k);
    return true;
  }
  bool number_integer(number_integer_t v) override { return Member(v); }
  bool number_unsigned(number_unsigned_t v) override {
    return Member(v > static_cast<number_unsigned_t>(INT64_MAX) ? -1 : static_cast<int64_t>(v));
  }
  bool null() override { return Fail("null value"); }
  bool boolean(bool) override { return Fail("boolean value"); }
  bool number_float(number_float_t, const string_t&) override { return Fail("fractional id"); }
  bool string(string_t&) override { return depth_ == 0 ? Fail("not an object") : Fail("string id"); }
  bool binary(binary_t&) override { return Fail("binary value"); }
  bool start_array(std::size_t) override { return Fail("array"); }
  bool end_array() override { return Fail("array"); }
  bool parse_error(std::size_t offset, const std::string&, const nlohmann::detail::exception&) override {
    return Fail(fmt::format("not valid JSON (at byte {})", offset));
  }

 private:
  bool Member(int64_t id) {
    if (depth_ != 1) return Fail("not an object");
    members.emplace_back(std::move(key_), id);
    return true;
  }
  bool Fail(const std::string& what) {
    if (error.empty()) error = what;
    return false;
  }
  int depth_ = 0;
  std::string key_;
};

Status ParseEncoderJson(std::string_view text, Gpt2Vocab* out, IdMap* id_of) {
  EncoderJsonReader reader;
  const bool ok = nlohmann::json::sax_parse(text.begin(), text.end(), &reader);
  if (!ok || !reader.error.empty() || reader.members.empty())
    return RuntimeError("encoder.json: {}", reader.error.empty() ? "not a JSON object of token ids" : reader.error);
  const size_t n = reader.members.size();
  out->token_bytes.assign(n, std::string());
  std::vector<bool> seen(n, false);
  const std::array<char32_t, 256> cp_of = Gpt2ByteToCodePoint();
  std::array<int, 0x144> byte_of;  // the map's code points all lie below U+0144
  byte_of.fill(-1);
  for (int b = 0; b < 256; b++) byte_of[cp_of[b]] = b;
  id_of->reserve(n);
  for (auto& [key, id] : reader.members) {
    if (id < 0 || id >= static_cast<int64_t>(n) || seen[id])
      return RuntimeError("encoder.json: ids are not a permutation of 0..{} (bad id {})", n - 1, id);
    seen[id] = true;
    // Keys spell byte sequences with the byte -> code point map.
    std::string& bytes = out->token_bytes[id];
    for (size_t pos = 0; pos < key.size();) {
      size_t bad = 0;
      const size_t len = Utf8SequenceAt(key, pos, &bad);
      const char32_t cp = len > 0 ? DecodeUtf8At(key, pos, len) : 0xFFFFFFFF;
      if (cp >= byte_of.size() || byte_of[cp] < 0)
        return RuntimeError("encoder.json: token '{}' has a character outside the byte map", key);
      bytes.push_back(static_cast<char>(byte_of[cp]));
      pos += len;
    }
    if (bytes.empty()) return RuntimeError("encoder.json: empty token key");
    if (!id_of->emplace(std::move(key), static_cast<int32_t>(id)).second)
      return RuntimeError("encoder.json: duplicate token key");
  }
  for (int b = 0; b < 256; b++) {
    std::string one;
    AppendUtf8(cp_of[b], &one);
    auto it = id_of->find(one);
    if (it == id_of->end()) return RuntimeError("encoder.json: no token for byte {}", b);
    out->byte_token[b] = it->second;
  }
  auto eot = id_of->find(std::string_view("<|endoftext|>"));
  if (eot == id_of->end()) return RuntimeError("encoder.json: no <|endoftext|> token");
  out->eot = eot->second;
  return Status();
}

// Mirrors the reference's `merge_str.split(/(\s+)/)` minus empty parts; its
// symbols never hold whitespace, so ASCII whitespace is all that can occur.
bool IsSeparator(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

Status ParseGpt2Vocab(std::string_view encoder_json, std::string_view vocab_bpe, Gpt2Vocab* out) {
  IdMap id_of;
  CPU_LLM_RETURN_IF_ERROR(ParseEncoderJson(encoder_json, out, &id_of));

  // The reference keeps lines[1 .. n-2] of split('\n'): the version line goes,
  // and so does whatever follows the last newline.
  std::vector<std::string_view> lines;
  for (size_t start = 0;;) {
    const size_t nl = vocab_bpe.find('\n', start);
    if (nl == std::string_view::npos) {
      lines.push_back(vocab_bpe.substr(start));
      break;
    }
    lines.push_back(vocab_bpe.substr(start, nl - start));
    start = nl + 1;
  }
  out->merges.Reserve(lines.size() + 64);
  std::string key;
  for (size_t li = 1; li + 1 < lines.size(); li++) {
    std::string_view parts[3];
    int n_parts = 0;
    const std::string_view line = lines[li];
    for (size_t i = 0; i < line.size() && n_parts < 3;) {
      while (i < line.size() && IsSeparator(line[i])) i++;
      size_t j = i;
      while (j < line.size() && !IsSeparator(line[j])) j++;
      if (j > i) parts[n_parts++] = line.substr(i, j - i);
      i = j;
    }
    if (n_parts != 2) return RuntimeError("vocab.bpe: line {} is not a pair of symbols", li + 1);
    for (int k = 0; k < 2; k++) {
      if (!id_of.contains(parts[k]))
        return RuntimeError("vocab.bpe: line {} names '{}', which is not in encoder.json", li + 1, parts[k]);
    }
    // The reference ranks by the string left + "," + right, so every cut of
    // that string at a comma into two known symbols is a pair with this rank.
    // Lines are taken in order and Insert overwrites, so when two lines share
    // a string the later one's rank wins, as with the reference's object keys.
    const auto rank = static_cast<int32_t>(li - 1);
    key.assign(parts[0]).append(",").append(parts[1]);
    for (size_t p = key.find(','); p != std::string::npos; p = key.find(',', p + 1)) {
      const std::string_view kv = key;
      auto left = id_of.find(kv.substr(0, p));
      auto right = id_of.find(kv.substr(p + 1));
      if (left == id_of.end() || right == id_of.end()) continue;
      auto merged = id_of.find(left->first + right->first);
      if (merged == id_of.end())
        return RuntimeError("vocab.bpe: merge {} ('{}' + '{}') makes a symbol that is not in encoder.json", rank,
                            left->first, right->first);
      out->merges.Insert(left->second, right->second, Gpt2Merge{rank, merged->second});
    }
  }
  return Status();
}

}  // namespace cpu_llm
