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

// Splits a token stream into train and val by 1024-token blocks, exactly as
// `prepare` does (split.h), so the bundled corpus and prepared shards of the
// same text hold the same val tokens.
void SplitByBlocks(const std::vector<uint16_t>& tokens, double val_fraction, uint64_t seed,
                   std::vector<uint16_t>* train, std::vector<uint16_t>* val);

}  // namespace cpu_llm
