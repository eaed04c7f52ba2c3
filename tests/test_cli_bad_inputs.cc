// The bad-input table of docs/BAD_INPUTS.md, run row by row: the test reads
// the table at start-up, writes the broken files each row's placeholders
// name, runs the row's command line and checks that the binary exits with the
// documented status (no signal, no hang), prints exactly the documented line
// on stderr and leaves no half-written file (*.tmp.*) behind.
//
// CPU_LLM_BAD_INPUTS_PRINT=1 prints each row's actual status and message with
// the fixture paths turned back into placeholders, for writing new rows.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/rng.h"
#include "data/shard.h"
#include "data/token_map.h"
#include "model/gpt2.h"
#include "test_io_util.h"
#include "train/checkpoint.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::testing::ByteTokens;
using ::cpu_llm::testing::CountLines;
using ::cpu_llm::testing::ProcessResult;
using ::cpu_llm::testing::RawShard;
using ::cpu_llm::testing::ReadBytes;
using ::cpu_llm::testing::TempDir;
using ::cpu_llm::testing::WriteBytes;
using ::cpu_llm::testing::WriteText;

constexpr const char* kDoc = CPU_LLM_SOURCE_DIR "/docs/BAD_INPUTS.md";

// ---------------------------------------------------------------- the table

struct Row {
  std::string id, command, problem, message;
  int exit_code = -1;
  int line = 0;  // in the doc
};

// Splits a table line into cells on the '|' that are not escaped as "\|".
std::vector<std::string> SplitCells(const std::string& line) {
  std::vector<std::string> cells;
  std::string cur;
  for (size_t i = 1; i < line.size(); i++) {  // line[0] is the leading '|'
    if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
      cur += '|';
      i++;
    } else if (line[i] == '|') {
      cells.push_back(cur);
      cur.clear();
    } else {
      cur += line[i];
    }
  }
  for (std::string& c : cells) {
    size_t a = c.find_first_not_of(' '), b = c.find_last_not_of(' ');
    c = a == std::string::npos ? "" : c.substr(a, b - a + 1);
  }
  return cells;
}

// The text of a code span: `x` or `` x `` (for text holding a backtick).
bool CodeSpan(const std::string& cell, std::string* text) {
  if (cell.size() >= 6 && cell.rfind("`` ", 0) == 0 && cell.substr(cell.size() - 3) == " ``") {
    *text = cell.substr(3, cell.size() - 6);
    return true;
  }
  if (cell.size() >= 2 && cell.front() == '`' && cell.back() == '`' && cell[1] != '`') {
    *text = cell.substr(1, cell.size() - 2);
    return true;
  }
  return false;
}

// The rows of the table whose header starts "| id |". Lines that do not
// parse become rows with an empty command, which their test reports.
std::vector<Row> ReadTable() {
  std::vector<Row> rows;
  std::ifstream f(kDoc);
  std::string line;
  bool in_table = false;
  int n = 0;
  while (std::getline(f, line)) {
    n++;
    if (line.rfind("| id |", 0) == 0) {
      in_table = true;
      continue;
    }
    if (!in_table) continue;
    if (line.empty() || line[0] != '|') {
      in_table = false;
      continue;
    }
    if (line.rfind("|---", 0) == 0) continue;
    std::vector<std::string> c = SplitCells(line);
    Row r;
    r.line = n;
    if (c.size() == 5) {
      r.id = c[0];
      if (!CodeSpan(c[1], &r.command)) r.command.clear();
      r.problem = c[2];
      r.exit_code = std::atoi(c[3].c_str());
      if (!CodeSpan(c[4], &r.message)) r.message.clear();
    }
    if (r.id.empty()) r.id = "line_" + std::to_string(n);
    rows.push_back(r);
  }
  return rows;
}

const std::vector<Row>& Rows() {
  static const std::vector<Row> rows = ReadTable();
  return rows;
}

// Command words, split on spaces; '...' quotes a word holding spaces.
std::vector<std::string> SplitWords(const std::string& s) {
  std::vector<std::string> words;
  std::string cur;
  bool quoted = false, any = false;
  for (char ch : s) {
    if (ch == '\'') {
      quoted = !quoted;
      any = true;
    } else if (ch == ' ' && !quoted) {
      if (any) words.push_back(cur);
      cur.clear();
      any = false;
    } else {
      cur += ch;
      any = true;
    }
  }
  if (any) words.push_back(cur);
  return words;
}

