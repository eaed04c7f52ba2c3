#include "data/prepare.h"

#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>

#include "core/context.h"
#include "core/file_io.h"
#include "core/progress.h"
#include "core/timer.h"
#include "data/llmc_tokenizer.h"
#include "data/shard_writer.h"
#include "data/split.h"
#include "data/token_map.h"
#include "data/tokenizer.h"

namespace cpu_llm {
namespace {

namespace fs = std::filesystem;

// Refuses a non-empty output folder unless forced; when forced, removes the
// outputs of an earlier run so no stale shard survives beside the new ones.
Status PrepareOutputDir(const std::string& dir, bool force) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) return RuntimeError("{}: exists and is not a folder", dir);
  if (fs::is_directory(dir, ec) && !fs::is_empty(dir, ec)) {
    if (!force) return RuntimeError("{}: output folder is not empty (pass --force to overwrite)", dir);
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename().string();
      const bool ours = (name.rfind("train_", 0) == 0 || name.rfind("val_", 0) == 0) && e.path().extension() == ".bin";
      if (ours || name == "prepare.json" || name == "vocab_map.bin" || name.find("_tokenizer.bin") != std::string::npos) fs::remove(e.path(), ec);
    }
  }
  return EnsureWritableDir(dir);
}

// Routes the token stream into train and val by blocks (split.h), counting
// the train tokens (a vocabulary map must not see the val split).
class Splitter {
 public:
  Splitter(ShardWriter* train, ShardWriter* val, double val_fraction, uint64_t seed, std::vector<int64_t>* train_counts)
      : train_(train), val_(val), val_fraction_(val_fraction), seed_(seed), train_counts_(train_counts) {}
  Status Append(const uint16_t* tokens, size_t n) {
    while (n > 0) {
      const int64_t block = position_ / kSplitBlockTokens;
      const size_t take = std::min<size_t>(n, static_cast<size_t>((block + 1) * kSplitBlockTokens - position_));
      ShardWriter* out = IsValBlock(block, val_fraction_, seed_) ? val_ : train_;
      if (out == train_)
        for (size_t i = 0; i < take; i++) (*train_counts_)[tokens[i]]++;
      CPU_LLM_RETURN_IF_ERROR(out->Append(tokens, take));
      position_ += static_cast<int64_t>(take);
      tokens += take;
      n -= take;
    }
    return Status();
  }

 private:
  ShardWriter *train_, *val_;
  double val_fraction_;
  uint64_t seed_;
  std::vector<int64_t>* train_counts_;
  int64_t position_ = 0;
};

struct Piece {
  std::string text;
  bool starts_document = false;
  std::vector<int32_t> ids;
};

}  // namespace

