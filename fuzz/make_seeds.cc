// Writes the seed corpora of the fuzz targets, small valid files made by the
// project's own writers plus a few edge cases, into <out>/<target>/:
//   fuzz_make_seeds fuzz/corpus
// The committed corpus is these seeds merged with what the long runs found
// (tools/fuzz.sh long); rerun this only to start a corpus afresh.
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/file_io.h"
#include "core/rng.h"
#include "data/gpt2_vocab.h"
#include "data/llmc_tokenizer.h"
#include "data/shard.h"
#include "data/token_map.h"
#include "data/tokenizer.h"
#include "data/utf8.h"
#include "io/gguf.h"
#include "io/gguf_export.h"
#include "io/gguf_validate.h"
#include "io/hf_export.h"
#include "train/checkpoint.h"
#include "train/run_config.h"

#include <nlohmann/json.hpp>

using namespace cpu_llm;
namespace fs = std::filesystem;

namespace {

fs::path g_out;

void Check(const Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "fuzz_make_seeds: %s\n", s.message().c_str());
    std::exit(1);
  }
}

fs::path Dir(const std::string& target) {
  fs::path d = g_out / target;
  fs::create_directories(d);
  return d;
}

std::string Slurp(const fs::path& p) {
  std::vector<uint8_t> bytes;
  Check(ReadFileBytes(p.string(), &bytes));
  return std::string(bytes.begin(), bytes.end());
}

void Put(const std::string& target, const std::string& name, const std::string& bytes) {
  std::FILE* f = std::fopen((Dir(target) / name).c_str(), "wb");
  if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0) {
    std::fprintf(stderr, "fuzz_make_seeds: cannot write %s/%s\n", target.c_str(), name.c_str());
    std::exit(1);
  }
}

// The same small shape as fuzz/state.cc's optimizer.
ModelConfig Tiny() {
  ModelConfig c;
  c.vocab_size = 8;
  c.padded_vocab_size = 8;
  c.max_seq_len = 4;
  c.n_layer = 1;
  c.n_head = 1;
  c.n_embd = 4;
  return c;
}

ModelConfig TinyLlama() {
  ModelConfig c = Tiny();
  c.n_head = 2;
  c.norm = NormKind::kRmsNorm;
  c.mlp = MlpKind::kSwiGlu;
  c.pos = PosKind::kRope;
  c.bias = false;
  c.tied_head = false;
  c.mlp_hidden = 8;
  return c;
}

void Shards() {
  const fs::path tmp = Dir("shard") / "tmp.bin";
  const std::vector<std::vector<uint16_t>> token_sets = {{}, {1, 2, 3}, {0, 256, 50256, 50257, 65535}};
  for (size_t i = 0; i < token_sets.size(); i++) {
    Check(WriteShard(tmp.string(), token_sets[i]));
    Put("shard", "llmc_" + std::to_string(i), Slurp(tmp));
  }
  fs::remove(tmp);
  Put("shard", "nanogpt_2", std::string("\x01\x00\x02\x00", 4));
  Put("shard", "nanogpt_odd", std::string("\x01\x00\x02", 3));
}

void Checkpoints() {
  const fs::path tmp = Dir("checkpoint") / "tmp.bin";
  struct Case {
    const char* name;
    ModelConfig cfg;
    WeightFormat format;
  };
  for (const Case& c : {Case{"gpt2_fp32", Tiny(), WeightFormat::kFp32}, Case{"gpt2_bf16", Tiny(), WeightFormat::kBf16},
                        Case{"llama_blocks", TinyLlama(), WeightFormat::kFp32}}) {
    GPT2 model;
    Check(model.Init(c.cfg));
    Rng rng(7);
    model.InitWeights(rng);
    Check(SaveModel(tmp.string(), model, c.format));
    Put("checkpoint", c.name, Slurp(tmp));
  }
  fs::remove(tmp);
}

