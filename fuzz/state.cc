// Training state files (state_<step>.bin): VerifyStateFile's header, size
// and checksum checks, then LoadState's field checks. A mutated file almost
// never keeps a valid CRC-32, so the first input byte chooses whether the
// target rewrites the checksum before writing the file: with it, mutations
// reach the checks behind the checksum.
#include <zlib.h>

#include <cstring>

#include "fuzz_util.h"
#include "train/checkpoint.h"

using namespace cpu_llm;

namespace {

constexpr size_t kHeaderBytes = 256 * sizeof(int64_t);
constexpr size_t kCrcSlot = 12;

// The shape of the seed files' model (make_seeds.cc): LoadState needs an
// optimizer of the file's size, and a fixed one keeps every run cheap.
ModelConfig SeedConfig() {
  ModelConfig c;
  c.vocab_size = 8;
  c.padded_vocab_size = 8;
  c.max_seq_len = 4;
  c.n_layer = 1;
  c.n_head = 1;
  c.n_embd = 4;
  return c;
}

void FixChecksum(std::string* file) {
  if (file->size() < kHeaderBytes) return;
  int64_t zero = 0;
  std::memcpy(file->data() + kCrcSlot * 8, &zero, 8);
  const auto* p = reinterpret_cast<const Bytef*>(file->data());
  const int64_t crc = static_cast<int64_t>(crc32_z(crc32(0L, Z_NULL, 0), p, file->size()));
  std::memcpy(file->data() + kCrcSlot * 8, &crc, 8);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string file(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1) FixChecksum(&file);
  const std::string path = fuzz::WriteInput(file);

  const bool verified = VerifyStateFile(path).ok();
  static AdamW* opt = [] {
    auto* o = new AdamW();
    o->Init(SeedConfig(), AdamWConfig{});
    return o;
  }();
  TrainState st;
  const bool loaded = LoadState(path, &st, opt).ok();
  FUZZ_CHECK(!loaded || verified);  // LoadState checks at least what VerifyStateFile does
  if (!loaded) return 0;
  int64_t name_len;
  std::memcpy(&name_len, file.data() + 13 * 8, 8);
  FUZZ_CHECK(st.model_file.size() == static_cast<size_t>(name_len));
  FUZZ_CHECK(kHeaderBytes + st.model_file.size() + 2 * opt->size() * sizeof(float) == file.size());
  FUZZ_CHECK(st.loss_scale >= 0.0f && st.skipped_steps <= st.step);
  FUZZ_CHECK(st.data_order >= kDataInOrder && st.data_order <= kDataText);
  return 0;
}
