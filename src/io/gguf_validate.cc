#include "io/gguf_validate.h"

#include <algorithm>
#include <map>
#include <unordered_set>
#include <vector>

#include <fmt/ranges.h>

#include "data/utf8.h"
#include "io/gguf.h"

namespace cpu_llm {
namespace {

// ggml keeps tensor names in a 64-byte buffer with its terminator.
constexpr size_t kMaxTensorName = 63;
// llama.cpp's token types: 1 normal .. 6 byte (0 undefined is not one).
constexpr int32_t kMinTokenType = 1, kMaxTokenType = 6;

// A required hyperparameter: its key (after "<arch>.") and the type llama.cpp
// reads it as.
struct KeySpec {
  const char* key;
  GgufType type;
};

constexpr KeySpec kGpt2Keys[] = {
    {"context_length", GgufType::kUint32},     {"embedding_length", GgufType::kUint32},
    {"block_count", GgufType::kUint32},        {"feed_forward_length", GgufType::kUint32},
    {"attention.head_count", GgufType::kUint32}, {"attention.layer_norm_epsilon", GgufType::kFloat32},
};
constexpr KeySpec kLlamaKeys[] = {
    {"context_length", GgufType::kUint32},         {"embedding_length", GgufType::kUint32},
    {"block_count", GgufType::kUint32},            {"feed_forward_length", GgufType::kUint32},
    {"attention.head_count", GgufType::kUint32},   {"attention.head_count_kv", GgufType::kUint32},
    {"rope.dimension_count", GgufType::kUint32},   {"rope.freq_base", GgufType::kFloat32},
    {"attention.layer_norm_rms_epsilon", GgufType::kFloat32},
};

using Shapes = std::map<std::string, std::vector<uint64_t>>;

// What a validation pass has learned so far; each check returns the first fault.
struct Checker {
  const GgufFile& f;

  template <typename... Args>
  Status Fail(fmt::format_string<Args...> fm, Args&&... args) const {
    return RuntimeError("{}: invalid GGUF: {}", f.path, fmt::format(fm, std::forward<Args>(args)...));
  }

  Status Metadata() const {
    std::unordered_set<std::string> keys;
    for (const GgufKv& kv : f.kvs) {
      if (kv.key.empty()) return Fail("empty metadata key");
      if (!IsValidUtf8(kv.key)) return Fail("metadata key is not UTF-8");
      if (!keys.insert(kv.key).second) return Fail("duplicate metadata key '{}'", kv.key);
      const GgufValue& v = kv.value;
      for (const std::string& s : v.strings)
        if (!IsValidUtf8(s)) return Fail("key '{}': a string value is not valid UTF-8", kv.key);
      if (v.elem_type() == GgufType::kBool)
        for (uint8_t b : v.bytes)
          if (b > 1) return Fail("key '{}': bool value {} is neither 0 nor 1", kv.key, b);
    }
    return Status();
  }

  Status Tensors() const {
    std::unordered_set<std::string> names;
    struct Span {
      uint64_t begin, end;
      const std::string* name;
    };
    std::vector<Span> spans;
    const uint64_t data_size = f.file_size >= f.data_offset ? f.file_size - f.data_offset : 0;
    if (!f.tensors.empty() && f.data_offset > f.file_size) return Fail("no room for the tensor data section");
    for (const GgufTensorInfo& t : f.tensors) {
      if (t.name.empty() || t.name.size() > kMaxTensorName)
        return Fail("tensor name '{}' must be 1 to {} bytes", t.name, kMaxTensorName);
      if (!IsValidUtf8(t.name)) return Fail("a tensor name is not UTF-8");
      if (!names.insert(t.name).second) return Fail("duplicate tensor name '{}'", t.name);
      for (uint64_t d : t.dims)
        if (d == 0 || d > (uint64_t{1} << 62)) return Fail("tensor '{}': dimension {} out of range", t.name, d);
      const uint64_t n = GgufElementCount(t.dims);
      uint64_t bytes = 0;
      if (n == 0) return Fail("tensor '{}': element count overflows", t.name);
      if (!GgmlTensorBytes(t.type, n, &bytes))
        return Fail("tensor '{}': ggml type {} unknown here, or {} elements are not whole blocks of it", t.name, t.type,
                    n);
      if (t.offset % f.alignment)
        return Fail("tensor '{}': offset {} is not a multiple of the alignment {}", t.name, t.offset, f.alignment);
      if (t.offset > data_size || bytes > data_size - t.offset)
        return Fail("tensor '{}': data [{}, {}) runs past the end of the data section ({} bytes)", t.name, t.offset,
                    t.offset + bytes, data_size);
      spans.push_back({t.offset, t.offset + bytes, &t.name});
    }
    std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
    for (size_t i = 1; i < spans.size(); i++)
      if (spans[i].begin < spans[i - 1].end)
        return Fail("tensors '{}' and '{}' overlap", *spans[i - 1].name, *spans[i].name);
    return Status();
  }

