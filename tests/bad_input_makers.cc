// Fixtures of docs/BAD_INPUTS.md's placeholders (bad_input_makers.h).
#include "bad_input_makers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/rng.h"
#include "data/shard.h"
#include "data/token_map.h"
#include "model/gpt2.h"
#include "test_io_util.h"
#include "test_model_util.h"
#include "train/checkpoint.h"

namespace cpu_llm::bad_inputs {
namespace {

using ::cpu_llm::test::WriteTinyModel;

using ::cpu_llm::testing::ByteTokens;
using ::cpu_llm::testing::ProcessResult;
using ::cpu_llm::testing::RawShard;
using ::cpu_llm::testing::ReadBytes;
using ::cpu_llm::testing::WriteBytes;
using ::cpu_llm::testing::WriteText;

}  // namespace

const std::vector<std::string> kTiny = {"--model",   "d1", "--channels", "32",      "--heads",       "2",
                                        "--batch",   "2",  "--seq-len",  "16",      "--steps",       "2",
                                        "--threads", "1",  "--tokenizer", "bytes", "--sample-tokens", "0"};

namespace {

// A tiny model file with header slot `slot` set to `value`.
std::string PatchHeader(const std::string& path, int slot, int32_t value) {
  std::vector<uint8_t> b = ReadBytes(path);
  std::memcpy(b.data() + 4 * slot, &value, 4);
  WriteBytes(path, b.data(), b.size());
  return path;
}
std::string ModelWithHeader(const std::string& path, int slot, int32_t value) {
  return PatchHeader(WriteTinyModel(path), slot, value);
}

std::string Truncated(const std::string& path, size_t keep) {
  std::vector<uint8_t> b = ReadBytes(path);
  WriteBytes(path, b.data(), std::min(keep, b.size()));
  return path;
}

std::string Raw(const std::string& path, const std::vector<uint8_t>& b) {
  WriteBytes(path, b.data(), b.size());
  return path;
}

std::vector<uint16_t> Text100() { return ByteTokens(std::string(100, 'a')); }

std::string Shard(const std::string& path, const std::vector<uint16_t>& tokens) {
  EXPECT_TRUE(WriteShard(path, tokens).ok());
  return path;
}

std::string NanoGpt(const std::string& path, const std::vector<uint16_t>& tokens, size_t extra_bytes = 0) {
  std::vector<uint8_t> b(tokens.size() * 2 + extra_bytes, 0);
  std::memcpy(b.data(), tokens.data(), tokens.size() * 2);
  return Raw(path, b);
}

// The training data of the runs below (400 byte tokens).
std::string RunData(const std::string& dir) {
  const std::string path = dir + "/run_data.bin";
  if (!std::filesystem::exists(path)) Shard(path, ByteTokens(std::string(400, 'b')));
  return path;
}

// A folder holding only a metrics.jsonl of the given text (for `plot`).
std::string MetricsRun(const std::string& dir, const std::string& metrics) {
  std::filesystem::create_directories(dir);
  WriteText(dir + "/metrics.jsonl", metrics);
  return dir;
}

// A run folder holding the checkpoint of a finished {tiny} run on {run_data}.
std::string TinyRun(const std::string& dir, const std::string& name) {
  const std::string shard = RunData(dir), out = dir + "/" + name;
  std::vector<std::string> args = {"train", "--train-data", shard, "--out", out};
  args.insert(args.end(), kTiny.begin(), kTiny.end());
  ProcessResult r = ::cpu_llm::testing::RunProcess(CPU_LLM_BINARY, args, dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return out;
}

// The same with the default model, whose vocabulary is pruned to the
// tokens of {run_data}: the run writes vocab_map.bin beside its checkpoint.
std::string PrunedRun(const std::string& dir, const std::string& name) {
  const std::string shard = RunData(dir), out = dir + "/" + name;
  ProcessResult r = ::cpu_llm::testing::RunProcess(
      CPU_LLM_BINARY,
      {"train", "--train-data", shard, "--out", out, "--batch", "2", "--seq-len", "16", "--steps", "2", "--threads", "1",
       "--tokenizer", "bytes", "--sample-tokens", "0"},
      dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(out + "/vocab_map.bin"));
  return out;
}

std::string Text(const std::string& path, const std::string& text) {
  WriteText(path, text);
  return path;
}

std::string StateOf(const std::string& run) { return FindLatestState(run); }

std::string ValidMap(const std::string& path) {
  std::vector<int64_t> counts(257, 0);
  counts['a'] = counts['b'] = 5;
  TokenMap map;
  EXPECT_TRUE(TokenMap::FromCounts(counts, 1, 256, &map).ok());
  EXPECT_TRUE(map.Save(path).ok());
  return path;
}

}  // namespace

// Placeholder -> the file (or folder) it names, written on first use.
const std::map<std::string, Maker>& Makers() {
  static const std::map<std::string, Maker> makers = {
      {"dir", [](const std::string& d) { return d; }},
      {"out", [](const std::string& d) { return d + "/run"; }},
      {"missing", [](const std::string& d) { return d + "/missing.bin"; }},
      {"folder",
       [](const std::string& d) {
         std::filesystem::create_directory(d + "/folder");
         return d + "/folder";
       }},
      {"file",
       [](const std::string& d) {
         WriteText(d + "/plain.txt", "a plain file\n");
         return d + "/plain.txt";
       }},
      {"empty_file", [](const std::string& d) { return Raw(d + "/empty.bin", {}); }},
      {"garbled_metrics_run", [](const std::string& d) { return MetricsRun(d + "/garbled", "{\"step\":1,\"loss\":2}\nnot json\n"); }},
      {"no_steps_run", [](const std::string& d) { return MetricsRun(d + "/nosteps", "{\"step\":2,\"val_loss\":5}\n"); }},
      {"typo_config", [](const std::string& d) { return Text(d + "/typo.json", "{\"steps\": 2, \"lrr\": 0.1}\n"); }},
      {"cut_config", [](const std::string& d) { return Text(d + "/cut.json", "{\"steps\": 2, \"lr\": "); }},
      {"string_batch_config", [](const std::string& d) { return Text(d + "/type.json", "{\"batch\": \"8\"}\n"); }},
      {"negative_warmup_config", [](const std::string& d) { return Text(d + "/warmup.json", "{\"warmup\": -4}\n"); }},
      {"list_config", [](const std::string& d) { return Text(d + "/list.json", "[\"--steps\", \"2\"]\n"); }},
      {"shard", [](const std::string& d) { return Shard(d + "/shard.bin", Text100()); }},
      {"bad_magic_shard", [](const std::string& d) { return Raw(d + "/magic.bin", RawShard(12345, 1, 100, Text100())); }},
      {"bad_version_shard",
       [](const std::string& d) { return Raw(d + "/version.bin", RawShard(kShardMagic, 7, 100, Text100())); }},
      {"truncated_shard",
       [](const std::string& d) { return Raw(d + "/truncated.bin", RawShard(kShardMagic, 1, 200, Text100())); }},
      {"long_shard",
       [](const std::string& d) { return Raw(d + "/long.bin", RawShard(kShardMagic, 1, 60, Text100())); }},
      {"negative_count_shard",
       [](const std::string& d) { return Raw(d + "/negative.bin", RawShard(kShardMagic, 1, -5, Text100())); }},
      {"header_only_shard",
       [](const std::string& d) {
         std::vector<uint8_t> b = RawShard(kShardMagic, 1, 100, {});
         b.resize(100);
         return Raw(d + "/short.bin", b);
       }},
      {"big_token_shard",
       [](const std::string& d) {
         std::vector<uint16_t> t = Text100();
         t[10] = 300;  // the byte tokenizer has 257 tokens
         return Shard(d + "/big_token.bin", t);
       }},
      {"empty_shard", [](const std::string& d) { return Raw(d + "/empty_shard.bin", RawShard(kShardMagic, 1, 0, {})); }},
      {"small_shard", [](const std::string& d) { return Shard(d + "/small.bin", ByteTokens(std::string(32, 'a'))); }},
      {"odd_nanogpt", [](const std::string& d) { return NanoGpt(d + "/odd.bin", Text100(), 1); }},
      {"big_token_nanogpt",
       [](const std::string& d) {
         std::vector<uint16_t> t = Text100();
         t[50] = 40000;
         return NanoGpt(d + "/big_token_nano.bin", t);
       }},
      {"text", [](const std::string& d) {
         WriteText(d + "/text.txt", std::string(200, 'c'));
         return d + "/text.txt";
       }},
      {"bad_jsonl",
       [](const std::string& d) {
         WriteText(d + "/bad.jsonl", "{\"text\": \"one document\"}\n{\"text\": \"broken\n");
         return d + "/bad.jsonl";
       }},
      {"jsonl_no_field",
       [](const std::string& d) {
         WriteText(d + "/nofield.jsonl", "{\"body\": \"one document\"}\n");
         return d + "/nofield.jsonl";
       }},
      {"model", [](const std::string& d) { return WriteTinyModel(d + "/model.bin"); }},
      {"bad_magic_model", [](const std::string& d) { return ModelWithHeader(d + "/magic_model.bin", 0, 12345); }},
      {"bad_version_model", [](const std::string& d) { return ModelWithHeader(d + "/version_model.bin", 1, 4); }},
      {"truncated_model",
       [](const std::string& d) {
         const std::string p = WriteTinyModel(d + "/truncated_model.bin");
         return Truncated(p, std::filesystem::file_size(p) - 100);
       }},
      {"header_cut_model", [](const std::string& d) { return Truncated(WriteTinyModel(d + "/cut_model.bin"), 600); }},
      {"long_model",
       [](const std::string& d) {
         const std::string p = WriteTinyModel(d + "/long_model.bin");
         std::vector<uint8_t> b = ReadBytes(p);
         b.resize(b.size() + 64, 0);
         return Raw(p, b);
       }},
      {"zero_layers_model", [](const std::string& d) { return ModelWithHeader(d + "/zero_layers.bin", 4, 0); }},
      {"bad_heads_model", [](const std::string& d) { return ModelWithHeader(d + "/bad_heads.bin", 5, 3); }},
      {"huge_model", [](const std::string& d) { return ModelWithHeader(d + "/huge_model.bin", 4, 1 << 30); }},
      {"bad_padding_model", [](const std::string& d) { return ModelWithHeader(d + "/bad_padding.bin", 7, 100); }},
      {"vocab1000_model", [](const std::string& d) { return WriteTinyModel(d + "/vocab1000.bin", 1000); }},
      {"model_beside_bad_map",
       [](const std::string& d) {
         std::filesystem::create_directory(d + "/mapped");
         WriteText(d + "/mapped/vocab_map.bin", "not a map");
         return WriteTinyModel(d + "/mapped/model.bin");
       }},
      {"bad_magic_map",
       [](const std::string& d) {
         const std::string p = ValidMap(d + "/magic_map.bin");
         std::vector<uint8_t> b = ReadBytes(p);
         b[0] ^= 0xFF;
         return Raw(p, b);
       }},
      {"truncated_map",
       [](const std::string& d) {
         const std::string p = ValidMap(d + "/truncated_map.bin");
         return Truncated(p, std::filesystem::file_size(p) - 4);
       }},
      {"run_truncated_state",
       [](const std::string& d) {
         const std::string run = TinyRun(d, "run_truncated_state");
         Truncated(StateOf(run), std::filesystem::file_size(StateOf(run)) / 2);
         return run;
       }},
      {"run_garbled_state",
       [](const std::string& d) {
         const std::string run = TinyRun(d, "run_garbled_state"), state = StateOf(run);
         std::vector<uint8_t> b = ReadBytes(state);
         for (size_t i = b.size() - 64; i < b.size(); i++) b[i] ^= 0x5A;
         Raw(state, b);
         return run;
       }},
      {"run_bad_magic_state",
       [](const std::string& d) {
         const std::string run = TinyRun(d, "run_bad_magic_state"), state = StateOf(run);
         std::vector<uint8_t> b = ReadBytes(state);
         b[0] ^= 0xFF;
         Raw(state, b);
         return run;
       }},
      {"vocab100_model", [](const std::string& d) { return WriteTinyModel(d + "/vocab100.bin", 100); }},
      {"shards_one_truncated",
       [](const std::string& d) {
         std::filesystem::create_directory(d + "/shards");
         Shard(d + "/shards/train_000.bin", ByteTokens(std::string(400, 'a')));
         Raw(d + "/shards/train_001.bin", RawShard(kShardMagic, 1, 200, Text100()));
         return d + "/shards";
       }},
      {"shards_bad_token_later",
       [](const std::string& d) {
         // One batch (B*T+1 = 33 tokens) in the first shard; the second
         // batch comes from the second, whose token 20 is out of range.
         std::filesystem::create_directory(d + "/shards");
         Shard(d + "/shards/train_000.bin", ByteTokens(std::string(40, 'a')));
         std::vector<uint16_t> t = ByteTokens(std::string(40, 'a'));
         t[20] = 300;
         Shard(d + "/shards/train_001.bin", t);
         return d + "/shards";
       }},
      {"bad_entry_map",
       [](const std::string& d) {
         const std::string p = ValidMap(d + "/entry_map.bin");
         std::vector<uint8_t> b = ReadBytes(p);
         const int32_t id = 300;  // the map is of the 257 byte ids
         std::memcpy(b.data() + 1024, &id, 4);
         return Raw(p, b);
       }},
      {"run_truncated_model",
       [](const std::string& d) {
         const std::string run = TinyRun(d, "run_truncated_model");
         for (const auto& e : std::filesystem::directory_iterator(run))
           if (e.path().filename().string().rfind("model_", 0) == 0)
             Truncated(e.path().string(), std::filesystem::file_size(e.path()) - 100);
         return run;
       }},
      {"run_pruned_no_map",
       [](const std::string& d) {
         const std::string run = PrunedRun(d, "run_pruned_no_map");
         std::filesystem::remove(run + "/vocab_map.bin");
         return run;
       }},
      {"run_pruned_bad_map",
       [](const std::string& d) {
         const std::string run = PrunedRun(d, "run_pruned_bad_map");
         WriteText(run + "/vocab_map.bin", "not a map");
         return run;
       }},
      {"truncated_bf16_model",
       [](const std::string& d) {
         GPT2 model;
         EXPECT_TRUE(LoadModel(WriteTinyModel(d + "/fp32.bin"), &model).ok());
         const std::string p = d + "/truncated_bf16.bin";
         EXPECT_TRUE(SaveModel(p, model, WeightFormat::kBf16).ok());
         return Truncated(p, std::filesystem::file_size(p) - 10);
       }},
      {"bad_blocks_model",
       [](const std::string& d) {
         // Version 2003 (block options in slots 8..14) with norm 7: there is none.
         return PatchHeader(ModelWithHeader(d + "/bad_blocks.bin", 1, kModelVersionBlocks), 8, 7);
       }},
      {"zero_context_model", [](const std::string& d) { return ModelWithHeader(d + "/zero_context.bin", 2, 0); }},
      {"run", [](const std::string& d) { return TinyRun(d, "run_ok"); }},
      {"run_data", [](const std::string& d) { return RunData(d); }},
      {"vocab_map", [](const std::string& d) { return ValidMap(d + "/vocab_map.bin"); }},
      {"prepared",
       [](const std::string& d) {
         const std::string text = d + "/prep_input.txt", out = d + "/prepared";
         WriteText(text, std::string(3000, 'p'));
         ProcessResult r = ::cpu_llm::testing::RunProcess(
             CPU_LLM_BINARY, {"prepare", text, "--out", out, "--tokenizer", "bytes", "--quiet"}, d);
         EXPECT_EQ(r.exit_code, 0) << r.err;
         return out;
       }},
      {"bad_json_dir",
       [](const std::string& d) {
         std::filesystem::create_directory(d + "/results");
         WriteText(d + "/results/baseline.json", "{ not json");
         return d + "/results";
       }},
  };
  return makers;
}

}  // namespace cpu_llm::bad_inputs
