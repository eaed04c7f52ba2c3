#include "io/file_info.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/file_io.h"
#include "core/sysinfo.h"
#include "core/units.h"
#include "data/llmc_tokenizer.h"
#include "data/mapped_file.h"
#include "data/shard.h"
#include "data/token_map.h"
#include "io/gguf.h"
#include "io/gguf_validate.h"
#include "io/hf_export.h"
#include "model/gpt2.h"
#include "train/checkpoint.h"
#include "train/run_config.h"
#include "train/train_options.h"

namespace cpu_llm {
namespace {

namespace fs = std::filesystem;

constexpr int kGpt2Eot = 50256;

// 124439808 -> "124,439,808".
std::string Grouped(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); i++) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// {"F16": 6, "F32": 10} -> "F16 x6, F32 x10".
std::string CountList(const std::map<std::string, int>& counts) {
  std::string list;
  for (const auto& [name, count] : counts) list += fmt::format("{}{} x{}", list.empty() ? "" : ", ", name, count);
  return list;
}

std::string Flops(double f) {
  if (f >= 1e12) return fmt::format("{:.2f} TFLOP", f / 1e12);
  if (f >= 1e9) return fmt::format("{:.2f} GFLOP", f / 1e9);
  return fmt::format("{:.2f} MFLOP", f / 1e6);
}

Status ModelLines(const ModelConfig& cfg, const InfoOptions& opt, std::string* out) {
  *out += fmt::format("model: {}\nparameters: {}\n", DescribeConfig(cfg), Grouped(ParameterCount(cfg)));
  return DescribeTraining(cfg, opt, out);
}

Status DescribeModelFile(const std::string& path, const InfoOptions& opt, std::string* out) {
  ModelConfig cfg;
  WeightFormat format;
  CPU_LLM_RETURN_IF_ERROR(ReadModelConfig(path, &cfg, &format));  // the file's size checked against its shape too
  const bool blocks = !IsGpt2Block(cfg);
  *out += fmt::format("format: {}\n", format == WeightFormat::kBf16 ? "llm.c model file, version 5 (bf16 weights)"
                                      : blocks ? "cpu_llm model file, version 2003 (llm.c's layout, fp32 weights, "
                                                 "block options in the header)"
                                               : "llm.c model file, version 3 (fp32 weights)");
  return ModelLines(cfg, opt, out);
}

Status DescribeState(const std::string& path, const InfoOptions& opt, std::string* out) {
  TrainState st;
  int64_t n_params = 0;
  CPU_LLM_RETURN_IF_ERROR(LoadState(path, &st, nullptr, &n_params));
  const char* order = st.data_order == kDataText ? "text tokenized on the fly"
                      : st.data_order == kDataShuffled ? "shuffled windows"
                                                       : "windows in order";
  *out += fmt::format("format: cpu_llm training state (checksum verified)\n");
  *out += fmt::format("step: {} (updates skipped: {}), trained with B={} T={}, seed {}, {} tokenizer\n", st.step,
                      st.skipped_steps, st.batch, st.seq_len, st.seed, st.tokenizer_id == 1 ? "gpt2" : "bytes");
  *out += fmt::format("data: {}, epoch {}, batch {} of it\n", order, st.data.epoch, st.data.batch);
  if (st.loss_scale > 0) *out += fmt::format("fp16 loss scale: {:g}\n", st.loss_scale);
  *out += fmt::format("optimizer: AdamW moments of {} parameters ({})\n", Grouped(n_params), ByteSizeText(8.0 * n_params));
  if (!st.run_config.empty()) {
    TrainOptions run;
    if (ApplyRunConfig(st.run_config, path, nullptr, &run).ok())
      *out += "run config:\n" + DescribeRunConfig(run);
  }
  const std::string model = (fs::path(path).parent_path() / st.model_file).string();
  *out += fmt::format("model file: {}\n", model);
  // Worked out at the run's own T unless --seq-len says otherwise.
  InfoOptions at = opt;
  if (at.seq_len == 0) at.seq_len = static_cast<int>(st.seq_len);
  std::string model_lines;
  CPU_LLM_RETURN_IF_ERROR(DescribeModelFile(model, at, &model_lines));
  *out += model_lines.substr(model_lines.find('\n') + 1);  // its format line said above
  return Status();
}

Status DescribeShard(const std::string& path, std::string* out) {
  uint64_t n = 0;
  CPU_LLM_RETURN_IF_ERROR(ReadShardHeader(path, &n));
  MappedFile file;
  CPU_LLM_RETURN_IF_ERROR(file.Open(path));
  // Token statistics in one pass over the mapped ids (no copy: a shard may
  // be larger than memory).
  std::vector<uint64_t> counts(65536, 0);
  const uint8_t* ids = file.data() + kShardHeaderBytes;
  for (uint64_t i = 0; i < n; i++) {
    uint16_t id;
    std::memcpy(&id, ids + 2 * i, 2);
    counts[id]++;
  }
  int max_id = -1, distinct = 0;
  for (int id = 0; id < 65536; id++)
    if (counts[id]) max_id = id, distinct++;
  *out += "format: llm.c token shard, version 1 (uint16 token ids)\n";
  *out += fmt::format("tokens: {} ({})\n", Grouped(n), ByteSizeText(2.0 * n));
  if (n == 0) return Status();
  *out += fmt::format("token ids: {} distinct, largest {}; fits the {} tokenizer\n", Grouped(distinct), max_id,
                      max_id < 257 ? "bytes (257 ids) and gpt2" : max_id < 50257 ? "gpt2 (50257 ids)" : "no bundled");
  if (max_id >= 256)
    *out += fmt::format("documents: {} GPT-2 end-of-text tokens ({})\n", Grouped(counts[kGpt2Eot]), kGpt2Eot);
  return Status();
}

Status DescribeTokenizer(const std::string& path, std::string* out) {
  LlmcTokenizerFile tok;
  CPU_LLM_RETURN_IF_ERROR(ReadLlmcTokenizer(path, &tok));
  size_t longest = 0;
  for (const std::string& t : tok.tokens) longest = std::max(longest, t.size());
  *out += fmt::format("format: llm.c tokenizer file, version {}\n", tok.version);
  *out += fmt::format("tokens: {} (longest {} bytes), end-of-text id {}\n", Grouped(tok.tokens.size()), longest,
                      tok.eot_token >= 0 ? std::to_string(tok.eot_token) : "none (version 1)");
  return Status();
}

Status DescribeTokenMap(const std::string& path, std::string* out) {
  TokenMap map;
  CPU_LLM_RETURN_IF_ERROR(map.Load(path));
  *out += "format: cpu_llm vocabulary map (a pruned vocabulary)\n";
  *out += fmt::format("keeps: {} of the tokenizer's {} ids (seen at least {} time(s)) plus one 'unknown': a model "
                      "vocabulary of {}\n",
                      Grouped(map.model_vocab() - 1), Grouped(map.source_vocab()), map.min_count(),
                      Grouped(map.model_vocab()));
  return Status();
}

// The gpt2 / llama shape GGUF's metadata gives (export's keys, as llama.cpp
// reads them); false for another architecture.
bool GgufModelConfig(const GgufFile& g, const std::string& arch, ModelConfig* cfg) {
  auto u32 = [&](const std::string& key, int* v) {
    const GgufValue* x = g.Find(arch + "." + key);
    if (!x || x->type != GgufType::kUint32 || x->bytes.size() != 4) return false;
    uint32_t u;
    std::memcpy(&u, x->bytes.data(), 4);
    *v = static_cast<int>(std::min<uint32_t>(u, 1u << 30));
    return true;
  };
  const GgufTensorInfo* wte = g.FindTensor("token_embd.weight");
  if ((arch != "gpt2" && arch != "llama") || !wte || wte->dims.size() != 2) return false;
  if (!u32("block_count", &cfg->n_layer) || !u32("embedding_length", &cfg->n_embd) ||
      !u32("attention.head_count", &cfg->n_head) || !u32("context_length", &cfg->max_seq_len))
    return false;
  cfg->vocab_size = static_cast<int>(std::min<uint64_t>(wte->dims[1], 1u << 30));
  cfg->padded_vocab_size = PadVocab(cfg->vocab_size);
  if (arch == "llama") {
    cfg->norm = NormKind::kRmsNorm;
    cfg->mlp = MlpKind::kSwiGlu;
    cfg->pos = PosKind::kRope;
    cfg->bias = false;
    cfg->tied_head = g.FindTensor("output.weight") == nullptr;
    u32("feed_forward_length", &cfg->mlp_hidden);
  }
  return ValidateConfig(*cfg).ok();
}

Status DescribeGguf(const std::string& path, const InfoOptions& opt, std::string* out) {
  GgufFile g;
  CPU_LLM_RETURN_IF_ERROR(ReadGguf(path, &g));
  auto str = [&](const std::string& key) {
    const GgufValue* v = g.Find(key);
    return v && v->type == GgufType::kString && !v->strings.empty() ? v->strings[0] : std::string();
  };
  std::map<std::string, int> types;
  uint64_t elements = 0;
  for (const GgufTensorInfo& t : g.tensors) {
    types[GgmlTypeName(t.type)]++;
    elements += GgufElementCount(t.dims);
  }
  const std::string arch = str("general.architecture");
  *out += fmt::format("format: GGUF version {}, {} metadata keys, {} tensors ({})\n", g.version, g.kvs.size(),
                      g.tensors.size(), CountList(types));
  *out += fmt::format("architecture: {}{}\n", arch.empty() ? "(none)" : arch,
                      str("general.name").empty() ? "" : ", name \"" + str("general.name") + "\"");
  const GgufValue* tokens = g.Find("tokenizer.ggml.tokens");
  const GgufValue* merges = g.Find("tokenizer.ggml.merges");
  if (!str("tokenizer.ggml.model").empty())
    *out += fmt::format("tokenizer: {} (pre {}), {} tokens, {} merges\n", str("tokenizer.ggml.model"),
                        str("tokenizer.ggml.pre").empty() ? "-" : str("tokenizer.ggml.pre"),
                        tokens ? Grouped(tokens->count) : "0", merges ? Grouped(merges->count) : "0");
  *out += fmt::format("tensor elements: {}\n", Grouped(elements));
  const Status valid = ValidateGguf(path);
  *out += "spec check: " + (valid.ok() ? std::string("passes") : valid.message()) + "\n";
  ModelConfig cfg;
  return GgufModelConfig(g, arch, &cfg) ? ModelLines(cfg, opt, out) : Status();
}

Status DescribeSafetensors(const std::string& path, const InfoOptions& opt, std::string* out) {
  SafetensorsFile st;
  CPU_LLM_RETURN_IF_ERROR(st.Open(path));
  std::map<std::string, int> types;
  uint64_t elements = 0;
  for (const StTensorInfo& t : st.tensors()) {
    types[StDtypeName(t.dtype)]++;
    elements += static_cast<uint64_t>(t.numel());
  }
  *out += fmt::format("format: safetensors, {} tensors ({}), {} metadata entries\n", st.tensors().size(),
                      types.empty() ? "none" : CountList(types), st.metadata().size());
  *out += fmt::format("tensor elements: {}\n", Grouped(elements));
  const std::string config = (fs::path(path).parent_path() / kHfConfigName).string();
  if (!fs::exists(config)) {
    *out += fmt::format("config: no {} beside it (the model's shape is not known)\n", config);
    return Status();
  }
  std::vector<uint8_t> bytes;
  CPU_LLM_RETURN_IF_ERROR(ReadFileBytes(config, &bytes));
  const nlohmann::json j = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (!j.is_object()) return RuntimeError("{}: not a JSON object", config);
  ModelConfig cfg;
  HfArch arch;
  CPU_LLM_RETURN_IF_ERROR(ConfigFromHfJson(config, j, &cfg, &arch));
  *out += fmt::format("config: {} (Hugging Face {})\n", config, arch == HfArch::kLlama ? "LlamaForCausalLM"
                                                                                       : "GPT2LMHeadModel");
  return ModelLines(cfg, opt, out);
}

}  // namespace

