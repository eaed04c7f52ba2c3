#include "train/run_config.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <variant>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/file_io.h"

namespace cpu_llm {
namespace {

using Json = nlohmann::ordered_json;

// Each key reaches its TrainOptions member through a function, so that the
// nested AdamW fields sit in the same table as the rest.
template <typename T>
using Ref = T& (*)(TrainOptions&);
using AnyRef = std::variant<Ref<int>, Ref<int64_t>, Ref<uint64_t>, Ref<float>, Ref<double>, Ref<bool>, Ref<std::string>>;

struct Field {
  const char* key;
  AnyRef ref;
};

#define CPU_LLM_FIELD(key, member) \
  Field { key, AnyRef(+[](TrainOptions& o) -> decltype(auto) { return (o.member); }) }

// The order of `train --help`: model, data, training, output.
const std::vector<Field>& Fields() {
  static const std::vector<Field> fields = {
      CPU_LLM_FIELD("model", model),
      CPU_LLM_FIELD("layers", n_layer),
      CPU_LLM_FIELD("heads", n_head),
      CPU_LLM_FIELD("channels", n_embd),
      CPU_LLM_FIELD("max-seq-len", max_seq_len),
      CPU_LLM_FIELD("vocab", vocab_size),
      CPU_LLM_FIELD("norm", norm),
      CPU_LLM_FIELD("mlp", mlp),
      CPU_LLM_FIELD("mlp-hidden", mlp_hidden),
      CPU_LLM_FIELD("pos", pos),
      CPU_LLM_FIELD("rope-theta", rope_theta),
      CPU_LLM_FIELD("bias", bias),
      CPU_LLM_FIELD("head", head),
      CPU_LLM_FIELD("init-from", init_from),
      CPU_LLM_FIELD("tokenizer", tokenizer),
      CPU_LLM_FIELD("train-data", train_data),
      CPU_LLM_FIELD("val-data", val_data),
      CPU_LLM_FIELD("data-format", data_format),
      CPU_LLM_FIELD("doc-delimiter", doc_delimiter),
      CPU_LLM_FIELD("prune-vocab", prune_vocab),
      CPU_LLM_FIELD("vocab-map", vocab_map),
      CPU_LLM_FIELD("jsonl-field", jsonl_field),
      CPU_LLM_FIELD("data-access", data_access),
      CPU_LLM_FIELD("mmap-advice", mmap_advice),
      CPU_LLM_FIELD("shuffle", shuffle),
      CPU_LLM_FIELD("loader", loader),
      CPU_LLM_FIELD("loader-depth", loader_depth),
      CPU_LLM_FIELD("val-fraction", val_fraction),
      CPU_LLM_FIELD("batch", batch),
      CPU_LLM_FIELD("grad-accum", grad_accum),
      CPU_LLM_FIELD("batch-tokens", batch_tokens),
      CPU_LLM_FIELD("seq-len", seq_len),
      CPU_LLM_FIELD("steps", steps),
      CPU_LLM_FIELD("time-budget", time_budget_s),
      CPU_LLM_FIELD("lr", lr),
      CPU_LLM_FIELD("warmup", warmup),
      CPU_LLM_FIELD("lr-final-frac", lr_final_frac),
      CPU_LLM_FIELD("weight-decay", adamw.weight_decay),
      CPU_LLM_FIELD("beta1", adamw.beta1),
      CPU_LLM_FIELD("beta2", adamw.beta2),
      CPU_LLM_FIELD("grad-clip", adamw.grad_clip),
      CPU_LLM_FIELD("seed", seed),
      CPU_LLM_FIELD("threads", threads),
      CPU_LLM_FIELD("bucket-mb", bucket_mb),
      CPU_LLM_FIELD("matmul", matmul),
      CPU_LLM_FIELD("simd", simd),
      CPU_LLM_FIELD("precision", precision),
      CPU_LLM_FIELD("stochastic-rounding", stochastic_rounding),
      CPU_LLM_FIELD("max-bad-steps", max_bad_steps),
      CPU_LLM_FIELD("detect-anomaly", detect_anomaly),
      CPU_LLM_FIELD("out", out_dir),
      CPU_LLM_FIELD("export-bf16", export_bf16),
      CPU_LLM_FIELD("val-every", val_every),
      CPU_LLM_FIELD("val-batches", val_batches),
      CPU_LLM_FIELD("log-every", log_every),
      CPU_LLM_FIELD("quiet", quiet),
      CPU_LLM_FIELD("checkpoint-every", checkpoint_every),
      CPU_LLM_FIELD("keep-checkpoints", keep_checkpoints),
      CPU_LLM_FIELD("profile", profile),
      CPU_LLM_FIELD("sample-tokens", sample_tokens),
      CPU_LLM_FIELD("sample-prompt", sample_prompt),
      CPU_LLM_FIELD("sample-temperature", sample_temperature),
      CPU_LLM_FIELD("sample-top-k", sample_top_k),
  };
  return fields;
}

#undef CPU_LLM_FIELD

// For "did you mean": the edit distance of two short keys.
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); j++) row[j] = j;
  for (size_t i = 1; i <= a.size(); i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); j++) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string Suggest(const std::string& key) {
  std::string best;
  size_t best_d = 3;  // at most two edits away
  for (const Field& f : Fields()) {
    const size_t d = EditDistance(key, f.key);
    if (d < best_d) best_d = d, best = f.key;
  }
  return best.empty() ? "" : fmt::format(" (did you mean \"{}\"?)", best);
}

