// Checkpoints: the model in llm.c's format (so llm.c's trainer loads it) and,
// beside it, a state file with everything else needed to resume exactly.
// Both are written atomically; the state file is written second and names its
// model file, so a state file on disk always has a complete model beside it.
//
// llm.c model file: 256 int32 header
//   [0] 20240326  [1] version  [2] maxT  [3] V  [4] L  [5] NH  [6] C  [7] Vp
// then all parameters in ParamView order: float32 for version 3, bf16 (the
// top 16 bits of a float32) for version 5. Training checkpoints are version 3.
//
// State file (docs/FORMATS.md): 256 int64 header
//   [0] 0x7374617465 ("state") magic  [1] version 1  [2] step
//   [3] n_params  [4] rng state  [5] data batch (taken this epoch)
//   [6] data order (0 in order, 1 shuffled, 2 raw text)
//   [7] data epoch  [8] B  [9] T  [10] seed  [11] tokenizer id (0 bytes)
//   [12] CRC-32 of the file with this slot zeroed  [13] length of the model file name
//   [14] fp16 loss scale (float32 bits; 0 without loss scaling)
//   [15] clean steps since the scale last changed  [16] updates skipped so far
//   [17..20] raw text position: file, byte offset, tokens to skip, in document
//   [21] length of the run config text (version 3)
// Version 1 (still read) had the data source index in [5] and its token
// offset in [6], and no [17..20].
// then the model file name (bytes, relative to the state file's folder),
// the run's resolved options as a run config (JSON text, train/run_config.h;
// version 3), AdamW m (n_params float32), AdamW v (n_params float32).
// Version 2 is version 3 without the config.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/batch_source.h"
#include "model/gpt2.h"
#include "optim/adamw.h"

namespace cpu_llm {

constexpr int32_t kModelMagic = 20240326;
constexpr int32_t kModelVersionFp32 = 3;
constexpr int32_t kModelVersionBf16 = 5;
// A model whose block options differ from GPT-2's (plan item 10): llm.c's
// header and parameter order, the dropped tensors absent, the options in
// header slots [8] norm [9] MLP [10] positions [11] bias [12] tied head
// [13] MLP hidden width [14] RoPE theta (float32 bits); fp32 weights.
constexpr int32_t kModelVersionBlocks = 2003;
constexpr int64_t kStateMagic = 0x7374617465;
constexpr int64_t kStateVersion = 3;

// State slot [6]: how the training data was read.
constexpr int64_t kDataInOrder = 0, kDataShuffled = 1, kDataText = 2;

// How a model file stores the weights: llm.c's version 3 (fp32) or version 5
// (bf16, rounded to nearest even; what llm.c's GPU trainer reads and writes).
enum class WeightFormat { kFp32, kBf16 };

Status SaveModel(const std::string& path, const GPT2& model, WeightFormat format = WeightFormat::kFp32);
// Reads the header only; *format (if given) says how the weights are stored.
Status ReadModelConfig(const std::string& path, ModelConfig* cfg, WeightFormat* format = nullptr);
// Initialises `model` with the file's config and weights (bf16 widened to fp32).
Status LoadModel(const std::string& path, GPT2* model);

struct TrainState {
  int64_t step = 0;  // optimizer steps completed
  uint64_t rng_state = 0;
  LoaderPosition data;
  int64_t data_order = kDataInOrder;
  // A version-1 file: the data position is (source, token offset) of an
  // in-order loader (DataLoader::InOrderPosition converts it).
  bool v1_data = false;
  int64_t v1_source = 0, v1_offset = 0;
  int64_t batch = 0, seq_len = 0;
  int64_t seed = 0;
  int64_t tokenizer_id = 0;
  // fp16's dynamic loss scaling (loss_scale 0: none), so a resumed run goes
  // on with the same scale, and AdamW's update count (step - skipped_steps).
  float loss_scale = 0.0f;
  int64_t clean_steps = 0, skipped_steps = 0;
  std::string model_file;  // name of the model file, relative to the state file
  std::string run_config;  // the run's resolved options (JSON; empty before version 3)
};

Status SaveState(const std::string& path, const TrainState& st, const AdamW& opt);
// Loads the state and the optimizer moments (opt must be Init'ed with the
// model's config, whose parameter count must match the file's). opt null:
// the state alone (`info`); *n_params, if given, gets the file's count.
Status LoadState(const std::string& path, TrainState* st, AdamW* opt, int64_t* n_params = nullptr);
// The checks of LoadState that need no model: header, size, checksum.
Status VerifyStateFile(const std::string& path);

// Writes model_<step>.bin then state_<step>.bin into dir; returns the state path.
Status SaveCheckpoint(const std::string& dir, const GPT2& model, const AdamW& opt, TrainState st,
                      std::string* state_path);
// Newest state_*.bin in dir whose model file exists; empty if none.
std::string FindLatestState(const std::string& dir);

// Every complete checkpoint in dir (a state file with its model file beside
// it: the state is written, atomically, only after the model), newest first.
std::vector<std::string> FindStates(const std::string& dir);

// Keeps the newest `keep` checkpoints in dir and removes the others' state,
// model and bf16 export files (keep <= 0: keeps all). The state file goes
// first, so a removal cut short never leaves a state without its model.
Status PruneCheckpoints(const std::string& dir, int keep);

// Removes the temporary files (<name>.tmp.<pid>) that writers killed before
// their rename left in dir; a live process's are left alone.
void RemoveStaleTempFiles(const std::string& dir);

}  // namespace cpu_llm
