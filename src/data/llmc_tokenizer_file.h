// llm.c's tokenizer file (gpt2_tokenizer.bin), so llm.c can decode our token
// ids: 256 uint32 header ([0] 20240328 magic, [1] 2 version, [2] vocab size,
// [3] end-of-text id), then for each id in order one uint8 length and that
// many raw bytes.
#pragma once

#include <string>

#include "core/status.h"
#include "data/tokenizer.h"

namespace cpu_llm {

Status WriteLlmcTokenizer(const std::string& path, const Tokenizer& tok);

}  // namespace cpu_llm
