#include "bench/matmul_shapes.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <vector>

#include "bench/stats.h"
#include "core/context.h"
#include "core/rng.h"
#include "core/timer.h"
#include "kernels/matmul.h"
#include "model/gpt2.h"

namespace cpu_llm {
namespace {

constexpr MatmulBackend kBackends[] = {MatmulBackend::kTiled, MatmulBackend::kBlas, MatmulBackend::kOneDnn};
constexpr int kNumBackends = 3;

struct Product {
  std::string name;
  int N, C, OC;
  bool bias;
  int calls_per_step;  // of each pass
};

std::vector<float> Random(Rng& rng, int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = rng.Uniform() - 0.5f;
  return v;
}

// ms of one call of `pass` (0 forward, 1 backward) per backend, medians.
std::array<double, kNumBackends> TimeProduct(const Product& p, int pass, int threads, int rounds) {
  Rng rng(7);
  const std::vector<float> inp = Random(rng, (int64_t)p.N * p.C), w = Random(rng, (int64_t)p.OC * p.C),
                           b = Random(rng, p.OC), dout = Random(rng, (int64_t)p.N * p.OC);
  std::vector<float> out((size_t)p.N * p.OC), dinp((size_t)p.N * p.C), dw((size_t)p.OC * p.C), db(p.OC);
  auto call = [&](MatmulBackend backend) {
    const Context ctx{threads, nullptr, backend};
    if (pass == 0)
      matmul_forward(ctx, out.data(), inp.data(), w.data(), p.bias ? b.data() : nullptr, p.N, p.C, p.OC);
    else
      matmul_backward(ctx, dinp.data(), dw.data(), p.bias ? db.data() : nullptr, dout.data(), inp.data(), w.data(),
                      p.N, p.C, p.OC);
  };
  std::array<std::vector<double>, kNumBackends> ms;
  for (MatmulBackend backend : kBackends) call(backend);  // first-touch, library set-up
  for (int r = 0; r < rounds; r++)
    for (int i = 0; i < kNumBackends; i++) {
      const int k = (i + r) % kNumBackends;  // rotate who goes first
      Timer t;
      call(kBackends[k]);
      ms[k].push_back(t.Ms());
    }
  std::array<double, kNumBackends> med;
  for (int k = 0; k < kNumBackends; k++) med[k] = Median(ms[k]);
  return med;
}

}  // namespace

Status RunMatmulShapes(const Workload& workload, int threads, int rounds, nlohmann::json* result) {
  if (rounds < 1) return UsageError("matmul shapes: rounds must be positive (got {})", rounds);
  ModelConfig cfg;
  CPU_LLM_RETURN_IF_ERROR(WorkloadConfig(workload, &cfg));
  const int BT = workload.B * workload.T, C = cfg.n_embd, L = cfg.n_layer;
  const int head_rows = std::min(BT, kHeadRows);
  const std::vector<Product> products = {
      {"qkv", BT, C, 3 * C, true, L},
      {"attproj", BT, C, C, true, L},
      {"fc", BT, C, 4 * C, true, L},
      {"fcproj", BT, 4 * C, C, true, L},
      {"lmhead", head_rows, C, cfg.padded_vocab_size, false, (BT + head_rows - 1) / head_rows},
  };
  nlohmann::json shapes = nlohmann::json::array();
  std::array<double, kNumBackends> step_ms{};
  double best_step_ms = 0.0;
  for (const Product& p : products)
    for (int pass = 0; pass < 2; pass++) {
      const auto ms = TimeProduct(p, pass, threads, rounds);
      nlohmann::json row = {{"product", p.name}, {"pass", pass == 0 ? "forward" : "backward"},
                            {"N", p.N},          {"C", p.C},
                            {"OC", p.OC},        {"calls_per_step", p.calls_per_step}};
      const double flops = (pass == 0 ? 2.0 : 4.0) * p.N * p.C * p.OC;
      int best = 0;
      for (int k = 0; k < kNumBackends; k++) {
        row["ms"][MatmulBackendName(kBackends[k])] = ms[k];
        row["gflops"][MatmulBackendName(kBackends[k])] = flops / ms[k] / 1e6;
        step_ms[k] += ms[k] * p.calls_per_step;
        if (ms[k] < ms[best]) best = k;
      }
      row["fastest"] = MatmulBackendName(kBackends[best]);
      best_step_ms += ms[best] * p.calls_per_step;
      shapes.push_back(std::move(row));
    }
  nlohmann::json totals;
  for (int k = 0; k < kNumBackends; k++) totals[MatmulBackendName(kBackends[k])] = step_ms[k];
  totals["per_shape_best"] = best_step_ms;
  *result = {{"workload", workload.name}, {"threads", threads}, {"rounds", rounds}, {"shapes", shapes},
             {"step_ms", totals}};
  return Status();
}

std::string MatmulShapesMarkdown(const nlohmann::json& s) {
  std::string out = fmt::format(
      "**Per product shape** — every matrix product of a {} step, each backend timed {} times in rotating order "
      "on {} threads (medians; GFLOP/s in brackets; backward = dinp + dW + dbias):\n\n"
      "| product | pass | N×C×OC | calls/step | tiled | OpenBLAS | oneDNN | fastest |\n|---|---|---|---|---|---|---|---|\n",
      s["workload"].get<std::string>(), s["rounds"].get<int>(), s["threads"].get<int>());
  auto cell = [](const nlohmann::json& row, const char* backend) {
    return fmt::format("{:.2f} ms ({:.0f})", row["ms"][backend].get<double>(), row["gflops"][backend].get<double>());
  };
  for (const nlohmann::json& r : s["shapes"])
    out += fmt::format("| {} | {} | {}×{}×{} | {} | {} | {} | {} | {} |\n", r["product"].get<std::string>(),
                       r["pass"].get<std::string>(), r["N"].get<int>(), r["C"].get<int>(), r["OC"].get<int>(),
                       r["calls_per_step"].get<int>(), cell(r, "tiled"), cell(r, "blas"), cell(r, "onednn"),
                       r["fastest"].get<std::string>());
  const nlohmann::json& t = s["step_ms"];
  const double blas = t["blas"].get<double>(), onednn = t["onednn"].get<double>(), tiled = t["tiled"].get<double>();
  const double best = t["per_shape_best"].get<double>();
  const double best_single = std::min({blas, onednn, tiled});
  out += fmt::format(
      "\nMatrix products per step: tiled {:.0f} ms, OpenBLAS {:.0f} ms, oneDNN {:.0f} ms; the fastest backend "
      "for each shape would take {:.0f} ms, {:.1f}% less than the best single backend. Read that as an upper "
      "bound: the minimum of three noisy timings favours whichever backend was luckiest, so per-shape "
      "differences of a few percent are within this machine's run-to-run noise.\n\n",
      tiled, blas, onednn, best, 100.0 * (1.0 - best / best_single));
  return out;
}

}  // namespace cpu_llm