// An integer in a JSON value: integers, or numbers with no fraction (1e6).
bool AsInteger(const Json& v, double lo, double hi, int64_t* out) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (static_cast<double>(u) > hi || u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(u);
    return true;
  }
  if (v.is_number_integer()) {
    *out = v.get<int64_t>();
    return *out >= lo && *out <= hi;
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!(d >= lo && d <= hi) || d != std::floor(d) || std::fabs(d) > 9007199254740992.0) return false;
    *out = static_cast<int64_t>(d);
    return true;
  }
  return false;
}

Status SetField(const Field& f, const Json& v, const std::string& source, TrainOptions* opt) {
  auto wrong = [&](const char* expected) {
    std::string got = v.dump();
    if (got.size() > 40) got = got.substr(0, 37) + "...";
    return UsageError("{}: \"{}\": expected {}, got {}", source, f.key, expected, got);
  };
  return std::visit(
      [&](auto ref) -> Status {
        auto& member = ref(*opt);
        using T = std::remove_reference_t<decltype(member)>;
        if constexpr (std::is_same_v<T, bool>) {
          if (!v.is_boolean()) return wrong("true or false");
          member = v.get<bool>();
        } else if constexpr (std::is_same_v<T, std::string>) {
          if (!v.is_string()) return wrong("a string");
          member = v.get<std::string>();
        } else if constexpr (std::is_floating_point_v<T>) {
          if (!v.is_number()) return wrong("a number");
          const double d = v.get<double>();
          if (std::fabs(d) > static_cast<double>(std::numeric_limits<T>::max())) return wrong("a number in range");
          member = static_cast<T>(d);
        } else if constexpr (std::is_same_v<T, uint64_t>) {  // the seed: all 64 bits
          if (v.is_number_unsigned()) {
            member = v.get<uint64_t>();
          } else {
            int64_t i = 0;
            if (!AsInteger(v, 0.0, 9007199254740992.0, &i)) return wrong("a whole number, 0 or more");
            member = static_cast<uint64_t>(i);
          }
        } else {
          int64_t i = 0;
          const double lo = static_cast<double>(std::numeric_limits<T>::lowest());
          const double hi = static_cast<double>(std::numeric_limits<T>::max());
          if (!AsInteger(v, lo, hi, &i))
            return wrong(std::is_same_v<T, int> ? "a whole number that fits 32 bits" : "a whole number");
          member = static_cast<T>(i);
        }
        return Status();
      },
      f.ref);
}

// A float member as the short decimal that reads back as the same float
// (0.002, not the double nearest 0.002f, 0.0020000000949949026). The
// table's accessors take a mutable TrainOptions: callers pass one copy for
// all the fields they read.
Json FieldValue(const Field& f, TrainOptions& opt) {
  return std::visit(
      [&](auto ref) -> Json {
        const auto& member = ref(opt);
        using T = std::remove_cvref_t<decltype(member)>;
        if constexpr (std::is_same_v<T, float>) return std::stod(fmt::format("{}", member));
        else return Json(member);
      },
      f.ref);
}

bool PlainWord(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("_./*:+-").find(c) != std::string_view::npos;
  });
}

}  // namespace

const std::vector<std::string>& RunConfigKeys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k;
    for (const Field& f : Fields()) k.push_back(f.key);
    return k;
  }();
  return keys;
}

