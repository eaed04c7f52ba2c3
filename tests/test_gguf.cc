// GGUF (io/gguf*.h): the writer and reader round-trip every metadata type
// and tensor dtype; the validator refuses each structural defect, built by
// damaging a good file; exports of a tiny GPT-2 and a tiny Llama-style model
// validate and hold the checkpoint's weights; the q/k permutation turns our
// rotate-half RoPE into llama.cpp's interleaved one.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/rng.h"
#include "data/token_map.h"
#include "io/gguf.h"
#include "io/gguf_export.h"
#include "io/gguf_validate.h"
#include "kernels/rope.h"
#include "model/gpt2.h"
#include "test_io_util.h"
#include "test_model_util.h"
#include "train/checkpoint.h"

namespace cpu_llm {
namespace {

using ::cpu_llm::testing::ReadBytes;
using ::cpu_llm::testing::TempDir;
using ::cpu_llm::testing::WriteBytes;

constexpr int kGpt2Vocab = 50257;

// Tiny shapes on GPT-2's vocabulary (the exporter writes GPT-2's tokenizer).
ModelConfig TinyGgufConfig(bool llama) { return test::TinyConfig(2, 8, llama, kGpt2Vocab); }

// Every weight random (not GPT-2's init, whose zero biases and unit gains
// would hide a tensor written in another's place).
void MakeModel(const ModelConfig& cfg, GPT2* m, uint64_t seed = 3) {
  ASSERT_TRUE(m->Init(cfg).ok());
  Rng rng(seed);
  for (int64_t i = 0; i < m->num_params(); i++) m->params()[i] = rng.Normal();
}

std::vector<float> Tensor(const GgufFile& f, const std::string& name) {
  std::vector<float> v;
  Status s = ReadGgufTensor(f, name, &v);
  EXPECT_TRUE(s.ok()) << s.message();
  return v;
}

// |got - want| within the rounding of the stored type (half an ulp of f16's
// 11 or bf16's 8 significant bits, and f16's subnormal step).
void ExpectNear(const std::vector<float>& got, const float* want, size_t n, GgufDtype d, const std::string& what) {
  ASSERT_EQ(got.size(), n) << what;
  const double rel = d == GgufDtype::kF32 ? 0.0 : d == GgufDtype::kF16 ? 1.0 / 2048 : 1.0 / 256;
  const double abs = d == GgufDtype::kF16 ? 6e-8 : 0.0;
  for (size_t i = 0; i < n; i++)
    ASSERT_LE(std::fabs(got[i] - want[i]), std::fabs(want[i]) * rel + abs) << what << " [" << i << "]";
}

// ------------------------------------------------------------ writer / reader

TEST(Gguf, RoundTripsEveryMetadataTypeAndTensorDtype) {
  TempDir dir;
  GgufWriter w;
  w.AddKv("t.u8", GgufValue::Scalar(GgufType::kUint8, uint8_t{200}));
  w.AddKv("t.i8", GgufValue::Scalar(GgufType::kInt8, int8_t{-100}));
  w.AddKv("t.u16", GgufValue::Scalar(GgufType::kUint16, uint16_t{60000}));
  w.AddKv("t.i16", GgufValue::Scalar(GgufType::kInt16, int16_t{-30000}));
  w.AddKv("t.u32", GgufValue::U32(4000000000u));
  w.AddKv("t.i32", GgufValue::I32(-2000000000));
  w.AddKv("t.f32", GgufValue::F32(3.25f));
  w.AddKv("t.bool", GgufValue::Bool(true));
  w.AddKv("t.str", GgufValue::Str("h\xC3\xA9llo"));
  w.AddKv("t.u64", GgufValue::U64(uint64_t{1} << 60));
  w.AddKv("t.i64", GgufValue::Scalar(GgufType::kInt64, int64_t{-(int64_t{1} << 60)}));
  w.AddKv("t.f64", GgufValue::Scalar(GgufType::kFloat64, 2.5e300));
  w.AddKv("t.arr_i32", GgufValue::Array(GgufType::kInt32, std::vector<int32_t>{1, -2, 3}));
  w.AddKv("t.arr_f64", GgufValue::Array(GgufType::kFloat64, std::vector<double>{0.5, -1e-300}));
  w.AddKv("t.arr_str", GgufValue::StrArray({"a", "", "\xE2\x82\xAC"}));
  w.AddKv("t.arr_empty", GgufValue::Array(GgufType::kUint8, std::vector<uint8_t>{}));
  std::vector<float> data(3 * 5);
  for (size_t i = 0; i < data.size(); i++) data[i] = 0.1f * static_cast<float>(i) - 0.7f;
  w.AddTensor("f32", {5, 3}, GgmlType::kF32, data.data());
  w.AddTensor("f16", {3, 5}, GgmlType::kF16, data.data());
  w.AddOwnedTensor("bf16", {15}, GgmlType::kBf16, data);
  const std::string path = dir / "t.gguf";
  ASSERT_TRUE(w.Write(path).ok());

  GgufFile f;
  Status s = ReadGguf(path, &f);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(f.version, 3u);
  ASSERT_EQ(f.kvs.size(), 16u);
  EXPECT_EQ(f.Find("t.u8")->At<uint8_t>(), 200);
  EXPECT_EQ(f.Find("t.i8")->At<int8_t>(), -100);
  EXPECT_EQ(f.Find("t.u16")->At<uint16_t>(), 60000);
  EXPECT_EQ(f.Find("t.i16")->At<int16_t>(), -30000);
  EXPECT_EQ(f.Find("t.u32")->At<uint32_t>(), 4000000000u);
  EXPECT_EQ(f.Find("t.i32")->At<int32_t>(), -2000000000);
  EXPECT_EQ(f.Find("t.f32")->At<float>(), 3.25f);
  EXPECT_EQ(f.Find("t.bool")->At<uint8_t>(), 1);
  EXPECT_EQ(f.Find("t.str")->strings, std::vector<std::string>{"h\xC3\xA9llo"});
  EXPECT_EQ(f.Find("t.u64")->At<uint64_t>(), uint64_t{1} << 60);
  EXPECT_EQ(f.Find("t.i64")->At<int64_t>(), -(int64_t{1} << 60));
  EXPECT_EQ(f.Find("t.f64")->At<double>(), 2.5e300);
  const GgufValue* ai = f.Find("t.arr_i32");
  ASSERT_TRUE(ai->is_array());
  EXPECT_EQ(ai->array_type, GgufType::kInt32);
  ASSERT_EQ(ai->count, 3u);
  EXPECT_EQ(ai->At<int32_t>(1), -2);
  EXPECT_EQ(f.Find("t.arr_f64")->At<double>(1), -1e-300);
  EXPECT_EQ(f.Find("t.arr_str")->strings, (std::vector<std::string>{"a", "", "\xE2\x82\xAC"}));
  EXPECT_EQ(f.Find("t.arr_empty")->count, 0u);
  // Each value's type survives, not just its bytes.
  const GgufType want_types[] = {GgufType::kUint8,  GgufType::kInt8,   GgufType::kUint16, GgufType::kInt16,
                                 GgufType::kUint32, GgufType::kInt32,  GgufType::kFloat32, GgufType::kBool,
                                 GgufType::kString, GgufType::kUint64, GgufType::kInt64,  GgufType::kFloat64};
  for (size_t i = 0; i < 12; i++) EXPECT_EQ(f.kvs[i].value.type, want_types[i]) << f.kvs[i].key;

  EXPECT_EQ(f.data_offset % 32, 0u);
  ASSERT_EQ(f.tensors.size(), 3u);
  EXPECT_EQ(f.tensors[0].dims, (std::vector<uint64_t>{5, 3}));
  EXPECT_EQ(f.tensors[1].type, 1u);
  EXPECT_EQ(f.tensors[2].type, 30u);
  for (const GgufTensorInfo& t : f.tensors) EXPECT_EQ(t.offset % 32, 0u) << t.name;
  ExpectNear(Tensor(f, "f32"), data.data(), data.size(), GgufDtype::kF32, "f32");
  ExpectNear(Tensor(f, "f16"), data.data(), data.size(), GgufDtype::kF16, "f16");
  ExpectNear(Tensor(f, "bf16"), data.data(), data.size(), GgufDtype::kBf16, "bf16");
}

TEST(Gguf, HonoursAnotherAlignment) {
  TempDir dir;
  GgufWriter w;
  w.AddKv("general.alignment", GgufValue::U32(64));
  const std::vector<float> a(3, 1.0f), b(5, 2.0f);
  w.AddTensor("a", {3}, GgmlType::kF32, a.data());
  w.AddTensor("b", {5}, GgmlType::kF32, b.data());
  ASSERT_TRUE(w.Write(dir / "a.gguf").ok());
  GgufFile f;
  ASSERT_TRUE(ReadGguf(dir / "a.gguf", &f).ok());
  EXPECT_EQ(f.alignment, 64u);
  EXPECT_EQ(f.data_offset % 64, 0u);
  EXPECT_EQ(f.tensors[1].offset, 64u);
  EXPECT_EQ(Tensor(f, "b"), b);
}

// Found by fuzz_gguf: a tensor whose dims multiply to 0 (a zero dim, or a
// product that overflows) read as an empty tensor through memcpy of a null
// pointer, instead of being refused.
TEST(Gguf, ReadTensorRefusesDimsWithNoElements) {
  TempDir dir;
  const std::vector<float> a(4, 1.0f);
  for (const std::vector<uint64_t>& dims : {std::vector<uint64_t>{2, 2}, std::vector<uint64_t>{0, 2},
                                            std::vector<uint64_t>{uint64_t{1} << 33, uint64_t{1} << 33}}) {
    GgufWriter w;
    w.AddTensor("a", {2, 2}, GgmlType::kF32, a.data());
    ASSERT_TRUE(w.Write(dir / "a.gguf").ok());
    GgufFile f;
    ASSERT_TRUE(ReadGguf(dir / "a.gguf", &f).ok());
    f.tensors[0].dims = dims;  // as a damaged file's description would parse
    std::vector<float> v;
    const Status s = ReadGgufTensor(f, "a", &v);
    if (dims[0] == 2) {
      EXPECT_TRUE(s.ok()) << s.message();
      EXPECT_EQ(v, a);
    } else {
      EXPECT_FALSE(s.ok());
      EXPECT_NE(s.message().find("no elements"), std::string::npos) << s.message();
      EXPECT_NE(s.message().find("a.gguf"), std::string::npos) << s.message();
    }
  }
}

// ------------------------------------------------------------------ validator

// A good file (a tiny GPT-2's export) and ways to damage it.
class GgufValidate : public ::testing::Test {
 protected:
  void SetUp() override {
    GPT2 m;
    MakeModel(TinyGgufConfig(false), &m);
    good_ = dir_ / "good.gguf";
    Status s = WriteGgufModel(m, good_, GgufDtype::kF32, "tiny");
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_TRUE(ReadGguf(good_, &file_).ok());
    bytes_ = ReadBytes(good_);
  }

