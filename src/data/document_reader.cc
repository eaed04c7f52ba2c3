#include "data/document_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <nlohmann/json.hpp>

#include "core/file_io.h"

namespace cpu_llm {
namespace {

bool EndsWith(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

}  // namespace

DocumentReader::~DocumentReader() {
  if (file_) std::fclose(file_);
  std::free(line_buf_);
}

Status DocumentReader::Open(const std::vector<std::string>& paths, const DocumentReaderOptions& opt) {
  if (paths.empty()) return UsageError("no input files given");
  if (opt.format != "auto" && opt.format != "text" && opt.format != "jsonl")
    return UsageError("--format: unknown format '{}' (expected auto, text or jsonl)", opt.format);
  if (opt.piece_bytes < 16) return UsageError("piece size {} is too small", opt.piece_bytes);
  std::vector<Format> formats;
  std::vector<uint64_t> sizes;
  for (const std::string& p : paths) {
    uint64_t size = 0;
    CPU_LLM_RETURN_IF_ERROR(StatRegularFile(p, &size));
    sizes.push_back(size);
    const bool jsonl = opt.format == "jsonl" || (opt.format == "auto" && (EndsWith(p, ".jsonl") || EndsWith(p, ".json")));
    formats.push_back(jsonl ? Format::kJsonl : Format::kText);
  }
  opt_ = opt;
  paths_ = paths;
  formats_ = std::move(formats);
  sizes_ = std::move(sizes);
  total_bytes_ = 0;
  for (uint64_t size : sizes_) total_bytes_ += size;
  if (file_) {  // opened before: start afresh
    std::fclose(file_);
    file_ = nullptr;
  }
  bytes_done_ = 0;
  pending_.clear();
  doc_open_ = doc_started_ = false;
  documents_ = 0;
  place_ = ReaderPlace{};
  return OpenFile(0);
}

Status DocumentReader::OpenFile(size_t index) {
  if (file_) {
    std::fclose(file_);
    file_ = nullptr;
    bytes_done_ += file_offset_;
  }
  file_offset_ = 0;
  line_number_ = 0;
  line_origin_ = 0;
  file_index_ = index;
  if (index >= paths_.size()) return Status();
  file_ = std::fopen(paths_[index].c_str(), "rb");
  if (!file_) return RuntimeError("{}: cannot open: {}", paths_[index], ErrnoText(errno));
  file_eof_ = false;
  return Status();
}

Status DocumentReader::ReadMore(bool* eof) {
  const size_t old = pending_.size();
  pending_.resize(old + opt_.piece_bytes);
  const size_t got = std::fread(pending_.data() + old, 1, opt_.piece_bytes, file_);
  pending_.resize(old + got);
  if (got < opt_.piece_bytes && std::ferror(file_))
    return RuntimeError("{}: read failed: {}", paths_[file_index_], ErrnoText(errno));
  if (const void* nul = std::memchr(pending_.data() + old, '\0', got))
    return RuntimeError("{}: looks like a binary file (NUL byte at offset {}), expected text", paths_[file_index_],
                        file_offset_ + (static_cast<const char*>(nul) - (pending_.data() + old)));
  file_offset_ += got;
  *eof = got < opt_.piece_bytes;
  return Status();
}

Status DocumentReader::ReadJsonlDocument(bool* eof) {
  const std::string& path = paths_[file_index_];
  while (true) {
    line_offset_ = file_offset_;
    errno = 0;
    ssize_t n = ::getline(&line_buf_, &line_cap_, file_);
    if (n < 0) {
      if (errno != 0 && !std::feof(file_)) return RuntimeError("{}: read failed: {}", path, ErrnoText(errno));
      *eof = true;
      return Status();
    }
    line_number_++;
    file_offset_ += static_cast<uint64_t>(n);
    std::string_view line(line_buf_, static_cast<size_t>(n));
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank line
    nlohmann::json doc = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return RuntimeError("{}: not valid JSON", JsonlLine());
    auto it = doc.is_object() ? doc.find(opt_.jsonl_field) : doc.end();
    if (!doc.is_object() || it == doc.end() || !it->is_string())
      return RuntimeError("{}: no \"{}\" string field", JsonlLine(), opt_.jsonl_field);
    pending_ = it->get<std::string>();
    *eof = false;
    return Status();
  }
}

// Needs pending_.size() > limit, so the byte at the cut is known.
size_t DocumentReader::SafeCut(size_t limit) const {
  for (size_t p = limit - 1; p >= std::max<size_t>(1, limit / 2); p--) {
    const unsigned char prev = static_cast<unsigned char>(pending_[p - 1]);
    if (pending_[p] == ' ' && prev > 0x20 && prev < 0x7F) return p;
  }
  size_t p = limit;  // no safe point: cut at a UTF-8 character boundary
  while (p > 1 && (static_cast<unsigned char>(pending_[p]) & 0xC0) == 0x80) p--;
  return p;
}

bool DocumentReader::TakePiece(std::string* piece, bool final) {
  // `final`: pending_ holds the whole rest of the document.
  if (final && pending_.size() <= opt_.piece_bytes) {
    piece->swap(pending_);
    pending_.clear();
    return true;
  }
  if (pending_.size() <= opt_.piece_bytes) return false;
  const size_t cut = SafeCut(opt_.piece_bytes);
  piece->assign(pending_, 0, cut);
  pending_.erase(0, cut);
  return false;
}

Status DocumentReader::Next(std::string* piece, bool* starts_document, bool* done) {
  piece->clear();
  *done = false;
  while (true) {
    if (file_index_ >= paths_.size()) {
      *done = true;
      return Status();
    }
    const bool jsonl = formats_[file_index_] == Format::kJsonl;
    if (!doc_open_) {
      if (jsonl) {
        bool eof = false;
        CPU_LLM_RETURN_IF_ERROR(ReadJsonlDocument(&eof));
        if (eof) {
          CPU_LLM_RETURN_IF_ERROR(OpenFile(file_index_ + 1));
          continue;
        }
      } else if (file_eof_ && pending_.empty()) {  // this file is used up
        CPU_LLM_RETURN_IF_ERROR(OpenFile(file_index_ + 1));
        continue;
      }
      doc_open_ = true;
      doc_started_ = false;
    }
    // Where does the current document end, as far as pending_ tells?
    size_t end = std::string::npos, skip = 0;
    if (!jsonl && !opt_.delimiter.empty()) {
      end = pending_.find(opt_.delimiter);
      if (end != std::string::npos) skip = opt_.delimiter.size();
    }
    const bool whole_rest = jsonl || file_eof_;
    if (end == std::string::npos && whole_rest) end = pending_.size();

    // Cut only when the byte after the cut is known and a delimiter starting
    // before the cut would have been seen whole: otherwise the cut would
    // depend on how far the reader had read ahead, and Seek could not
    // reproduce it.
    const bool can_cut = pending_.size() > opt_.piece_bytes &&
                         (whole_rest || end != std::string::npos ||
                          pending_.size() >= opt_.piece_bytes + opt_.delimiter.size());
    const ReaderPlace here{static_cast<int64_t>(file_index_),
                           static_cast<int64_t>(jsonl ? line_offset_ : file_offset_ - pending_.size()),
                           !jsonl && doc_started_};
    bool doc_ends = false;
    if (end != std::string::npos && end <= opt_.piece_bytes) {
      piece->assign(pending_, 0, end);
      pending_.erase(0, end + skip);
      doc_ends = true;
    } else if (can_cut) {
      TakePiece(piece, false);
    } else {
      bool eof = false;
      CPU_LLM_RETURN_IF_ERROR(ReadMore(&eof));
      if (eof) file_eof_ = true;
      continue;
    }
    if (doc_ends) doc_open_ = false;
    if (piece->empty()) continue;  // an empty document, or nothing left of this one
    *starts_document = !doc_started_;
    if (!doc_started_) documents_++;
    doc_started_ = true;
    place_ = here;
    return Status();
  }
}

Status DocumentReader::Seek(const ReaderPlace& place) {
  if (place.file < 0 || place.file >= static_cast<int64_t>(paths_.size()))
    return RuntimeError("data position: input file {} does not exist (have {})", place.file, paths_.size());
  const size_t index = static_cast<size_t>(place.file);
  const std::string& path = paths_[index];
  if (place.byte_offset < 0 || static_cast<uint64_t>(place.byte_offset) > sizes_[index])
    return RuntimeError("{}: data position: byte offset {} is outside the file ({} bytes)", path, place.byte_offset,
                        sizes_[index]);
  if (place.in_document && formats_[index] == Format::kJsonl)
    return RuntimeError("{}: data position: a JSONL document cannot be continued from the middle", path);
  if (file_) {
    std::fclose(file_);
    file_ = nullptr;
  }
  CPU_LLM_RETURN_IF_ERROR(OpenFile(index));
  if (::fseeko(file_, static_cast<off_t>(place.byte_offset), SEEK_SET) != 0)
    return RuntimeError("{}: cannot seek to byte {}: {}", path, place.byte_offset, ErrnoText(errno));
  bytes_done_ = 0;
  for (size_t i = 0; i < index; i++) bytes_done_ += sizes_[i];
  file_offset_ = line_origin_ = static_cast<uint64_t>(place.byte_offset);
  pending_.clear();
  doc_open_ = doc_started_ = place.in_document;
  documents_ = 0;
  place_ = place;
  return Status();
}

std::string DocumentReader::JsonlLine() const {
  const std::string& path = paths_[file_index_];
  int64_t lines_before = 0;
  if (line_origin_ > 0) {  // after a Seek: count the lines before it now, when a message needs them
    FILE* f = std::fopen(path.c_str(), "rb");
    std::vector<char> block(1 << 16);
    uint64_t left = line_origin_;
    while (f && left > 0) {
      const size_t got = std::fread(block.data(), 1, std::min<uint64_t>(left, block.size()), f);
      if (got == 0) break;
      lines_before += std::count(block.data(), block.data() + got, '\n');
      left -= got;
    }
    if (f) std::fclose(f);
    if (left > 0) return fmt::format("{} (line at byte {})", path, line_offset_);
  }
  return fmt::format("{}:{}", path, lines_before + line_number_);
}

}  // namespace cpu_llm
