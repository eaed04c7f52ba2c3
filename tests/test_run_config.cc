// Run config files (train/run_config.h): every option round-trips through
// the JSON a run saves, the command line's keys are left alone, and each
// kind of bad file gets an error naming the file and the key.
#include "train/run_config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "test_io_util.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::testing::TempDir;
using ::cpu_llm::testing::WriteText;

// Options with a value other than the default in every field.
TrainOptions Unusual() {
  TrainOptions o;
  o.model = "llama-d6";
  o.n_layer = 7;
  o.n_head = 3;
  o.n_embd = 96;
  o.max_seq_len = 128;
  o.vocab_size = 300;
  o.norm = "rmsnorm";
  o.mlp = "relu2";
  o.mlp_hidden = 200;
  o.pos = "rope";
  o.rope_theta = 500000.0f;
  o.bias = "off";
  o.head = "untied";
  o.init_from = "runs/a/model_00000100.bin";
  o.tokenizer = "bytes";
  o.train_data = "data/train_*.bin";
  o.val_data = "data/val_*.bin";
  o.data_format = "nanogpt";
  o.doc_delimiter = "\n\n";
  o.prune_vocab = 3;
  o.vocab_map = "map.bin";
  o.jsonl_field = "content";
  o.data_access = "mmap";
  o.mmap_advice = "random";
  o.shuffle = true;
  o.loader = "async";
  o.loader_depth = 3;
  o.val_fraction = 0.2;
  o.batch = 5;
  o.grad_accum = 4;
  o.batch_tokens = 2560;
  o.seq_len = 128;
  o.steps = 1234;
  o.time_budget_s = 90.5;
  o.lr = 3e-4f;
  o.warmup = 7;
  o.lr_final_frac = 0.25f;
  o.adamw.weight_decay = 0.05f;
  o.adamw.beta1 = 0.8f;
  o.adamw.beta2 = 0.99f;
  o.adamw.grad_clip = 0.5f;
  o.seed = 18446744073709551615ull;  // the largest seed survives JSON
  o.threads = 3;
  o.bucket_mb = 1.5;
  o.matmul = "blas";
  o.simd = "avx2";
  o.precision = "bf16";
  o.stochastic_rounding = true;
  o.max_bad_steps = 9;
  o.detect_anomaly = true;
  o.out_dir = "runs/unusual";
  o.export_bf16 = true;
  o.val_every = 11;
  o.val_batches = 2;
  o.log_every = 10;
  o.quiet = true;
  o.checkpoint_every = 100;
  o.keep_checkpoints = 2;
  o.profile = true;
  o.sample_tokens = 17;
  o.sample_prompt = "In the beginning \"quoted\" \xc3\xa9";
  o.sample_temperature = 1.25f;
  o.sample_top_k = 5;
  return o;
}

TEST(RunConfig, EveryOptionRoundTrips) {
  const TrainOptions unusual = Unusual();
  const std::string text = RunConfigJson(unusual);
  TrainOptions back;  // defaults everywhere
  ASSERT_NE(RunConfigJson(back), text);
  Status s = ApplyRunConfig(text, "c.json", nullptr, &back);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(RunConfigJson(back), text);
  EXPECT_EQ(back.seed, unusual.seed);
  EXPECT_EQ(back.lr, unusual.lr);
  EXPECT_EQ(back.adamw.beta2, unusual.adamw.beta2);
  EXPECT_EQ(back.sample_prompt, unusual.sample_prompt);
  EXPECT_EQ(back.doc_delimiter, "\n\n");
  // Every field differs from the default, so a key left out of the table
  // (or two keys on one member) would show here.
  const nlohmann::json a = nlohmann::json::parse(text), d = nlohmann::json::parse(RunConfigJson(TrainOptions{}));
  for (const std::string& key : RunConfigKeys()) EXPECT_NE(a.at(key), d.at(key)) << key;
}

TEST(RunConfig, TheFileListsTheKeysInOrderWithShortFloats) {
  const std::string text = RunConfigJson(TrainOptions{});
  const nlohmann::ordered_json j = nlohmann::ordered_json::parse(text);
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys, RunConfigKeys());
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), keys.size());
  EXPECT_HAS_SUBSTR(text, "\"lr\": 0.002,");  // not 0.0020000000949949026
  EXPECT_HAS_SUBSTR(text, "\"beta2\": 0.95,");
}

TEST(RunConfig, KeysTheCommandLineSetAreKept) {
  TrainOptions o;
  o.batch = 3;  // as if from --batch 3
  std::vector<std::string> applied;
  Status s = ApplyRunConfig(R"({"batch": 8, "lr": 0.01, "shuffle": true})", "c.json",
                            [](const std::string& key) { return key == "batch"; }, &o, &applied);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(o.batch, 3);
  EXPECT_FLOAT_EQ(o.lr, 0.01f);
  EXPECT_TRUE(o.shuffle);
  EXPECT_EQ(applied, (std::vector<std::string>{"lr", "shuffle"}));
}

TEST(RunConfig, CommentsAndWholeNumbersAsFloatsAreAccepted) {
  TrainOptions o;
  Status s = ApplyRunConfig("// a comment\n{ /* tokens */ \"batch-tokens\": 1e6, \"steps\": 20.0 }", "c.json", nullptr, &o);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(o.batch_tokens, 1000000);
  EXPECT_EQ(o.steps, 20);
}