std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

// ---------------------------------------------------------------- fixtures

// The flags of a tiny, fast training run; {tiny} in a command stands for them.
const std::vector<std::string> kTiny = {"--model",   "d1", "--channels", "32",      "--heads",       "2",
                                        "--batch",   "2",  "--seq-len",  "16",      "--steps",       "2",
                                        "--threads", "1",  "--tokenizer", "bytes", "--sample-tokens", "0"};

std::string WriteTinyModel(const std::string& path, int vocab = 257) {
  ModelConfig c;
  c.n_layer = 1;
  c.n_head = 2;
  c.n_embd = 16;
  c.max_seq_len = 32;
  c.vocab_size = vocab;
  c.padded_vocab_size = PadVocab(vocab);
  GPT2 model;
  EXPECT_TRUE(model.Init(c).ok());
  Rng rng(1);
  model.InitWeights(rng);
  EXPECT_TRUE(SaveModel(path, model).ok());
  return path;
}

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

std::string StateOf(const std::string& run) { return FindLatestState(run); }

std::string ValidMap(const std::string& path) {
  std::vector<int64_t> counts(257, 0);
  counts['a'] = counts['b'] = 5;
  TokenMap map;
  EXPECT_TRUE(TokenMap::FromCounts(counts, 1, 256, &map).ok());
  EXPECT_TRUE(map.Save(path).ok());
  return path;
}

using Maker = std::function<std::string(const std::string& dir)>;

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

// ---------------------------------------------------------------- running

