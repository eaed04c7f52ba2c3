// The bundled training corpus: the King James Bible (public domain, 4.1 MB of
// English, one verse per line), compiled into the binary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/loader.h"
#include "data/tokenizer.h"

namespace cpu_llm {

// Decompresses the embedded corpus.
Status LoadBundledCorpus(std::string* text);

// Splits a token stream into train and val by 1024-token blocks, exactly as
// `prepare` does (split.h), so the bundled corpus and prepared shards of the
// same text hold the same val tokens.
void SplitByBlocks(const std::vector<uint16_t>& tokens, double val_fraction, uint64_t seed,
                   std::vector<uint16_t>* train, std::vector<uint16_t>* val);

// Tokenizes the bundled corpus with tok (end-of-text first), splits it as
// above and opens loaders over the two parts: train with `opt`, val with the
// same batch shape, in order (a shuffled val set would measure nothing new).
Status OpenBundledCorpus(const Tokenizer& tok, double val_fraction, uint64_t seed, const LoaderOptions& opt,
                         DataLoader* train, DataLoader* val);

}  // namespace cpu_llm
