// Any file handed to `cpu_llm info` (DescribeFile): the content picks the
// reader, so every format's header is reached from arbitrary bytes.
//
// Checked: an accepted file's description starts with its "file:" line and
// says its format; a refused one is an error naming the file. The input goes
// through a real file because the readers (and mmap) take paths.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "fuzz_util.h"
#include "io/file_info.h"

using namespace cpu_llm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/fuzz_file_info." + std::to_string(::getpid()) + ".bin";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  const bool written = std::fwrite(data, 1, size, f) == size;
  if (std::fclose(f) != 0 || !written) return 0;
  InfoOptions opt;
  opt.batch = 2;
  opt.seq_len = 8;
  opt.threads = 1;
  std::string text;
  const Status s = DescribeFile(path, opt, &text);
  if (s.ok()) {
    FUZZ_CHECK(text.rfind("file: " + path, 0) == 0);
    FUZZ_CHECK(text.find("\nformat: ") != std::string::npos);
  } else {
    FUZZ_CHECK(s.message().find(path) != std::string::npos);
  }
  return 0;
}
