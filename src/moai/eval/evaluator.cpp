#include "moai/eval/evaluator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <set>

#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/eval/sample_hash.h"
#include "moai/eval/text_util.h"
#include "moai/tokenizer/chat_template.h"

namespace moai::eval {

namespace {

constexpr const char* kFewshotDelimiter = "\n\n";

// One document's per-request outputs and metric values.
struct DocScore {
  std::vector<LoglikelihoodResult> results;
  int pred = 0;
  int pred_norm = 0;
  double loglikelihood = 0.0;  // rolling
};

int argmax(const std::vector<double>& v) {
  int best = 0;
  for (int i = 1; i < int(v.size()); ++i)
    if (v[size_t(i)] > v[size_t(best)]) best = i;
  return best;
}

double mean(const std::vector<double>& v) {
  double s = 0.0;
  for (double x : v) s += x;
  return s / double(v.size());
}

// metrics.py mean_stderr: sample standard deviation / sqrt(n); "N/A" for fewer than 2 items.
std::optional<double> mean_stderr(const std::vector<double>& v) {
  if (v.size() < 2) return std::nullopt;
  const double mu = mean(v);
  double ss = 0.0;
  for (double x : v) ss += (x - mu) * (x - mu);
  return std::sqrt(ss / double(v.size() - 1)) / std::sqrt(double(v.size()));
}

// sklearn f1_score(golds, preds, average="macro") over the labels present in either list.
double macro_f1(const std::vector<int>& golds, const std::vector<int>& preds) {
  std::set<int> labels(golds.begin(), golds.end());
  labels.insert(preds.begin(), preds.end());
  double sum = 0.0;
  for (int label : labels) {
    double tp = 0, fp = 0, fn = 0;
    for (size_t i = 0; i < golds.size(); ++i) {
      if (preds[i] == label && golds[i] == label) tp += 1;
      if (preds[i] == label && golds[i] != label) fp += 1;
      if (preds[i] != label && golds[i] == label) fn += 1;
    }
    const double denom = 2 * tp + fp + fn;
    sum += denom > 0 ? 2 * tp / denom : 0.0;
  }
  return labels.empty() ? 0.0 : sum / double(labels.size());
}

// One line of samples_<task>.jsonl, keys in lm-eval's order (evaluator.py evaluate).
nlohmann::ordered_json sample_record(
    const TaskSpec& task, int64_t doc_id, const Doc& doc,
    const std::vector<std::pair<std::string, std::string>>& arguments, const DocScore& score) {
  nlohmann::ordered_json j;
  j["doc_id"] = doc_id;
  j["doc"] = doc.raw;
  if (task.format == "hellaswag" || task.format == "kobest_hellaswag") {
    // the fields the harness's process_docs adds to these documents
    j["doc"]["query"] = doc.text;
    j["doc"]["choices"] = doc.choices;
    j["doc"]["gold"] = doc.gold;
  }
  const bool choices = task.output_type == OutputType::kMultipleChoice;
  j["target"] = choices ? nlohmann::ordered_json(doc.gold) : nlohmann::ordered_json(doc.target);
  nlohmann::ordered_json resps = nlohmann::ordered_json::array();
  nlohmann::ordered_json filtered = nlohmann::ordered_json::array();
  nlohmann::ordered_json args = nlohmann::ordered_json::array();
  for (size_t i = 0; i < arguments.size(); ++i) {
    if (choices) {
      args.push_back({arguments[i].first, arguments[i].second});
      const nlohmann::ordered_json r = {score.results[i].logprob, score.results[i].is_greedy};
      resps.push_back(nlohmann::ordered_json::array({r}));
      filtered.push_back(r);
    } else {
      args.push_back(nlohmann::ordered_json::array({arguments[i].second}));
      resps.push_back(nlohmann::ordered_json::array({score.loglikelihood}));
      filtered.push_back(score.loglikelihood);
    }
  }
  j["arguments"] = args;
  j["resps"] = resps;
  j["filtered_resps"] = filtered;
  j["filter"] = "none";
  j["metrics"] = task.metrics;
  j["doc_hash"] = sha256_hex(python_json_dumps(j["doc"], 2));
  j["prompt_hash"] = sha256_hex(j["arguments"][0][0].get<std::string>());
  j["target_hash"] = sha256_hex(python_str(j["target"]));
  for (const std::string& m : task.metrics) {
    if (m == "acc") j[m] = score.pred == doc.gold ? 1.0 : 0.0;
    if (m == "acc_norm") j[m] = score.pred_norm == doc.gold ? 1.0 : 0.0;
    if (m == "f1") j[m] = {doc.gold, score.pred};
    if (m == "word_perplexity") j[m] = {score.loglikelihood, doc.words};
    if (m == "byte_perplexity" || m == "bits_per_byte") j[m] = {score.loglikelihood, doc.bytes};
  }
  return j;
}

// Per-document values collected for aggregation.
struct Collected {
  std::vector<double> acc, acc_norm, ll;
  std::vector<int> golds, preds;
  std::vector<int64_t> words, bytes;
};

void finish_metrics(TaskResult& result, const Collected& c) {
  for (const std::string& m : result.spec.metrics) {
    MetricValue v;
    if (m == "acc") {
      v.value = mean(c.acc);
      v.stderr_value = mean_stderr(c.acc);
    } else if (m == "acc_norm") {
      v.value = mean(c.acc_norm);
      v.stderr_value = mean_stderr(c.acc_norm);
    } else if (m == "f1") {
      v.value = macro_f1(c.golds, c.preds);
    } else {
      double ll = 0.0, words = 0.0, bytes = 0.0;
      for (size_t i = 0; i < c.ll.size(); ++i) {
        ll += c.ll[i];
        words += double(c.words[i]);
        bytes += double(c.bytes[i]);
      }
      if (m == "word_perplexity") v.value = std::exp(-ll / words);
      if (m == "byte_perplexity") v.value = std::exp(-ll / bytes);
      if (m == "bits_per_byte") v.value = -ll / bytes / std::log(2.0);
    }
    result.metrics[m] = v;
  }
}

// This rank's documents scored, the others' results summed in from the other ranks.
std::vector<LoglikelihoodResult> score_share(Scorer& scorer,
                                             const std::vector<TokenRequest>& requests,
                                             const std::vector<std::vector<size_t>>& doc_requests,
                                             size_t first_doc, const EvalOptions& options) {
  if (options.world_size <= 1) return scorer.loglikelihood(requests);
  std::vector<TokenRequest> mine;
  std::vector<size_t> where;
  for (size_t d = 0; d < doc_requests.size(); ++d) {
    if (int64_t(first_doc + d) % options.world_size != options.rank) continue;
    for (size_t r : doc_requests[d]) {
      mine.push_back(requests[r]);
      where.push_back(r);
    }
  }
  const std::vector<LoglikelihoodResult> got = scorer.loglikelihood(mine);
  std::vector<double> packed(requests.size() * 2, 0.0);  // [logprob, is_greedy] per request
  for (size_t i = 0; i < got.size(); ++i) {
    packed[where[i] * 2] = got[i].logprob;
    packed[where[i] * 2 + 1] = got[i].is_greedy ? 1.0 : 0.0;
  }
  options.allreduce_sum(packed);
  std::vector<LoglikelihoodResult> out(requests.size());
  for (size_t r = 0; r < requests.size(); ++r) out[r] = {packed[r * 2], packed[r * 2 + 1] > 0.5};
  return out;
}

TaskResult evaluate_task(Scorer& scorer, const tok::Tokenizer& tokenizer, const TaskSpec& task,
                         const DatasetSource& source, const EvalOptions& options) {
  TaskResult result;
  result.spec = task;
  result.num_fewshot = options.num_fewshot;
  const std::vector<Doc> docs = load_docs(source, task, task.eval_split, options.limit);
  std::vector<Doc> fewshot;
  const bool rolling = task.output_type == OutputType::kLoglikelihoodRolling;
  if (options.num_fewshot > 0 && !rolling) fewshot = load_docs(source, task, task.fewshot_split);
  ContextBuilder contexts(task, &fewshot, rolling ? 0 : options.num_fewshot, options.fewshot_seed,
                          options.apply_chat_template);
  const int32_t prefix = prefix_token_id(tokenizer);
  Collected c;
  for (size_t begin = 0; begin < docs.size(); begin += size_t(options.docs_per_chunk)) {
    const size_t end = std::min(docs.size(), begin + size_t(options.docs_per_chunk));
    std::vector<TokenRequest> requests;
    std::vector<std::vector<std::pair<std::string, std::string>>> arguments(end - begin);
    std::vector<std::vector<size_t>> doc_requests(end - begin);
    for (size_t d = begin; d < end; ++d) {
      const Doc& doc = docs[d];
      if (rolling) {
        const std::vector<tok::TokenId> ids = tokenizer.encode(doc.target);
        const std::vector<int32_t> tokens(ids.begin(), ids.end());
        for (TokenRequest& w : rolling_windows(tokens, prefix, scorer.max_length())) {
          doc_requests[d - begin].push_back(requests.size());
          requests.push_back(std::move(w));
        }
        arguments[d - begin].push_back({"", doc.target});
        continue;
      }
      const std::string ctx = contexts.build(doc);
      for (const std::string& choice : doc.choices) {
        const std::string cont = contexts.target_delimiter() + choice;
        doc_requests[d - begin].push_back(requests.size());
        requests.push_back(encode_pair(tokenizer, ctx, cont, prefix));
        arguments[d - begin].push_back({ctx, cont});
      }
    }
    const std::vector<LoglikelihoodResult> lls =
        score_share(scorer, requests, doc_requests, begin, options);
    for (size_t d = begin; d < end; ++d) {
      const Doc& doc = docs[d];
      DocScore score;
      std::vector<double> ll, ll_norm;
      for (size_t r : doc_requests[d - begin]) {
        score.results.push_back(lls[r]);
        score.loglikelihood += lls[r].logprob;
      }
      if (!rolling) {
        for (size_t i = 0; i < doc.choices.size(); ++i) {
          ll.push_back(score.results[i].logprob);
          ll_norm.push_back(score.results[i].logprob / double(py_len(doc.choices[i])));
        }
        score.pred = argmax(ll);
        score.pred_norm = argmax(ll_norm);
        c.acc.push_back(score.pred == doc.gold ? 1.0 : 0.0);
        c.acc_norm.push_back(score.pred_norm == doc.gold ? 1.0 : 0.0);
        c.golds.push_back(doc.gold);
        c.preds.push_back(score.pred);
      } else {
        c.ll.push_back(score.loglikelihood);
        c.words.push_back(doc.words);
        c.bytes.push_back(doc.bytes);
      }
      if (options.log_samples)
        result.sample_records.push_back(
            sample_record(task, int64_t(d), doc, arguments[d - begin], score));
    }
  }
  result.samples = int64_t(docs.size());
  finish_metrics(result, c);
  return result;
}

std::string metric_cell(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

nlohmann::json metric_entries(const std::string& alias,
                              const std::map<std::string, MetricValue>& metrics) {
  nlohmann::json j;
  j["alias"] = alias;
  for (const auto& [name, v] : metrics) {
    j[name + ",none"] = v.value;
    if (v.stderr_value) {
      j[name + "_stderr,none"] = *v.stderr_value;
    } else {
      j[name + "_stderr,none"] = "N/A";
    }
  }
  return j;
}

std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
      1000000;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d-%02d-%02d.%06lld", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(us));
  return buf;
}

}  // namespace

ContextBuilder::ContextBuilder(const TaskSpec& task, const std::vector<Doc>* fewshot,
                               int num_fewshot, uint64_t seed, bool apply_chat_template)
    : task_(task),
      fewshot_(fewshot),
      num_fewshot_(num_fewshot),
      chat_(apply_chat_template),
      rnd_(seed) {
  if (chat_) delimiter_ = "";
}

std::string ContextBuilder::build(const Doc& doc) {
  std::string examples;
  if (num_fewshot_ > 0) {
    const size_t draw = size_t(num_fewshot_) + (task_.extra_fewshot_draw ? 1 : 0);
    std::vector<size_t> picked;
    if (task_.sampler == SamplerKind::kFirstN) {
      if (draw > fewshot_->size())
        throw_input_error(task_.name, "asked for " + std::to_string(draw) +
                                          " few-shot examples; the " + task_.fewshot_split +
                                          " split has " + std::to_string(fewshot_->size()));
      for (size_t i = 0; i < draw; ++i) picked.push_back(i);
    } else {
      picked = rnd_.sample(fewshot_->size(), draw);
    }
    int used = 0;
    for (size_t idx : picked) {
      const Doc& ex = (*fewshot_)[idx];
      if (ex.raw == doc.raw) continue;  // the evaluated document itself
      if (used == num_fewshot_) break;
      ++used;
      examples += ex.text + " " + ex.choices[size_t(ex.gold)] + kFewshotDelimiter;
    }
  }
  if (!chat_) return task_.description + examples + doc.text;
  std::vector<tok::ChatMessage> messages;
  if (!task_.description.empty()) messages.push_back({"system", task_.description, ""});
  messages.push_back({"user", examples + doc.text, ""});
  return tok::render_chatml(messages, true);
}

GroupResult aggregate_group(const GroupSpec& group, const std::vector<std::string>& leaves,
                            const std::vector<TaskResult>& tasks) {
  GroupResult g;
  g.spec = group;
  g.leaves = leaves;
  for (const std::string& metric : group.metrics) {
    double weighted = 0.0, size_sum = 0.0, pooled = 0.0;
    bool any = false, has_stderr = true;
    int64_t members = 0;
    for (const TaskResult& t : tasks) {
      if (std::find(leaves.begin(), leaves.end(), t.spec.name) == leaves.end()) continue;
      auto it = t.metrics.find(metric);
      if (it == t.metrics.end()) continue;
      any = true;
      const double size = double(t.samples);
      weighted += it->second.value * size;
      size_sum += size;
      ++members;
      if (!it->second.stderr_value) {
        has_stderr = false;
      } else {
        pooled += (size - 1) * (*it->second.stderr_value) * (*it->second.stderr_value) * size;
      }
    }
    if (!any) continue;
    MetricValue v;
    v.value = weighted / size_sum;
    // metrics.py pooled_sample_stderr
    if (has_stderr) v.stderr_value = std::sqrt(pooled / (size_sum - double(members)) / size_sum);
    g.metrics[metric] = v;
  }
  for (const TaskResult& t : tasks)
    if (std::find(leaves.begin(), leaves.end(), t.spec.name) != leaves.end())
      g.samples += t.samples;
  return g;
}

EvalResults evaluate(Scorer& scorer, const tok::Tokenizer& tokenizer,
                     const std::vector<std::string>& requested, const DatasetSource& source,
                     const EvalOptions& options) {
  EvalResults results;
  for (const std::string& name : expand_tasks(requested))
    results.tasks.push_back(evaluate_task(scorer, tokenizer, find_task(name), source, options));
  for (const GroupSpec& group : groups_for(requested))
    results.groups.push_back(aggregate_group(group, expand_tasks({group.name}), results.tasks));
  return results;
}

std::string format_table(const EvalResults& results) {
  std::string out = "|Tasks|Version|n-shot|Metric|Value|Stderr|\n|---|---|---|---|---|---|\n";
  auto rows = [&](const std::string& name, const std::string& version, const std::string& shots,
                  const std::map<std::string, MetricValue>& metrics) {
    for (const auto& [metric, v] : metrics) {
      out += "|" + name + "|" + version + "|" + shots + "|" + metric + "|" + metric_cell(v.value) +
             "|" + (v.stderr_value ? metric_cell(*v.stderr_value) : std::string("N/A")) + "|\n";
    }
  };
  char version[16];
  for (const TaskResult& t : results.tasks) {
    std::snprintf(version, sizeof version, "%g", t.spec.version);
    rows(t.spec.name, version, std::to_string(t.num_fewshot), t.metrics);
  }
  for (const GroupResult& g : results.groups) {
    std::snprintf(version, sizeof version, "%g", g.spec.version);
    rows(g.spec.name, version, "", g.metrics);
  }
  return out;
}

nlohmann::json results_json(const EvalResults& results, const nlohmann::json& config) {
  nlohmann::json j;
  nlohmann::json res = nlohmann::json::object(), groups = nlohmann::json::object();
  nlohmann::json configs = nlohmann::json::object(), versions = nlohmann::json::object();
  nlohmann::json nshot = nlohmann::json::object(), nsamples = nlohmann::json::object();
  nlohmann::json subtasks = nlohmann::json::object(), better = nlohmann::json::object();
  for (const TaskResult& t : results.tasks) {
    res[t.spec.name] = metric_entries(t.spec.name, t.metrics);
    versions[t.spec.name] = t.spec.version;
    nshot[t.spec.name] = t.num_fewshot;
    nsamples[t.spec.name] = nlohmann::json{{"original", t.samples}, {"effective", t.samples}};
    nlohmann::json hib = nlohmann::json::object();
    for (const std::string& m : t.spec.metrics)
      hib[m] = !(m == "word_perplexity" || m == "byte_perplexity" || m == "bits_per_byte");
    better[t.spec.name] = hib;
    configs[t.spec.name] = nlohmann::json{
        {"task", t.spec.name},
        {"dataset_path", t.spec.dataset_path},
        {"dataset_name",
         t.spec.dataset_name.empty() ? nlohmann::json() : nlohmann::json(t.spec.dataset_name)},
        {"test_split", t.spec.eval_split},
        {"fewshot_split", t.spec.fewshot_split},
        {"output_type", t.spec.output_type == OutputType::kMultipleChoice
                            ? "multiple_choice"
                            : "loglikelihood_rolling"},
        {"description", t.spec.description},
        {"target_delimiter", " "},
        {"fewshot_delimiter", kFewshotDelimiter},
        {"num_fewshot", t.num_fewshot},
        {"fewshot_config",
         {{"sampler", t.spec.sampler == SamplerKind::kFirstN ? "first_n" : "default"}}},
        {"metric_list", t.spec.metrics},
        {"metadata", {{"version", t.spec.version}}}};
  }
  for (const GroupResult& g : results.groups) {
    res[g.spec.name] = metric_entries(g.spec.name, g.metrics);
    groups[g.spec.name] = metric_entries(g.spec.name, g.metrics);
    versions[g.spec.name] = g.spec.version;
    subtasks[g.spec.name] = g.spec.members;
  }
  j["results"] = res;
  if (!results.groups.empty()) j["groups"] = groups;
  j["group_subtasks"] = subtasks;
  j["configs"] = configs;
  j["versions"] = versions;
  j["n-shot"] = nshot;
  j["higher_is_better"] = better;
  j["n-samples"] = nsamples;
  j["config"] = config;
  return j;
}

std::string write_outputs(const std::string& dir, const EvalResults& results,
                          const nlohmann::json& config, bool log_samples) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw_io_error(dir, "cannot create the output directory: " + ec.message());
  const std::string stamp = timestamp();
  std::string path = dir + "/results_" + stamp + ".json";
  write_file_atomic(path, results_json(results, config).dump(2) + "\n");
  if (log_samples) {
    for (const TaskResult& t : results.tasks) {
      std::string lines;
      for (const nlohmann::ordered_json& s : t.sample_records) lines += s.dump() + "\n";
      write_file_atomic(dir + "/samples_" + t.spec.name + "_" + stamp + ".jsonl", lines);
    }
  }
  return path;
}

}  // namespace moai::eval
