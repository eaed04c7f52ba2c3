// File plumbing shared by every reader and writer: whole-file reads with
// messages that name the file, and crash-safe writes (temp file, fsync,
// rename, fsync of the folder) so a reader never sees a half-written file
// under its real name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"

namespace cpu_llm {

// Reads an entire regular file. Directories and unreadable paths are errors.
Status ReadFileBytes(const std::string& path, std::vector<uint8_t>* out);

// Opens `path` for reading and checks it is a regular file; returns its size.
Status StatRegularFile(const std::string& path, uint64_t* size_bytes);

// Buffered sequential writer whose every failure (ENOSPC included) is kept
// and reported by Finish(), so callers can write many pieces and check once.
class AtomicFileWriter {
 public:
  // Writes go to "<path>.tmp.<pid>"; Finish() fsyncs and renames to `path`.
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();  // removes the temp file if Finish() was not reached
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void Write(const void* data, size_t n_bytes);
  template <typename T>
  void WritePod(const T& value) { Write(&value, sizeof(T)); }
  // Overwrites bytes already written (e.g. a header whose counts are known
  // only at the end). The range must lie within what was written so far.
  void WriteAt(uint64_t offset, const void* data, size_t n_bytes);
  uint64_t bytes_written() const { return written_; }
  Status Finish();

 private:
  void Flush();
  std::string path_;
  std::string tmp_path_;
  int fd_ = -1;
  int error_ = 0;  // first errno seen
  bool finished_ = false;
  uint64_t written_ = 0;
  std::vector<uint8_t> buffer_;
};

// Convenience: writes one buffer atomically.
Status WriteFileAtomic(const std::string& path, const void* data, size_t n_bytes);

// Creates a folder (and parents) and checks it can be written to.
Status EnsureWritableDir(const std::string& dir);

}  // namespace cpu_llm