void ExpectBad(const std::string& text, const std::string& expected) {
  TrainOptions o;
  const std::string before = RunConfigJson(o);
  Status s = ApplyRunConfig(text, "cfg/run.json", nullptr, &o);
  ASSERT_FALSE(s.ok()) << text;
  EXPECT_EQ(s.kind(), ErrorKind::kUsage);
  EXPECT_HAS_SUBSTR(s.message(), "cfg/run.json: ");
  EXPECT_HAS_SUBSTR(s.message(), expected);
  EXPECT_EQ(s.message().find('\n'), std::string::npos);
  EXPECT_EQ(RunConfigJson(o), before) << "a bad file changed the options: " << text;
}

TEST(RunConfig, BadFilesNameTheKeyAndChangeNothing) {
  ExpectBad(R"({"steps": 5, "lrr": 0.1})", "unknown option \"lrr\" (did you mean \"lr\"?)");
  ExpectBad(R"({"zzzzzzzzzz": 1})", "unknown option \"zzzzzzzzzz\"; the keys are");
  ExpectBad(R"({"--batch": 1})", "did you mean \"batch\"");
  ExpectBad("[1, 2]", "a JSON object of train options, not array");
  ExpectBad("\"lr\"", "not string");
  ExpectBad(R"({"steps": 3)", "not valid JSON (at byte");
  ExpectBad("", "not valid JSON");
  ExpectBad(R"({"lr": 1e400})", "not valid JSON (a number too large for a double)");  // found by fuzz_run_config
  ExpectBad(R"({"steps": 5, "batch": "8"})", "\"batch\": expected a whole number that fits 32 bits, got \"8\"");
  ExpectBad(R"({"batch": 1.5})", "got 1.5");
  ExpectBad(R"({"batch": 4294967296})", "\"batch\"");
  ExpectBad(R"({"batch-tokens": 1e30})", "\"batch-tokens\": expected a whole number");
  ExpectBad(R"({"seed": -1})", "\"seed\"");
  ExpectBad(R"({"shuffle": 1})", "\"shuffle\": expected true or false");
  ExpectBad(R"({"lr": "fast"})", "\"lr\": expected a number");
  ExpectBad(R"({"lr": 1e300})", "\"lr\": expected a number in range");
  ExpectBad(R"({"model": 6})", "\"model\": expected a string");
  ExpectBad(R"({"model": null})", "got null");
}

TEST(RunConfig, ReadRunConfigNamesTheFile) {
  TempDir dir;
  TrainOptions o;
  Status s = ReadRunConfig(dir / "missing.json", nullptr, &o);
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), dir / "missing.json");
  s = ReadRunConfig(dir.path(), nullptr, &o);
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), "directory");
  WriteText(dir / "big.json", "{\"steps\": 1" + std::string(2 << 20, ' ') + "}");
  s = ReadRunConfig(dir / "big.json", nullptr, &o);
  ASSERT_FALSE(s.ok());
  EXPECT_HAS_SUBSTR(s.message(), "too big");
  WriteText(dir / "ok.json", R"({"steps": 7})");
  ASSERT_TRUE(ReadRunConfig(dir / "ok.json", nullptr, &o).ok());
  EXPECT_EQ(o.steps, 7);
}

TEST(RunConfig, ResolvedOptionsNameWhatTheRunUsed) {
  TrainOptions o;  // the default model, auto pruning
  ModelConfig cfg;
  ASSERT_TRUE(ConfigFromName(kDefaultModel, &cfg).ok());
  cfg.max_seq_len = 64;
  const TrainOptions r = ResolveRunOptions(o, cfg, /*prune_vocab=*/1, /*grad_accum=*/4);
  EXPECT_EQ(r.model, kDefaultModel);
  EXPECT_EQ(r.n_layer, cfg.n_layer);
  EXPECT_EQ(r.n_embd, cfg.n_embd);
  EXPECT_EQ(r.max_seq_len, 64);
  EXPECT_EQ(r.norm, "rmsnorm");
  EXPECT_EQ(r.mlp, "swiglu");
  EXPECT_EQ(r.pos, "rope");
  EXPECT_EQ(r.bias, "off");
  EXPECT_EQ(r.head, "untied");
  EXPECT_EQ(r.prune_vocab, 1);
  EXPECT_EQ(r.grad_accum, 4);
  // The same shape again from the resolved options.
  ModelConfig again;
  ASSERT_TRUE(ConfigFromName(r.model, &again).ok());
  EXPECT_EQ(again.n_head, r.n_head);
}

TEST(RunConfig, DescriptionWrapsEveryKey) {
  const std::string text = DescribeRunConfig(Unusual(), 80);
  std::istringstream in(text);
  std::string line;
  size_t items = 0;
  while (std::getline(in, line)) {
    EXPECT_EQ(line.rfind("  ", 0), 0u) << line;
    EXPECT_LE(line.size(), 80u) << line;
    for (char c : line) items += c == '=';
  }
  EXPECT_EQ(items, RunConfigKeys().size() + 0);
  EXPECT_HAS_SUBSTR(text, " model=llama-d6 ");
  EXPECT_HAS_SUBSTR(text, " doc-delimiter=\"\\n\\n\"");
}

TEST(RunConfig, DiffListsTheChangedKeys) {
  TrainOptions a, b;
  b.lr = 0.001f;
  b.steps = 600;
  EXPECT_EQ(DiffRunConfigs(RunConfigJson(a), RunConfigJson(b)), "steps 300 -> 600, lr 0.002 -> 0.001");
  EXPECT_EQ(DiffRunConfigs(RunConfigJson(a), RunConfigJson(a)), "");
  EXPECT_EQ(DiffRunConfigs("{}", R"({"lr": 0.5})"), "lr (unset) -> 0.5");
  EXPECT_EQ(DiffRunConfigs("garbage", RunConfigJson(a)), "");
}

}  // namespace
}  // namespace cpu_llm
