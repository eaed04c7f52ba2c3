#include "bench/process.h"

#include <sys/wait.h>

#include <stdlib.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "core/file_io.h"

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

std::string OutputLine(const std::string& out, const std::string& prefix) {
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
  return "";
}

Status TempFolder::Create(const std::string& prefix, const std::string& parent) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path base = parent.empty() ? fs::temp_directory_path(ec) : fs::path(parent);
  if (ec) {
    const char* env = std::getenv("TMPDIR");
    return RuntimeError("{}: no usable temporary folder: {}", env ? env : "/tmp", ec.message());
  }
  std::string tmpl = (base / (prefix + "_XXXXXX")).string();
  // mkdtemp has replaced the X's even when it fails: name the parent folder.
  if (!::mkdtemp(tmpl.data()))
    return RuntimeError("{}: cannot create a temporary folder in it: {}", base.string(), ErrnoText(errno));
  path_ = tmpl;
  return Status();
}

TempFolder::~TempFolder() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

Status SelfExecutable(std::string* path) {
  std::error_code ec;
  *path = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) return RuntimeError("/proc/self/exe: cannot find this program's path: {}", ec.message());
  return Status();
}

}  // namespace cpu_llm
