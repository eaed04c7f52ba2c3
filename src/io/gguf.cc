#include "io/gguf.h"

#include <algorithm>
#include <cstring>

#include "core/context.h"
#include "core/file_io.h"
#include "data/mapped_file.h"
#include "kernels/convert.h"

namespace cpu_llm {
namespace {

// Tensors are converted this many elements at a time: bounded scratch
// whatever the model's size.
constexpr uint64_t kConvertBlock = 1 << 20;
// ggml's GGML_MAX_DIMS: a tensor description with more dims is not ggml's.
constexpr uint32_t kMaxDims = 4;

uint64_t AlignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

void WriteString(AtomicFileWriter& w, const std::string& s) {
  w.WritePod(static_cast<uint64_t>(s.size()));
  w.Write(s.data(), s.size());
}

void WriteValue(AtomicFileWriter& w, const GgufValue& v) {
  w.WritePod(static_cast<uint32_t>(v.type));
  if (v.is_array()) {
    w.WritePod(static_cast<uint32_t>(v.array_type));
    w.WritePod(v.count);
  }
  if (v.elem_type() == GgufType::kString) {
    for (const std::string& s : v.strings) WriteString(w, s);
  } else {
    w.Write(v.bytes.data(), v.bytes.size());
  }
}

uint64_t ElementBytes(GgmlType t) { return t == GgmlType::kF32 ? 4 : 2; }

// Bounds-checked little-endian cursor over the mapped file: every read says
// where it failed, so a damaged file gives "offset N" instead of a crash.
class Cursor {
 public:
  Cursor(const std::string& path, const uint8_t* data, uint64_t size) : path_(path), data_(data), size_(size) {}
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }

