// Exports of a model trained on a pruned vocabulary (plan item 10) in the
// tokenizer's full vocabulary, so files meant for other tools (llm.c's bf16
// model) hold GPT-2 ids like any other model's. Each kept id's embedding row
// goes back to its tokenizer id; every id the training data never had gets
// the "unknown" row, which is what the pruned model does with such a token
// on input, and on output the tied head gives each the logit it gave
// "unknown" (trained only as a wrong answer, so low).
#pragma once

#include "core/status.h"
#include "data/token_map.h"
#include "model/gpt2.h"

namespace cpu_llm {

// full: initialised here with pruned's config in map.source_vocab() tokens.
Status ExpandVocabulary(const GPT2& pruned, const TokenMap& map, GPT2* full);

}  // namespace cpu_llm
