// A slow, literal restatement of the reference encoder's bpe() rules on
// strings, for checking the fast heap-based merge loop against: ranks looked
// up by the joined string left + "," + right (later merge lines win), the
// lowest rank each round with the rightmost pair winning ties, then every
// occurrence of that pair merged left to right.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "data/gpt2_vocab.h"
#include "data/utf8.h"

namespace cpu_llm::testing {

class ReferenceBpe {
 public:
  // `merges` are the lines of vocab.bpe after the version line, as pairs.
  ReferenceBpe(const std::vector<std::pair<std::string, std::string>>& merges,
               std::unordered_map<std::string, int32_t> encoder)
      : encoder_(std::move(encoder)) {
    for (size_t i = 0; i < merges.size(); i++) ranks_[merges[i].first + "," + merges[i].second] = static_cast<int>(i);
    const std::array<char32_t, 256> cp = Gpt2ByteToCodePoint();
    for (int b = 0; b < 256; b++) AppendUtf8(cp[b], &byte_char_[b]);
  }

  // Token ids of one pre-token given as raw bytes; -1 where the reference
  // would produce `undefined`.
  std::vector<int32_t> Encode(std::string_view bytes) const {
    std::vector<std::string> word;
    for (unsigned char c : bytes) word.push_back(byte_char_[c]);
    while (word.size() > 1) {
      constexpr long kNoRank = 100000000000L;  // the reference's 10e10
      long best = kNoRank;
      size_t at = 0;
      for (size_t i = 0; i + 1 < word.size(); i++) {
        auto it = ranks_.find(word[i] + "," + word[i + 1]);
        const long rank = it == ranks_.end() ? kNoRank : it->second;
        if (rank <= best) {  // <=: a later pair with the same rank replaces the earlier one
          best = rank;
          at = i;
        }
      }
      if (best == kNoRank) break;
      const std::string first = word[at], second = word[at + 1];
      std::vector<std::string> merged;
      for (size_t i = 0; i < word.size();) {
        if (word[i] == first && i + 1 < word.size() && word[i + 1] == second) {
          merged.push_back(first + second);
          i += 2;
        } else {
          merged.push_back(word[i]);
          i += 1;
        }
      }
      word = std::move(merged);
    }
    std::vector<int32_t> ids;
    for (const std::string& s : word) {
      auto it = encoder_.find(s);
      ids.push_back(it == encoder_.end() ? -1 : it->second);
    }
    return ids;
  }

 private:
  std::unordered_map<std::string, int> ranks_;
  std::unordered_map<std::string, int32_t> encoder_;
  std::string byte_char_[256];
};

}  // namespace cpu_llm::testing