  // Validates bytes written to a fresh file; returns the message ("" if OK).
  std::string Check(const std::vector<uint8_t>& bytes) {
    const std::string path = dir_ / ("bad" + std::to_string(n_++) + ".gguf");
    WriteBytes(path, bytes.data(), bytes.size());
    Status s = ValidateGguf(path);
    if (!s.ok()) {
      EXPECT_NE(s.message().find(path), std::string::npos) << "names the file: " << s.message();
    }
    return s.ok() ? "" : s.message();
  }

  template <typename T>
  std::vector<uint8_t> Poke(uint64_t at, T v) const {
    std::vector<uint8_t> b = bytes_;
    std::memcpy(b.data() + at, &v, sizeof(T));
    return b;
  }

  // Byte offset of tensor i's description (its name's length field), found
  // by walking the metadata with the lengths the file itself gives.
  uint64_t TensorInfoAt(size_t i) const {
    uint64_t at = 24;
    auto u64 = [&](uint64_t p) { uint64_t v; std::memcpy(&v, bytes_.data() + p, 8); return v; };
    auto u32 = [&](uint64_t p) { uint32_t v; std::memcpy(&v, bytes_.data() + p, 4); return v; };
    auto skip_value = [&](uint32_t type, uint64_t* p) {
      if (type == 8) *p += 8 + u64(*p);
      else *p += GgufTypeSize(static_cast<GgufType>(type));
    };
    for (size_t k = 0; k < file_.kvs.size(); k++) {
      at += 8 + u64(at);
      const uint32_t type = u32(at);
      at += 4;
      if (type == 9) {
        const uint32_t elem = u32(at);
        const uint64_t n = u64(at + 4);
        at += 12;
        for (uint64_t e = 0; e < n; e++) skip_value(elem, &at);
      } else {
        skip_value(type, &at);
      }
    }
    for (size_t t = 0; t < i; t++) at += 8 + u64(at) + 4 + 8 * u32(at + 8 + u64(at)) + 4 + 8;
    return at;
  }
  // Offset of tensor i's data-offset field.
  uint64_t TensorOffsetField(size_t i) const {
    const uint64_t at = TensorInfoAt(i);
    const uint64_t name = file_.tensors[i].name.size();
    return at + 8 + name + 4 + 8 * file_.tensors[i].dims.size() + 4;
  }

