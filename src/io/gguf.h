// GGUF version 3, the file format of ggml and llama.cpp (docs/FORMATS.md,
// "GGUF export"): a header, typed key/value metadata, tensor descriptions,
// then the tensor data, each tensor aligned. All little-endian.
//
//   "GGUF" | uint32 version 3 | uint64 tensor count | uint64 metadata count
//   metadata: string key | uint32 value type | value
//   tensors:  string name | uint32 n_dims | uint64 dims[n_dims] (innermost
//             first) | uint32 ggml type | uint64 offset into the data section
//   padding to the alignment (general.alignment, default 32), tensor data
// A string is a uint64 byte length and the bytes (no terminator); an array is
// a uint32 element type, a uint64 count and the elements.
//
// The writer stores float32 sources as F32, F16 or BF16; the reader parses a
// file into metadata and tensor descriptions, checking every length against
// the file's size, and widens a tensor back to float32. ValidateGguf
// (io/gguf_validate.h) checks what the spec and llama.cpp require on top.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace cpu_llm {

constexpr uint32_t kGgufMagic = 0x46554747;  // the bytes "GGUF" read as a little-endian uint32
constexpr uint32_t kGgufVersion = 3;
constexpr uint32_t kGgufDefaultAlignment = 32;

// Metadata value types, numbered as the spec numbers them.
enum class GgufType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};
constexpr uint32_t kGgufTypeCount = 13;

// Bytes of one value of a fixed-size type; 0 for strings and arrays.
uint64_t GgufTypeSize(GgufType t);
const char* GgufTypeName(GgufType t);

// The ggml tensor types this project writes (ggml's numbering).
enum class GgmlType : uint32_t { kF32 = 0, kF16 = 1, kBf16 = 30 };
const char* GgmlTypeName(uint32_t ggml_type);

// One metadata value. Numbers (and bools, one byte 0/1) are kept as their
// little-endian bytes, so every numeric type round-trips bit for bit; a
// string or an array of strings in `strings`.
struct GgufValue {
  GgufType type = GgufType::kUint32;
  GgufType array_type = GgufType::kUint8;  // element type when type == kArray
  uint64_t count = 1;                      // elements (1 for a scalar)
  std::vector<uint8_t> bytes;              // numeric values, count * GgufTypeSize
  std::vector<std::string> strings;        // string values, count of them

  template <typename T>
  static GgufValue Scalar(GgufType type, T v);
  template <typename T>
  static GgufValue Array(GgufType elem, const std::vector<T>& v);
  static GgufValue U32(uint32_t v) { return Scalar(GgufType::kUint32, v); }
  static GgufValue I32(int32_t v) { return Scalar(GgufType::kInt32, v); }
  static GgufValue U64(uint64_t v) { return Scalar(GgufType::kUint64, v); }
  static GgufValue F32(float v) { return Scalar(GgufType::kFloat32, v); }
  static GgufValue Bool(bool v) { return Scalar(GgufType::kBool, static_cast<uint8_t>(v ? 1 : 0)); }
  static GgufValue Str(std::string s);
  static GgufValue StrArray(std::vector<std::string> v);

  bool is_array() const { return type == GgufType::kArray; }
  // The element type: type itself for a scalar.
  GgufType elem_type() const { return is_array() ? array_type : type; }
  // Element i of a numeric value as T (the caller checks the type).
  template <typename T>
  T At(uint64_t i = 0) const;
};

struct GgufKv {
  std::string key;
  GgufValue value;
};

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // innermost (contiguous) first
  uint32_t type = 0;           // ggml type id
  uint64_t offset = 0;         // from the start of the data section
};

// Elements of a tensor (the product of its dims; 0 if it overflows).
uint64_t GgufElementCount(const std::vector<uint64_t>& dims);
// Bytes of a tensor of `type` with `elements` elements; false for a type
// whose block size is not known here or a count that is not whole blocks.
bool GgmlTensorBytes(uint32_t type, uint64_t elements, uint64_t* bytes);

// Builds a GGUF file in memory order: metadata in the order added, tensors
// in the order added. Tensor data is float32 in ggml order (dims[0] varies
// fastest, i.e. a row-major (rows, cols) matrix has dims {cols, rows}) and is
// converted to the tensor's type while writing; `data` must stay valid until
// Write returns (AddOwnedTensor keeps its buffer itself).
class GgufWriter {
 public:
  void AddKv(std::string key, GgufValue value) { kvs_.push_back({std::move(key), std::move(value)}); }
  void AddTensor(std::string name, std::vector<uint64_t> dims, GgmlType type, const float* data);
  void AddOwnedTensor(std::string name, std::vector<uint64_t> dims, GgmlType type, std::vector<float> data);
  // Writes atomically (temp file, fsync, rename). The alignment is the
  // general.alignment value if one was added (a uint32 power of two), else 32.
  Status Write(const std::string& path) const;
  size_t tensor_count() const { return tensors_.size(); }

 private:
  struct Tensor {
    GgufTensorInfo info;
    const float* data;
  };
  std::vector<GgufKv> kvs_;
  std::vector<Tensor> tensors_;
  std::vector<std::vector<float>> owned_;  // moved-in buffers; a move keeps each one's address
};

// A parsed file: everything but the tensor data.
struct GgufFile {
  std::string path;
  uint32_t version = 0;
  uint64_t file_size = 0;
  uint64_t alignment = kGgufDefaultAlignment;
  uint64_t data_offset = 0;  // start of the data section (aligned)
  std::vector<GgufKv> kvs;
  std::vector<GgufTensorInfo> tensors;

  const GgufValue* Find(const std::string& key) const;
  const GgufTensorInfo* FindTensor(const std::string& name) const;
};

// Parses header, metadata and tensor descriptions. Refuses a wrong magic, a
// version other than 3, counts the file cannot hold, an unknown value type, a
// nested array, a length past the end, more than 4 dims, and a
// general.alignment that is not a uint32 power of two. Messages name the file
// and the byte offset of the fault.
Status ReadGguf(const std::string& path, GgufFile* out);

// Reads tensor `name` (F32, F16 or BF16) widened to float32, in file order.
Status ReadGgufTensor(const GgufFile& file, const std::string& name, std::vector<float>* out);

// --- template definitions ---

template <typename T>
GgufValue GgufValue::Scalar(GgufType type, T v) {
  GgufValue out;
  out.type = type;
  out.bytes.resize(sizeof(T));
  std::memcpy(out.bytes.data(), &v, sizeof(T));
  return out;
}

template <typename T>
GgufValue GgufValue::Array(GgufType elem, const std::vector<T>& v) {
  GgufValue out;
  out.type = GgufType::kArray;
  out.array_type = elem;
  out.count = v.size();
  out.bytes.resize(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(out.bytes.data(), v.data(), out.bytes.size());
  return out;
}

template <typename T>
T GgufValue::At(uint64_t i) const {
  T v{};
  if ((i + 1) * sizeof(T) <= bytes.size()) std::memcpy(&v, bytes.data() + i * sizeof(T), sizeof(T));
  return v;
}

}  // namespace cpu_llm
