#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "core/file_io.h"
#include "kernels/convert.h"

namespace cpu_llm {
namespace {

// The reference implementation's limit: a longer header is a corrupt length
// field, not a real file, and must not make us allocate or parse gigabytes.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

// Values are converted this many at a time: bounded scratch for any tensor.
constexpr int64_t kConvertBlock = 1 << 20;

void Round16(StDtype d, uint16_t* dst, const float* src, int64_t n) {
  if (d == StDtype::kBF16) f32_to_bf16(Context{1}, dst, src, n);
  else f32_to_f16(Context{1}, dst, src, n);
}

// Reads a non-negative JSON integer into *out; false for anything else
// (negative, fractional, a string, ...).
bool GetU64(const nlohmann::json& j, uint64_t* out) {
  if (!j.is_number_unsigned()) return false;
  *out = j.get<uint64_t>();
  return true;
}

}  // namespace

const char* StDtypeName(StDtype d) {
  switch (d) {
    case StDtype::kF32: return "F32";
    case StDtype::kF16: return "F16";
    case StDtype::kBF16: return "BF16";
  }
  return "?";
}

int StDtypeBytes(StDtype d) { return d == StDtype::kF32 ? 4 : 2; }

Status ParseStDtype(const std::string& name, StDtype* d) {
  if (name == "f32" || name == "F32") *d = StDtype::kF32;
  else if (name == "f16" || name == "F16") *d = StDtype::kF16;
  else if (name == "bf16" || name == "BF16") *d = StDtype::kBF16;
  else return UsageError("--dtype: unknown dtype '{}' (expected f32, f16 or bf16)", name);
  return Status();
}

int64_t StTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

Status WriteSafetensors(const std::string& path, const std::vector<StTensorOut>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  // ordered_json keeps the tensors in file order, so the header reads like the data.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const StTensorOut& t : tensors) {
    if (t.name == "__metadata__" || !names.insert(t.name).second)
      return UsageError("{}: tensor name '{}' is reserved or repeated", path, t.name);
    int64_t numel = 1;
    for (int64_t s : t.shape) numel *= s;
    if (numel != static_cast<int64_t>(t.values.size()))
      return UsageError("{}: tensor '{}' has {} values for a shape of {}", path, t.name, t.values.size(), numel);
    const uint64_t bytes = static_cast<uint64_t>(numel) * StDtypeBytes(t.dtype);
    header[t.name] = {{"dtype", StDtypeName(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  AtomicFileWriter w(path);
  w.WritePod(static_cast<uint64_t>(text.size()));  // x86-64: already little-endian
  w.Write(text.data(), text.size());
  std::vector<uint16_t> block;
  for (const StTensorOut& t : tensors) {
    if (t.dtype == StDtype::kF32) {
      w.Write(t.values.data(), t.values.size() * sizeof(float));
      continue;
    }
    const int64_t n = static_cast<int64_t>(t.values.size());
    block.resize(std::min<int64_t>(kConvertBlock, n));
    for (int64_t i = 0; i < n; i += kConvertBlock) {
      const int64_t m = std::min<int64_t>(kConvertBlock, n - i);
      Round16(t.dtype, block.data(), t.values.data() + i, m);
      w.Write(block.data(), m * sizeof(uint16_t));
    }
  }
  return w.Finish();
}

Status SafetensorsFile::Open(const std::string& path) {
  std::vector<uint8_t> bytes;
  CPU_LLM_RETURN_IF_ERROR(ReadFileBytes(path, &bytes));
  return Parse(path, std::move(bytes));
}

Status SafetensorsFile::Parse(const std::string& path, std::vector<uint8_t> bytes) {
  path_ = path;
  bytes_ = std::move(bytes);
  tensors_.clear();
  index_.clear();
  metadata_.clear();
  const uint64_t size = bytes_.size();
  if (size < 8) return RuntimeError("{}: not a safetensors file: {} bytes, shorter than the 8-byte header length", path, size);
  uint64_t n = 0;
  std::memcpy(&n, bytes_.data(), 8);
  if (n > kMaxHeaderBytes) return RuntimeError("{}: safetensors header length {} is implausible (over 100 MiB)", path, n);
  if (n > size - 8)
    return RuntimeError("{}: truncated safetensors file: header length {} runs past the end of the file ({} bytes)", path,
                        n, size);
  const char* text = reinterpret_cast<const char*>(bytes_.data() + 8);
  nlohmann::json header = nlohmann::json::parse(text, text + n, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded()) return RuntimeError("{}: safetensors header is not valid JSON", path);
  if (!header.is_object()) return RuntimeError("{}: safetensors header is not a JSON object", path);
  const uint64_t data_begin = 8 + n, data_size = size - data_begin;
  for (auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) return RuntimeError("{}: safetensors __metadata__ is not an object", path);
      for (auto& [key, value] : entry.items()) {
        if (!value.is_string()) return RuntimeError("{}: safetensors __metadata__ value of '{}' is not a string", path, key);
        metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
      return RuntimeError("{}: tensor '{}': expected an object with dtype, shape and data_offsets", path, name);
    StTensorInfo t;
    t.name = name;
    const nlohmann::json& dtype = entry["dtype"];
    if (!dtype.is_string()) return RuntimeError("{}: tensor '{}': dtype is not a string", path, name);
    if (!ParseStDtype(dtype.get<std::string>(), &t.dtype).ok() || dtype.get<std::string>() != StDtypeName(t.dtype))
      return RuntimeError("{}: tensor '{}': unsupported dtype '{}' (supported: F32, F16, BF16)", path, name,
                          dtype.get<std::string>());
    const nlohmann::json& shape = entry["shape"];
    if (!shape.is_array()) return RuntimeError("{}: tensor '{}': shape is not an array", path, name);
    uint64_t numel = 1;
    for (const nlohmann::json& dim : shape) {
      uint64_t d = 0;
      if (!GetU64(dim, &d)) return RuntimeError("{}: tensor '{}': shape {} has a dimension that is not a non-negative integer", path, name, shape.dump());
      if (__builtin_mul_overflow(numel, d, &numel) || d > (1ull << 40))
        return RuntimeError("{}: tensor '{}': shape {} is implausibly large", path, name, shape.dump());
      t.shape.push_back(static_cast<int64_t>(d));
    }
    const nlohmann::json& offs = entry["data_offsets"];
    uint64_t b = 0, e = 0;
    if (!offs.is_array() || offs.size() != 2 || !GetU64(offs[0], &b) || !GetU64(offs[1], &e))
      return RuntimeError("{}: tensor '{}': data_offsets is not a pair of non-negative integers", path, name);
    if (b > e || e > data_size)
      return RuntimeError("{}: tensor '{}': data_offsets [{}, {}] out of range (data section is {} bytes)", path, name, b,
                          e, data_size);
    uint64_t want = 0;
    if (__builtin_mul_overflow(numel, static_cast<uint64_t>(StDtypeBytes(t.dtype)), &want) || want != e - b)
      return RuntimeError("{}: tensor '{}': {} bytes for shape {} of {} (expected {})", path, name, e - b, shape.dump(),
                          StDtypeName(t.dtype), numel * StDtypeBytes(t.dtype));
    t.begin = data_begin + b;
    t.end = data_begin + e;
    index_[name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }
  // The tensors must tile the data section: sorted by offset, each starts
  // where the one before ended, the first at 0 and the last at the file's end.
  std::vector<const StTensorInfo*> order;
  for (const StTensorInfo& t : tensors_) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const StTensorInfo* a, const StTensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t at = data_begin;
  const StTensorInfo* prev = nullptr;
  for (const StTensorInfo* t : order) {
    if (t->begin < at)
      return RuntimeError("{}: tensors '{}' and '{}' overlap", path, prev->name, t->name);
    if (t->begin > at)
      return RuntimeError("{}: {} unused bytes before tensor '{}' (the data must have no holes)", path, t->begin - at,
                          t->name);
    at = t->end;
    prev = t;
  }
  if (at != size)
    return RuntimeError("{}: {} bytes after the last tensor's data (the data must have no holes)", path, size - at);
  // Tensors are kept in file order, as they lie in the data.
  std::sort(tensors_.begin(), tensors_.end(), [](const StTensorInfo& a, const StTensorInfo& b) { return a.begin < b.begin; });
  for (size_t i = 0; i < tensors_.size(); i++) index_[tensors_[i].name] = i;
  return Status();
}

const StTensorInfo* SafetensorsFile::Find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

void SafetensorsFile::ReadF32(const StTensorInfo& t, float* out) const {
  const uint8_t* src = bytes_.data() + t.begin;
  const int64_t n = t.numel();
  if (t.dtype == StDtype::kF32) {
    std::memcpy(out, src, n * sizeof(float));
    return;
  }
  // The data of a 16-bit tensor need not be 2-byte aligned in memory (the
  // header length is arbitrary): copy through an aligned block.
  std::vector<uint16_t> block(std::min<int64_t>(kConvertBlock, n));
  for (int64_t i = 0; i < n; i += kConvertBlock) {
    const int64_t m = std::min<int64_t>(kConvertBlock, n - i);
    std::memcpy(block.data(), src + i * 2, m * 2);
    if (t.dtype == StDtype::kBF16) bf16_to_f32(Context{1}, out + i, block.data(), m);
    else f16_to_f32(Context{1}, out + i, block.data(), m);
  }
}

}  // namespace cpu_llm
