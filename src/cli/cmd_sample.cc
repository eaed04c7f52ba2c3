#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "core/rng.h"
#include "data/token_map.h"
#include "data/tokenizer.h"
#include "train/checkpoint.h"
#include "train/sampler.h"

namespace cpu_llm {
namespace {

struct SampleArgs {
  std::string checkpoint;
  std::string prompt;
  std::string tokenizer = "auto";
  int tokens = 256;
  float temperature = 1.0f;
  int top_k = 0;
  uint64_t seed = 1337;
  int threads = 0;
};

Status RunSample(const SampleArgs& a) {
  if (a.tokens <= 0) return UsageError("--tokens: must be positive (got {})", a.tokens);
  if (!(a.temperature >= 0.0f)) return UsageError("--temperature: must not be negative (got {})", a.temperature);
  if (a.top_k < 0) return UsageError("--top-k: must not be negative (got {})", a.top_k);
  if (a.threads < 0) return UsageError("--threads: must not be negative (got {})", a.threads);
  GPT2 model;
  CPU_LLM_RETURN_IF_ERROR(LoadModel(a.checkpoint, &model));
  // A model trained with --prune-vocab has its vocabulary map beside it.
  std::optional<TokenMap> token_map;
  const std::string map_path = (std::filesystem::path(a.checkpoint).parent_path() / "vocab_map.bin").string();
  if (std::filesystem::exists(map_path)) {
    TokenMap map;
    CPU_LLM_RETURN_IF_ERROR(map.Load(map_path));
    if (map.model_vocab() == model.config().vocab_size) token_map = std::move(map);
  }
  const int vocab = token_map ? token_map->source_vocab() : model.config().vocab_size;
  std::string tok_name = a.tokenizer;
  if (tok_name == "auto") {
    if (vocab == 257) tok_name = "bytes";
    else if (vocab == 50257) tok_name = "gpt2";
    else
      return RuntimeError("{}: vocabulary of {} tokens matches no known tokenizer; pass --tokenizer{}", a.checkpoint,
                          vocab, token_map ? "" : " (a model trained with a pruned vocabulary needs its vocab_map.bin beside it)");
  }
  std::unique_ptr<Tokenizer> tok;
  CPU_LLM_RETURN_IF_ERROR(MakeTokenizer(tok_name, &tok));
  if (token_map && token_map->source_vocab() != tok->vocab_size())
    return RuntimeError("{}: maps the {}-token vocabulary of another tokenizer, not {}'s {}", map_path,
                        token_map->source_vocab(), tok->name(), tok->vocab_size());
  if (!token_map && model.config().vocab_size < tok->vocab_size())
    return RuntimeError("{}: the model's vocabulary ({}) is smaller than the {} tokenizer's ({}){}", a.checkpoint,
                        model.config().vocab_size, tok->name(), tok->vocab_size(),
                        std::filesystem::exists(map_path) ? "" : "; a model trained with a pruned vocabulary needs its vocab_map.bin beside it");
  const Context ctx{a.threads > 0 ? a.threads : DefaultThreadCount()};
  SampleOptions so;
  so.max_new_tokens = a.tokens;
  so.temperature = a.temperature;
  so.top_k = a.top_k;
  Rng rng(a.seed);
  std::fputs(a.prompt.c_str(), stdout);
  CPU_LLM_RETURN_IF_ERROR(GenerateText(ctx, model, *tok, token_map ? &*token_map : nullptr, a.prompt, so, rng,
                                       [](const std::string& text) {
                                         std::fputs(text.c_str(), stdout);
                                         std::fflush(stdout);
                                       }));
  std::fputs("\n", stdout);
  return Status();
}

}  // namespace

CommandRunner AddSampleCommand(CLI::App& root) {
  auto a = std::make_shared<SampleArgs>();
  CLI::App* app = root.add_subcommand("sample", "Generate text from a checkpoint (KV-cached decoding).");
  app->get_formatter()->column_width(34);
  app->add_option("-c,--checkpoint", a->checkpoint, "llm.c model checkpoint (model_*.bin)")->required();
  app->add_option("-p,--prompt", a->prompt, "Text to continue")->capture_default_str();
  app->add_option("-n,--tokens", a->tokens, "Tokens to generate")->capture_default_str();
  app->add_option("--temperature", a->temperature, "Softmax temperature (0: always the most likely token)")
      ->capture_default_str();
  app->add_option("--top-k", a->top_k, "Sample among the k most likely tokens (0: all)")->capture_default_str();
  app->add_option("--seed", a->seed, "Random seed")->capture_default_str();
  app->add_option("--tokenizer", a->tokenizer, "Tokenizer: auto (from the vocabulary size: 50257 gpt2, 257 bytes), gpt2 or bytes")
      ->capture_default_str();
  app->add_option("--threads", a->threads, "Threads (0: all cores)")->capture_default_str();
  return [a] { return RunSample(*a); };
}

}  // namespace cpu_llm
