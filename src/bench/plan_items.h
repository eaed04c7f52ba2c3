// The ten items of the optimization plan as the report describes them: what
// each does, how to switch it, how it is validated. Words only; every number
// in the report comes from bench results.
#pragma once

#include <string>
#include <vector>

namespace cpu_llm {

struct PlanItem {
  int number;
  const char* title;
  const char* status;      // "built", "partly built" or "not built yet"
  const char* what;
  const char* how_to_switch;
  const char* validation;  // the tests that hold it to the reference
};

const std::vector<PlanItem>& PlanItems();

}  // namespace cpu_llm