Status ApplyRunConfig(const std::string& text, const std::string& source,
                      const std::function<bool(const std::string&)>& keep, TrainOptions* opt,
                      std::vector<std::string>* applied) {
  Json j;
  try {
    j = Json::parse(text, nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const Json::parse_error& e) {
    // e.byte is where the parser stopped; its own message repeats the position.
    return UsageError("{}: not valid JSON (at byte {})", source, e.byte);
  } catch (const Json::exception&) {
    // A number beyond a double's range (1e400) is out_of_range, not a parse error.
    return UsageError("{}: not valid JSON (a number too large for a double)", source);
  }
  if (!j.is_object()) return UsageError("{}: a run config is a JSON object of train options, not {}", source, j.type_name());
  // Every key is checked before any is applied: a bad file changes nothing.
  TrainOptions staged = *opt;
  std::vector<std::string> set;
  for (const auto& item : j.items()) {
    // Not a structured binding: clang before 16 cannot capture one in a lambda.
    const std::string& key = item.key();
    const Json& value = item.value();
    const auto& fields = Fields();
    const auto f = std::find_if(fields.begin(), fields.end(), [&](const Field& x) { return key == x.key; });
    if (f == fields.end()) {
      std::string shown = key.size() > 40 ? key.substr(0, 37) + "..." : key;
      return UsageError("{}: unknown option {}{}; the keys are the train flags without their dashes", source,
                        Json(shown).dump(-1, ' ', false, Json::error_handler_t::replace), Suggest(key));
    }
    if (keep && keep(key)) continue;
    CPU_LLM_RETURN_IF_ERROR(SetField(*f, value, source, &staged));
    set.push_back(key);
  }
  *opt = staged;
  if (applied) *applied = std::move(set);
  return Status();
}

Status ReadRunConfig(const std::string& path, const std::function<bool(const std::string&)>& keep,
                     TrainOptions* opt, std::vector<std::string>* applied) {
  uint64_t size = 0;
  CPU_LLM_RETURN_IF_ERROR(StatRegularFile(path, &size));
  if (size > (1u << 20)) return UsageError("{}: {} bytes is too big for a run config (at most 1 MB)", path, size);
  std::vector<uint8_t> bytes;
  CPU_LLM_RETURN_IF_ERROR(ReadFileBytes(path, &bytes));
  return ApplyRunConfig(std::string(bytes.begin(), bytes.end()), path, keep, opt, applied);
}

std::string RunConfigJson(const TrainOptions& opt) {
  Json j = Json::object();
  TrainOptions read = opt;
  for (const Field& f : Fields()) j[f.key] = FieldValue(f, read);
  // Invalid UTF-8 in a path or prompt is kept as U+FFFD rather than refused.
  return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

TrainOptions ResolveRunOptions(const TrainOptions& opt, const ModelConfig& cfg, int64_t prune_vocab, int grad_accum) {
  TrainOptions r = opt;
  if (r.model.empty()) r.model = kDefaultModel;
  r.n_layer = cfg.n_layer;
  r.n_head = cfg.n_head;
  r.n_embd = cfg.n_embd;
  r.max_seq_len = cfg.max_seq_len;
  r.norm = NormName(cfg.norm);
  r.mlp = MlpName(cfg.mlp);
  r.mlp_hidden = MlpHidden(cfg);  // the width itself: a checkpoint stores it, a preset says 0
  r.pos = PosName(cfg.pos);
  r.rope_theta = cfg.rope_theta;
  r.bias = cfg.bias ? "on" : "off";
  r.head = cfg.tied_head ? "tied" : "untied";
  r.prune_vocab = prune_vocab;
  r.grad_accum = grad_accum;
  return r;
}

std::string DescribeRunConfig(const TrainOptions& opt, int width) {
  std::string out, line;  // each item starts with a space; lines get one more
  TrainOptions read = opt;
  for (const Field& f : Fields()) {
    const Json v = FieldValue(f, read);
    std::string value = v.is_string() && PlainWord(v.get<std::string>())
                            ? v.get<std::string>()
                            : v.dump(-1, ' ', false, Json::error_handler_t::replace);
    const std::string item = fmt::format(" {}={}", f.key, value);
    if (!line.empty() && static_cast<int>(line.size() + item.size()) >= width) {
      out += " " + line + "\n";
      line.clear();
    }
    line += item;
  }
  return out + " " + line + "\n";
}

std::string DiffRunConfigs(const std::string& before, const std::string& after) {
  const Json a = Json::parse(before, nullptr, false, true), b = Json::parse(after, nullptr, false, true);
  if (!a.is_object() || !b.is_object()) return "";
  std::string diff;
  for (const auto& [key, value] : b.items()) {
    const auto old = a.find(key);
    if (old != a.end() && *old == value) continue;
    diff += fmt::format("{}{} {} -> {}", diff.empty() ? "" : ", ", key, old == a.end() ? "(unset)" : old->dump(-1, ' ', false, Json::error_handler_t::replace),
                        value.dump(-1, ' ', false, Json::error_handler_t::replace));
  }
  return diff;
}

}  // namespace cpu_llm
