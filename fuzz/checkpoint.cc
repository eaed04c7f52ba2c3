// Model checkpoints (llm.c's versions 3 and 5, cpu_llm's 2003): the header is
// read and checked, and when it passes, the weights are loaded into a model
// of the shape it names. The header check must turn garbage away before any
// allocation: the target loads only models below kMaxParams (the input would
// have to be that large anyway, the size check compares them), so a header
// that gets through with a huge shape shows up as a size-check bug, not as a
// slow allocation.
#include <cstring>

#include "fuzz_util.h"
#include "train/checkpoint.h"

using namespace cpu_llm;

namespace {
constexpr int64_t kMaxParams = 4 << 20;
constexpr size_t kHeaderBytes = 256 * sizeof(int32_t);
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::WriteInput(fuzz::AsView(data, size));
  ModelConfig cfg;
  WeightFormat format;
  if (!ReadModelConfig(path, &cfg, &format).ok()) return 0;
  FUZZ_CHECK(ValidateConfig(cfg).ok());
  const int64_t n = ParameterCount(cfg);
  const size_t width = format == WeightFormat::kBf16 ? 2 : 4;
  FUZZ_CHECK(n > 0 && kHeaderBytes + static_cast<uint64_t>(n) * width == size);
  if (n > kMaxParams) return 0;

  GPT2 model;
  FUZZ_CHECK(LoadModel(path, &model).ok());  // the header passed and the file did not change
  FUZZ_CHECK(model.num_params() == n);
  // The weights are the file's bytes (bf16: the top half of each float32).
  const uint8_t* body = data + kHeaderBytes;
  for (int64_t i = 0; i < n; i++) {
    uint32_t bits;
    std::memcpy(&bits, model.params() + i, sizeof(bits));
    if (format == WeightFormat::kFp32) {
      uint32_t want;
      std::memcpy(&want, body + 4 * i, 4);
      FUZZ_CHECK(bits == want);
    } else {
      uint16_t want;
      std::memcpy(&want, body + 2 * i, 2);
      FUZZ_CHECK(bits == static_cast<uint32_t>(want) << 16);
    }
  }
  return 0;
}