// fuzz/state.cc reads byte 0 as "rewrite the checksum"; the seeds have
// correct checksums, so they go in both ways.
void States() {
  const fs::path tmp = Dir("state") / "tmp.bin";
  AdamW opt;
  opt.Init(Tiny(), AdamWConfig{});
  for (int64_t i = 0; i < opt.size(); i++) {
    opt.m()[i] = 0.01f * i;
    opt.v()[i] = 0.001f * i;
  }
  TrainState st;
  st.step = 12;
  st.rng_state = 99;
  st.data.batch = 3;
  st.data_order = kDataText;
  st.data.file = 1;
  st.data.byte_offset = 4096;
  st.data.skip_tokens = 5;
  st.data.in_document = true;
  st.batch = 4;
  st.seq_len = 4;
  st.seed = 1337;
  st.loss_scale = 1024.0f;
  st.clean_steps = 2;
  st.skipped_steps = 1;
  st.model_file = "model_00000012.bin";
  Check(SaveState(tmp.string(), st, opt));
  const std::string bytes = Slurp(tmp);
  fs::remove(tmp);
  Put("state", "v2_as_is", std::string(1, '\0') + bytes);
  Put("state", "v2_fix_crc", std::string(1, '\1') + bytes);
  std::string v1 = bytes;  // version 1: the older data position slots
  const int64_t one = 1;
  std::memcpy(v1.data() + 8, &one, 8);
  Put("state", "v1_fix_crc", std::string(1, '\1') + v1);
}

// A GPT-2 vocabulary cut down to the 256 byte tokens, the first merges of the
// real vocab.bpe (which build only on bytes and earlier merges) and
// end-of-text, as "encoder.json NUL vocab.bpe".
std::string SmallGpt2Vocab(int n_merges) {
  const std::array<char32_t, 256> cp = Gpt2ByteToCodePoint();
  nlohmann::ordered_json encoder = nlohmann::ordered_json::object();
  int next_id = 0;
  for (int b = 0; b < 256; b++) {
    std::string s;
    AppendUtf8(cp[b], &s);
    encoder[s] = next_id++;
  }
  std::string bpe = "#version: 0.2\n";
  const std::string_view all = EmbeddedGpt2VocabBpe();
  size_t pos = all.find('\n') + 1;
  for (int i = 0; i < n_merges; i++) {
    const size_t nl = all.find('\n', pos);
    const std::string line(all.substr(pos, nl - pos));
    pos = nl + 1;
    const size_t space = line.find(' ');
    const std::string merged = line.substr(0, space) + line.substr(space + 1);
    if (!encoder.contains(merged)) encoder[merged] = next_id++;
    bpe += line + "\n";
  }
  encoder["<|endoftext|>"] = next_id++;
  return encoder.dump() + std::string(1, '\0') + bpe;
}

void Gpt2Vocabs() {
  Put("gpt2_vocab", "merges_0", SmallGpt2Vocab(0));
  Put("gpt2_vocab", "merges_40", SmallGpt2Vocab(40));
  Put("gpt2_vocab", "merges_300", SmallGpt2Vocab(300));
}

void LlmcTokenizers() {
  const fs::path tmp = Dir("llmc_tokenizer") / "tmp.bin";
  ByteTokenizer bytes;
  Check(WriteLlmcTokenizer(tmp.string(), bytes));
  const std::string v2 = Slurp(tmp);
  fs::remove(tmp);
  Put("llmc_tokenizer", "bytes_v2", v2);
  std::string v1 = v2;
  const uint32_t one = 1;
  std::memcpy(v1.data() + 4, &one, 4);
  Put("llmc_tokenizer", "bytes_v1", v1);
}

