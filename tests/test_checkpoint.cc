// Checkpoints: llm.c model files, the resume state file and checkpoint
// naming (the crash-safe writer underneath them: test_atomic_write.cc).
#include <gtest/gtest.h>
#include <zlib.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/file_io.h"
#include "core/rng.h"
#include "data/shard.h"
#include "kernels/reference/convert_ref.h"
#include "model/gpt2.h"
#include "optim/adamw.h"
#include "test_io_util.h"
#include "train/checkpoint.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::testing::ReadBytes;
using ::cpu_llm::testing::ReadText;
using ::cpu_llm::testing::TempDir;
using ::cpu_llm::testing::TempFilesUnder;
using ::cpu_llm::testing::WriteBytes;
using ::cpu_llm::testing::WriteText;

ModelConfig TinyConfig() {
  ModelConfig c;
  c.n_layer = 2;
  c.n_head = 2;
  c.n_embd = 16;
  c.max_seq_len = 8;
  c.vocab_size = 257;
  c.padded_vocab_size = PadVocab(257);
  return c;
}

void MakeTinyModel(GPT2* model, uint64_t seed = 7) {
  ASSERT_TRUE(model->Init(TinyConfig()).ok());
  Rng rng(seed);
  model->InitWeights(rng);
}

// ---------------------------------------------------------------- model files

TEST(CheckpointModel, RoundTripIsBitExactInLlmcLayout) {
  TempDir dir;
  GPT2 model;
  MakeTinyModel(&model);
  const std::string path = dir / "model.bin";
  ASSERT_TRUE(SaveModel(path, model).ok());

  const int64_t n = model.num_params();
  EXPECT_EQ(n, ParameterCount(TinyConfig()));
  std::vector<uint8_t> bytes = ReadBytes(path);
  ASSERT_EQ(bytes.size(), 1024u + 4u * n);
  std::vector<int32_t> header(256);
  std::memcpy(header.data(), bytes.data(), 1024);
  const std::vector<int32_t> want = {20240326, 3, 8, 257, 2, 2, 16, 384};
  for (int i = 0; i < 8; i++) EXPECT_EQ(header[i], want[i]) << "header[" << i << "]";
  for (int i = 8; i < 256; i++) ASSERT_EQ(header[i], 0) << "header[" << i << "]";
  EXPECT_EQ(std::memcmp(bytes.data() + 1024, model.params(), 4 * n), 0);

  ModelConfig cfg;
  ASSERT_TRUE(ReadModelConfig(path, &cfg).ok());
  EXPECT_EQ(cfg.n_layer, 2);
  EXPECT_EQ(cfg.n_head, 2);
  EXPECT_EQ(cfg.n_embd, 16);
  EXPECT_EQ(cfg.max_seq_len, 8);
  EXPECT_EQ(cfg.vocab_size, 257);
  EXPECT_EQ(cfg.padded_vocab_size, 384);

  GPT2 loaded;
  MakeTinyModel(&loaded, 99);  // loading replaces whatever was there
  Status s = LoadModel(path, &loaded);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(loaded.num_params(), n);
  EXPECT_EQ(std::memcmp(loaded.params(), model.params(), 4 * n), 0);
  EXPECT_TRUE(TempFilesUnder(dir.path()).empty());
}

// Header fields of a valid tiny model file, to be broken one at a time.
std::vector<uint8_t> TinyModelBytes() {
  GPT2 model;
  MakeTinyModel(&model);
  TempDir dir;
  EXPECT_TRUE(SaveModel(dir / "m.bin", model).ok());
  return ReadBytes(dir / "m.bin");
}

void SetHeader(std::vector<uint8_t>* bytes, int index, int32_t value) {
  std::memcpy(bytes->data() + 4 * index, &value, 4);
}

