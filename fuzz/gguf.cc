// GGUF files (the export format for llama.cpp): ReadGguf's parse of header,
// metadata and tensor descriptions, ValidateGguf's structural checks, and
// ReadGgufTensor. Checked: a file the validator passes also parses, and
// every one of its tensors reads back with exactly as many floats as its
// dims promise; a file that parses reads each tensor either fully or with an
// error, never past the file (ASan) and never with an allocation larger than
// the file could justify (-rss_limit_mb).
#include "fuzz_util.h"
#include "io/gguf.h"
#include "io/gguf_validate.h"

using namespace cpu_llm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::WriteInput(fuzz::AsView(data, size), "input.gguf");
  GgufFile file;
  const bool parsed = ReadGguf(path, &file).ok();
  const bool valid = ValidateGguf(path).ok();
  FUZZ_CHECK(parsed || !valid);
  if (!parsed) return 0;
  FUZZ_CHECK(file.data_offset <= file.file_size || !valid);
  for (const GgufTensorInfo& t : file.tensors) {
    std::vector<float> values;
    const bool read = ReadGgufTensor(file, t.name, &values).ok();
    if (valid) FUZZ_CHECK(read);
    // By name: with duplicate names (which only the validator refuses) the
    // first tensor of that name is the one read.
    if (read) FUZZ_CHECK(values.size() == GgufElementCount(file.FindTensor(t.name)->dims));
  }
  return 0;
}