  template <typename T>
  Status Read(T* v, const char* what) {
    if (left() < sizeof(T))
      return RuntimeError("{}: truncated GGUF file: {} at offset {} runs past the end ({} bytes)", path_, what, pos_,
                          size_);
    std::memcpy(v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status();
  }
  Status ReadBytes(uint64_t n, std::vector<uint8_t>* out, const char* what) {
    if (n > left())
      return RuntimeError("{}: {} of {} bytes at offset {} runs past the end of the file ({} bytes)", path_, what, n,
                          pos_, size_);
    out->assign(data_ + pos_, data_ + pos_ + n);
    pos_ += n;
    return Status();
  }
  Status ReadString(std::string* s, const char* what) {
    uint64_t n = 0;
    const uint64_t at = pos_;
    CPU_LLM_RETURN_IF_ERROR(Read(&n, what));
    if (n > left())
      return RuntimeError("{}: {} at offset {}: length {} runs past the end of the file ({} bytes)", path_, what, at, n,
                          size_);
    s->assign(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return Status();
  }

 private:
  const std::string& path_;
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

Status ReadType(Cursor& c, const std::string& path, GgufType* t, const char* what) {
  const uint64_t at = c.pos();
  uint32_t raw = 0;
  CPU_LLM_RETURN_IF_ERROR(c.Read(&raw, what));
  if (raw >= kGgufTypeCount) return RuntimeError("{}: {} at offset {}: unknown value type {}", path, what, at, raw);
  *t = static_cast<GgufType>(raw);
  return Status();
}

Status ReadValue(Cursor& c, const std::string& path, const std::string& key, GgufValue* v) {
  CPU_LLM_RETURN_IF_ERROR(ReadType(c, path, &v->type, "value type"));
  v->count = 1;
  if (v->is_array()) {
    CPU_LLM_RETURN_IF_ERROR(ReadType(c, path, &v->array_type, "array element type"));
    if (v->array_type == GgufType::kArray)
      return RuntimeError("{}: key '{}': arrays of arrays are not supported", path, key);
    CPU_LLM_RETURN_IF_ERROR(c.Read(&v->count, "array length"));
  }
  if (v->elem_type() == GgufType::kString) {
    // Each string takes at least its 8-byte length: a count the rest of the
    // file cannot hold is refused before anything is allocated for it.
    if (v->count > c.left() / 8)
      return RuntimeError("{}: key '{}': {} strings cannot fit in the {} bytes left", path, key, v->count, c.left());
    v->strings.resize(v->count);
    for (std::string& s : v->strings) CPU_LLM_RETURN_IF_ERROR(c.ReadString(&s, "string value"));
    return Status();
  }
  const uint64_t size = GgufTypeSize(v->elem_type());
  if (v->count > c.left() / size)
    return RuntimeError("{}: key '{}': {} values of {} bytes cannot fit in the {} bytes left", path, key, v->count, size,
                        c.left());
  return c.ReadBytes(v->count * size, &v->bytes, "value");
}

}  // namespace

uint64_t GgufTypeSize(GgufType t) {
  switch (t) {
    case GgufType::kUint8: case GgufType::kInt8: case GgufType::kBool: return 1;
    case GgufType::kUint16: case GgufType::kInt16: return 2;
    case GgufType::kUint32: case GgufType::kInt32: case GgufType::kFloat32: return 4;
    case GgufType::kUint64: case GgufType::kInt64: case GgufType::kFloat64: return 8;
    case GgufType::kString: case GgufType::kArray: return 0;
  }
  return 0;
}

const char* GgufTypeName(GgufType t) {
  static constexpr const char* kNames[kGgufTypeCount] = {"uint8", "int8",   "uint16", "int16",  "uint32",
                                                         "int32", "float32", "bool",  "string", "array",
                                                         "uint64", "int64", "float64"};
  const auto i = static_cast<uint32_t>(t);
  return i < kGgufTypeCount ? kNames[i] : "unknown";
}

const char* GgmlTypeName(uint32_t t) {
  switch (t) {
    case 0: return "F32";
    case 1: return "F16";
    case 2: return "Q4_0";
    case 8: return "Q8_0";
    case 24: return "I8";
    case 25: return "I16";
    case 26: return "I32";
    case 27: return "I64";
    case 28: return "F64";
    case 30: return "BF16";
    default: return "unknown";
  }
}

bool GgmlTensorBytes(uint32_t type, uint64_t elements, uint64_t* bytes) {
  uint64_t block = 1, block_bytes = 0;
  switch (type) {
    case 0: case 26: block_bytes = 4; break;          // F32, I32
    case 1: case 25: case 30: block_bytes = 2; break;  // F16, I16, BF16
    case 24: block_bytes = 1; break;                   // I8
    case 27: case 28: block_bytes = 8; break;          // I64, F64
    case 2: block = 32, block_bytes = 18; break;       // Q4_0: fp16 scale + 32 nibbles
    case 8: block = 32, block_bytes = 34; break;       // Q8_0: fp16 scale + 32 int8
    default: return false;
  }
  if (elements % block) return false;
  const uint64_t blocks = elements / block;
  if (blocks > UINT64_MAX / block_bytes) return false;
  *bytes = blocks * block_bytes;
  return true;
}

uint64_t GgufElementCount(const std::vector<uint64_t>& dims) {
  uint64_t n = 1;
  for (uint64_t d : dims) {
    if (d != 0 && n > UINT64_MAX / d) return 0;
    n *= d;
  }
  return n;
}

GgufValue GgufValue::Str(std::string s) {
  GgufValue v;
  v.type = GgufType::kString;
  v.strings.push_back(std::move(s));
  return v;
}

GgufValue GgufValue::StrArray(std::vector<std::string> s) {
  GgufValue v;
  v.type = GgufType::kArray;
  v.array_type = GgufType::kString;
  v.count = s.size();
  v.strings = std::move(s);
  return v;
}

void GgufWriter::AddTensor(std::string name, std::vector<uint64_t> dims, GgmlType type, const float* data) {
  Tensor t;
  t.info.name = std::move(name);
  t.info.dims = std::move(dims);
  t.info.type = static_cast<uint32_t>(type);
  t.data = data;
  tensors_.push_back(std::move(t));
}

void GgufWriter::AddOwnedTensor(std::string name, std::vector<uint64_t> dims, GgmlType type, std::vector<float> data) {
  owned_.push_back(std::move(data));
  AddTensor(std::move(name), std::move(dims), type, owned_.back().data());
}

Status GgufWriter::Write(const std::string& path) const {
  uint64_t alignment = kGgufDefaultAlignment;
  for (const GgufKv& kv : kvs_) {
    if (kv.key != "general.alignment") continue;
    const uint32_t a = kv.value.At<uint32_t>();
    if (kv.value.type != GgufType::kUint32 || a == 0 || (a & (a - 1)))
      return UsageError("{}: general.alignment must be a uint32 power of two", path);
    alignment = a;
  }
  // Offsets first: each tensor starts on the alignment within the data section.
  std::vector<uint64_t> offsets;
  uint64_t data_bytes = 0;
  for (const Tensor& t : tensors_) {
    data_bytes = AlignUp(data_bytes, alignment);
    offsets.push_back(data_bytes);
    data_bytes += GgufElementCount(t.info.dims) * ElementBytes(static_cast<GgmlType>(t.info.type));
  }
  AtomicFileWriter w(path);
  w.WritePod(kGgufMagic);
  w.WritePod(kGgufVersion);
  w.WritePod(static_cast<uint64_t>(tensors_.size()));
  w.WritePod(static_cast<uint64_t>(kvs_.size()));
  for (const GgufKv& kv : kvs_) {
    WriteString(w, kv.key);
    WriteValue(w, kv.value);
  }
  for (size_t i = 0; i < tensors_.size(); i++) {
    const GgufTensorInfo& info = tensors_[i].info;
    WriteString(w, info.name);
    w.WritePod(static_cast<uint32_t>(info.dims.size()));
    for (uint64_t d : info.dims) w.WritePod(d);
    w.WritePod(info.type);
    w.WritePod(offsets[i]);
  }
  const std::vector<uint8_t> zeros(alignment, 0);
  const uint64_t data_start = AlignUp(w.bytes_written(), alignment);
  w.Write(zeros.data(), data_start - w.bytes_written());
  const Context ctx{1};
  std::vector<uint16_t> half;
  for (size_t i = 0; i < tensors_.size(); i++) {
    const Tensor& t = tensors_[i];
    w.Write(zeros.data(), data_start + offsets[i] - w.bytes_written());
    const uint64_t n = GgufElementCount(t.info.dims);
    const auto type = static_cast<GgmlType>(t.info.type);
    for (uint64_t at = 0; at < n; at += kConvertBlock) {
      const int64_t len = static_cast<int64_t>(std::min(kConvertBlock, n - at));
      if (type == GgmlType::kF32) {
        w.Write(t.data + at, len * sizeof(float));
        continue;
      }
      half.resize(len);
      if (type == GgmlType::kF16) f32_to_f16(ctx, half.data(), t.data + at, len);
      else f32_to_bf16(ctx, half.data(), t.data + at, len);
      w.Write(half.data(), len * sizeof(uint16_t));
    }
  }
  return w.Finish();
}

const GgufValue* GgufFile::Find(const std::string& key) const {
  for (const GgufKv& kv : kvs)
    if (kv.key == key) return &kv.value;
  return nullptr;
}

const GgufTensorInfo* GgufFile::FindTensor(const std::string& name) const {
  for (const GgufTensorInfo& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

Status ReadGguf(const std::string& path, GgufFile* out) {
  MappedFile file;
  CPU_LLM_RETURN_IF_ERROR(file.Open(path));
  *out = GgufFile();
  out->path = path;
  out->file_size = file.size();
  Cursor c(path, file.data(), file.size());
  uint32_t magic = 0;
  if (file.size() < 4 || (c.Read(&magic, "magic").ok() && magic != kGgufMagic))
    return RuntimeError("{}: not a GGUF file (no \"GGUF\" magic at offset 0)", path);
  CPU_LLM_RETURN_IF_ERROR(c.Read(&out->version, "version"));
  if (out->version != kGgufVersion)
    return RuntimeError("{}: GGUF version {}; only version {} is read", path, out->version, kGgufVersion);
  uint64_t n_tensors = 0, n_kv = 0;
  CPU_LLM_RETURN_IF_ERROR(c.Read(&n_tensors, "tensor count"));
  CPU_LLM_RETURN_IF_ERROR(c.Read(&n_kv, "metadata count"));
  // Smallest entries: a key/value is a key length, a type and one byte; a
  // tensor description a name length, n_dims, one dim, type and offset.
  if (n_kv > c.left() / 13 || n_tensors > (c.left() - n_kv * 13) / 32)
    return RuntimeError("{}: header claims {} metadata entries and {} tensors, more than the {}-byte file can hold", path,
                        n_kv, n_tensors, file.size());
  out->kvs.resize(n_kv);
  for (GgufKv& kv : out->kvs) {
    CPU_LLM_RETURN_IF_ERROR(c.ReadString(&kv.key, "metadata key"));
    CPU_LLM_RETURN_IF_ERROR(ReadValue(c, path, kv.key, &kv.value));
    if (kv.key == "general.alignment") {
      const uint32_t a = kv.value.At<uint32_t>();
      if (kv.value.type != GgufType::kUint32 || a == 0 || (a & (a - 1)))
        return RuntimeError("{}: general.alignment must be a uint32 power of two", path);
      out->alignment = a;
    }
  }
  out->tensors.resize(n_tensors);
  for (GgufTensorInfo& t : out->tensors) {
    CPU_LLM_RETURN_IF_ERROR(c.ReadString(&t.name, "tensor name"));
    uint32_t n_dims = 0;
    CPU_LLM_RETURN_IF_ERROR(c.Read(&n_dims, "tensor n_dims"));
    if (n_dims == 0 || n_dims > kMaxDims)
      return RuntimeError("{}: tensor '{}' has {} dims (1 to {} allowed)", path, t.name, n_dims, kMaxDims);
    t.dims.resize(n_dims);
    for (uint64_t& d : t.dims) CPU_LLM_RETURN_IF_ERROR(c.Read(&d, "tensor dim"));
    CPU_LLM_RETURN_IF_ERROR(c.Read(&t.type, "tensor type"));
    CPU_LLM_RETURN_IF_ERROR(c.Read(&t.offset, "tensor offset"));
  }
  out->data_offset = AlignUp(c.pos(), out->alignment);
  return Status();
}

Status ReadGgufTensor(const GgufFile& f, const std::string& name, std::vector<float>* out) {
  const GgufTensorInfo* t = f.FindTensor(name);
  if (!t) return RuntimeError("{}: no tensor '{}'", f.path, name);
  const uint64_t n = GgufElementCount(t->dims);
  // 0 is also GgufElementCount's answer to dims whose product overflows.
  if (n == 0) return RuntimeError("{}: tensor '{}' has no elements (a zero dim, or dims whose product overflows)", f.path, name);
  uint64_t bytes = 0;
  if (t->type != 0 && t->type != 1 && t->type != 30)
    return RuntimeError("{}: tensor '{}' is {}; only F32, F16 and BF16 are read", f.path, name, GgmlTypeName(t->type));
  if (!GgmlTensorBytes(t->type, n, &bytes) || t->offset > f.file_size || f.data_offset > f.file_size - t->offset ||
      bytes > f.file_size - f.data_offset - t->offset)
    return RuntimeError("{}: tensor '{}' runs past the end of the file", f.path, name);
  MappedFile file;
  CPU_LLM_RETURN_IF_ERROR(file.Open(f.path));
  if (file.size() != f.file_size) return RuntimeError("{}: file changed size since it was parsed", f.path);
  const uint8_t* src = file.data() + f.data_offset + t->offset;
  out->resize(n);
  if (t->type == 0) {
    std::memcpy(out->data(), src, n * sizeof(float));
    return Status();
  }
  std::vector<uint16_t> half(n);
  std::memcpy(half.data(), src, n * sizeof(uint16_t));
  const Context ctx{1};
  if (t->type == 1) f16_to_f32(ctx, out->data(), half.data(), static_cast<int64_t>(n));
  else bf16_to_f32(ctx, out->data(), half.data(), static_cast<int64_t>(n));
  return Status();
}

}  // namespace cpu_llm