// Expects LoadModel (and ReadModelConfig) to fail with a runtime error that
// names the file and contains `what`.
void ExpectBadModel(const std::vector<uint8_t>& bytes, const std::string& what) {
  TempDir dir;
  const std::string path = dir / "bad_model.bin";
  WriteBytes(path, bytes.data(), bytes.size());
  GPT2 model;
  Status s = LoadModel(path, &model);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), ErrorKind::kRuntime);
  EXPECT_HAS_SUBSTR(s.message(), path);
  EXPECT_HAS_SUBSTR(s.message(), what);
  ModelConfig cfg;
  Status s2 = ReadModelConfig(path, &cfg);
  ASSERT_FALSE(s2.ok());
  EXPECT_HAS_SUBSTR(s2.message(), path);
}

TEST(CheckpointModel, MissingFile) {
  TempDir dir;
  GPT2 model;
  Status s = LoadModel(dir / "nope.bin", &model);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), ErrorKind::kRuntime);
  EXPECT_HAS_SUBSTR(s.message(), dir / "nope.bin");
  EXPECT_HAS_SUBSTR(s.message(), "No such file");
  s = LoadModel(dir.path(), &model);  // a folder
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), dir.path());
}

TEST(CheckpointModel, WrongMagic) {
  std::vector<uint8_t> b = TinyModelBytes();
  SetHeader(&b, 0, 20240520);  // a token shard's magic
  ExpectBadModel(b, "magic");
}

// llm.c's version 5: the same header, then every parameter as bf16. Saving
// rounds each weight to nearest even; loading widens exactly, so a second save
// gives the same bytes.
TEST(CheckpointModel, Bf16RoundTripInLlmcLayout) {
  TempDir dir;
  GPT2 model;
  MakeTinyModel(&model);
  const std::string path = dir / "m_bf16.bin";
  ASSERT_TRUE(SaveModel(path, model, WeightFormat::kBf16).ok());
  const std::vector<uint8_t> bytes = ReadBytes(path);
  const int64_t P = model.num_params();
  ASSERT_EQ(bytes.size(), 1024u + 2u * P);
  int32_t version;
  std::memcpy(&version, bytes.data() + 4, 4);
  EXPECT_EQ(version, 5);
  uint16_t first;
  std::memcpy(&first, bytes.data() + 1024, 2);
  EXPECT_EQ(first, ref::f32_to_bf16(model.params()[0]));  // wte[0][0] leads, as in llm.c

  ModelConfig cfg;
  WeightFormat format = WeightFormat::kFp32;
  ASSERT_TRUE(ReadModelConfig(path, &cfg, &format).ok());
  EXPECT_EQ(format, WeightFormat::kBf16);
  GPT2 loaded;
  ASSERT_TRUE(LoadModel(path, &loaded).ok());
  ASSERT_EQ(loaded.num_params(), P);
  for (int64_t i = 0; i < P; i++)
    ASSERT_EQ(loaded.params()[i], ref::bf16_to_f32(ref::f32_to_bf16(model.params()[i]))) << i;
  ASSERT_TRUE(SaveModel(dir / "again.bin", loaded, WeightFormat::kBf16).ok());
  EXPECT_EQ(ReadBytes(dir / "again.bin"), bytes);
}

TEST(CheckpointModel, Bf16HeaderWithTheWrongSizeIsRefused) {
  std::vector<uint8_t> b = TinyModelBytes();  // fp32 body: twice the bytes version 5 expects
  SetHeader(&b, 1, 5);
  ExpectBadModel(b, "corrupt");
  GPT2 model;
  MakeTinyModel(&model);
  TempDir dir;
  ASSERT_TRUE(SaveModel(dir / "m.bin", model, WeightFormat::kBf16).ok());
  b = ReadBytes(dir / "m.bin");
  b.resize(b.size() - 3);
  ExpectBadModel(b, "truncated");
}

TEST(CheckpointModel, OtherVersion) {
  std::vector<uint8_t> b = TinyModelBytes();
  SetHeader(&b, 1, 4);
  ExpectBadModel(b, "version 4");
}

TEST(CheckpointModel, TruncatedInTheParams) {
  std::vector<uint8_t> b = TinyModelBytes();
  b.resize(1024 + (b.size() - 1024) / 2 + 1);
  ExpectBadModel(b, "truncated");
}