void TokenMaps() {
  const fs::path tmp = Dir("token_map") / "tmp.bin";
  const std::vector<std::vector<int64_t>> counts = {{0, 3, 0, 1, 5, 0, 0, 2}, {1, 1}, {0, 0, 0, 9}};
  for (size_t i = 0; i < counts.size(); i++) {
    TokenMap map;
    Check(TokenMap::FromCounts(counts[i], 1, static_cast<int>(counts[i].size()) - 1, &map));
    Check(map.Save(tmp.string()));
    Put("token_map", "map_" + std::to_string(i), Slurp(tmp));
  }
  fs::remove(tmp);
}

// fuzz/document_reader.cc's layout: option byte (bit 0 jsonl; piece size
// 16 + byte >> 1), delimiter length byte, delimiter, file.
void DocumentReaders() {
  auto put = [](const char* name, bool jsonl, int piece_extra, const std::string& delim, const std::string& file) {
    std::string in;
    in += static_cast<char>((piece_extra << 1) | (jsonl ? 1 : 0));
    in += static_cast<char>(delim.size());
    Put("document_reader", name, in + delim + file);
  };
  const std::string prose =
      "In the beginning God created the heaven and the earth. And the earth was without form, and void; "
      "and darkness was upon the face of the deep.\n";
  put("text_whole", false, 0, "", prose);
  put("text_delim", false, 10, "\n\n", "first document\n\nsecond one, a bit longer than a piece\n\n\n\nlast");
  put("text_nospace", false, 3, "", std::string(60, 'x') + "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC" + std::string(30, 'y'));
  put("jsonl", true, 4, "",
      "{\"text\": \"hello world, this is a JSONL document\"}\n"
      "\n"
      "{\"text\": \"caf\\u00e9 \\ud83d\\ude00 escapes\", \"id\": 2}\r\n"
      "{\"text\": \"\"}\n"
      "{\"text\": \"last line without newline\"}");
  put("jsonl_bad", true, 0, "", "{\"text\": \"ok\"}\n{\"other\": 1}\n");
}

// Pieces of the BPE torture fixture (pre-tokenizer and merge edge cases) and
// a few invalid UTF-8 sequences.
void Gpt2Encodes(const fs::path& fixtures) {
  const std::string torture = Slurp(fixtures / "bpe_torture.txt");
  for (size_t i = 0, k = 0; i < torture.size(); i += 512, k++)
    Put("gpt2_encode", "torture_" + std::to_string(k), torture.substr(i, 512));
  Put("gpt2_encode", "ascii", "Hello, world! It's 2024 -- don't   stop.\n\n<|endoftext|> 'll 're\t\tx");
  Put("gpt2_encode", "invalid_utf8", "\xC3\x28 \xE2\x82 \xF0\x9F\x98 \xED\xA0\x80 \xF4\x90\x80\x80 \xEF\xBB\xBF\xC0\xAF");
}

// fuzz/metrics_log.cc's layout: the resumed step in byte 0, then the file.
// What a killed run leaves: records past the checkpoint, a line cut short.
void MetricsLogs() {
  Put("metrics_log", "resume_3_cut",
      "\x03{\"step\":1,\"loss\":5.1}\n{\"step\":2,\"loss\":4.9}\n{\"step\":3,\"loss\":4.5}\n"
      "{\"step\":4,\"loss\":4.2}\n{\"step\":5,\"lo");
  Put("metrics_log", "resume_2_events",
      "\x02{\"step\":1,\"loss\":5.1,\"val_loss\":5.2}\n{\"event\":\"resume\",\"step\":2}\n"
      "{\"step\":3,\"nonfinite\":true,\"skipped\":true}\n");
}

// fuzz/run_plot.cc: a run's metrics.jsonl as `train` writes it, val records
// and a line cut short included.
void RunPlots() {
  Put("run_plot", "train_val",
      "{\"step\":1,\"loss\":5.5,\"lr\":1e-4,\"grad_norm\":2.0,\"ms\":10.0,\"data_ms\":0.1,\"tok_s\":1000.0}\n"
      "{\"step\":2,\"loss\":5.0,\"lr\":2e-4,\"grad_norm\":1.5,\"ms\":9.0,\"data_ms\":0.1,\"tok_s\":1100.0}\n"
      "{\"step\":2,\"val_loss\":5.25}\n{\"step\":3,\"loss\":4.");
  Put("run_plot", "one_step", "{\"step\":7,\"loss\":3.25,\"lr\":0.0006,\"tok_s\":5}\n");
}

