#include <memory>

#include "cli/commands.h"
#include "data/prepare.h"

namespace cpu_llm {

std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    switch (s[++i]) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case '\\': out += '\\'; break;
      default: out += '\\'; out += s[i]; break;
    }
  }
  return out;
}

namespace {

Status RunPrepareCommand(PrepareOptions opt, const std::string& delimiter) {
  opt.reader.delimiter = Unescape(delimiter);
  PrepareSummary s;
  CPU_LLM_RETURN_IF_ERROR(RunPrepare(opt, &s));
  fmt::print("documents: {}\n", s.documents);
  fmt::print("input: {:.1f} MB in {:.1f} s ({:.1f} MB/s)\n", s.bytes / 1e6, s.seconds,
             s.seconds > 0 ? s.bytes / 1e6 / s.seconds : 0.0);
  fmt::print("tokens: {} train in {} shard(s), {} val in {} shard(s)\n", s.train_tokens, s.train_shards.size(),
             s.val_tokens, s.val_shards.size());
  fmt::print("vocabulary coverage: {} of {} token ids used ({:.1f}%)\n", s.distinct_ids, s.vocab_size,
             100.0 * s.distinct_ids / s.vocab_size);
  fmt::print("tokenizer: {}\n", s.tokenizer_file);
  if (!s.vocab_map_file.empty())
    fmt::print("vocabulary map: {} ({} ids seen at least {} time(s) in train, plus one 'unknown')\n", s.vocab_map_file,
               s.kept_ids, opt.prune_vocab);
  fmt::print("train with: cpu_llm train --tokenizer {} --train-data '{}/train_*.bin'{}{}\n", opt.tokenizer, opt.out_dir,
             s.val_shards.empty() ? "" : fmt::format(" --val-data '{}/val_*.bin'", opt.out_dir),
             s.vocab_map_file.empty() ? "" : " --vocab-map " + s.vocab_map_file);
  return Status();
}

}  // namespace

CommandRunner AddPrepareCommand(CLI::App& root) {
  auto opt = std::make_shared<PrepareOptions>();
  auto delimiter = std::make_shared<std::string>();
  CLI::App* app = root.add_subcommand(
      "prepare",
      "Tokenize text or JSONL files into llm.c token shards (train_*.bin, val_*.bin) for `train`. Streams inputs of "
      "any size in constant memory; each document is preceded by the end-of-text token.");
  app->get_formatter()->column_width(34);
  app->add_option("inputs", opt->inputs, "Text or JSONL files")->required();
  app->add_option("-o,--out", opt->out_dir, "Output folder")->required();
  app->add_option("--tokenizer", opt->tokenizer, "gpt2 or bytes")->capture_default_str();
  app->add_option("--format", opt->reader.format, "auto (.jsonl/.json are JSONL), text or jsonl")->capture_default_str();
  app->add_option("--doc-delimiter", *delimiter,
                  "Text files: string separating documents, escapes \\n \\t allowed (default: one document per file)");
  app->add_option("--jsonl-field", opt->reader.jsonl_field, "JSONL: field holding the text")->capture_default_str();
  app->add_option("--val-fraction", opt->val_fraction, "Share of 1024-token blocks sent to val")->capture_default_str();
  app->add_option("--shard-tokens", opt->shard_tokens, "Tokens per shard")->capture_default_str();
  app->add_option("--seed", opt->seed, "Seed of the train/val split")->capture_default_str();
  app->add_option("--threads", opt->threads, "Tokenizer threads (0: all cores)")->capture_default_str();
  app->add_option("--prune-vocab", opt->prune_vocab,
                  "Also write vocab_map.bin: the ids seen at least N times in the train split, for `train --vocab-map`")
      ->capture_default_str();
  app->add_flag("--force", opt->force, "Overwrite the outputs of an earlier run in --out");
  app->add_flag("-q,--quiet", opt->quiet, "No progress display");
  return [opt, delimiter] { return RunPrepareCommand(*opt, *delimiter); };
}

}  // namespace cpu_llm
