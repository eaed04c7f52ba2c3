// The broken (and valid) files the placeholders of docs/BAD_INPUTS.md name:
// each maker writes its fixture into a row's fresh folder and returns the
// path that replaces the placeholder. Run by test_cli_bad_inputs.cc.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace cpu_llm::bad_inputs {

// The flags of a tiny, fast training run; {tiny} in a command stands for them.
extern const std::vector<std::string> kTiny;

using Maker = std::function<std::string(const std::string& dir)>;

// Placeholder name (without braces) -> its maker.
const std::map<std::string, Maker>& Makers();

}  // namespace cpu_llm::bad_inputs
