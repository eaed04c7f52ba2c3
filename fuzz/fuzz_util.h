// Shared by the fuzz targets: the parsers under test read files by path, so
// each input is written to a private temporary file first, and invariant
// violations abort so libFuzzer records them as crashes.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace cpu_llm::fuzz {

// Aborts with a message when `cond` is false (asserts vanish under NDEBUG;
// these must not).
#define FUZZ_CHECK(cond)                                                          \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                               \
    }                                                                             \
  } while (0)

// A per-process folder in /dev/shm (RAM, so millions of rewrites cost no
// disk) or, where that is missing, $TMPDIR / /tmp. Removed at exit.
class TempDir {
 public:
  TempDir() {
    std::error_code ec;
    std::filesystem::path base = "/dev/shm";
    if (!std::filesystem::is_directory(base, ec)) {
      const char* t = std::getenv("TMPDIR");
      base = t && *t ? t : "/tmp";
    }
    dir_ = base / ("cpu_llm_fuzz." + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_, ec);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  std::filesystem::path dir_;
};

inline TempDir& Temp() {
  static TempDir dir;
  return dir;
}

// Writes bytes to `name` in the temp folder (replacing it); returns its path.
inline std::string WriteInput(std::string_view bytes, const std::string& name = "input") {
  const std::string path = Temp().Path(name);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  FUZZ_CHECK(f != nullptr);
  FUZZ_CHECK(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
  FUZZ_CHECK(std::fclose(f) == 0);
  return path;
}

inline std::string_view AsView(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace cpu_llm::fuzz
