// `eval`: the mean loss of a checkpoint on the first (B,T) batch of a token
// shard, as JSON. The batch is a training window: B*T+1 consecutive tokens
// from the start, inputs the first B*T, targets shifted by one
// (docs/FORMATS.md), so another implementation (tools/hf_gpt2_loss.py) can
// compute the same number from the same file.
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.h"
#include "data/shard.h"
#include "data/token_map.h"
#include "train/checkpoint.h"

namespace cpu_llm {
namespace {

struct EvalArgs {
  std::string checkpoint;
  std::string data;
  int batch = 1;
  int seq_len = 64;
  int threads = 0;
};

Status RunEval(const EvalArgs& a) {
  if (a.batch <= 0) return UsageError("--batch: must be positive (got {})", a.batch);
  if (a.seq_len <= 0) return UsageError("--seq-len: must be positive (got {})", a.seq_len);
  if (a.threads < 0) return UsageError("--threads: must not be negative (got {})", a.threads);
  CPU_LLM_RETURN_IF_ERROR(CheckBatchTokens(a.batch, a.seq_len));
  GPT2 model;
  CPU_LLM_RETURN_IF_ERROR(LoadModel(a.checkpoint, &model));
  const ModelConfig& cfg = model.config();
  if (a.seq_len > cfg.max_seq_len)
    return UsageError("--seq-len: {} is longer than the model's context ({})", a.seq_len, cfg.max_seq_len);
  // A pruned-vocabulary model reads tokenizer ids through its map, as training did.
  TokenMap map;
  bool mapped = false;
  const std::string map_path = (std::filesystem::path(a.checkpoint).parent_path() / "vocab_map.bin").string();
  std::error_code ec;
  if (std::filesystem::exists(map_path, ec)) {
    CPU_LLM_RETURN_IF_ERROR(map.Load(map_path));
    mapped = map.model_vocab() == cfg.vocab_size;
  }
  std::vector<uint16_t> tokens;
  CPU_LLM_RETURN_IF_ERROR(ReadShard(a.data, mapped ? map.source_vocab() : cfg.vocab_size, &tokens));
  const int64_t n = static_cast<int64_t>(a.batch) * a.seq_len;
  if (static_cast<int64_t>(tokens.size()) < n + 1)
    return RuntimeError("{}: {} tokens, fewer than one batch of {}x{}+1", a.data, tokens.size(), a.batch, a.seq_len);
  std::vector<int32_t> inputs(tokens.begin(), tokens.begin() + n), targets(tokens.begin() + 1, tokens.begin() + n + 1);
  if (mapped) {
    map.MapInPlace(inputs.data(), n);
    map.MapInPlace(targets.data(), n);
  }
  const Context ctx{a.threads > 0 ? a.threads : DefaultThreadCount()};
  CPU_LLM_RETURN_IF_ERROR(model.PrepareBatch(a.batch, a.seq_len, ctx.n_threads));
  float loss = 0.0f;
  CPU_LLM_RETURN_IF_ERROR(model.Forward(ctx, inputs.data(), targets.data(), a.batch, a.seq_len, &loss));
  // Nine significant digits: a float32 loss printed without rounding.
  fmt::print("{{\"loss\": {:.9g}, \"batch\": {}, \"seq_len\": {}}}\n", loss, a.batch, a.seq_len);
  return Status();
}

}  // namespace

CommandRunner AddEvalCommand(CLI::App& root) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* app = root.add_subcommand("eval", "Print a checkpoint's mean loss on the first batch of a token shard.");
  app->get_formatter()->column_width(34);
  app->add_option("-c,--checkpoint", a->checkpoint, "Model checkpoint (model_*.bin)")->required();
  app->add_option("--data", a->data, "llm.c token shard")->required();
  app->add_option("-b,--batch", a->batch, "Batch size B")->capture_default_str();
  app->add_option("-t,--seq-len", a->seq_len, "Sequence length T")->capture_default_str();
  app->add_option("--threads", a->threads, "Threads (0: all cores)")->capture_default_str();
  return [a] { return RunEval(*a); };
}

}  // namespace cpu_llm
