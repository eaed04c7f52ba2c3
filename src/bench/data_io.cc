#include "bench/data_io.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "bench/machine.h"
#include "bench/process.h"
#include "bench/stability.h"
#include "core/file_io.h"
#include "core/rng.h"
#include "core/sysinfo.h"
#include "core/timer.h"
#include "data/corpus.h"
#include "data/loader.h"
#include "data/shard.h"

namespace cpu_llm {
namespace {

using nlohmann::json;

// Byte-level ids (`--tokenizer bytes`): the small model's step is then short
// (a 257-row output layer, not GPT-2's 50257), so the data's share of the
// step is as large as it gets, which is where loading has to prove itself.
constexpr int kVocab = 257;

// Writes back anything dirty, then asks the kernel to drop the file's pages,
// so the next reader goes to the disk.
Status DropFromPageCache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return RuntimeError("{}: cannot open: {}", path, ErrnoText(errno));
  ::fdatasync(fd);
  const int rc = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
  if (rc != 0) return RuntimeError("{}: posix_fadvise failed: {}", path, ErrnoText(rc));
  return Status();
}

// Share of the file's pages in the page cache (mincore over a mapping).
double ResidentShare(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1.0;
  const off_t size = ::lseek(fd, 0, SEEK_END);
  void* p = size > 0 ? ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
  ::close(fd);
  if (p == MAP_FAILED) return -1.0;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> in_core((size + page - 1) / page);
  double share = -1.0;
  if (::mincore(p, size, in_core.data()) == 0)
    share = static_cast<double>(std::count_if(in_core.begin(), in_core.end(), [](unsigned char c) { return c & 1; })) /
            in_core.size();
  ::munmap(p, size);
  return share;
}

struct Dataset {
  std::vector<std::string> shards;  // llm.c shards, shard_tokens each
  std::string big;                  // all their tokens as one headerless file
  std::vector<std::string> all() const {
    std::vector<std::string> v = shards;
    if (!big.empty()) v.push_back(big);
    return v;
  }
};

Status WriteAll(std::FILE* f, const void* p, size_t n, const std::string& path) {
  if (std::fwrite(p, 1, n, f) != n) return RuntimeError("{}: write failed: {}", path, ErrnoText(errno));
  return Status();
}

// Random ids: the bench measures reading, and random ids keep every window
// different.
Status Generate(const std::string& dir, const DataIoOptions& opt, bool big_file, Dataset* data, json* info) {
  const double need = (big_file ? 2.0 : 1.0) * opt.shards * (opt.shard_tokens * 2.0 + kShardHeaderBytes);
  struct statvfs vfs;
  if (::statvfs(dir.c_str(), &vfs) != 0) return RuntimeError("{}: cannot stat: {}", dir, ErrnoText(errno));
  const double free_bytes = static_cast<double>(vfs.f_bavail) * vfs.f_frsize;
  if (free_bytes < need + 1e9)
    return RuntimeError("{}: the data needs {:.1f} GB and 1 GB spare, {:.1f} GB are free (see --data-dir)", dir,
                        need / 1e9, free_bytes / 1e9);
  Timer timer;
  std::FILE* big = nullptr;
  if (big_file) {
    data->big = dir + "/all_tokens.bin";
    big = std::fopen(data->big.c_str(), "wb");
    if (!big) return RuntimeError("{}: cannot create: {}", data->big, ErrnoText(errno));
  }
  Status st;
  std::vector<uint16_t> chunk(1 << 20);
  Rng rng(20241125);
  for (int s = 0; s < opt.shards && st.ok(); s++) {
    data->shards.push_back(fmt::format("{}/train_{:06d}.bin", dir, s));
    std::FILE* f = std::fopen(data->shards.back().c_str(), "wb");
    if (!f) {
      st = RuntimeError("{}: cannot create: {}", data->shards.back(), ErrnoText(errno));
      break;
    }
    int32_t header[kShardHeaderInts] = {kShardMagic, kShardVersion, static_cast<int32_t>(opt.shard_tokens)};
    st = WriteAll(f, header, sizeof(header), data->shards.back());
    for (int64_t done = 0; done < opt.shard_tokens && st.ok(); done += static_cast<int64_t>(chunk.size())) {
      const size_t n = static_cast<size_t>(std::min<int64_t>(chunk.size(), opt.shard_tokens - done));
      for (size_t i = 0; i < n; i++) chunk[i] = static_cast<uint16_t>(((rng.NextU64() >> 32) * kVocab) >> 32);
      st = WriteAll(f, chunk.data(), n * 2, data->shards.back());
      if (st.ok() && big) st = WriteAll(big, chunk.data(), n * 2, data->big);
    }
    if (std::fclose(f) != 0 && st.ok()) st = RuntimeError("{}: write failed: {}", data->shards.back(), ErrnoText(errno));
    std::fprintf(stderr, "bench --data-io: wrote shard %d/%d\n", s + 1, opt.shards);
  }
  if (big && std::fclose(big) != 0 && st.ok()) st = RuntimeError("{}: write failed: {}", data->big, ErrnoText(errno));
  CPU_LLM_RETURN_IF_ERROR(st);
  (*info)["shards"] = opt.shards;
  (*info)["shard_tokens"] = opt.shard_tokens;
  (*info)["shard_bytes"] = opt.shard_tokens * 2 + static_cast<int64_t>(kShardHeaderBytes);
  (*info)["big_file_bytes"] = big_file ? opt.shards * opt.shard_tokens * 2 : 0;
  (*info)["generate_s"] = timer.Ms() / 1000.0;
  return Status();
}

// Drops every data file from the cache and records how much stayed.
Status Evict(const Dataset& data, double* max_resident) {
  *max_resident = 0.0;
  for (const std::string& p : data.all()) {
    CPU_LLM_RETURN_IF_ERROR(DropFromPageCache(p));
    *max_resident = std::max(*max_resident, ResidentShare(p));
  }
  return Status();
}

double NumberAfter(const std::string& line, const std::string& key) {
  const size_t at = line.find(key);
  return at == std::string::npos ? -1.0 : std::atof(line.c_str() + at + key.size());
}

// One `cpu_llm train` child; what it printed and logged, as one JSON run.
Status TrainChild(const std::string& self, const std::vector<std::string>& args, const std::string& out_dir,
                  json* run) {
  std::vector<std::string> argv = {self, "train"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--out", out_dir});
  std::string out;
  int code = 0;
  Timer wall;
  CPU_LLM_RETURN_IF_ERROR(RunCapture(argv, &out, &code));
  if (code != 0) return RuntimeError("bench --data-io: a train run failed (exit status {})", code);
  const std::string setup = OutputLine(out, "setup: "), wait = OutputLine(out, "data wait: ");
  (*run)["wall_s"] = wall.Ms() / 1000.0;
  (*run)["setup_ms"] = std::atof(setup.c_str());
  (*run)["peak_rss_mb"] = std::atof(OutputLine(out, "peak RSS: ").c_str());
  (*run)["data_wait_pct"] = NumberAfter(wait, "after the first (");
  std::vector<uint8_t> bytes;
  CPU_LLM_RETURN_IF_ERROR(ReadFileBytes(out_dir + "/metrics.jsonl", &bytes));
  (*run)["tok_s"] = SteadyTokensPerSecond(std::string(bytes.begin(), bytes.end()));
  std::error_code ec;
  std::filesystem::remove_all(out_dir, ec);
  return Status();
}

// A small model, so that the data's share of the step is as large as it gets.
std::vector<std::string> TrainArgs(const DataIoOptions& opt, int steps, int B, int T, const char* tokenizer = "bytes") {
  return {"--tokenizer", tokenizer, "--model", "d1", "--channels", "64", "--heads", "2", "--batch", std::to_string(B), "--seq-len",
          std::to_string(T), "--steps", std::to_string(steps), "--val-every", "0", "--sample-tokens", "0",
          "--log-every", "0", "--threads", std::to_string(opt.threads)};
}

std::string ShardGlob(const std::string& dir, int k) {
  return k == 1 ? dir + "/train_000000.bin" : fmt::format("{}/train_00000[0-{}].bin", dir, k - 1);
}

// Runs each side `runs` times, alternating, each from a cold cache.
Status Compare(const DataIoOptions& opt, const Dataset& data, const std::string& self, const std::string& tmp,
               const std::string& what, const std::vector<std::pair<std::string, std::vector<std::string>>>& sides,
               json* entries) {
  for (const auto& [label, args] : sides) entries->push_back({{"label", label}, {"args", args}, {"runs", json::array()}});
  const size_t first = entries->size() - sides.size();
  for (int r = 0; r < opt.runs; r++)
    for (size_t s = 0; s < sides.size(); s++) {
      double resident = 0.0;
      CPU_LLM_RETURN_IF_ERROR(Evict(data, &resident));
      json run = {{"resident_before", resident}};
      std::fprintf(stderr, "bench --data-io: %s, %s, run %d/%d\n", what.c_str(), sides[s].first.c_str(), r + 1, opt.runs);
      CPU_LLM_RETURN_IF_ERROR(TrainChild(self, sides[s].second, tmp + "/run", &run));
      (*entries)[first + s]["runs"].push_back(run);
    }
  return Status();
}

// The loader alone over the mapped shards: how fast it reads cold windows.
Status AdvicePart(const DataIoOptions& opt, const Dataset& data, json* entries) {
  constexpr int B = 8, T = 1024, kBatches = 3000;  // 16 KB windows, GPT-2-small-like
  struct Case {
    const char* order;
    MmapAdvice advice;
    bool release;
    int prefetch;
  };
  const int prefetch = LoaderOptions().prefetch_windows;
  std::vector<Case> cases;
  for (const char* order : {"in order", "shuffled"})
    for (MmapAdvice a : {MmapAdvice::kNormal, MmapAdvice::kSequential, MmapAdvice::kRandom})
      cases.push_back({order, a, true, prefetch});
  cases.push_back({"in order", MmapAdvice::kNormal, true, 0});
  cases.push_back({"shuffled", MmapAdvice::kNormal, true, 0});
  cases.push_back({"shuffled", MmapAdvice::kNormal, false, prefetch});
  for (const Case& c : cases)
    entries->push_back({{"order", c.order}, {"advice", MmapAdviceName(c.advice)}, {"release", c.release},
                        {"prefetch", c.prefetch}, {"runs", json::array()}});
  const size_t first = entries->size() - cases.size();
  std::vector<int32_t> in(B * T), tg(B * T);
  for (int r = 0; r < opt.runs; r++)
    for (size_t i = 0; i < cases.size(); i++) {
      const Case& c = cases[i];
      double resident = 0.0;
      CPU_LLM_RETURN_IF_ERROR(Evict(data, &resident));
      DataLoader dl;
      LoaderOptions lo = BatchShape(B, T, kVocab);
      lo.access = DataAccess::kMmap;
      lo.advice = c.advice;
      if (!c.release) lo.resident_budget_bytes = 0;
      lo.prefetch_windows = c.prefetch;
      lo.order = {std::string(c.order) == "shuffled", static_cast<uint64_t>(1000 + r), 0, 1};
      CPU_LLM_RETURN_IF_ERROR(dl.OpenShards(data.shards, lo));
      const uint64_t rss_before = CurrentRssBytes();
      Timer timer;
      for (int b = 0; b < kBatches; b++) CPU_LLM_RETURN_IF_ERROR(dl.Next(in.data(), tg.data()));
      const double s = timer.Ms() / 1000.0;
      const double mb = kBatches * (B * T + 1) * 2.0 / 1e6;
      (*entries)[first + i]["runs"].push_back({{"resident_before", resident},
                                               {"mb_s", mb / s},
                                               {"batches_s", kBatches / s},
                                               {"rss_growth_mb", (double(CurrentRssBytes()) - double(rss_before)) / 1e6}});
    }
  return Status();
}

}  // namespace

Status RunDataIo(const DataIoOptions& opt, json* out) {
  if (opt.shards < 1 || opt.shards > 10) return UsageError("--data-shards: must be in [1, 10] (got {})", opt.shards);
  if (opt.shard_tokens < 1'000'000 || opt.shard_tokens > 2'000'000'000)
    return UsageError("--data-shard-tokens: must be in [1e6, 2e9] (got {})", opt.shard_tokens);
  if (opt.runs < 1) return UsageError("--runs: must be at least 1 (got {})", opt.runs);
  if (opt.steps < 2) return UsageError("--steps: the data bench needs at least 2 (got {})", opt.steps);
  auto wants = [&](const char* part) { return std::find(opt.parts.begin(), opt.parts.end(), part) != opt.parts.end(); };
  for (const std::string& p : opt.parts)
    if (p != "growth" && p != "single" && p != "advice" && p != "loader" && p != "text")
      return UsageError("--data-io-parts: unknown part '{}' (growth, single, advice, loader, text)", p);
  std::string self;
  CPU_LLM_RETURN_IF_ERROR(SelfExecutable(&self));
  TempFolder tmp;
  CPU_LLM_RETURN_IF_ERROR(tmp.Create("cpu_llm_data_io", opt.parent_dir));

  json result = {{"kind", "cpu_llm-bench-data-io"}, {"machine", DescribeMachine()}, {"runs", opt.runs},
                 {"steps", opt.steps}};
  Dataset data;
  json info;
  CPU_LLM_RETURN_IF_ERROR(Generate(tmp.path(), opt, wants("single"), &data, &info));
  double resident = 0.0;
  CPU_LLM_RETURN_IF_ERROR(Evict(data, &resident));
  info["resident_after_evict"] = resident;
  result["dataset"] = info;

  const std::vector<std::string> small = TrainArgs(opt, opt.steps, 4, 128);
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  if (wants("growth")) {
    result["growth"] = json::array();
    std::vector<int> sizes;
    for (int k = 1; k < opt.shards; k *= 2) sizes.push_back(k);
    sizes.push_back(opt.shards);
    for (int k : sizes) {
      const std::vector<std::string> d = {"--train-data", ShardGlob(tmp.path(), k), "--shuffle"};
      json entries = json::array();
      CPU_LLM_RETURN_IF_ERROR(Compare(opt, data, self, tmp.path(), fmt::format("{} shard(s)", k),
                                      {{"read", with(with(small, d), {"--data-access", "read"})},
                                       {"mmap", with(with(small, d), {"--data-access", "mmap"})}},
                                      &entries));
      for (json& e : entries) e["shards"] = k;
      for (json& e : entries) result["growth"].push_back(e);
    }
  }
  if (wants("single")) {
    const std::vector<std::string> d = {"--train-data", data.big, "--data-format", "nanogpt", "--shuffle"};
    result["single"] = json::array();
    CPU_LLM_RETURN_IF_ERROR(Compare(opt, data, self, tmp.path(), "one big file",
                                    {{"read", with(with(small, d), {"--data-access", "read"})},
                                     {"mmap", with(with(small, d), {"--data-access", "mmap"})}},
                                    &result["single"]));
  }
  if (wants("advice")) {
    result["advice"] = json::array();
    CPU_LLM_RETURN_IF_ERROR(AdvicePart(opt, data, &result["advice"]));
  }
  if (wants("loader")) {
    const std::vector<std::string> d = with(TrainArgs(opt, opt.steps, 4, 128), {"--train-data", ShardGlob(tmp.path(), opt.shards),
                                                                         "--shuffle", "--data-access", "mmap"});
    result["loader"] = json::array();
    CPU_LLM_RETURN_IF_ERROR(Compare(opt, data, self, tmp.path(), "mapped shards",
                                    {{"sync", with(d, {"--loader", "sync"})}, {"async", with(d, {"--loader", "async"})}},
                                    &result["loader"]));
  }
  if (wants("text")) {
    std::string text;
    CPU_LLM_RETURN_IF_ERROR(LoadBundledCorpus(&text));
    const std::string path = tmp.path() + "/kjv.txt";
    CPU_LLM_RETURN_IF_ERROR(WriteFileAtomic(path, text.data(), text.size()));
    const std::vector<std::string> d =
        with(TrainArgs(opt, opt.steps, 16, 64, "gpt2"), {"--train-data", path, "--data-format", "text"});
    result["text"] = json::array();
    CPU_LLM_RETURN_IF_ERROR(Compare(opt, data, self, tmp.path(), "raw text",
                                    {{"sync", with(d, {"--loader", "sync"})}, {"async", with(d, {"--loader", "async"})}},
                                    &result["text"]));
  }
  *out = std::move(result);
  return Status();
}

}  // namespace cpu_llm
