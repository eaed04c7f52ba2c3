// The bundled training corpus: the King James Bible (public domain, 4.1 MB of
// English, one verse per line), compiled into the binary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace cpu_llm {

// Decompresses the embedded corpus.
Status LoadBundledCorpus(std::string* text);

// Splits a token stream into train and val: val is the last val_fraction of
// the tokens (at least min_val_tokens when possible).
void SplitTrainVal(const std::vector<uint16_t>& tokens, double val_fraction, int64_t min_val_tokens,
                   std::vector<uint16_t>* train, std::vector<uint16_t>* val);

}  // namespace cpu_llm
