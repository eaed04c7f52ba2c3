#include "bench/process.h"

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

namespace cpu_llm {
namespace {

std::string ShellQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += "'\\''";
    else q += c;
  }
  return q + "'";
}

}  // namespace

Status RunCapture(const std::vector<std::string>& argv, std::string* out, int* exit_code) {
  std::string command = "exec";
  for (const std::string& a : argv) command += " " + ShellQuote(a);
  std::fflush(stdout);
  std::fflush(stderr);
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return RuntimeError("{}: cannot start: popen failed", argv.empty() ? "?" : argv[0]);
  out->clear();
  char buf[1 << 14];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out->append(buf, n);
  const int status = ::pclose(pipe);
  if (status == -1) return RuntimeError("{}: cannot collect the exit status", argv[0]);
  if (WIFEXITED(status)) *exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) *exit_code = 128 + WTERMSIG(status);
  else *exit_code = 255;
  return Status();
}

Status SelfExecutable(std::string* path) {
  std::error_code ec;
  *path = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) return RuntimeError("/proc/self/exe: cannot find this program's path: {}", ec.message());
  return Status();
}

}  // namespace cpu_llm