// fuzz/run_config.cc: the config a run saves (every key), a short file
// with comments, and a bad value of each type.
void RunConfigs() {
  Put("run_config", "saved", RunConfigJson(TrainOptions{}));
  Put("run_config", "short", "// a comment\n{\"lr\": 1e-3, \"steps\": 2.0, /* x */ \"shuffle\": true, \"model\": \"d6\"}\n");
  Put("run_config", "bad_types", "{\"batch\": \"8\", \"seed\": -1, \"lr\": null}");
}

// GGUF: the real exports are 50257 tokens of tokenizer metadata (MBs, too
// large to mutate fast), so each seed is an export of a 1-layer model whose
// vocabulary is then cut to its first 16 tokens (with the merges that stay
// inside them) and rewritten; every seed passes ValidateGguf. Plus a file
// holding every metadata type and tensor dtype.
GgufValue Shrunk(const GgufValue& v, uint64_t n) {
  GgufValue out = v;
  out.count = std::min<uint64_t>(v.count, n);
  if (!out.strings.empty()) out.strings.resize(out.count);
  if (!out.bytes.empty()) out.bytes.resize(out.count * GgufTypeSize(v.elem_type()));
  return out;
}

void Ggufs() {
  constexpr uint64_t kTokens = 16;
  const fs::path tmp = Dir("gguf") / "tmp.gguf";
  struct Case {
    const char* name;
    ModelConfig cfg;
    GgufDtype dtype;
  };
  ModelConfig gpt2 = Tiny(), llama = TinyLlama();
  gpt2.vocab_size = llama.vocab_size = 50257;
  gpt2.padded_vocab_size = llama.padded_vocab_size = 50304;
  for (const Case& c : {Case{"gpt2_f32", gpt2, GgufDtype::kF32}, Case{"gpt2_bf16", gpt2, GgufDtype::kBf16},
                        Case{"llama_f16", llama, GgufDtype::kF16}}) {
    GPT2 model;
    Check(model.Init(c.cfg));
    Rng rng(7);
    model.InitWeights(rng);
    Check(WriteGgufModel(model, tmp.string(), c.dtype, c.name));
    GgufFile file;
    Check(ReadGguf(tmp.string(), &file));
    GgufWriter w;
    for (const GgufKv& kv : file.kvs) {
      if (kv.key == "tokenizer.ggml.tokens" || kv.key == "tokenizer.ggml.token_type") {
        w.AddKv(kv.key, Shrunk(kv.value, kTokens));
      } else if (kv.key == "tokenizer.ggml.merges") {
        w.AddKv(kv.key, Shrunk(kv.value, 0));
      } else if (kv.key.find("token_id") != std::string::npos) {
        w.AddKv(kv.key, GgufValue::U32(kTokens - 1));
      } else if (kv.key == "llama.vocab_size") {
        w.AddKv(kv.key, GgufValue::U32(kTokens));
      } else {
        w.AddKv(kv.key, kv.value);
      }
    }
    for (const GgufTensorInfo& t : file.tensors) {
      std::vector<float> data;
      Check(ReadGgufTensor(file, t.name, &data));
      std::vector<uint64_t> dims = t.dims;
      if (t.name == "token_embd.weight" || t.name == "output.weight") {
        dims[1] = kTokens;
        data.resize(dims[0] * kTokens);
      }
      w.AddOwnedTensor(t.name, dims, static_cast<GgmlType>(t.type), std::move(data));
    }
    Check(w.Write(tmp.string()));
    Check(ValidateGguf(tmp.string()));
    Put("gguf", c.name, Slurp(tmp));
  }
  GgufWriter all;
  all.AddKv("general.alignment", GgufValue::U32(64));
  all.AddKv("t.u8", GgufValue::Scalar(GgufType::kUint8, uint8_t{200}));
  all.AddKv("t.i16", GgufValue::Scalar(GgufType::kInt16, int16_t{-30000}));
  all.AddKv("t.f64", GgufValue::Scalar(GgufType::kFloat64, 2.5e300));
  all.AddKv("t.bool", GgufValue::Bool(true));
  all.AddKv("t.str", GgufValue::Str("h\xC3\xA9llo"));
  all.AddKv("t.u64", GgufValue::U64(uint64_t{1} << 60));
  all.AddKv("t.arr_i32", GgufValue::Array(GgufType::kInt32, std::vector<int32_t>{1, -2, 3}));
  all.AddKv("t.arr_str", GgufValue::StrArray({"a", "", "\xE2\x82\xAC"}));
  const std::vector<float> values = {1.0f, -2.5f, 3.25f, 0.0f, 65504.0f, -1e-3f};
  all.AddOwnedTensor("f32", {3, 2}, GgmlType::kF32, values);
  all.AddOwnedTensor("f16", {6}, GgmlType::kF16, values);
  all.AddOwnedTensor("bf16", {2, 3}, GgmlType::kBf16, values);
  Check(all.Write(tmp.string()));
  Put("gguf", "every_type", Slurp(tmp));
  fs::remove(tmp);
}

