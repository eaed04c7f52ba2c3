#include "train/train_data.h"

#include "data/corpus.h"
#include "data/shard.h"

namespace cpu_llm {

bool IsTextFormat(const std::string& format) { return format == "text" || format == "jsonl"; }

Status OpenData(const TrainOptions& opt, const LoaderOptions& lo, const Tokenizer& tok, DataSources* data) {
  data->train = &data->train_tokens;
  data->val = nullptr;
  if (opt.train_data.empty()) {
    data->val = &data->val_tokens;
    return OpenBundledCorpus(tok, opt.val_fraction, opt.seed, lo, &data->train_tokens, &data->val_tokens);
  }
  std::vector<std::string> train_paths, val_paths;
  CPU_LLM_RETURN_IF_ERROR(ExpandGlob(opt.train_data, &train_paths));
  if (!opt.val_data.empty()) CPU_LLM_RETURN_IF_ERROR(ExpandGlob(opt.val_data, &val_paths));
  if (IsTextFormat(opt.data_format)) {
    DocumentReaderOptions reader;
    reader.format = opt.data_format;
    reader.delimiter = opt.doc_delimiter;
    reader.jsonl_field = opt.jsonl_field;
    data->train = &data->train_text;
    CPU_LLM_RETURN_IF_ERROR(data->train_text.Open(train_paths, reader, tok, lo.B, lo.T, lo.vocab_size));
    if (val_paths.empty()) return Status();
    data->val = &data->val_text;
    return data->val_text.Open(val_paths, reader, tok, lo.B, lo.T, lo.vocab_size);
  }
  CPU_LLM_RETURN_IF_ERROR(data->train_tokens.OpenShards(train_paths, lo));
  if (val_paths.empty()) return Status();
  LoaderOptions val_lo = lo;
  val_lo.order.shuffle = false;  // the same batches at every evaluation, in any order
  data->val = &data->val_tokens;
  return data->val_tokens.OpenShards(val_paths, val_lo);
}

Status BuildTokenMap(const DataSources& data, int64_t min_count, const Tokenizer& tok, TokenMap* map) {
  if (data.train != &data.train_tokens)
    return UsageError("--prune-vocab: needs token files or the bundled corpus (`prepare` text first)");
  std::vector<int64_t> counts(tok.vocab_size(), 0);
  CPU_LLM_RETURN_IF_ERROR(data.train_tokens.CountTokens(&counts));
  return TokenMap::FromCounts(counts, min_count, tok.eot_token(), map);
}

}  // namespace cpu_llm