  // The value of `key`, which must exist with `type` (a scalar).
  Status Scalar(const std::string& key, GgufType type, const GgufValue** out) const {
    const GgufValue* v = f.Find(key);
    if (!v) return Fail("missing required key '{}'", key);
    if (v->type != type)
      return Fail("key '{}' is {}, expected {}", key, GgufTypeName(v->type), GgufTypeName(type));
    *out = v;
    return Status();
  }
  Status U32(const std::string& key, uint64_t* out) const {
    const GgufValue* v = nullptr;
    CPU_LLM_RETURN_IF_ERROR(Scalar(key, GgufType::kUint32, &v));
    *out = v->At<uint32_t>();
    if (*out == 0) return Fail("key '{}' must be positive", key);
    return Status();
  }
  Status PositiveF32(const std::string& key) const {
    const GgufValue* v = nullptr;
    CPU_LLM_RETURN_IF_ERROR(Scalar(key, GgufType::kFloat32, &v));
    if (!(v->At<float>() > 0.0f)) return Fail("key '{}' must be a positive number", key);
    return Status();
  }
  Status Array(const std::string& key, GgufType elem, const GgufValue** out) const {
    const GgufValue* v = f.Find(key);
    if (!v) return Fail("missing required key '{}'", key);
    if (!v->is_array() || v->array_type != elem)
      return Fail("key '{}' must be an array of {}", key, GgufTypeName(elem));
    *out = v;
    return Status();
  }

  // The expected tensors of `arch` and their shapes.
  Status Expected(const std::string& arch, uint64_t V, Shapes* shapes) const {
    const std::string p = arch + ".";
    uint64_t maxT = 0, C = 0, L = 0, F = 0, NH = 0, NKV = 0, rope_dims = 0;
    const bool llama = arch == "llama";
    for (const KeySpec& k : llama ? std::vector<KeySpec>(std::begin(kLlamaKeys), std::end(kLlamaKeys))
                                  : std::vector<KeySpec>(std::begin(kGpt2Keys), std::end(kGpt2Keys))) {
      const GgufValue* v = nullptr;
      CPU_LLM_RETURN_IF_ERROR(Scalar(p + k.key, k.type, &v));
      if (k.type == GgufType::kFloat32) CPU_LLM_RETURN_IF_ERROR(PositiveF32(p + k.key));
    }
    CPU_LLM_RETURN_IF_ERROR(U32(p + "context_length", &maxT));
    CPU_LLM_RETURN_IF_ERROR(U32(p + "embedding_length", &C));
    CPU_LLM_RETURN_IF_ERROR(U32(p + "block_count", &L));
    // Each block has at least 5 tensors; a count the file cannot back would
    // have the expected-shape table below take gigabytes (found by fuzz_gguf).
    if (L * 5 > f.tensors.size())
      return Fail("{}block_count {} needs at least {} tensors; the file describes {}", p, L, L * 5, f.tensors.size());
    CPU_LLM_RETURN_IF_ERROR(U32(p + "feed_forward_length", &F));
    CPU_LLM_RETURN_IF_ERROR(U32(p + "attention.head_count", &NH));
    if (C % NH) return Fail("embedding_length {} is not a multiple of head_count {}", C, NH);
    const uint64_t HS = C / NH;
    NKV = NH;
    if (llama) {
      CPU_LLM_RETURN_IF_ERROR(U32(p + "attention.head_count_kv", &NKV));
      CPU_LLM_RETURN_IF_ERROR(U32(p + "rope.dimension_count", &rope_dims));
      if (NH % NKV) return Fail("head_count {} is not a multiple of head_count_kv {}", NH, NKV);
      if (rope_dims > HS || rope_dims % 2)
        return Fail("rope.dimension_count {} must be even and at most the head size {}", rope_dims, HS);
    }
    if (const GgufValue* v = f.Find(p + "vocab_size")) {
      if (v->type != GgufType::kUint32 || v->At<uint32_t>() != V)
        return Fail("key '{}vocab_size' must be a uint32 equal to the {} tokens", p, V);
    }
    (*shapes)["token_embd.weight"] = {C, V};
    (*shapes)["output_norm.weight"] = {C};
    if (!llama) {
      (*shapes)["position_embd.weight"] = {C, maxT};
      (*shapes)["output_norm.bias"] = {C};
    }
    for (uint64_t l = 0; l < L; l++) {
      const std::string b = "blk." + std::to_string(l) + ".";
      auto& s = *shapes;
      s[b + "attn_norm.weight"] = {C};
      s[b + "ffn_norm.weight"] = {C};
      s[b + "attn_output.weight"] = {C, C};
      s[b + "ffn_up.weight"] = {C, F};
      s[b + "ffn_down.weight"] = {F, C};
      if (llama) {
        s[b + "attn_q.weight"] = {C, C};
        s[b + "attn_k.weight"] = {C, HS * NKV};
        s[b + "attn_v.weight"] = {C, HS * NKV};
        s[b + "ffn_gate.weight"] = {C, F};
      } else {
        s[b + "attn_norm.bias"] = {C};
        s[b + "ffn_norm.bias"] = {C};
        s[b + "attn_qkv.weight"] = {C, 3 * C};
        s[b + "attn_qkv.bias"] = {3 * C};
        s[b + "attn_output.bias"] = {C};
        s[b + "ffn_up.bias"] = {F};
        s[b + "ffn_down.bias"] = {C};
      }
    }
    return Status();
  }

