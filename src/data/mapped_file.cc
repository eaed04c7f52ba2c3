#include "data/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/file_io.h"

namespace cpu_llm {

Status ParseMmapAdvice(const std::string& name, MmapAdvice* advice) {
  if (name == "normal") *advice = MmapAdvice::kNormal;
  else if (name == "sequential") *advice = MmapAdvice::kSequential;
  else if (name == "random") *advice = MmapAdvice::kRandom;
  else return UsageError("--mmap-advice: unknown advice '{}' (expected normal, sequential or random)", name);
  return Status();
}

const char* MmapAdviceName(MmapAdvice advice) {
  switch (advice) {
    case MmapAdvice::kNormal: return "normal";
    case MmapAdvice::kSequential: return "sequential";
    case MmapAdvice::kRandom: return "random";
  }
  return "?";
}

Status MappedFile::Advise(MmapAdvice advice) const {
  if (!data_) return Status();
  const int flag = advice == MmapAdvice::kSequential ? MADV_SEQUENTIAL
                   : advice == MmapAdvice::kRandom   ? MADV_RANDOM
                                                     : MADV_NORMAL;
  if (::madvise(const_cast<uint8_t*>(data_), size_, flag) != 0)
    return RuntimeError("{}: madvise failed: {}", path_, ErrnoText(errno));
  return Status();
}

Status MappedFile::Open(const std::string& path) {
  Close();
  path_ = path;
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return RuntimeError("{}: cannot open: {}", path, ErrnoText(errno));
  struct stat st;
  if (::fstat(fd_, &st) != 0) return RuntimeError("{}: cannot stat: {}", path, ErrnoText(errno));
  if (!S_ISREG(st.st_mode)) return RuntimeError("{}: not a regular file", path);
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ == 0) return Status();  // mmap refuses empty files; nothing to read anyway
  void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
  if (p == MAP_FAILED) {
    size_ = 0;
    return RuntimeError("{}: cannot map into memory: {}", path, ErrnoText(errno));
  }
  data_ = static_cast<const uint8_t*>(p);
  return Status();
}

void MappedFile::Close() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  if (fd_ >= 0) ::close(fd_);
  data_ = nullptr;
  fd_ = -1;
  size_ = 0;
}

Status MappedFile::Remap() {
  if (!data_) return Status();
  ::munmap(const_cast<uint8_t*>(data_), size_);
  data_ = nullptr;
  void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
  if (p == MAP_FAILED) return RuntimeError("{}: cannot map into memory: {}", path_, ErrnoText(errno));
  data_ = static_cast<const uint8_t*>(p);
  return Status();
}

void MappedFile::Prefetch(uint64_t offset, uint64_t length) const {
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t begin = offset / page * page, end = std::min(offset + length, size_);
  if (data_ && end > begin) ::madvise(const_cast<uint8_t*>(data_) + begin, end - begin, MADV_WILLNEED);
}

Status MappedFile::CheckSize() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return RuntimeError("{}: cannot stat: {}", path_, ErrnoText(errno));
  if (static_cast<uint64_t>(st.st_size) != size_)
    return RuntimeError("{}: the file changed size while training ({} bytes, was {})", path_,
                        static_cast<uint64_t>(st.st_size), size_);
  return Status();
}

}  // namespace cpu_llm