// Runs the binary like RunProcess, killing it (and failing) after `limit`.
ProcessResult RunWithTimeout(const std::vector<std::string>& args, const std::string& dir, int limit_s,
                             bool* timed_out) {
  const std::string out_path = dir + "/.row_stdout", err_path = dir + "/.row_stderr";
  std::vector<std::string> argv_s{CPU_LLM_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  ProcessResult r;
  *timed_out = false;
  pid_t pid = ::fork();
  if (pid < 0) return r;
  if (pid == 0) {
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::chdir(dir.c_str());  // a relative path a command writes lands in the temp folder
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(limit_s);
  int status = 0;
  for (;;) {
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() > deadline) {
      *timed_out = true;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (WIFSIGNALED(status)) {
    r.signaled = true;
    r.signal = WTERMSIG(status);
  } else {
    r.exit_code = WEXITSTATUS(status);
  }
  r.out = ::cpu_llm::testing::ReadText(out_path);
  r.err = ::cpu_llm::testing::ReadText(err_path);
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  return r;
}

// Files under dir whose name holds ".tmp." (a write that did not finish).
std::vector<std::string> TempFiles(const std::string& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
    if (it->path().filename().string().find(".tmp.") != std::string::npos) found.push_back(it->path().string());
  return found;
}

void PrintTo(const Row& row, std::ostream* os) { *os << row.id; }

class CliBadInputs : public ::testing::TestWithParam<Row> {};

TEST_P(CliBadInputs, OneLineErrorAsDocumented) {
  const Row& row = GetParam();
  ASSERT_FALSE(row.command.empty()) << kDoc << ":" << row.line << ": row does not parse (5 cells: id, `command`, "
                                    << "problem, exit status, `message`)";
  ASSERT_TRUE(row.exit_code == 1 || row.exit_code == 2) << kDoc << ":" << row.line << ": exit status 1 or 2";
  TempDir tmp;
  const std::string& dir = tmp.path();
  // Placeholders, longest paths first for turning actual messages back.
  std::map<std::string, std::string> values;
  std::vector<std::string> words = SplitWords(row.command);
  ASSERT_FALSE(words.empty());
  ASSERT_EQ(words[0], "cpu_llm") << "commands start with cpu_llm";
  std::vector<std::string> args;
  for (size_t i = 1; i < words.size(); i++) {
    if (words[i] == "{tiny}") {
      args.insert(args.end(), kTiny.begin(), kTiny.end());
      continue;
    }
    std::string w = words[i];
    for (size_t open = w.find('{'); open != std::string::npos; open = w.find('{', open + 1)) {
      size_t close = w.find('}', open);
      if (close == std::string::npos) break;
      const std::string name = w.substr(open + 1, close - open - 1);
      auto maker = Makers().find(name);
      ASSERT_NE(maker, Makers().end()) << kDoc << ":" << row.line << ": unknown placeholder {" << name << "}";
      if (!values.count(name)) values[name] = maker->second(dir);
      w.replace(open, close - open + 1, values[name]);
      open += values[name].size() - 1;
    }
    args.push_back(w);
  }
  bool timed_out = false;
  const ProcessResult r = RunWithTimeout(args, dir, 120, &timed_out);

  // The documented message, its placeholders filled in.
  std::string expected = row.message;
  for (const auto& [name, value] : values) expected = ReplaceAll(expected, "{" + name + "}", value);
  expected = ReplaceAll(expected, "{dir}", dir);

  if (std::getenv("CPU_LLM_BAD_INPUTS_PRINT")) {
    std::string actual = r.err;
    if (!actual.empty() && actual.back() == '\n') actual.pop_back();
    std::vector<std::pair<std::string, std::string>> by_length(values.begin(), values.end());
    std::sort(by_length.begin(), by_length.end(),
              [](const auto& a, const auto& b) { return a.second.size() > b.second.size(); });
    for (const auto& [name, value] : by_length)
      if (name != "dir") actual = ReplaceAll(actual, value, "{" + name + "}");
    actual = ReplaceAll(actual, dir, "{dir}");
    std::printf("ROW %s | %d | %s%s\n", row.id.c_str(), r.signaled ? -r.signal : r.exit_code, actual.c_str(),
                CountLines(r.err) == 1 ? "" : "   <<< NOT ONE LINE");
  }

  ASSERT_FALSE(timed_out) << "still running after 120 s: " << row.command;
  ASSERT_FALSE(r.signaled) << "killed by signal " << r.signal << "\nstderr: " << r.err;
  EXPECT_EQ(r.exit_code, row.exit_code) << "stderr: " << r.err;
  EXPECT_EQ(CountLines(r.err), 1u) << "stderr: " << r.err;
  ASSERT_TRUE(!r.err.empty() && r.err.back() == '\n') << "stderr: " << r.err;
  EXPECT_EQ(r.err.substr(0, r.err.size() - 1), expected) << kDoc << ":" << row.line;
  EXPECT_EQ(TempFiles(dir), std::vector<std::string>()) << "half-written files left behind";
}

std::string RowName(const ::testing::TestParamInfo<Row>& info) {
  std::string name;
  for (char c : info.param.id) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Table, CliBadInputs, ::testing::ValuesIn(Rows()), RowName);

// The table is the project's list of bad inputs: at least 20, ids unique,
// every command of the binary (its subcommands and the bare binary) covered.
TEST(CliBadInputsTable, ListsEnoughDistinctRowsForEveryCommand) {
  const std::vector<Row>& rows = Rows();
  EXPECT_GE(rows.size(), 20u) << kDoc;
  std::set<std::string> ids, commands;
  for (const Row& r : rows) {
    EXPECT_TRUE(ids.insert(r.id).second) << "duplicate id " << r.id;
    std::vector<std::string> w = SplitWords(r.command);
    commands.insert(w.size() > 1 && w[1][0] != '-' ? w[1] : "");
  }
  for (const char* c : {"train", "prepare", "sample", "bench", "export", "import", "eval", ""})
    EXPECT_TRUE(commands.count(c)) << "no row for `cpu_llm " << c << "`";
  // The placeholders section says what each fixture is.
  const std::string doc = ::cpu_llm::testing::ReadText(kDoc);
  for (const auto& [name, maker] : Makers())
    EXPECT_NE(doc.find("| `{" + name + "}` |"), std::string::npos) << "placeholder {" << name << "} not described";
  EXPECT_NE(doc.find("| `{tiny}` |"), std::string::npos);
}

// Each row ran in a fresh folder and left no *.tmp.* file there (checked per
// row above); the rows that write must exist for that check to mean much.
TEST(CliBadInputsTable, RowsThatWriteAreCovered) {
  int writers = 0;
  for (const Row& r : Rows())
    if (r.command.find("--out") != std::string::npos || r.command.find("--json") != std::string::npos) writers++;
  EXPECT_GE(writers, 10);
}

}  // namespace
}  // namespace cpu_llm