TEST(CheckpointModel, TruncatedInTheHeader) {
  std::vector<uint8_t> b = TinyModelBytes();
  b.resize(500);
  ExpectBadModel(b, "truncated");
  ExpectBadModel({}, "truncated");
}

TEST(CheckpointModel, ExtraBytes) {
  std::vector<uint8_t> b = TinyModelBytes();
  b.insert(b.end(), {1, 2, 3, 4});
  ExpectBadModel(b, "corrupt");
}

TEST(CheckpointModel, ChannelsNotDivisibleByHeads) {
  std::vector<uint8_t> b = TinyModelBytes();
  SetHeader(&b, 5, 3);  // NH = 3, C = 16
  ExpectBadModel(b, "divisible");
}

TEST(CheckpointModel, ImplausibleOrNegativeShapes) {
  std::vector<uint8_t> b = TinyModelBytes();
  SetHeader(&b, 4, 1 << 30);  // L: the size would overflow if multiplied out
  ExpectBadModel(b, "header");
  b = TinyModelBytes();
  SetHeader(&b, 6, -16);
  ExpectBadModel(b, "header");
  b = TinyModelBytes();
  SetHeader(&b, 7, 100);  // Vp < V
  ExpectBadModel(b, "header");
}

// ---------------------------------------------------------------- state files

void FillOptimizer(AdamW* opt, uint64_t seed) {
  Rng rng(seed);
  for (int64_t i = 0; i < opt->size(); i++) {
    opt->m()[i] = rng.Normal();
    opt->v()[i] = rng.Uniform();
  }
}

TrainState SampleState() {
  TrainState st;
  st.step = 1234;
  st.rng_state = 0xF00DFACECAFEBEEFull;  // top bit set: survives the int64 header
  st.data.epoch = 3;
  st.data.batch = 4096;
  st.data.file = 2;
  st.data.byte_offset = int64_t{5} << 30;  // past 4 GiB
  st.data.skip_tokens = 17;
  st.data.in_document = true;
  st.data_order = kDataText;
  st.batch = 4;
  st.seq_len = 64;
  st.seed = 1337;
  st.tokenizer_id = 0;
  st.loss_scale = 32768.0f;
  st.clean_steps = 117;
  st.skipped_steps = 9;
  st.model_file = "model_00001234.bin";
  st.run_config = "{\n  \"batch\": 4,\n  \"lr\": 0.001\n}\n";
  return st;
}

TEST(CheckpointState, RoundTrip) {
  TempDir dir;
  AdamW opt;
  opt.Init(TinyConfig(), AdamWConfig{});
  FillOptimizer(&opt, 3);
  const TrainState st = SampleState();
  const std::string path = dir / "state.bin";
  ASSERT_TRUE(SaveState(path, st, opt).ok());
  EXPECT_EQ(std::filesystem::file_size(path), 2048u + st.model_file.size() + st.run_config.size() + 8u * opt.size());

  AdamW back;
  back.Init(TinyConfig(), AdamWConfig{});
  TrainState got;
  Status s = LoadState(path, &got, &back);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(got.step, st.step);
  EXPECT_EQ(got.rng_state, st.rng_state);
  EXPECT_EQ(got.data, st.data);
  EXPECT_EQ(got.data_order, st.data_order);
  EXPECT_FALSE(got.v1_data);
  EXPECT_EQ(got.batch, st.batch);
  EXPECT_EQ(got.seq_len, st.seq_len);
  EXPECT_EQ(got.seed, st.seed);
  EXPECT_EQ(got.tokenizer_id, st.tokenizer_id);
  EXPECT_EQ(got.loss_scale, st.loss_scale);
  EXPECT_EQ(got.clean_steps, st.clean_steps);
  EXPECT_EQ(got.skipped_steps, st.skipped_steps);
  EXPECT_EQ(got.model_file, st.model_file);
  EXPECT_EQ(got.run_config, st.run_config);
  EXPECT_EQ(std::memcmp(back.m(), opt.m(), 4 * opt.size()), 0);
  EXPECT_EQ(std::memcmp(back.v(), opt.v(), 4 * opt.size()), 0);

  // Without an optimizer (`info`): the state and the file's parameter count.
  TrainState alone;
  int64_t n_params = 0;
  s = LoadState(path, &alone, nullptr, &n_params);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(n_params, opt.size());
  EXPECT_EQ(alone.step, st.step);
  EXPECT_EQ(alone.run_config, st.run_config);
}

