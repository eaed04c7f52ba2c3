// The safetensors container (Hugging Face's weight file), format only: no
// model knowledge lives here (hf_layout.h maps our parameters to HF names).
//
// File: uint64 N (little-endian), then N bytes of UTF-8 JSON, then the data.
// The JSON is an object: "__metadata__" (optional) maps strings to strings,
// every other key names a tensor {"dtype": "F32"|"F16"|"BF16"|..., "shape":
// [...], "data_offsets": [begin, end]}, offsets relative to the start of the
// data. The writer pads the JSON with spaces to a multiple of 8 bytes, so
// every tensor of a 2-byte or 4-byte dtype starts aligned (the spec's
// recommendation); the reader accepts any N, as the spec does.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"

namespace cpu_llm {

// The dtypes this project reads and writes; others are refused by name.
enum class StDtype { kF32, kF16, kBF16 };
const char* StDtypeName(StDtype d);  // "F32", "F16", "BF16"
int StDtypeBytes(StDtype d);
// "f32" / "f16" / "bf16" (the --dtype spellings) or the file's "F32" / ...
Status ParseStDtype(const std::string& name, StDtype* d);

// One tensor to write: fp32 values, rounded (to nearest even) to `dtype` on
// the way out. values.size() must equal the product of shape.
struct StTensorOut {
  std::string name;
  StDtype dtype = StDtype::kF32;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

// Writes the tensors, in the order given, atomically (temp file + rename).
// Names must be unique and not "__metadata__".
Status WriteSafetensors(const std::string& path, const std::vector<StTensorOut>& tensors,
                        const std::map<std::string, std::string>& metadata);

// A tensor as the header describes it; begin/end are absolute file offsets.
struct StTensorInfo {
  std::string name;
  StDtype dtype = StDtype::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
  int64_t numel() const;
};

// A whole safetensors file in memory, validated on Open: the header length
// against the file size, the JSON, each entry's dtype, shape and offsets
// (in bounds, size = numel * dtype size), and that the tensors tile the data
// exactly, without overlap or holes (the spec's rule). Every error names the
// file.
class SafetensorsFile {
 public:
  Status Open(const std::string& path);
  // Same checks on bytes already in memory; `path` only names them in errors.
  Status Parse(const std::string& path, std::vector<uint8_t> bytes);

  const std::string& path() const { return path_; }
  const std::vector<StTensorInfo>& tensors() const { return tensors_; }  // in file order
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Null when the file has no tensor of that name.
  const StTensorInfo* Find(const std::string& name) const;
  // The tensor widened to fp32 (exact for F16 and BF16).
  void ReadF32(const StTensorInfo& t, float* out) const;

 private:
  std::string path_;
  std::vector<uint8_t> bytes_;
  std::vector<StTensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace cpu_llm
