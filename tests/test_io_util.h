// Helpers shared by the data, checkpoint and CLI tests: a temp folder that
// cleans up after itself, small file helpers, and a runner for the cpu_llm
// binary that captures stdout, stderr and the exit status separately.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace cpu_llm::testing {

// A fresh folder under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/cpu_llm_test_XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    if (!p) {
      ADD_FAILURE() << "mkdtemp failed: " << std::strerror(errno);
      return;
    }
    path_ = p;
  }
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Files under dir (recursively) whose name holds ".tmp.": writes that did not
// finish (AtomicFileWriter's temp files).
inline std::vector<std::string> TempFilesUnder(const std::string& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
    if (it->path().filename().string().find(".tmp.") != std::string::npos) found.push_back(it->path().string());
  return found;
}

// EXPECT_HAS_SUBSTR(haystack, needle), with both strings in the failure message.
inline ::testing::AssertionResult HasSubstrFormat(const char* h_expr, const char* n_expr, const std::string& h,
                                                  const std::string& n) {
  if (h.find(n) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << h_expr << " (\"" << h << "\") does not contain " << n_expr << " (\"" << n
                                       << "\")";
}
#define EXPECT_HAS_SUBSTR(haystack, needle) \
  EXPECT_PRED_FORMAT2(::cpu_llm::testing::HasSubstrFormat, haystack, needle)

inline std::string ReadText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline void WriteBytes(const std::string& path, const void* data, size_t n) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
  ASSERT_TRUE(f.good()) << path;
}
inline void WriteText(const std::string& path, const std::string& text) { WriteBytes(path, text.data(), text.size()); }

inline std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::string s = ReadText(path);
  return std::vector<uint8_t>(s.begin(), s.end());
}

// An llm.c shard header (256 int32) followed by raw uint16 tokens, with every
// field under the caller's control, for building broken shards.
inline std::vector<uint8_t> RawShard(int32_t magic, int32_t version, int32_t count,
                                     const std::vector<uint16_t>& tokens) {
  std::vector<int32_t> header(256, 0);
  header[0] = magic;
  header[1] = version;
  header[2] = count;
  std::vector<uint8_t> bytes(header.size() * 4 + tokens.size() * 2);
  std::memcpy(bytes.data(), header.data(), header.size() * 4);
  if (!tokens.empty()) std::memcpy(bytes.data() + header.size() * 4, tokens.data(), tokens.size() * 2);
  return bytes;
}

// Byte tokens of a text (the byte tokenizer's ids are the bytes).
inline std::vector<uint16_t> ByteTokens(const std::string& text) {
  std::vector<uint16_t> t;
  for (unsigned char c : text) t.push_back(c);
  return t;
}

inline size_t CountLines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

struct ProcessResult {
  int exit_code = -1;  // valid when !signaled
  bool signaled = false;
  int signal = 0;
  std::string out, err;
};

// Runs `binary args...` with stdout and stderr captured into files in `dir`
// (no pipes, so a chatty child can never block). stdin is /dev/null.
inline ProcessResult RunProcess(const std::string& binary, const std::vector<std::string>& args,
                                const std::string& dir) {
  static int counter = 0;
  const std::string tag = std::to_string(::getpid()) + "_" + std::to_string(counter++);
  const std::string out_path = dir + "/.stdout_" + tag, err_path = dir + "/.stderr_" + tag;
  std::vector<std::string> argv_s{binary};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);

  ProcessResult r;
  pid_t pid = ::fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork failed: " << std::strerror(errno);
    return r;
  }
  if (pid == 0) {
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    r.signaled = true;
    r.signal = WTERMSIG(status);
  } else {
    r.exit_code = WEXITSTATUS(status);
  }
  r.out = ReadText(out_path);
  r.err = ReadText(err_path);
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  return r;
}

// Base of the tests that run the cpu_llm binary: Run() never accepts a
// crash, ExpectError() checks the exit code and a one-line stderr naming `what`.
class BinaryTest : public ::testing::Test {
 protected:
  ProcessResult Run(const std::vector<std::string>& args) {
    ProcessResult r = RunProcess(CPU_LLM_BINARY, args, dir_.path());
    EXPECT_FALSE(r.signaled) << "killed by signal " << r.signal << "\nstderr: " << r.err;
    return r;
  }

  void ExpectError(const ProcessResult& r, int code, const std::string& what) {
    ASSERT_FALSE(r.signaled);
    EXPECT_EQ(r.exit_code, code) << "stderr: " << r.err;
    EXPECT_EQ(CountLines(r.err), 1u) << "stderr: " << r.err;
    EXPECT_TRUE(!r.err.empty() && r.err.back() == '\n') << "stderr: " << r.err;
    EXPECT_HAS_SUBSTR(r.err, "error: ");
    EXPECT_HAS_SUBSTR(r.err, what);
  }

  void ExpectSuccess(const ProcessResult& r) {
    ASSERT_FALSE(r.signaled);
    EXPECT_EQ(r.exit_code, 0) << "stderr: " << r.err << "\nstdout: " << r.out;
    EXPECT_EQ(r.err, "");
  }

  TempDir dir_;
};

}  // namespace cpu_llm::testing
