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

#include "bad_input_makers.h"
#include "test_io_util.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::testing::CountLines;
using ::cpu_llm::testing::ProcessResult;
using ::cpu_llm::testing::TempDir;
using ::cpu_llm::bad_inputs::kTiny;
using ::cpu_llm::bad_inputs::Makers;

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
  EXPECT_EQ(::cpu_llm::testing::TempFilesUnder(dir), std::vector<std::string>()) << "half-written files left behind";
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
  for (const char* c : {"train", "prepare", "sample", "bench", "export", "import", "eval", "plot", "info", ""})
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
