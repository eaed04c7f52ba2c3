// A file mapped read-only into memory (plan item 2): pages are read from disk
// as they are touched and can be dropped again under memory pressure, so a
// dataset larger than RAM trains without being loaded.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace cpu_llm {

// madvise(2) hint for a mapping: kNormal (the kernel's default read-ahead),
// kSequential (aggressive read-ahead, pages dropped soon after use) or
// kRandom (no read-ahead: only the pages touched are read). Which is best
// for training windows is measured by `bench --data-io`, not guessed.
enum class MmapAdvice { kNormal, kSequential, kRandom };
Status ParseMmapAdvice(const std::string& name, MmapAdvice* advice);
const char* MmapAdviceName(MmapAdvice advice);

class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile() { Close(); }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  Status Open(const std::string& path);
  void Close();

  // Reading a page past the end of a file that shrank after mapping raises
  // SIGBUS; callers check this before touching a range, so a shard
  // truncated while training is an error, not a crash.
  Status CheckSize() const;

  Status Advise(MmapAdvice advice) const;

  // Maps the file afresh, dropping every page touched so far from this
  // process (they stay in the page cache; touching them maps them back).
  // Pages a reader is done with would otherwise count in its resident set
  // until the kernel needs the memory, so RSS would grow with the data read;
  // one remap every so often drops them all at the cost of one unmap.
  Status Remap();

  // Starts reading [offset, offset + length) from disk without waiting
  // (MADV_WILLNEED): several windows' reads are then in flight at once
  // instead of one page fault at a time.
  void Prefetch(uint64_t offset, uint64_t length) const;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace cpu_llm
