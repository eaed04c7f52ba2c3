#include "io/gguf_export.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <optional>
#include <string_view>
#include <system_error>

#include "data/gpt2_tokenizer.h"
#include "data/gpt2_vocab.h"
#include "data/token_map.h"
#include "data/utf8.h"
#include "io/gguf_validate.h"
#include "train/checkpoint.h"
#include "train/vocab_export.h"

namespace cpu_llm {
namespace {

// The epsilon both of our norms add (kernels/layernorm.cc, model/block_ops.cc).
constexpr float kNormEps = 1e-5f;
// llama.cpp's token types (llama_token_type): normal text and control tokens.
constexpr int32_t kTokenNormal = 1, kTokenControl = 3;
// llama.cpp's llama_ftype values for "all F32", "mostly F16", "mostly BF16".
constexpr uint32_t kFileTypeF32 = 0, kFileTypeF16 = 1, kFileTypeBf16 = 32;

GgmlType MatrixType(GgufDtype d) {
  return d == GgufDtype::kF32 ? GgmlType::kF32 : d == GgufDtype::kF16 ? GgmlType::kF16 : GgmlType::kBf16;
}

uint64_t U(int64_t v) { return static_cast<uint64_t>(v); }

}  // namespace

Status ParseGgufDtype(const std::string& name, GgufDtype* out) {
  if (name == "f32") *out = GgufDtype::kF32;
  else if (name == "f16") *out = GgufDtype::kF16;
  else if (name == "bf16") *out = GgufDtype::kBf16;
  else return UsageError("--dtype: unknown dtype '{}' (expected f32, f16 or bf16)", name);
  return Status();
}

const char* GgufDtypeName(GgufDtype d) {
  return d == GgufDtype::kF32 ? "f32" : d == GgufDtype::kF16 ? "f16" : "bf16";
}

Status GgufArchFor(const ModelConfig& c, std::string* arch) {
  // The head may be tied or not in both: llama.cpp reuses token_embd when
  // output.weight is absent.
  if (c.norm == NormKind::kLayerNorm && c.mlp == MlpKind::kGelu && c.pos == PosKind::kLearned && c.bias) {
    *arch = "gpt2";
    return Status();
  }
  if (c.norm == NormKind::kRmsNorm && c.mlp == MlpKind::kSwiGlu && c.pos == PosKind::kRope && !c.bias) {
    *arch = "llama";
    return Status();
  }
  return UsageError(
      "block options --norm {} --mlp {} --pos {} --bias {} have no llama.cpp architecture: gpt2 needs layernorm, "
      "gelu, learned, biases on; llama needs rmsnorm, swiglu, rope, biases off",
      NormName(c.norm), MlpName(c.mlp), PosName(c.pos), c.bias ? "on" : "off");
}

std::vector<float> PermuteRopeRows(const float* rows, int n_head, int head_size, int cols) {
  std::vector<float> out(static_cast<size_t>(n_head) * head_size * cols);
  const int half = head_size / 2;
  for (int h = 0; h < n_head; h++)
    for (int i = 0; i < half; i++)
      for (int j = 0; j < 2; j++) {
        const int64_t from = static_cast<int64_t>(h) * head_size + j * half + i;
        const int64_t to = static_cast<int64_t>(h) * head_size + 2 * i + j;
        std::copy(rows + from * cols, rows + (from + 1) * cols, out.begin() + to * cols);
      }
  return out;
}

Status AddGpt2TokenizerKvs(GgufWriter* w) {
  Gpt2Vocab vocab;
  CPU_LLM_RETURN_IF_ERROR(ParseGpt2Vocab(EmbeddedGpt2EncoderJson(), EmbeddedGpt2VocabBpe(), &vocab));
  // encoder.json's keys are each token's bytes with every byte replaced by
  // its printable code point; llama.cpp's gpt2 tokenizer expects them so.
  const std::array<char32_t, 256> cp = Gpt2ByteToCodePoint();
  std::vector<std::string> tokens(vocab.token_bytes.size());
  std::vector<int32_t> types(tokens.size(), kTokenNormal);
  for (size_t id = 0; id < tokens.size(); id++)
    for (unsigned char b : vocab.token_bytes[id]) AppendUtf8(cp[b], &tokens[id]);
  types[vocab.eot] = kTokenControl;
  // vocab.bpe: a "#version" line, then one "left right" merge per line.
  std::vector<std::string> merges;
  std::string_view bpe = EmbeddedGpt2VocabBpe();
  while (!bpe.empty()) {
    const size_t nl = bpe.find('\n');
    std::string_view line = bpe.substr(0, nl);
    bpe.remove_prefix(nl == std::string_view::npos ? bpe.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    merges.emplace_back(line);
  }
  const auto eot = static_cast<uint32_t>(vocab.eot);
  w->AddKv("tokenizer.ggml.model", GgufValue::Str("gpt2"));
  w->AddKv("tokenizer.ggml.pre", GgufValue::Str("gpt-2"));
  w->AddKv("tokenizer.ggml.tokens", GgufValue::StrArray(std::move(tokens)));
  w->AddKv("tokenizer.ggml.token_type", GgufValue::Array(GgufType::kInt32, types));
  w->AddKv("tokenizer.ggml.merges", GgufValue::StrArray(std::move(merges)));
  // GPT-2 has one special token, end-of-text, which also starts documents.
  w->AddKv("tokenizer.ggml.bos_token_id", GgufValue::U32(eot));
  w->AddKv("tokenizer.ggml.eos_token_id", GgufValue::U32(eot));
  w->AddKv("tokenizer.ggml.eot_token_id", GgufValue::U32(eot));
  w->AddKv("tokenizer.ggml.add_bos_token", GgufValue::Bool(false));
  w->AddKv("tokenizer.ggml.add_eos_token", GgufValue::Bool(false));
  return Status();
}

Status WriteGgufModel(const GPT2& model, const std::string& out_path, GgufDtype dtype, const std::string& name,
                      GgufExportSummary* summary) {
  const ModelConfig& c = model.config();
  std::string arch;
  CPU_LLM_RETURN_IF_ERROR(GgufArchFor(c, &arch));
  if (c.vocab_size != Gpt2Tokenizer::kVocabSize)
    return UsageError("{}: a vocabulary of {} tokens is not GPT-2's {}; only GPT-2 BPE models are exported to GGUF",
                      name, c.vocab_size, Gpt2Tokenizer::kVocabSize);
  const bool llama = arch == "llama";
  const int64_t C = c.n_embd, L = c.n_layer, V = c.vocab_size, T = c.max_seq_len, NH = c.n_head;
  const int64_t HS = C / NH, H = MlpHidden(c), F = MlpFcRows(c);
  // ParamView's pointers are writable; nothing here writes through them.
  const ParamView p = MakeParamView(const_cast<float*>(model.params()), c);
  const GgmlType mt = MatrixType(dtype);

  GgufWriter w;
  const std::string a = arch + ".";
  w.AddKv("general.architecture", GgufValue::Str(arch));
  w.AddKv("general.name", GgufValue::Str(name));
  w.AddKv("general.alignment", GgufValue::U32(kGgufDefaultAlignment));
  w.AddKv("general.file_type", GgufValue::U32(dtype == GgufDtype::kF32   ? kFileTypeF32
                                              : dtype == GgufDtype::kF16 ? kFileTypeF16
                                                                          : kFileTypeBf16));
  w.AddKv(a + "context_length", GgufValue::U32(static_cast<uint32_t>(T)));
  w.AddKv(a + "embedding_length", GgufValue::U32(static_cast<uint32_t>(C)));
  w.AddKv(a + "block_count", GgufValue::U32(static_cast<uint32_t>(L)));
  w.AddKv(a + "feed_forward_length", GgufValue::U32(static_cast<uint32_t>(H)));
  w.AddKv(a + "attention.head_count", GgufValue::U32(static_cast<uint32_t>(NH)));
  if (llama) {
    w.AddKv(a + "attention.head_count_kv", GgufValue::U32(static_cast<uint32_t>(NH)));
    w.AddKv(a + "rope.dimension_count", GgufValue::U32(static_cast<uint32_t>(HS)));
    w.AddKv(a + "rope.freq_base", GgufValue::F32(c.rope_theta));
    w.AddKv(a + "attention.layer_norm_rms_epsilon", GgufValue::F32(kNormEps));
    w.AddKv(a + "vocab_size", GgufValue::U32(static_cast<uint32_t>(V)));
  } else {
    w.AddKv(a + "attention.layer_norm_epsilon", GgufValue::F32(kNormEps));
  }
  CPU_LLM_RETURN_IF_ERROR(AddGpt2TokenizerKvs(&w));

  // ggml lists dims innermost first: our row-major (rows, cols) matrix is
  // {cols, rows}, the same bytes. The embedding's first V rows are the real
  // tokens; rows V..Vp-1 are padding and are left out.
  w.AddTensor("token_embd.weight", {U(C), U(V)}, mt, p.wte);
  if (!llama) w.AddTensor("position_embd.weight", {U(C), U(T)}, mt, p.wpe);
  w.AddTensor("output_norm.weight", {U(C)}, GgmlType::kF32, p.lnfw);
  if (!llama) w.AddTensor("output_norm.bias", {U(C)}, GgmlType::kF32, p.lnfb);
  if (!c.tied_head) w.AddTensor("output.weight", {U(C), U(V)}, mt, p.lmheadw);
  for (int64_t l = 0; l < L; l++) {
    const std::string b = "blk." + std::to_string(l) + ".";
    const float* qkvw = p.qkvw + l * 3 * C * C;
    const float* fcw = p.fcw + l * F * C;
    w.AddTensor(b + "attn_norm.weight", {U(C)}, GgmlType::kF32, p.ln1w + l * C);
    w.AddTensor(b + "ffn_norm.weight", {U(C)}, GgmlType::kF32, p.ln2w + l * C);
    w.AddTensor(b + "attn_output.weight", {U(C), U(C)}, mt, p.attprojw + l * C * C);
    w.AddTensor(b + "ffn_down.weight", {U(H), U(C)}, mt, p.fcprojw + l * C * H);
    if (llama) {
      w.AddOwnedTensor(b + "attn_q.weight", {U(C), U(C)}, mt,
                       PermuteRopeRows(qkvw, c.n_head, static_cast<int>(HS), c.n_embd));
      w.AddOwnedTensor(b + "attn_k.weight", {U(C), U(C)}, mt,
                       PermuteRopeRows(qkvw + C * C, c.n_head, static_cast<int>(HS), c.n_embd));
      w.AddTensor(b + "attn_v.weight", {U(C), U(C)}, mt, qkvw + 2 * C * C);
      // fcw holds the gate's H rows, then up's (kernels/activations.h).
      w.AddTensor(b + "ffn_gate.weight", {U(C), U(H)}, mt, fcw);
      w.AddTensor(b + "ffn_up.weight", {U(C), U(H)}, mt, fcw + H * C);
    } else {
      w.AddTensor(b + "attn_norm.bias", {U(C)}, GgmlType::kF32, p.ln1b + l * C);
      w.AddTensor(b + "ffn_norm.bias", {U(C)}, GgmlType::kF32, p.ln2b + l * C);
      w.AddTensor(b + "attn_qkv.weight", {U(C), U(3 * C)}, mt, qkvw);
      w.AddTensor(b + "attn_qkv.bias", {U(3 * C)}, GgmlType::kF32, p.qkvb + l * 3 * C);
      w.AddTensor(b + "attn_output.bias", {U(C)}, GgmlType::kF32, p.attprojb + l * C);
      w.AddTensor(b + "ffn_up.weight", {U(C), U(H)}, mt, fcw);
      w.AddTensor(b + "ffn_up.bias", {U(H)}, GgmlType::kF32, p.fcb + l * F);
      w.AddTensor(b + "ffn_down.bias", {U(C)}, GgmlType::kF32, p.fcprojb + l * C);
    }
  }
  CPU_LLM_RETURN_IF_ERROR(w.Write(out_path));
  if (summary) {
    summary->arch = arch;
    summary->tensors = static_cast<int64_t>(w.tensor_count());
    summary->vocab = static_cast<int>(V);
  }
  // The file is checked as a reader would see it; one that fails is not left
  // behind for llama.cpp to trip over.
  Status valid = ValidateGguf(out_path);
  if (!valid.ok()) {
    std::error_code ec;
    std::filesystem::remove(out_path, ec);
    return RuntimeError("the exported file failed validation and was removed: {}", valid.message());
  }
  return Status();
}

Status ExportGguf(const std::string& model_path, const std::string& out_path, GgufDtype dtype,
                  GgufExportSummary* summary) {
  GPT2 model;
  CPU_LLM_RETURN_IF_ERROR(LoadModel(model_path, &model));
  std::string arch;
  Status arch_ok = GgufArchFor(model.config(), &arch);
  if (!arch_ok.ok()) return UsageError("{}: {}", model_path, arch_ok.message());
  // A model trained on a pruned vocabulary has its map beside it; its rows go
  // back to their GPT-2 ids (as --export-bf16 does), so the file carries the
  // standard GPT-2 tokenizer and llama.cpp tokenizes prompts as training did.
  const std::filesystem::path map_path = std::filesystem::path(model_path).parent_path() / "vocab_map.bin";
  std::optional<GPT2> full;
  std::error_code ec;
  if (std::filesystem::exists(map_path, ec)) {
    TokenMap map;
    CPU_LLM_RETURN_IF_ERROR(map.Load(map_path.string()));
    if (map.model_vocab() == model.config().vocab_size) {
      if (map.source_vocab() != Gpt2Tokenizer::kVocabSize)
        return UsageError("{}: maps a {}-token vocabulary; only GPT-2's ({}) is exported to GGUF", map_path.string(),
                          map.source_vocab(), Gpt2Tokenizer::kVocabSize);
      full.emplace();
      CPU_LLM_RETURN_IF_ERROR(ExpandVocabulary(model, map, &*full));
    }
  }
  const GPT2& out = full ? *full : model;
  const int V = out.config().vocab_size;
  if (V == 257)
    return UsageError("{}: a model of the byte tokenizer (257 tokens) has no llama.cpp tokenizer; train with "
                      "--tokenizer gpt2 to export it",
                      model_path);
  if (V != Gpt2Tokenizer::kVocabSize)
    return UsageError("{}: a vocabulary of {} tokens is not GPT-2's {} (a model trained with a pruned vocabulary "
                      "needs its vocab_map.bin beside it)",
                      model_path, V, Gpt2Tokenizer::kVocabSize);
  CPU_LLM_RETURN_IF_ERROR(
      WriteGgufModel(out, out_path, dtype, std::filesystem::path(model_path).stem().string(), summary));
  if (summary) summary->expanded_vocab = full.has_value();
  return Status();
}

}  // namespace cpu_llm