Status DescribeTraining(const ModelConfig& cfg, const InfoOptions& opt, std::string* out) {
  const int B = opt.batch, T = opt.seq_len > 0 ? opt.seq_len : cfg.max_seq_len;
  const int threads = opt.threads > 0 ? opt.threads : DefaultThreadCount();
  TrainingMemory mem;  // what `train` allocates and checks (CheckMemory)
  CPU_LLM_RETURN_IF_ERROR(EstimateTrainingMemory(cfg, B, T, threads, opt.precision, &mem));
  const double have = static_cast<double>(PhysicalMemoryBytes());
  *out += fmt::format("memory: params {:.1f} MB, grads {:.1f} MB, adamw {:.1f} MB, activations {:.1f} MB\n",
                      mem.params / 1e6, mem.grads / 1e6, mem.adamw / 1e6, mem.activations / 1e6);
  *out += fmt::format("training at B={} T={} {} with {} thread(s): {} in all, {} this machine's {}{}\n", B, T,
                      PrecisionName(opt.precision), threads, ByteSizeText(mem.total()),
                      mem.total() <= have ? "within" : "MORE than", ByteSizeText(have),
                      T > cfg.max_seq_len ? fmt::format(" (T exceeds the model's context {})", cfg.max_seq_len) : "");
  const double train_flops = TrainFlopsPerToken(cfg, T);
  *out += fmt::format("FLOPs per token: {} to train (forward + backward), {} forward; {} per step of B x T tokens\n",
                      Flops(train_flops), Flops(train_flops / 3.0), Flops(train_flops * B * T));
  return Status();
}