// Version 2 (before run configs): no config text; still read.
TEST(CheckpointState, VersionTwoHasNoRunConfig) {
  TempDir dir;
  AdamW opt;
  opt.Init(TinyConfig(), AdamWConfig{});
  FillOptimizer(&opt, 3);
  TrainState st = SampleState();
  st.run_config.clear();
  const std::string path = dir / "state.bin";
  ASSERT_TRUE(SaveState(path, st, opt).ok());
  std::vector<uint8_t> b = ReadBytes(path);
  int64_t h[256];
  std::memcpy(h, b.data(), sizeof(h));
  h[1] = 2;
  h[12] = 0;
  std::memcpy(b.data(), h, sizeof(h));
  h[12] = static_cast<int64_t>(crc32_z(crc32(0L, Z_NULL, 0), b.data(), b.size()));
  std::memcpy(b.data(), h, sizeof(h));
  WriteBytes(path, b.data(), b.size());
  AdamW back;
  back.Init(TinyConfig(), AdamWConfig{});
  TrainState got;
  got.run_config = "stale";
  Status s = LoadState(path, &got, &back);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(got.run_config, "");
  EXPECT_EQ(got.step, st.step);
  EXPECT_EQ(std::memcmp(back.v(), opt.v(), 4 * opt.size()), 0);
}

struct SavedState {
  TempDir dir;
  std::string path;
  AdamW opt;
  SavedState() {
    path = dir / "state.bin";
    opt.Init(TinyConfig(), AdamWConfig{});
    FillOptimizer(&opt, 5);
    EXPECT_TRUE(SaveState(path, SampleState(), opt).ok());
  }
  Status Load() {
    AdamW o;
    o.Init(TinyConfig(), AdamWConfig{});
    TrainState st;
    return LoadState(path, &st, &o);
  }
};

TEST(CheckpointState, ParameterCountMismatch) {
  SavedState saved;
  ModelConfig other = TinyConfig();
  other.n_layer = 1;
  AdamW o;
  o.Init(other, AdamWConfig{});
  TrainState st;
  Status s = LoadState(saved.path, &st, &o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.kind(), ErrorKind::kRuntime);
  EXPECT_HAS_SUBSTR(s.message(), saved.path);
  EXPECT_HAS_SUBSTR(s.message(), std::to_string(saved.opt.size()));
}

TEST(CheckpointState, CorruptedByteFailsTheChecksum) {
  SavedState saved;
  std::vector<uint8_t> b = ReadBytes(saved.path);
  // step, data offset (header); name, m, v (payload)
  for (size_t at : {size_t{2 * 8}, size_t{6 * 8}, size_t{2048}, size_t{2048 + 30}, b.size() / 2, b.size() - 1}) {
    std::vector<uint8_t> c = b;
    c[at] ^= 0x10;
    WriteBytes(saved.path, c.data(), c.size());
    Status s = saved.Load();
    ASSERT_FALSE(s.ok()) << "byte " << at;
    EXPECT_HAS_SUBSTR(s.message(), saved.path);
    EXPECT_HAS_SUBSTR(s.message(), "checksum");
  }
  WriteBytes(saved.path, b.data(), b.size());
  EXPECT_TRUE(saved.Load().ok());
}

