#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "dist/communicator.h"
#include "kernels/simd_targets.h"
#include "model/config.h"
#include "train/run_config.h"
#include "train/train_options.h"
#include "train/trainer.h"

namespace cpu_llm {
namespace {

// SIGINT/SIGTERM: the first asks the trainer to stop after the current step
// with a checkpoint; a second one exits at once, touching no checkpoint (a
// write in progress is a temporary file the next run removes). A handler can
// only reach the trainer through a variable of its own; this is it.
std::atomic<bool> stop_requested{false};
volatile std::sig_atomic_t signals_seen = 0;

void OnStopSignal(int) {
  const std::sig_atomic_t seen = signals_seen;
  signals_seen = seen + 1;
  if (seen > 0) {
    const char msg[] = "\ncpu_llm train: interrupted again: exiting now, without a checkpoint\n";
    (void)!::write(STDERR_FILENO, msg, sizeof(msg) - 1);
    ::_exit(130);
  }
  stop_requested.store(true, std::memory_order_relaxed);
  const char msg[] = "\ncpu_llm train: stopping after this step with a checkpoint (interrupt again to exit at once)\n";
  (void)!::write(STDERR_FILENO, msg, sizeof(msg) - 1);
}

void CatchStopSignals() {
  struct sigaction sa = {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // file reads and writes carry on
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace

CommandRunner AddTrainCommand(CLI::App& root) {
  auto opt = std::make_shared<TrainOptions>();
  CLI::App* app = root.add_subcommand(
      "train",
      "Train a GPT-2 model. With no data flags it trains on the bundled corpus (the King James Bible), "
      "tokenized with --tokenizer, then prints a sample.");
  app->get_formatter()->column_width(34);
  auto config_file = std::make_shared<std::string>();
  app->add_option("--config", *config_file,
                  "Run config: a JSON file of these options under their names without the dashes "
                  "({\"batch\": 8, \"lr\": 0.001}); flags given here win. Every run saves its resolved config as "
                  "train_config.json in --out");

  const char* model = "Model";
  app->add_option("--model", opt->model,
                  "Preset: " + ConfigNamesHelp() + ". Default: " + kDefaultModel +
                      " with the vocabulary pruned to the training data's tokens (the best validation loss per "
                      "CPU-minute in `bench --arch`); d3 is the same size with GPT-2's block")
      ->group(model);
  app->add_option("--layers", opt->n_layer, "Number of layers (overrides the preset)")->group(model);
  app->add_option("--heads", opt->n_head, "Attention heads (overrides the preset)")->group(model);
  app->add_option("--channels", opt->n_embd, "Embedding channels C (overrides the preset)")->group(model);
  app->add_option("--max-seq-len", opt->max_seq_len, "Position embeddings (default: --seq-len)")->group(model);
  app->add_option("--vocab", opt->vocab_size, "Vocabulary size (default: the tokenizer's)")->group(model);
  app->add_option("--norm", opt->norm, "Block option: layernorm or rmsnorm (default: the preset's)")->group(model);
  app->add_option("--mlp", opt->mlp, "Block option: MLP activation gelu, relu2, silu or swiglu (default: the preset's)")
      ->group(model);
  app->add_option("--mlp-hidden", opt->mlp_hidden, "Block option: MLP width H (0: 4C, or 8C/3 for swiglu)")
      ->group(model);
  app->add_option("--pos", opt->pos, "Block option: positions learned or rope (default: the preset's)")->group(model);
  app->add_option("--rope-theta", opt->rope_theta, "Block option: RoPE base (default 10000)")->group(model);
  app->add_option("--bias", opt->bias, "Block option: biases on or off (default: the preset's)")->group(model);
  app->add_option("--head", opt->head, "Block option: LM head tied to wte or untied (default: the preset's)")
      ->group(model);
  app->add_option("--init-from", opt->init_from, "Start from this llm.c checkpoint (model_*.bin) instead of random")
      ->group(model);

  const char* data = "Data";
  app->add_option("--tokenizer", opt->tokenizer, "Tokenizer: gpt2 (GPT-2 BPE) or bytes")->capture_default_str()->group(data);
  app->add_option("--train-data", opt->train_data, "Glob of llm.c token shards (default: bundled corpus)")->group(data);
  app->add_option("--val-data", opt->val_data, "Glob of llm.c validation shards")->group(data);
  app->add_option("--data-format", opt->data_format,
                  "llmc (token shards with a header), nanogpt (headerless uint16 train.bin/val.bin), or text / "
                  "jsonl files tokenized on the fly (no prepare step)")
      ->capture_default_str()->group(data);
  app->add_option("--doc-delimiter", opt->doc_delimiter,
                  "Text data: string separating documents, escapes \\n \\t allowed (default: one document per file)")
      ->group(data);
  app->add_option("--prune-vocab", opt->prune_vocab,
                  "Keep only the token ids seen at least this often in the training data (smaller embedding and LM "
                  "head; others map to one 'unknown' id); 0: the tokenizer's whole vocabulary; -1 (default): 1 for a "
                  "new default model (no --model) on token data, else 0")
      ->capture_default_str()
      ->group(data);
  app->add_option("--vocab-map", opt->vocab_map,
                  "Prune the vocabulary with the map `prepare --prune-vocab` wrote (no counting pass; text data too)")
      ->group(data);
  app->add_option("--jsonl-field", opt->jsonl_field, "JSONL data: field holding the text")
      ->capture_default_str()
      ->group(data);
  app->add_option("--data-access", opt->data_access,
                  "Shards: read (each read whole into memory when reached) or mmap (mapped; pages read as touched)")
      ->capture_default_str()
      ->group(data);
  app->add_option("--mmap-advice", opt->mmap_advice, "madvise hint for mapped shards: normal, sequential or random")
      ->capture_default_str()
      ->group(data);
  app->add_flag("--shuffle", opt->shuffle,
                "Visit the training windows in a seeded order, new each epoch (default: first to last)")
      ->group(data);
  app->add_option("--loader", opt->loader,
                  "sync (the step reads its batches) or async (a thread reads ahead while the step computes)")
      ->capture_default_str()
      ->group(data);
  app->add_option("--loader-depth", opt->loader_depth, "async: batches read ahead")->capture_default_str()->group(data);
  app->add_option("--val-fraction", opt->val_fraction, "Bundled corpus: share kept for validation")
      ->capture_default_str()->group(data);

  const char* train = "Training";
  app->add_option("-b,--batch", opt->batch, "Sequences per micro-batch (B)")->capture_default_str()->group(train);
  app->add_option("--grad-accum", opt->grad_accum,
                  "Micro-batches whose gradients make one update (effective batch grad-accum x B, memory of one)")
      ->capture_default_str()
      ->group(train);
  app->add_option("--batch-tokens", opt->batch_tokens,
                  "Tokens per update; sets --grad-accum to batch-tokens / (B x T) (0 = use --grad-accum)")
      ->capture_default_str()
      ->group(train);
  app->add_option("-t,--seq-len", opt->seq_len, "Tokens per sequence (T)")->capture_default_str()->group(train);
  app->add_option("--steps", opt->steps, "Optimizer steps in total")->capture_default_str()->group(train);
  app->add_option("--time-budget", opt->time_budget_s,
                  "Seconds to train: the steps that fit (at most --steps) are planned from the first steps' speed, "
                  "and the schedule decays over them (0: no budget)")
      ->capture_default_str()
      ->group(train);
  app->add_option("--lr", opt->lr, "Peak learning rate")->capture_default_str()->group(train);
  app->add_option("--warmup", opt->warmup, "Linear warm-up steps")->capture_default_str()->group(train);
  app->add_option("--lr-final-frac", opt->lr_final_frac, "Cosine decay floor, as a fraction of --lr")
      ->capture_default_str()->group(train);
  app->add_option("--weight-decay", opt->adamw.weight_decay, "AdamW weight decay (matrices only)")
      ->capture_default_str()->group(train);
  app->add_option("--beta1", opt->adamw.beta1, "AdamW beta1")->capture_default_str()->group(train);
  app->add_option("--beta2", opt->adamw.beta2, "AdamW beta2")->capture_default_str()->group(train);
  app->add_option("--grad-clip", opt->adamw.grad_clip, "Clip the global gradient norm to this (0: off)")
      ->capture_default_str()->group(train);
  app->add_option("--seed", opt->seed, "Seed for initialisation and sampling")->capture_default_str()->group(train);
  app->add_option("--threads", opt->threads,
                  "Threads (0: all cores; under mpirun, the cores shared out among the ranks on each machine)")
      ->capture_default_str()
      ->group(train);
  app->add_option("--bucket-mb", opt->bucket_mb,
                  "Under mpirun: MB of gradients per all-reduce, started as soon as backward fills it")
      ->capture_default_str()
      ->group(train);
  app->add_option("--matmul", opt->matmul,
                  "Matmul kernels: tiled (SIMD register tiles), naive (plain loops), blas (OpenBLAS sgemm) or onednn "
                  "(oneDNN sgemm)")
      ->capture_default_str()
      ->group(train);
  app->add_option("--simd", opt->simd,
                  "SIMD target of the Highway kernels: best (chosen at run time) or one of this CPU's (avx2, sse4, "
                  "scalar...)")
      ->capture_default_str()
      ->group(train);
  app->add_option("--precision", opt->precision,
                  "Number format of the linear layers: fp32, bf16 or fp16 (16-bit operands and saved activations, "
                  "fp32 sums, master weights and optimizer; fp16 adds dynamic loss scaling)")
      ->capture_default_str()
      ->group(train);
  app->add_flag("--stochastic-rounding", opt->stochastic_rounding,
                "With --precision bf16: round the weights stochastically (new noise each step) instead of to nearest")
      ->group(train);
  app->add_option("--max-bad-steps", opt->max_bad_steps,
                  "A step whose loss or gradient is inf/NaN is skipped; after N such steps in a row the run stops, "
                  "naming the first op whose output went non-finite")
      ->capture_default_str()
      ->group(train);
  app->add_flag("--detect-anomaly", opt->detect_anomaly,
                "Check every op's output for inf/NaN in every step and name the first that goes non-finite (slower)")
      ->group(train);

  const char* out = "Output";
  app->add_option("-o,--out", opt->out_dir, "Run folder: checkpoints and metrics.jsonl")->capture_default_str()->group(out);
  app->add_flag("--export-bf16", opt->export_bf16,
                "Also write each checkpoint's weights as an llm.c bf16 model file (version 5), model_<step>.bf16.bin")
      ->group(out);
  app->add_option("--val-every", opt->val_every, "Validation loss every N steps (0: only at the end)")
      ->capture_default_str()->group(out);
  app->add_option("--val-batches", opt->val_batches, "Batches per validation")->capture_default_str()->group(out);
  app->add_option("--log-every", opt->log_every, "Print a step line every N steps (0: none)")
      ->capture_default_str()->group(out);
  app->add_flag("-q,--quiet", opt->quiet,
                "No step lines and no status line (a terminal shows a redrawn status line with the ETA; a file or "
                "pipe gets the step lines alone)")
      ->group(out);
  app->add_option("--checkpoint-every", opt->checkpoint_every, "Checkpoint every N steps (0: only at the end)")
      ->capture_default_str()->group(out);
  app->add_flag("--resume", opt->resume,
                "Continue from the newest complete checkpoint in --out (a damaged one is skipped with a message)")
      ->group(out);
  app->add_option("--keep-checkpoints", opt->keep_checkpoints,
                  "Keep only the newest N checkpoints, removing older ones once a new one is complete (0: all)")
      ->capture_default_str()
      ->group(out);
  app->add_flag("--profile", opt->profile, "Print a per-op time breakdown at the end")->group(out);
  app->add_option("--sample-tokens", opt->sample_tokens, "Tokens to sample after training (0: none)")
      ->capture_default_str()->group(out);
  app->add_option("--sample-prompt", opt->sample_prompt, "Prompt of the closing sample")->capture_default_str()->group(out);
  app->add_option("--sample-temperature", opt->sample_temperature, "Temperature of the closing sample")
      ->capture_default_str()->group(out);
  app->add_option("--sample-top-k", opt->sample_top_k, "Top-k of the closing sample (0: all)")
      ->capture_default_str()->group(out);
  return [opt, config_file, app] {
    TrainOptions run = *opt;
    if (!config_file->empty()) {
      // A key the command line also set keeps the command line's value.
      auto given = [app](const std::string& key) {
        const CLI::Option* o = app->get_option_no_throw("--" + key);
        return o && o->count() > 0;
      };
      std::vector<std::string> from_file;
      CPU_LLM_RETURN_IF_ERROR(ReadRunConfig(*config_file, given, &run, &from_file));
      // A bad value from the file is named as the file's.
      ParsedOptions parsed;
      const Status s = CheckOptions(run, &parsed);
      for (const std::string& key : from_file)
        if (!s.ok() && s.message().rfind("--" + key + ":", 0) == 0)
          return UsageError("{}: \"{}\"{}", *config_file, key, s.message().substr(key.size() + 2));
    }
    CPU_LLM_RETURN_IF_ERROR(LimitSimdTarget(run.simd));
    run.doc_delimiter = Unescape(run.doc_delimiter);
    // Launched by mpirun: one rank of a data-parallel job (issue 9).
    std::unique_ptr<Communicator> comm;
    CPU_LLM_RETURN_IF_ERROR(MakeCommunicator(&comm));
    // Rank 0 speaks for the job; the other ranks print only their errors.
    if (!comm->is_root() && !std::freopen("/dev/null", "w", stdout))
      return RuntimeError("/dev/null: cannot open for the output of rank {}", comm->rank());
    // Under mpirun the launcher owns the signals (it ends the job).
    if (comm->world() == 1) {
      CatchStopSignals();
      run.stop_requested = &stop_requested;
    }
    Status s = RunTraining(run, comm.get());
    if (!s.ok() && comm->world() > 1) {
      // The other ranks may be waiting in a collective for this one: end them all.
      std::fprintf(stderr, "cpu_llm train: error (rank %d of %d): %s\n", comm->rank(), comm->world(),
                   s.message().c_str());
      std::fflush(stderr);
      comm->Abort(s.exit_code());
    }
    return s;
  };
}

}  // namespace cpu_llm