Status DescribeFile(const std::string& path, const InfoOptions& opt, std::string* out) {
  out->clear();
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    // A Hugging Face folder, or a run folder (its newest checkpoint).
    if (fs::exists(fs::path(path) / kHfWeightsName)) return DescribeFile((fs::path(path) / kHfWeightsName).string(), opt, out);
    const std::string state = FindLatestState(path);
    if (!state.empty()) {
      *out += fmt::format("run folder: {}, newest checkpoint {}\n", path, state);
      std::string rest;
      CPU_LLM_RETURN_IF_ERROR(DescribeFile(state, opt, &rest));
      *out += rest;
      return Status();
    }
    return RuntimeError("{}: a folder with no checkpoint (state_*.bin) and no {}", path, kHfWeightsName);
  }
  uint64_t size = 0;
  CPU_LLM_RETURN_IF_ERROR(StatRegularFile(path, &size));
  uint8_t head[16] = {};
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return RuntimeError("{}: cannot open: {}", path, std::strerror(errno));
  const size_t got = std::fread(head, 1, sizeof(head), f);
  std::fclose(f);
  // The first 4 or 8 bytes: a magic number, or safetensors' header length.
  int32_t magic32 = 0;
  int64_t first8 = 0;
  std::memcpy(&magic32, head, 4);
  std::memcpy(&first8, head, 8);
  *out += fmt::format("file: {} ({})\n", path, ByteSizeText(static_cast<double>(size)));
  std::string body;
  Status s;
  if (got >= 4 && magic32 == kModelMagic) s = DescribeModelFile(path, opt, &body);
  else if (got >= 8 && first8 == kStateMagic) s = DescribeState(path, opt, &body);
  else if (got >= 4 && magic32 == kShardMagic) s = DescribeShard(path, &body);
  else if (got >= 4 && magic32 == static_cast<int32_t>(kLlmcTokenizerMagic)) s = DescribeTokenizer(path, &body);
  else if (got >= 4 && magic32 == kTokenMapMagic) s = DescribeTokenMap(path, &body);
  else if (got >= 4 && std::memcmp(head, "GGUF", 4) == 0) s = DescribeGguf(path, opt, &body);
  // safetensors: an 8-byte header length, then the JSON header's '{'.
  else if (got >= 9 && first8 > 1 && static_cast<uint64_t>(first8) <= size - 8 && head[8] == '{')
    s = DescribeSafetensors(path, opt, &body);
  else
    return RuntimeError("{}: not a format cpu_llm knows (an llm.c model, shard or tokenizer file, a cpu_llm state "
                        "file or vocabulary map, GGUF or safetensors)",
                        path);
  CPU_LLM_RETURN_IF_ERROR(s);
  *out += body;
  return Status();
}

}  // namespace cpu_llm