// safetensors + config.json exports of the tiny GPT-2 and Llama shapes, each
// dtype once: the raw weights file for fuzz_safetensors, and config.json,
// a NUL, then the weights for fuzz_hf_import.
void HfFolders() {
  const fs::path tmp = Dir("safetensors") / "tmp";
  struct Case {
    const char* name;
    ModelConfig cfg;
    StDtype dtype;
  };
  for (const Case& c : {Case{"gpt2_f32", Tiny(), StDtype::kF32}, Case{"gpt2_bf16", Tiny(), StDtype::kBF16},
                        Case{"llama_f16", TinyLlama(), StDtype::kF16}}) {
    GPT2 model;
    Check(model.Init(c.cfg));
    Rng rng(7);
    model.InitWeights(rng);
    Check(ExportHfSafetensors(model, tmp.string(), c.dtype, nlohmann::ordered_json::object()));
    const std::string weights = Slurp(tmp / kHfWeightsName), config = Slurp(tmp / kHfConfigName);
    Put("safetensors", c.name, weights);
    Put("hf_import", c.name, config + std::string(1, '\0') + weights);
  }
  fs::remove_all(tmp);
}

}  // namespace

// fuzz/file_info.cc: `info` tells formats apart by content, so its seeds are
// the smallest few of each format's own seeds.
void FileInfos() {
  for (const char* t : {"shard", "checkpoint", "state", "llmc_tokenizer", "token_map", "gguf", "safetensors"}) {
    std::vector<std::pair<uintmax_t, fs::path>> files;
    for (const auto& e : fs::directory_iterator(Dir(t)))
      if (e.is_regular_file() && e.file_size() <= (64u << 10)) files.emplace_back(e.file_size(), e.path());
    std::sort(files.begin(), files.end());
    for (size_t i = 0; i < files.size() && i < 4; i++)
      Put("file_info", std::string(t) + "_" + files[i].second.filename().string(), Slurp(files[i].second));
  }
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: fuzz_make_seeds <corpus dir> <tests/fixtures dir>\n");
    return 2;
  }
  g_out = argv[1];
  Shards();
  Checkpoints();
  States();
  Gpt2Vocabs();
  LlmcTokenizers();
  TokenMaps();
  DocumentReaders();
  Gpt2Encodes(argv[2]);
  MetricsLogs();
  RunPlots();
  RunConfigs();
  Ggufs();
  HfFolders();
  FileInfos();
  return 0;
}