// Version 1 files (before shuffled windows) held the data position as
// (source, token offset); they still load, flagged for conversion.
TEST(CheckpointState, VersionOneDataPositionIsRead) {
  SavedState saved;
  std::vector<uint8_t> b = ReadBytes(saved.path);
  int64_t h[256];
  std::memcpy(h, b.data(), sizeof(h));
  // Version 1 had no run config: drop it.
  const TrainState sample = SampleState();
  b.erase(b.begin() + 2048 + sample.model_file.size(),
          b.begin() + 2048 + sample.model_file.size() + sample.run_config.size());
  h[21] = 0;
  h[1] = 1;
  h[5] = 2;       // source
  h[6] = 4096;    // token offset
  for (int i = 17; i <= 20; i++) h[i] = 0;
  h[12] = 0;
  std::memcpy(b.data(), h, sizeof(h));
  uLong crc = crc32_z(crc32(0L, Z_NULL, 0), b.data(), b.size());
  h[12] = static_cast<int64_t>(crc);
  std::memcpy(b.data(), h, sizeof(h));
  WriteBytes(saved.path, b.data(), b.size());
  AdamW o;
  o.Init(TinyConfig(), AdamWConfig{});
  TrainState st;
  Status s = LoadState(saved.path, &st, &o);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(st.v1_data);
  EXPECT_EQ(st.v1_source, 2);
  EXPECT_EQ(st.v1_offset, 4096);
  EXPECT_EQ(st.data.epoch, 3);
  EXPECT_EQ(st.data_order, kDataInOrder);
}

TEST(CheckpointState, TruncatedOrBadHeader) {
  SavedState saved;
  const std::vector<uint8_t> b = ReadBytes(saved.path);
  for (size_t len : {b.size() - 1, b.size() / 2, size_t{2048}, size_t{1000}, size_t{0}}) {
    WriteBytes(saved.path, b.data(), len);
    Status s = saved.Load();
    ASSERT_FALSE(s.ok()) << "length " << len;
    EXPECT_HAS_SUBSTR(s.message(), saved.path);
    EXPECT_HAS_SUBSTR(s.message(), "truncated");
  }
  std::vector<uint8_t> c = b;
  c.push_back(0);
  WriteBytes(saved.path, c.data(), c.size());
  EXPECT_FALSE(saved.Load().ok());
  c = b;
  c[0] ^= 1;  // magic
  WriteBytes(saved.path, c.data(), c.size());
  Status s = saved.Load();
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), "magic");
  c = b;
  c[13 * 8] = 0xFF;  // model name length
  c[13 * 8 + 7] = 0x7F;
  WriteBytes(saved.path, c.data(), c.size());
  EXPECT_FALSE(saved.Load().ok());
  for (uint8_t top : {uint8_t{0x7F}, uint8_t{0xFF}}) {  // run config length: huge, negative
    c = b;
    c[21 * 8 + 7] = top;
    WriteBytes(saved.path, c.data(), c.size());
    s = saved.Load();
    ASSERT_FALSE(s.ok());
    EXPECT_HAS_SUBSTR(s.message(), "run config length");
  }
}

// ---------------------------------------------------------------- checkpoints

