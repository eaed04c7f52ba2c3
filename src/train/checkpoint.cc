#include "train/checkpoint.h"

#include <signal.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/file_io.h"
#include "kernels/convert.h"

namespace cpu_llm {
namespace {

constexpr int kHeaderInts = 256;

// Parameters are converted in blocks this size: bounded scratch whatever the model.
constexpr int64_t kConvertBlock = 1 << 20;

Status CheckModelHeader(const std::string& path, const int32_t* h, uint64_t file_size, ModelConfig* cfg,
                        WeightFormat* format) {
  if (h[0] != kModelMagic)
    return RuntimeError("{}: not an llm.c model checkpoint (magic {}, expected {})", path, h[0], kModelMagic);
  if (h[1] != kModelVersionFp32 && h[1] != kModelVersionBf16 && h[1] != kModelVersionBlocks)
    return RuntimeError("{}: unsupported checkpoint version {} (expected {} for fp32, {} for bf16 or {} for cpu_llm's "
                        "block options)",
                        path, h[1], kModelVersionFp32, kModelVersionBf16, kModelVersionBlocks);
  *format = h[1] == kModelVersionBf16 ? WeightFormat::kBf16 : WeightFormat::kFp32;
  *cfg = ModelConfig();
  if (h[1] == kModelVersionBlocks) {
    if (h[8] < 0 || h[8] > 1 || h[9] < 0 || h[9] > 3 || h[10] < 0 || h[10] > 1 || h[11] < 0 || h[11] > 1 || h[12] < 0 ||
        h[12] > 1)
      return RuntimeError("{}: corrupt checkpoint header: unknown block options", path);
    cfg->norm = static_cast<NormKind>(h[8]);
    cfg->mlp = static_cast<MlpKind>(h[9]);
    cfg->pos = static_cast<PosKind>(h[10]);
    cfg->bias = h[11] != 0;
    cfg->tied_head = h[12] != 0;
    cfg->mlp_hidden = h[13];
    std::memcpy(&cfg->rope_theta, &h[14], sizeof(float));
  }
  cfg->max_seq_len = h[2];
  cfg->vocab_size = h[3];
  cfg->n_layer = h[4];
  cfg->n_head = h[5];
  cfg->n_embd = h[6];
  cfg->padded_vocab_size = h[7];
  Status s = ValidateConfig(*cfg);
  if (!s.ok()) return RuntimeError("{}: corrupt checkpoint header: {}", path, s.message());
  // Reject absurd shapes before multiplying them out.
  if (cfg->n_layer > 1024 || cfg->n_embd > 65536 || cfg->max_seq_len > (1 << 20) || cfg->padded_vocab_size > (1 << 24))
    return RuntimeError("{}: corrupt checkpoint header: implausible model shape", path);
  const uint64_t bytes_per_param = *format == WeightFormat::kBf16 ? sizeof(uint16_t) : sizeof(float);
  const uint64_t expected = kHeaderInts * sizeof(int32_t) + ParameterCount(*cfg) * bytes_per_param;
  if (file_size != expected)
    return RuntimeError("{}: {} checkpoint: {} bytes, expected {} for {}", path,
                        file_size < expected ? "truncated" : "corrupt", file_size, expected, DescribeConfig(*cfg));
  return Status();
}

}  // namespace

Status SaveModel(const std::string& path, const GPT2& model, WeightFormat format) {
  const ModelConfig& c = model.config();
  int32_t h[kHeaderInts] = {};
  h[0] = kModelMagic;
  h[1] = format == WeightFormat::kBf16 ? kModelVersionBf16 : kModelVersionFp32;
  if (!IsGpt2Block(c)) {  // not llm.c's layout: a version llm.c refuses, not one it misreads
    if (format == WeightFormat::kBf16)
      return UsageError("{}: llm.c's bf16 files hold GPT-2's block only; this model's block differs", path);
    h[1] = kModelVersionBlocks;
    h[8] = static_cast<int32_t>(c.norm);
    h[9] = static_cast<int32_t>(c.mlp);
    h[10] = static_cast<int32_t>(c.pos);
    h[11] = c.bias ? 1 : 0;
    h[12] = c.tied_head ? 1 : 0;
    h[13] = MlpHidden(c);
    std::memcpy(&h[14], &c.rope_theta, sizeof(float));
  }
  h[2] = c.max_seq_len;
  h[3] = c.vocab_size;
  h[4] = c.n_layer;
  h[5] = c.n_head;
  h[6] = c.n_embd;
  h[7] = c.padded_vocab_size;
  AtomicFileWriter w(path);
  w.Write(h, sizeof(h));
  if (format == WeightFormat::kFp32) {
    w.Write(model.params(), model.num_params() * sizeof(float));
  } else {
    std::vector<uint16_t> block(std::min<int64_t>(kConvertBlock, model.num_params()));
    for (int64_t i = 0; i < model.num_params(); i += kConvertBlock) {
      const int64_t n = std::min<int64_t>(kConvertBlock, model.num_params() - i);
      f32_to_bf16(Context{1}, block.data(), model.params() + i, n);
      w.Write(block.data(), n * sizeof(uint16_t));
    }
  }
  return w.Finish();
}

Status ReadModelConfig(const std::string& path, ModelConfig* cfg, WeightFormat* format) {
  WeightFormat unused;
  if (!format) format = &unused;
  uint64_t size = 0;
  CPU_LLM_RETURN_IF_ERROR(StatRegularFile(path, &size));
  if (size < kHeaderInts * sizeof(int32_t))
    return RuntimeError("{}: truncated checkpoint: {} bytes, shorter than the header", path, size);
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return RuntimeError("{}: cannot open: {}", path, ErrnoText(errno));
  int32_t h[kHeaderInts];
  size_t got = std::fread(h, sizeof(int32_t), kHeaderInts, f);
  std::fclose(f);
  if (got != kHeaderInts) return RuntimeError("{}: cannot read the checkpoint header", path);
  return CheckModelHeader(path, h, size, cfg, format);
}

Status LoadModel(const std::string& path, GPT2* model) {
  ModelConfig cfg;
  WeightFormat format;
  CPU_LLM_RETURN_IF_ERROR(ReadModelConfig(path, &cfg, &format));
  CPU_LLM_RETURN_IF_ERROR(model->Init(cfg));
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return RuntimeError("{}: cannot open: {}", path, ErrnoText(errno));
  std::fseek(f, kHeaderInts * sizeof(int32_t), SEEK_SET);
  const int64_t n = model->num_params();
  int64_t got = 0;
  if (format == WeightFormat::kFp32) {
    got = static_cast<int64_t>(std::fread(model->params(), sizeof(float), n, f));
  } else {
    // bf16 widens exactly: the fp32 weights are the file's values.
    std::vector<uint16_t> block(std::min<int64_t>(kConvertBlock, n));
    while (got < n) {
      const int64_t want = std::min<int64_t>(kConvertBlock, n - got);
      const int64_t read = static_cast<int64_t>(std::fread(block.data(), sizeof(uint16_t), want, f));
      bf16_to_f32(Context{1}, model->params() + got, block.data(), read);
      got += read;
      if (read != want) break;
    }
  }
  std::fclose(f);
  if (got != n) return RuntimeError("{}: checkpoint changed while reading", path);
  return Status();
}

Status SaveState(const std::string& path, const TrainState& st, const AdamW& opt) {
  const AdamW& o = opt;
  const int64_t n = o.size();
  int64_t h[kHeaderInts] = {};
  h[0] = kStateMagic;
  h[1] = kStateVersion;
  h[2] = st.step;
  h[3] = n;
  h[4] = static_cast<int64_t>(st.rng_state);
  h[5] = st.data.batch;
  h[6] = st.data_order;
  h[7] = st.data.epoch;
  h[8] = st.batch;
  h[9] = st.seq_len;
  h[10] = st.seed;
  h[11] = st.tokenizer_id;
  h[13] = static_cast<int64_t>(st.model_file.size());
  uint32_t scale_bits;
  std::memcpy(&scale_bits, &st.loss_scale, sizeof(scale_bits));
  h[14] = scale_bits;
  h[15] = st.clean_steps;
  h[16] = st.skipped_steps;
  h[17] = st.data.file;
  h[18] = st.data.byte_offset;
  h[19] = st.data.skip_tokens;
  h[20] = st.data.in_document ? 1 : 0;
  h[21] = static_cast<int64_t>(st.run_config.size());
  // The checksum covers the header (with its own slot zero) and the payload.
  uLong crc = crc32_z(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(h), sizeof(h));
  crc = crc32_z(crc, reinterpret_cast<const Bytef*>(st.model_file.data()), st.model_file.size());
  crc = crc32_z(crc, reinterpret_cast<const Bytef*>(st.run_config.data()), st.run_config.size());
  crc = crc32_z(crc, reinterpret_cast<const Bytef*>(o.m()), n * sizeof(float));
  crc = crc32_z(crc, reinterpret_cast<const Bytef*>(o.v()), n * sizeof(float));
  h[12] = static_cast<int64_t>(crc);
  AtomicFileWriter w(path);
  w.Write(h, sizeof(h));
  w.Write(st.model_file.data(), st.model_file.size());
  w.Write(st.run_config.data(), st.run_config.size());
  w.Write(o.m(), n * sizeof(float));
  w.Write(o.v(), n * sizeof(float));
  return w.Finish();
}

namespace {

// Reads a state file and checks everything that needs no model: header,
// size, checksum. h receives the header (checksum slot zeroed).
Status ReadStateFile(const std::string& path, std::vector<uint8_t>* bytes, int64_t* h) {
  CPU_LLM_RETURN_IF_ERROR(ReadFileBytes(path, bytes));
  if (bytes->size() < kHeaderInts * sizeof(int64_t))
    return RuntimeError("{}: truncated state file: {} bytes, shorter than the header", path, bytes->size());
  std::memcpy(h, bytes->data(), kHeaderInts * sizeof(int64_t));
  if (h[0] != kStateMagic) return RuntimeError("{}: not a cpu_llm state file (bad magic)", path);
  if (h[1] < 1 || h[1] > kStateVersion)
    return RuntimeError("{}: unsupported state file version {} (expected 1 to {})", path, h[1], kStateVersion);
  const int64_t n = h[3], name_len = h[13], config_len = h[1] >= 3 ? h[21] : 0;
  if (n < 0 || n > (int64_t{1} << 40)) return RuntimeError("{}: corrupt state file (optimizer size {})", path, n);
  if (name_len < 0 || name_len > 4096) return RuntimeError("{}: corrupt state file (model name length)", path);
  if (config_len < 0 || config_len > (1 << 20)) return RuntimeError("{}: corrupt state file (run config length)", path);
  const uint64_t header = kHeaderInts * sizeof(int64_t);
  const uint64_t expected = header + name_len + config_len + 2 * n * sizeof(float);
  if (bytes->size() != expected)
    return RuntimeError("{}: {} state file: {} bytes, expected {}", path, bytes->size() < expected ? "truncated" : "corrupt",
                        bytes->size(), expected);
  const int64_t stored_crc = h[12];
  h[12] = 0;
  uLong crc = crc32_z(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(h), header);
  crc = crc32_z(crc, bytes->data() + header, expected - header);
  if (static_cast<int64_t>(crc) != stored_crc) return RuntimeError("{}: corrupt state file (checksum mismatch)", path);
  return Status();
}

}  // namespace

Status VerifyStateFile(const std::string& path) {
  std::vector<uint8_t> bytes;
  int64_t h[kHeaderInts];
  return ReadStateFile(path, &bytes, h);
}

Status LoadState(const std::string& path, TrainState* st, AdamW* opt, int64_t* n_params) {
  std::vector<uint8_t> bytes;
  int64_t h[kHeaderInts];
  CPU_LLM_RETURN_IF_ERROR(ReadStateFile(path, &bytes, h));
  const int64_t n = h[3], name_len = h[13], config_len = h[1] >= 3 ? h[21] : 0;
  if (n_params) *n_params = n;
  if (opt && n != opt->size())
    return RuntimeError("{}: state holds {} optimizer values, the model has {} parameters", path, n, opt->size());
  const uint8_t* p = bytes.data() + sizeof(h);
  st->step = h[2];
  st->rng_state = static_cast<uint64_t>(h[4]);
  st->data = LoaderPosition{};
  st->data.epoch = h[7];
  if (h[1] == 1) {  // (source, token offset) of an in-order loader; the trainer converts it
    st->v1_data = true;
    st->v1_source = h[5];
    st->v1_offset = h[6];
    st->data_order = kDataInOrder;
  } else {
    st->v1_data = false;
    st->data.batch = h[5];
    st->data_order = h[6];
    st->data.file = h[17];
    st->data.byte_offset = h[18];
    st->data.skip_tokens = h[19];
    st->data.in_document = h[20] != 0;
    if (h[6] < kDataInOrder || h[6] > kDataText) return RuntimeError("{}: corrupt state file (data order {})", path, h[6]);
  }
  st->batch = h[8];
  st->seq_len = h[9];
  st->seed = h[10];
  st->tokenizer_id = h[11];
  const uint32_t scale_bits = static_cast<uint32_t>(h[14]);
  std::memcpy(&st->loss_scale, &scale_bits, sizeof(scale_bits));
  if (!(st->loss_scale >= 0.0f) || !std::isfinite(st->loss_scale) || h[15] < 0 || h[16] < 0 || h[16] > h[2])
    return RuntimeError("{}: corrupt state file (loss scaling fields)", path);
  st->clean_steps = h[15];
  st->skipped_steps = h[16];
  st->model_file.assign(reinterpret_cast<const char*>(p), name_len);
  p += name_len;
  st->run_config.assign(reinterpret_cast<const char*>(p), config_len);
  p += config_len;
  if (!opt) return Status();
  std::memcpy(opt->m(), p, n * sizeof(float));
  std::memcpy(opt->v(), p + n * sizeof(float), n * sizeof(float));
  return Status();
}

Status SaveCheckpoint(const std::string& dir, const GPT2& model, const AdamW& opt, TrainState st,
                      std::string* state_path) {
  const std::string model_name = fmt::format("model_{:08d}.bin", st.step);
  CPU_LLM_RETURN_IF_ERROR(SaveModel(dir + "/" + model_name, model));
  st.model_file = model_name;
  const std::string path = fmt::format("{}/state_{:08d}.bin", dir, st.step);
  CPU_LLM_RETURN_IF_ERROR(SaveState(path, st, opt));
  if (state_path) *state_path = path;
  return Status();
}

std::vector<std::string> FindStates(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> states;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("state_", 0) != 0 || name.size() != 18 || name.substr(14) != ".bin") continue;
    const std::string model = dir + "/model_" + name.substr(6);
    if (!fs::exists(model, ec)) continue;
    states.push_back(e.path().string());
  }
  // Fixed-width step numbers: the names sort by step.
  std::sort(states.begin(), states.end(), [](const std::string& a, const std::string& b) {
    return fs::path(a).filename() > fs::path(b).filename();
  });
  return states;
}

std::string FindLatestState(const std::string& dir) {
  const std::vector<std::string> states = FindStates(dir);
  return states.empty() ? std::string() : states.front();
}

Status PruneCheckpoints(const std::string& dir, int keep) {
  if (keep <= 0) return Status();
  const std::vector<std::string> states = FindStates(dir);
  for (size_t i = static_cast<size_t>(keep); i < states.size(); i++) {
    const std::string step = std::filesystem::path(states[i]).filename().string().substr(6, 8);
    for (const std::string& path :
         {states[i], dir + "/model_" + step + ".bin", dir + "/model_" + step + ".bf16.bin"}) {
      std::error_code ec;
      std::filesystem::remove(path, ec);
      if (ec) return RuntimeError("{}: cannot remove an old checkpoint file: {}", path, ec.message());
    }
  }
  return Status();
}

void RemoveStaleTempFiles(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> stale;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const size_t at = name.rfind(".tmp.");
    if (at == std::string::npos) continue;
    const std::string pid_text = name.substr(at + 5);
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
    if (pid == ::getpid() || (::kill(pid, 0) != 0 && errno == ESRCH)) stale.push_back(e.path());
  }
  for (const fs::path& p : stale) fs::remove(p, ec);
}

}  // namespace cpu_llm