Status RunPrepare(const PrepareOptions& opt, PrepareSummary* summary) {
  if (!(opt.val_fraction >= 0.0 && opt.val_fraction < 1.0))
    return UsageError("--val-fraction: must be in [0, 1) (got {})", opt.val_fraction);
  if (opt.shard_tokens < 1 || opt.shard_tokens > INT32_MAX)
    return UsageError("--shard-tokens: must be in 1..{} (got {})", INT32_MAX, opt.shard_tokens);
  if (opt.threads < 0) return UsageError("--threads: must not be negative (got {})", opt.threads);
  if (opt.prune_vocab < 0) return UsageError("--prune-vocab: must not be negative (got {})", opt.prune_vocab);
  if (opt.out_dir.empty()) return UsageError("--out: an output folder is required");
  std::unique_ptr<Tokenizer> tok;
  CPU_LLM_RETURN_IF_ERROR(MakeTokenizer(opt.tokenizer, &tok));
  if (tok->vocab_size() > 65536) return RuntimeError("{}: vocabulary too large for uint16 shards", tok->name());
  DocumentReader reader;
  CPU_LLM_RETURN_IF_ERROR(reader.Open(opt.inputs, opt.reader));
  CPU_LLM_RETURN_IF_ERROR(PrepareOutputDir(opt.out_dir, opt.force));

  const Context ctx{opt.threads > 0 ? opt.threads : DefaultThreadCount()};
  ShardWriter train(opt.out_dir, "train", opt.shard_tokens), val(opt.out_dir, "val", opt.shard_tokens);
  std::vector<int64_t> counts(tok->vocab_size(), 0), train_counts(tok->vocab_size(), 0);
  Splitter splitter(&train, &val, opt.val_fraction, opt.seed, &train_counts);
  Progress progress("prepare", reader.total_bytes(), opt.quiet);
  Timer timer;

  // Read a batch of pieces, tokenize them in parallel, write them in order.
  constexpr size_t kBatchBytes = 16 << 20;
  std::vector<Piece> batch;
  std::vector<uint16_t> out;
  bool done = false;
  while (!done) {
    batch.clear();
    size_t batch_bytes = 0;
    while (batch_bytes < kBatchBytes) {
      Piece p;
      CPU_LLM_RETURN_IF_ERROR(reader.Next(&p.text, &p.starts_document, &done));
      if (done) break;
      batch_bytes += p.text.size();
      batch.push_back(std::move(p));
    }
#pragma omp parallel for schedule(dynamic, 1) num_threads(ctx.n_threads)
    for (size_t i = 0; i < batch.size(); i++) batch[i].ids = tok->Encode(batch[i].text);
    for (const Piece& p : batch) {
      out.clear();
      if (p.starts_document) out.push_back(static_cast<uint16_t>(tok->eot_token()));
      for (int32_t id : p.ids) out.push_back(static_cast<uint16_t>(id));
      for (uint16_t id : out) counts[id]++;
      CPU_LLM_RETURN_IF_ERROR(splitter.Append(out.data(), out.size()));
    }
    progress.Update(reader.bytes_read(), train.tokens() + val.tokens());
  }
  // Before the progress line's 100%: the error is then the only line on stderr.
  if (train.tokens() + val.tokens() == 0) return RuntimeError("{}: no text found in the inputs", opt.inputs[0]);
  CPU_LLM_RETURN_IF_ERROR(train.Close());
  CPU_LLM_RETURN_IF_ERROR(val.Close());
  progress.Finish(reader.bytes_read(), train.tokens() + val.tokens());

  summary->documents = reader.documents();
  summary->bytes = reader.bytes_read();
  summary->train_tokens = train.tokens();
  summary->val_tokens = val.tokens();
  summary->train_shards = train.paths();
  summary->val_shards = val.paths();
  summary->vocab_size = tok->vocab_size();
  summary->distinct_ids = 0;
  for (int64_t c : counts) summary->distinct_ids += c > 0;
  summary->tokenizer_file = opt.out_dir + "/" + tok->name() + "_tokenizer.bin";
  CPU_LLM_RETURN_IF_ERROR(WriteLlmcTokenizer(summary->tokenizer_file, *tok));
  if (opt.prune_vocab > 0) {
    TokenMap map;
    CPU_LLM_RETURN_IF_ERROR(TokenMap::FromCounts(train_counts, opt.prune_vocab, tok->eot_token(), &map));
    summary->vocab_map_file = opt.out_dir + "/vocab_map.bin";
    summary->kept_ids = map.model_vocab() - 1;
    CPU_LLM_RETURN_IF_ERROR(map.Save(summary->vocab_map_file));
  }
  summary->seconds = timer.Ms() / 1000.0;

  const nlohmann::json meta = {{"tokenizer", tok->name()},
                               {"vocab_size", tok->vocab_size()},
                               {"eot_token", tok->eot_token()},
                               {"inputs", opt.inputs},
                               {"documents", summary->documents},
                               {"bytes", summary->bytes},
                               {"train_tokens", summary->train_tokens},
                               {"val_tokens", summary->val_tokens},
                               {"train_shards", summary->train_shards},
                               {"val_shards", summary->val_shards},
                               {"distinct_token_ids", summary->distinct_ids},
                               {"val_fraction", opt.val_fraction},
                               {"vocab_map", summary->vocab_map_file},
                               {"vocab_map_min_count", opt.prune_vocab},
                               {"vocab_map_kept_ids", summary->kept_ids},
                               {"seed", opt.seed}};
  const std::string text = meta.dump(2) + "\n";
  return WriteFileAtomic(opt.out_dir + "/prepare.json", text.data(), text.size());
}

}  // namespace cpu_llm
