#include "bench/torch_runner.h"

#include <filesystem>

#include "bench/process.h"

namespace cpu_llm {

std::string DefaultTorchScript() { return CPU_LLM_SOURCE_DIR "/tools/torch_bench.py"; }

Status RunTorchBench(const std::string& script, const Workload& workload, const std::string& dtype, int threads,
                     int warmup, int steps, nlohmann::json* result, std::string* skipped) {
  skipped->clear();
  if (!std::filesystem::exists(script)) {
    *skipped = script + ": not found";
    return Status();
  }
  ModelConfig cfg;
  CPU_LLM_RETURN_IF_ERROR(WorkloadConfig(workload, &cfg));
  // OpenBLAS keeps its own thread pool: hold it to the same thread count.
  const std::vector<std::string> argv = {
      "/usr/bin/env", "OPENBLAS_NUM_THREADS=" + std::to_string(threads), "OMP_NUM_THREADS=" + std::to_string(threads),
      "/usr/bin/python3", script, "--n-layer", std::to_string(cfg.n_layer), "--n-head", std::to_string(cfg.n_head),
      "--n-embd", std::to_string(cfg.n_embd), "--vocab", std::to_string(cfg.vocab_size), "--padded-vocab",
      std::to_string(cfg.padded_vocab_size), "--max-seq-len", std::to_string(cfg.max_seq_len), "--batch",
      std::to_string(workload.B), "--seq-len", std::to_string(workload.T), "--warmup-steps",
      std::to_string(warmup > 0 ? warmup : workload.warmup_steps), "--steps",
      std::to_string(steps > 0 ? steps : workload.steps), "--threads", std::to_string(threads), "--dtype", dtype,
      "--seed", "1337"};
  std::string out;
  int code = 0;
  CPU_LLM_RETURN_IF_ERROR(RunCapture(argv, &out, &code));
  // 3: the script found no torch; 126/127: no python3 to run it.
  if (code == 3 || code == 126 || code == 127) {
    *skipped = code == 3 ? "PyTorch is not installed" : "/usr/bin/python3 is not available";
    return Status();
  }
  if (code != 0) return RuntimeError("{}: failed for {} {} (exit status {})", script, workload.name, dtype, code);
  try {
    *result = nlohmann::json::parse(out);
  } catch (const nlohmann::json::exception& e) {
    return RuntimeError("{}: unreadable result: {}", script, e.what());
  }
  (*result)["flops_per_token"] = TrainFlopsPerToken(cfg, workload.T);
  const std::string blas = result->value("blas", "");
  (*result)["blas_name"] = blas.find("openblas") != std::string::npos ? "OpenBLAS"
                           : blas.find("blas/libblas") != std::string::npos ? "reference BLAS"
                           : blas.empty() ? "unknown BLAS" : blas;
  return Status();
}

}  // namespace cpu_llm
