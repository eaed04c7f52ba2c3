// safetensors files (the Hugging Face export and import format):
// SafetensorsFile::Parse's checks of header length, JSON, dtypes, shapes and
// offsets. Checked on a file it accepts: the tensors tile the data section
// exactly (sorted by offset, each begins where the previous ends, the last
// ends at the end of the file), each one's byte length is its element count
// times its dtype's size, names are unique, and ReadF32 reads each whole.
#include <algorithm>
#include <set>
#include <vector>

#include "fuzz_util.h"
#include "io/safetensors.h"

using namespace cpu_llm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  SafetensorsFile file;
  if (!file.Parse("input.safetensors", std::vector<uint8_t>(data, data + size)).ok()) return 0;
  FUZZ_CHECK(size >= 8);
  uint64_t header = 0;
  for (int i = 7; i >= 0; i--) header = header << 8 | data[i];
  std::vector<StTensorInfo> sorted = file.tensors();
  std::sort(sorted.begin(), sorted.end(), [](const StTensorInfo& a, const StTensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t at = 8 + header;
  std::set<std::string> names;
  for (const StTensorInfo& t : sorted) {
    FUZZ_CHECK(names.insert(t.name).second);
    FUZZ_CHECK(file.Find(t.name) != nullptr);
    FUZZ_CHECK(t.begin == at && t.end >= t.begin);
    const uint64_t elem = static_cast<uint64_t>(StDtypeBytes(t.dtype));
    FUZZ_CHECK(t.numel() >= 0 && static_cast<uint64_t>(t.numel()) * elem == t.end - t.begin);
    std::vector<float> values(static_cast<size_t>(t.numel()));
    file.ReadF32(t, values.data());
    at = t.end;
  }
  FUZZ_CHECK(at == size);
  return 0;
}
