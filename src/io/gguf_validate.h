// A structural check of a GGUF file against the spec and against what
// llama.cpp needs to load the two architectures this project exports (gpt2,
// llama), written from the spec rather than from our writer: the writer's
// bugs should not be able to hide behind the same assumptions.
#pragma once

#include <string>

#include "core/status.h"

namespace cpu_llm {

// OK, or the first problem found, naming the file. Checks, in order:
//  - header: magic, version 3, counts the file can hold; every metadata type
//    id valid, every length inside the file (ReadGguf)
//  - keys non-empty and unique, every string valid UTF-8, bools 0 or 1
//  - tensors: names unique and under 64 bytes, dims positive, ggml type
//    known, offsets aligned, data inside the file and not overlapping
//  - general.architecture is gpt2 or llama, its required hyperparameters are
//    present with the types llama.cpp reads, and consistent with each other
//  - every tensor the architecture needs is present with its shape (innermost
//    dim first), no other tensor is, 1-D tensors are F32
//  - tokenizer: tokenizer.ggml.model "gpt2" with a pre-tokenizer name, tokens
//    as many as token_embd's rows and unique, token types valid, merges
//    "left right", bos/eos/eot ids in range
Status ValidateGguf(const std::string& path);

}  // namespace cpu_llm
