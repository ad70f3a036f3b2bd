#pragma once
// output_dir/metrics.jsonl: one JSON object per line, appended and flushed as training goes, so a
// crash loses at most the line being written. Kinds:
//   {"type":"train","step":S,"loss":..,"lr":..,"grad_norm":..,"tokens":..,"tokens_per_s":..,
//    "elapsed_s":..,"epoch":..}                          (loss = mean over the steps since the last
//    line)
//   {"type":"eval","step":S,"eval_loss":..,"eval_ppl":..,"eval_tokens":..[,"<task>/<metric>":..]}
//   {"type":"skip","step":S,"reason":"non-finite loss"}  (a step whose update was skipped)
// A resumed run first drops the lines past its checkpoint's step, so the file reads as one run.
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace moai::train {

struct MetricsRecord {
  std::string type;  // train | eval | skip
  int64_t step = 0;
  double loss = 0, lr = 0, grad_norm = 0, tokens_per_s = 0, elapsed_s = 0, epoch = 0, mfu = -1;
  int64_t tokens = 0;
  double eval_loss = 0, eval_ppl = 0;
  int64_t eval_tokens = 0;
  std::vector<std::pair<std::string, double>> task_metrics;  // eval: "<task>/<metric>", value
  std::string reason;
};

std::string metrics_record_to_json(const MetricsRecord& record);
// InputError naming where (file:line) when the line is not a metrics record.
MetricsRecord metrics_record_from_json(const std::string& line, const std::string& where);

class MetricsLog {
 public:
  MetricsLog() = default;
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  // Opens path for appending; with keep_through_step >= 0, first rewrites it (atomically) keeping
  // only lines whose step <= keep_through_step.
  void open(const std::string& path, int64_t keep_through_step);
  void append(const MetricsRecord& record);
  void close();
  bool is_open() const { return file_ != nullptr; }

 private:
  std::FILE* file_ = nullptr;
  std::string path_;
};

// Reads every record of a metrics.jsonl file.
std::vector<MetricsRecord> read_metrics(const std::string& path);

}  // namespace moai::train
