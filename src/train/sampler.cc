#include "train/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "model/kv_cache.h"

namespace cpu_llm {

int SampleToken(const float* logits, int V, float temperature, int top_k, Rng& rng, std::vector<float>* probs,
                std::vector<int>* order) {
  if (temperature <= 0.0f) return static_cast<int>(std::max_element(logits, logits + V) - logits);
  order->resize(V);
  std::iota(order->begin(), order->end(), 0);
  int k = (top_k > 0 && top_k < V) ? top_k : V;
  if (k < V) {
    // Ties broken by id so the choice is deterministic.
    std::partial_sort(order->begin(), order->begin() + k, order->end(), [&](int a, int b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
  }
  float maxv = -INFINITY;
  for (int i = 0; i < k; i++) maxv = std::max(maxv, logits[(*order)[i]]);
  probs->resize(k);
  double sum = 0.0;
  for (int i = 0; i < k; i++) {
    (*probs)[i] = std::exp((logits[(*order)[i]] - maxv) / temperature);
    sum += (*probs)[i];
  }
  const double u = rng.Uniform() * sum;
  double acc = 0.0;
  for (int i = 0; i < k; i++) {
    acc += (*probs)[i];
    if (u < acc) return (*order)[i];
  }
  return (*order)[k - 1];
}

Status Generate(const Context& ctx, GPT2& model, const std::vector<int32_t>& prompt, const SampleOptions& opt,
                Rng& rng, const std::function<void(int32_t)>& on_token) {
  const ModelConfig& cfg = model.config();
  if (prompt.empty()) return UsageError("--prompt: the prompt must encode to at least one token");
  const int window = cfg.max_seq_len;
  KVCache cache;
  CPU_LLM_RETURN_IF_ERROR(cache.Init(cfg, window));
  std::vector<float> logits(cfg.padded_vocab_size), probs;
  std::vector<int> order;
  // The model has seen positions 0..window-1 only. When the cache is full,
  // generation continues from the last half window, re-encoded at positions
  // 0.., instead of stopping.
  std::vector<int32_t> history = prompt;
  auto refill = [&](size_t keep) -> Status {
    const size_t first = history.size() > keep ? history.size() - keep : 0;
    for (size_t i = first; i < history.size(); i++)
      CPU_LLM_RETURN_IF_ERROR(cache.Step(ctx, model, history[i], static_cast<int>(i - first), logits.data()));
    return Status();
  };
  CPU_LLM_RETURN_IF_ERROR(refill(window));
  int pos = static_cast<int>(std::min<size_t>(history.size(), window));
  for (int n = 0; n < opt.max_new_tokens; n++) {
    const int V = opt.vocab_limit > 0 ? std::min(opt.vocab_limit, cfg.vocab_size) : cfg.vocab_size;
    const int next = SampleToken(logits.data(), V, opt.temperature, opt.top_k, rng, &probs, &order);
    on_token(next);
    history.push_back(next);
    if (next == opt.stop_token || n + 1 == opt.max_new_tokens) break;
    if (pos == window) {
      const int keep = std::max(1, window / 2);
      CPU_LLM_RETURN_IF_ERROR(refill(keep));
      pos = keep;
    } else {
      CPU_LLM_RETURN_IF_ERROR(cache.Step(ctx, model, next, pos, logits.data()));
      pos++;
    }
  }
  return Status();
}

Status GenerateText(const Context& ctx, GPT2& model, const Tokenizer& tok, const TokenMap* token_map,
                    const std::string& prompt_text, SampleOptions opt, Rng& rng,
                    const std::function<void(const std::string&)>& on_text) {
  std::vector<int32_t> prompt = tok.Encode(prompt_text);
  prompt.insert(prompt.begin(), tok.eot_token());
  opt.stop_token = tok.eot_token();
  if (token_map) {
    token_map->MapInPlace(prompt.data(), static_cast<int64_t>(prompt.size()));
    opt.stop_token = token_map->ToModel(tok.eot_token());
    opt.vocab_limit = token_map->unknown();  // the last id: everything below it maps back
  }
  return Generate(ctx, model, prompt, opt, rng, [&](int32_t id) {
    on_text(tok.Decode(token_map ? token_map->ToSource(id) : id));
  });
}

}  // namespace cpu_llm