  struct Owned {
    GgufTensorInfo info;
    std::vector<float> data;
  };
  // The good file's content rewritten by GgufWriter after `edit`.
  std::string Rewrite(const std::function<void(std::vector<GgufKv>&, std::vector<Owned>&)>& edit) {
    std::vector<GgufKv> kvs = file_.kvs;
    std::vector<Owned> ts;
    for (const GgufTensorInfo& t : file_.tensors) ts.push_back({t, Tensor(file_, t.name)});
    edit(kvs, ts);
    GgufWriter w;
    for (GgufKv& kv : kvs) w.AddKv(kv.key, kv.value);
    for (Owned& t : ts) w.AddOwnedTensor(t.info.name, t.info.dims, static_cast<GgmlType>(t.info.type), t.data);
    const std::string path = dir_ / "rewritten.gguf";
    EXPECT_TRUE(w.Write(path).ok());
    return Check(ReadBytes(path));
  }
  static GgufKv* Kv(std::vector<GgufKv>& kvs, const std::string& key) {
    for (GgufKv& kv : kvs)
      if (kv.key == key) return &kv;
    ADD_FAILURE() << "no key " << key;
    return &kvs[0];
  }

  TempDir dir_;
  std::string good_;
  GgufFile file_;
  std::vector<uint8_t> bytes_;
  int n_ = 0;
};

TEST_F(GgufValidate, AcceptsTheGoodFile) {
  EXPECT_EQ(Check(bytes_), "");
  // The rewriting path alone changes nothing the validator minds.
  EXPECT_EQ(Rewrite([](auto&, auto&) {}), "");
}

TEST_F(GgufValidate, RejectsHeaderDefects) {
  EXPECT_NE(Check(Poke<uint8_t>(0, 'X')).find("not a GGUF file"), std::string::npos);
  EXPECT_NE(Check(Poke<uint32_t>(4, 2)).find("version 2"), std::string::npos);
  EXPECT_NE(Check(Poke<uint64_t>(8, uint64_t{1} << 40)).find("more than the"), std::string::npos);
  EXPECT_NE(Check(Poke<uint64_t>(16, uint64_t{1} << 40)).find("more than the"), std::string::npos);
  std::vector<uint8_t> cut(bytes_.begin(), bytes_.begin() + 20);
  EXPECT_NE(Check(cut).find("truncated"), std::string::npos);
  cut.assign(bytes_.begin(), bytes_.begin() + static_cast<long>(file_.data_offset / 2));
  EXPECT_NE(Check(cut), "");
  cut.assign(bytes_.begin(), bytes_.end() - 4);  // the last tensor's data cut short
  EXPECT_NE(Check(cut).find("runs past the end"), std::string::npos);
}

TEST_F(GgufValidate, RejectsBadValueTypesAndLengths) {
  // The first key/value: general.architecture, a string.
  ASSERT_EQ(file_.kvs[0].key, "general.architecture");
  const uint64_t type_at = 24 + 8 + file_.kvs[0].key.size();
  EXPECT_NE(Check(Poke<uint32_t>(type_at, 13)).find("unknown value type 13"), std::string::npos);
  EXPECT_NE(Check(Poke<uint64_t>(type_at + 4, uint64_t{1} << 40)).find("runs past the end"), std::string::npos);
  EXPECT_NE(Check(Poke<uint64_t>(24, bytes_.size())).find("runs past the end"), std::string::npos);
  // A string that is not UTF-8.
  EXPECT_NE(Check(Poke<uint8_t>(type_at + 12, 0xFF)).find("UTF-8"), std::string::npos);
}

TEST_F(GgufValidate, RejectsMisalignedOverlappingAndOutOfBoundsTensors) {
  const uint64_t off1 = file_.tensors[1].offset;
  EXPECT_NE(Check(Poke<uint64_t>(TensorOffsetField(1), off1 + 4)).find("not a multiple of the alignment"),
            std::string::npos);
  EXPECT_NE(Check(Poke<uint64_t>(TensorOffsetField(1), file_.tensors[0].offset)).find("overlap"), std::string::npos);
  EXPECT_NE(Check(Poke<uint64_t>(TensorOffsetField(1), uint64_t{1} << 40)).find("runs past the end"),
            std::string::npos);
  EXPECT_NE(Check(Poke<uint32_t>(TensorOffsetField(1) - 4, 99)).find("ggml type 99"), std::string::npos);
}

TEST_F(GgufValidate, RejectsDuplicatesAndMissingOrMistypedKeys) {
  EXPECT_NE(Rewrite([](auto& kvs, auto&) { kvs.push_back(kvs[0]); }).find("duplicate metadata key"),
            std::string::npos);
  EXPECT_NE(Rewrite([](auto&, auto& ts) { ts[1].info.name = ts[0].info.name; }).find("duplicate tensor name"),
            std::string::npos);
  EXPECT_NE(Rewrite([](auto& kvs, auto&) {
              std::erase_if(kvs, [](const GgufKv& kv) { return kv.key == "gpt2.block_count"; });
            }).find("missing required key 'gpt2.block_count'"),
            std::string::npos);
  // Found by fuzz_gguf: a huge block count built a table of 2^32 blocks'
  // expected tensors before any was compared.
  EXPECT_NE(Rewrite([](auto& kvs, auto&) { Kv(kvs, "gpt2.block_count")->value = GgufValue::U32(4000000000u); })
                .find("gpt2.block_count 4000000000 needs at least 20000000000 tensors"),
            std::string::npos);
  EXPECT_NE(Rewrite([](auto& kvs, auto&) {
              std::erase_if(kvs, [](const GgufKv& kv) { return kv.key == "general.architecture"; });
            }).find("general.architecture"),
            std::string::npos);
  EXPECT_NE(Rewrite([](auto& kvs, auto&) { Kv(kvs, "gpt2.context_length")->value = GgufValue::U64(8); })
                .find("is uint64, expected uint32"),
            std::string::npos);
  EXPECT_NE(Rewrite([](auto& kvs, auto&) {
              Kv(kvs, "gpt2.attention.layer_norm_epsilon")->value = GgufValue::Str("1e-5");
            }).find("expected float32"),
            std::string::npos);
  EXPECT_NE(Rewrite([](auto& kvs, auto&) { Kv(kvs, "tokenizer.ggml.eos_token_id")->value = GgufValue::U32(50257); })
                .find("not below the 50257 tokens"),
            std::string::npos);
  EXPECT_NE(Rewrite([](auto& kvs, auto&) { Kv(kvs, "tokenizer.ggml.model")->value = GgufValue::Str("llama"); })
                .find("tokenizer.ggml.model"),
            std::string::npos);
}

TEST_F(GgufValidate, RejectsMissingExtraAndMisshapenTensors) {
  EXPECT_NE(Rewrite([](auto&, auto& ts) {
              std::erase_if(ts, [](const Owned& t) { return t.info.name == "blk.1.ffn_down.weight"; });
            }).find("missing tensor 'blk.1.ffn_down.weight'"),
            std::string::npos);
  EXPECT_NE(Rewrite([](auto&, auto& ts) {
              for (Owned& t : ts)
                if (t.info.name == "blk.0.attn_qkv.weight") std::swap(t.info.dims[0], t.info.dims[1]);
            }).find("'blk.0.attn_qkv.weight' has shape [48, 16], expected [16, 48]"),
            std::string::npos);
  EXPECT_NE(Rewrite([](auto&, auto& ts) { ts.push_back({{"blk.2.attn_norm.weight", {16}, 0, 0}, std::vector<float>(16)}); })
                .find("unexpected tensor 'blk.2.attn_norm.weight'"),
            std::string::npos);
  EXPECT_NE(Rewrite([](auto&, auto& ts) {
              for (Owned& t : ts)
                if (t.info.name == "output_norm.weight") t.info.type = 1;
            }).find("must be F32"),
            std::string::npos);
}

TEST_F(GgufValidate, RejectsTokenizerInconsistencies) {
  // One token fewer (and its type): no longer token_embd's row count.
  EXPECT_NE(Rewrite([](auto& kvs, auto&) {
              GgufValue& tokens = Kv(kvs, "tokenizer.ggml.tokens")->value;
              tokens.strings.pop_back();
              tokens.count--;
              GgufValue& types = Kv(kvs, "tokenizer.ggml.token_type")->value;
              types.bytes.resize(types.bytes.size() - 4);
              types.count--;
              for (const char* id : {"bos", "eos", "eot"})  // keep the special id in range: 50256 was the last
                Kv(kvs, std::string("tokenizer.ggml.") + id + "_token_id")->value = GgufValue::U32(0);
            }).find("'token_embd.weight' has shape [16, 50257], expected [16, 50256]"),
            std::string::npos);
  EXPECT_NE(Rewrite([](auto& kvs, auto&) {
              GgufValue& types = Kv(kvs, "tokenizer.ggml.token_type")->value;
              types.bytes.resize(types.bytes.size() - 4);
              types.count--;
            }).find("token_type has 50256 entries for 50257 tokens"),
            std::string::npos);
  EXPECT_NE(Rewrite([](auto& kvs, auto&) {
              GgufValue& tokens = Kv(kvs, "tokenizer.ggml.tokens")->value;
              tokens.strings[1] = tokens.strings[0];
            }).find("twice"),
            std::string::npos);
  EXPECT_NE(Rewrite([](auto& kvs, auto&) { Kv(kvs, "tokenizer.ggml.merges")->value.strings[0] = "nospace"; })
                .find("merge 'nospace'"),
            std::string::npos);
}

}  // namespace
}  // namespace cpu_llm