  // Tokenizer metadata; *V is the vocabulary size (the tokens' count).
  Status Tokenizer(uint64_t* V) const {
    const GgufValue* model = nullptr;
    const GgufValue* pre = nullptr;
    CPU_LLM_RETURN_IF_ERROR(Scalar("tokenizer.ggml.model", GgufType::kString, &model));
    if (model->strings[0] != "gpt2")
      return Fail("tokenizer.ggml.model is '{}'; only 'gpt2' (byte-level BPE) is checked here", model->strings[0]);
    CPU_LLM_RETURN_IF_ERROR(Scalar("tokenizer.ggml.pre", GgufType::kString, &pre));
    if (pre->strings[0].empty()) return Fail("tokenizer.ggml.pre is empty");
    const GgufValue *tokens = nullptr, *types = nullptr, *merges = nullptr;
    CPU_LLM_RETURN_IF_ERROR(Array("tokenizer.ggml.tokens", GgufType::kString, &tokens));
    CPU_LLM_RETURN_IF_ERROR(Array("tokenizer.ggml.token_type", GgufType::kInt32, &types));
    CPU_LLM_RETURN_IF_ERROR(Array("tokenizer.ggml.merges", GgufType::kString, &merges));
    *V = tokens->count;
    if (*V == 0 || *V > (uint64_t{1} << 31)) return Fail("tokenizer.ggml.tokens holds {} tokens", *V);
    std::unordered_set<std::string> seen;
    for (const std::string& t : tokens->strings) {
      if (t.empty()) return Fail("tokenizer.ggml.tokens has an empty token");
      if (!seen.insert(t).second) return Fail("tokenizer.ggml.tokens has '{}' twice", t);
    }
    if (types->count != *V)
      return Fail("tokenizer.ggml.token_type has {} entries for {} tokens", types->count, *V);
    for (uint64_t i = 0; i < types->count; i++) {
      const int32_t ty = types->At<int32_t>(i);
      if (ty < kMinTokenType || ty > kMaxTokenType) return Fail("token {} has token type {}", i, ty);
    }
    for (const std::string& m : merges->strings) {
      const size_t sp = m.find(' ', 1);  // a merge's left part may itself start with a space character
      if (sp == std::string::npos || sp + 1 >= m.size() || m.find(' ', sp + 1) != std::string::npos)
        return Fail("merge '{}' is not 'left right'", m);
    }
    for (const char* id : {"bos_token_id", "eos_token_id", "eot_token_id", "padding_token_id"}) {
      const std::string key = std::string("tokenizer.ggml.") + id;
      const GgufValue* v = f.Find(key);
      if (!v) {
        if (std::string(id) == "bos_token_id" || std::string(id) == "eos_token_id")
          return Fail("missing required key '{}'", key);
        continue;
      }
      if (v->type != GgufType::kUint32) return Fail("key '{}' must be uint32", key);
      if (v->At<uint32_t>() >= *V) return Fail("{} {} is not below the {} tokens", key, v->At<uint32_t>(), *V);
    }
    return Status();
  }

  Status Architecture() const {
    const GgufValue* a = nullptr;
    CPU_LLM_RETURN_IF_ERROR(Scalar("general.architecture", GgufType::kString, &a));
    const std::string& arch = a->strings[0];
    if (arch != "gpt2" && arch != "llama")
      return Fail("general.architecture '{}' is not one this validator knows (gpt2, llama)", arch);
    uint64_t V = 0;
    CPU_LLM_RETURN_IF_ERROR(Tokenizer(&V));
    Shapes shapes;
    CPU_LLM_RETURN_IF_ERROR(Expected(arch, V, &shapes));
    const std::vector<uint64_t> head = {shapes["token_embd.weight"][0], V};
    for (const GgufTensorInfo& t : f.tensors) {
      auto it = shapes.find(t.name);
      const bool is_head = t.name == "output.weight";  // optional: absent means tied to token_embd
      if (it == shapes.end() && !is_head) return Fail("unexpected tensor '{}' for architecture {}", t.name, arch);
      const std::vector<uint64_t>& want = is_head ? head : it->second;
      if (t.dims != want)
        return Fail("tensor '{}' has shape [{}], expected [{}]", t.name, fmt::join(t.dims, ", "),
                    fmt::join(want, ", "));
      if (t.dims.size() == 1 && t.type != 0) return Fail("1-D tensor '{}' must be F32", t.name);
    }
    for (const auto& [name, dims] : shapes)
      if (!f.FindTensor(name)) return Fail("missing tensor '{}' for architecture {}", name, arch);
    return Status();
  }
};

}  // namespace

Status ValidateGguf(const std::string& path) {
  GgufFile f;
  CPU_LLM_RETURN_IF_ERROR(ReadGguf(path, &f));
  const Checker c{f};
  CPU_LLM_RETURN_IF_ERROR(c.Metadata());
  CPU_LLM_RETURN_IF_ERROR(c.Tensors());
  return c.Architecture();
}

}  // namespace cpu_llm