TEST(CheckpointFiles, SaveCheckpointNamesAndLatest) {
  TempDir dir;
  GPT2 model;
  MakeTinyModel(&model);
  AdamW opt;
  opt.Init(TinyConfig(), AdamWConfig{});
  FillOptimizer(&opt, 1);
  EXPECT_EQ(FindLatestState(dir.path()), "");
  EXPECT_EQ(FindLatestState(dir / "missing"), "");

  TrainState st = SampleState();
  std::string state_path;
  for (int64_t step : {3, 12, 7}) {
    st.step = step;
    ASSERT_TRUE(SaveCheckpoint(dir.path(), model, opt, st, &state_path).ok());
  }
  EXPECT_EQ(state_path, dir / "state_00000007.bin");
  for (const char* name : {"model_00000003.bin", "state_00000003.bin", "model_00000012.bin", "state_00000012.bin",
                           "model_00000007.bin", "state_00000007.bin"})
    EXPECT_TRUE(std::filesystem::is_regular_file(dir / name)) << name;
  EXPECT_TRUE(TempFilesUnder(dir.path()).empty());

  AdamW back;
  back.Init(TinyConfig(), AdamWConfig{});
  TrainState got;
  ASSERT_TRUE(LoadState(dir / "state_00000012.bin", &got, &back).ok());
  EXPECT_EQ(got.step, 12);
  EXPECT_EQ(got.model_file, "model_00000012.bin");
  GPT2 loaded;
  ASSERT_TRUE(LoadModel(dir / got.model_file, &loaded).ok());
  EXPECT_EQ(std::memcmp(loaded.params(), model.params(), 4 * model.num_params()), 0);

  EXPECT_EQ(FindLatestState(dir.path()), dir / "state_00000012.bin");
  // A newer state whose model file is missing is incomplete; stray names are not states.
  std::filesystem::copy_file(dir / "state_00000012.bin", dir / "state_00000020.bin");
  WriteText(dir / "state_00000009.bin.tmp.123", "partial");
  WriteText(dir / "model_00000030.bin.tmp.9", "partial");
  WriteText(dir / "state_00000030.bin.tmp.9", "partial");
  WriteText(dir / "state_0000040.bin", "x");
  WriteText(dir / "mystate_00000050.bin", "x");
  std::filesystem::create_directory(dir / "state_00000060.bin.d");
  EXPECT_EQ(FindLatestState(dir.path()), dir / "state_00000012.bin");
  std::filesystem::remove(dir / "model_00000012.bin");
  EXPECT_EQ(FindLatestState(dir.path()), dir / "state_00000007.bin");
}

TEST(CheckpointFiles, SaveIntoMissingFolderFails) {
  TempDir dir;
  GPT2 model;
  MakeTinyModel(&model);
  AdamW opt;
  opt.Init(TinyConfig(), AdamWConfig{});
  Status s = SaveCheckpoint(dir / "no/such/dir", model, opt, SampleState(), nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), dir / "no/such/dir");
}

// ---------------------------------------------------------------- a full disk

// A real ENOSPC on a 64 KiB tmpfs (needs root / CAP_SYS_ADMIN).
TEST(CheckpointAtomic, DiskFullKeepsTheOldFile) {
  TempDir dir;
  const std::string mnt = dir / "small";
  std::filesystem::create_directory(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=64k") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs (" << std::strerror(errno) << "); needs root";
  struct Unmount {
    std::string dir;
    ~Unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
  } unmount{mnt};

  const std::string path = mnt + "/model.bin";
  WriteText(path, "old model");
  std::vector<uint8_t> big(256 * 1024, 0x33);
  AtomicFileWriter w(path);
  w.Write(big.data(), big.size());
  Status s = w.Finish();
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), path);
  EXPECT_HAS_SUBSTR(s.message(), "No space");
  EXPECT_EQ(ReadText(path), "old model");
  EXPECT_TRUE(TempFilesUnder(mnt).empty());

  // The same through the shard and checkpoint writers.
  std::vector<uint16_t> tokens(100000, 7);
  Status s2 = WriteShard(mnt + "/shard.bin", tokens);
  ASSERT_FALSE(s2.ok());
  EXPECT_HAS_SUBSTR(s2.message(), mnt + "/shard.bin");
  EXPECT_FALSE(std::filesystem::exists(mnt + "/shard.bin"));
  AdamW opt;
  opt.Init(TinyConfig(), AdamWConfig{});  // the model (~52 KB) fits, the state (~105 KB) does not
  GPT2 model;
  MakeTinyModel(&model);
  Status s3 = SaveCheckpoint(mnt, model, opt, SampleState(), nullptr);
  ASSERT_FALSE(s3.ok());
  EXPECT_HAS_SUBSTR(s3.message(), mnt);
  EXPECT_TRUE(TempFilesUnder(mnt).empty());
  EXPECT_EQ(FindLatestState(mnt), "");  // no state file without its model
  EXPECT_EQ(ReadText(path), "old model");
}

}  // namespace
}  // namespace cpu_llm
