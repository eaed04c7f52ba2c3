// The pruned vocabulary's map (vocab_map.bin). A map that loads must be a
// bijection between the kept tokenizer ids and model ids 0..unknown()-1,
// every other tokenizer id going to unknown().
#include "data/token_map.h"
#include "fuzz_util.h"

using namespace cpu_llm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::WriteInput(fuzz::AsView(data, size));
  TokenMap map;
  if (!map.Load(path).ok()) return 0;
  FUZZ_CHECK(map.model_vocab() >= 2 && map.model_vocab() <= map.source_vocab() + 1);
  FUZZ_CHECK(map.ToSource(map.unknown()) == -1 && map.ToSource(-1) == -1);
  int kept = 0;
  for (int32_t s = 0; s < map.source_vocab(); s++) {
    const int32_t m = map.ToModel(s);
    FUZZ_CHECK(m >= 0 && m <= map.unknown());
    if (m != map.unknown()) {
      FUZZ_CHECK(map.ToSource(m) == s);
      kept++;
    }
  }
  FUZZ_CHECK(kept == map.unknown());
  for (int32_t m = 0; m < map.unknown(); m++) FUZZ_CHECK(map.ToModel(map.ToSource(m)) == m);
  // MapInPlace agrees with ToModel.
  int32_t ids[3] = {0, map.source_vocab() - 1, map.source_vocab() / 2};
  const int32_t want[3] = {map.ToModel(ids[0]), map.ToModel(ids[1]), map.ToModel(ids[2])};
  map.MapInPlace(ids, 3);
  for (int i = 0; i < 3; i++) FUZZ_CHECK(ids[i] == want[i]);
  return 0;
}
