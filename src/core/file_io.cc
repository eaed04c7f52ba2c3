#include "core/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace cpu_llm {

Status StatRegularFile(const std::string& path, uint64_t* size_bytes) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return RuntimeError("{}: cannot open: {}", path, ErrnoText(errno));
  if (S_ISDIR(st.st_mode)) return RuntimeError("{}: is a directory, expected a file", path);
  if (!S_ISREG(st.st_mode)) return RuntimeError("{}: not a regular file", path);
  if (::access(path.c_str(), R_OK) != 0) return RuntimeError("{}: cannot read: {}", path, ErrnoText(errno));
  *size_bytes = static_cast<uint64_t>(st.st_size);
  return Status();
}

Status ReadFileBytes(const std::string& path, std::vector<uint8_t>* out) {
  uint64_t size = 0;
  CPU_LLM_RETURN_IF_ERROR(StatRegularFile(path, &size));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return RuntimeError("{}: cannot open: {}", path, ErrnoText(errno));
  out->resize(size);
  uint64_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, out->data() + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : 0;
      ::close(fd);
      return RuntimeError("{}: read failed: {}", path, err ? ErrnoText(err) : "file shrank while reading");
    }
    done += static_cast<uint64_t>(n);
  }
  ::close(fd);
  return Status();
}

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  tmp_path_ = path_ + ".tmp." + std::to_string(::getpid());
  fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) error_ = errno;
  buffer_.reserve(1 << 20);
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!finished_) ::unlink(tmp_path_.c_str());
}

void AtomicFileWriter::Flush() {
  size_t done = 0;
  while (error_ == 0 && done < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) error_ = errno;
    else done += static_cast<size_t>(n);
  }
  buffer_.clear();
}

void AtomicFileWriter::WriteAt(uint64_t offset, const void* data, size_t n_bytes) {
  if (error_ != 0) return;
  Flush();
  const uint8_t* p = static_cast<const uint8_t*>(data);
  size_t done = 0;
  while (error_ == 0 && done < n_bytes) {
    ssize_t n = ::pwrite(fd_, p + done, n_bytes - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) error_ = errno;
    else done += static_cast<size_t>(n);
  }
}

void AtomicFileWriter::Write(const void* data, size_t n_bytes) {
  if (error_ != 0) return;
  written_ += n_bytes;
  const uint8_t* p = static_cast<const uint8_t*>(data);
  if (buffer_.size() + n_bytes > buffer_.capacity()) Flush();
  if (n_bytes >= buffer_.capacity()) {
    buffer_.assign(p, p + n_bytes);
    Flush();
    return;
  }
  buffer_.insert(buffer_.end(), p, p + n_bytes);
}

Status AtomicFileWriter::Finish() {
  if (fd_ >= 0 && error_ == 0) Flush();
  if (fd_ >= 0 && error_ == 0 && ::fsync(fd_) != 0) error_ = errno;
  if (fd_ >= 0 && ::close(fd_) != 0 && error_ == 0) error_ = errno;
  fd_ = -1;
  if (error_ != 0) {
    ::unlink(tmp_path_.c_str());
    finished_ = true;
    return RuntimeError("{}: write failed: {}", path_, ErrnoText(error_));
  }
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp_path_.c_str());
    finished_ = true;
    return RuntimeError("{}: rename failed: {}", path_, ErrnoText(err));
  }
  finished_ = true;
  // The rename is durable only once the folder entry itself reaches the disk.
  std::string dir = std::filesystem::path(path_).parent_path().string();
  int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return Status();
}

Status WriteFileAtomic(const std::string& path, const void* data, size_t n_bytes) {
  AtomicFileWriter w(path);
  w.Write(data, n_bytes);
  return w.Finish();
}

Status EnsureWritableDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return RuntimeError("{}: cannot create folder: {}", dir, ec.message());
  if (!std::filesystem::is_directory(dir, ec)) return RuntimeError("{}: not a folder", dir);
  if (::access(dir.c_str(), W_OK | X_OK) != 0) return RuntimeError("{}: folder is not writable: {}", dir, ErrnoText(errno));
  return Status();
}

}  // namespace cpu_llm
