#include "moai/train/metrics.h"

#include <unistd.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "moai/core/error.h"
#include "moai/core/file_util.h"

namespace moai::train {
namespace {

// JSON has no NaN/Inf: write null, so a diverged value is visible but the line still parses.
nlohmann::ordered_json number(double value) {
  if (!std::isfinite(value)) return nullptr;
  return value;
}

double read_number(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nan("");
  return it->get<double>();
}

}  // namespace

std::string metrics_record_to_json(const MetricsRecord& record) {
  nlohmann::ordered_json out;
  out["type"] = record.type;
  out["step"] = record.step;
  if (record.type == "train") {
    out["loss"] = number(record.loss);
    out["lr"] = number(record.lr);
    out["grad_norm"] = number(record.grad_norm);
    out["tokens"] = record.tokens;
    out["tokens_per_s"] = number(record.tokens_per_s);
    out["elapsed_s"] = number(record.elapsed_s);
    out["epoch"] = number(record.epoch);
    if (record.mfu >= 0) out["mfu"] = number(record.mfu);
  } else if (record.type == "eval") {
    out["eval_loss"] = number(record.eval_loss);
    out["eval_ppl"] = number(record.eval_ppl);
    out["eval_tokens"] = record.eval_tokens;
    for (const auto& [name, value] : record.task_metrics) out[name] = number(value);
  } else {
    out["reason"] = record.reason;
  }
  return out.dump();
}

MetricsRecord metrics_record_from_json(const std::string& line, const std::string& where) {
  MetricsRecord record;
  try {
    const nlohmann::json in = nlohmann::json::parse(line);
    record.type = in.at("type").get<std::string>();
    record.step = in.at("step").get<int64_t>();
    if (record.type == "train") {
      record.loss = read_number(in, "loss");
      record.lr = read_number(in, "lr");
      record.grad_norm = read_number(in, "grad_norm");
      record.tokens = in.value("tokens", int64_t{0});
      record.tokens_per_s = read_number(in, "tokens_per_s");
      record.elapsed_s = read_number(in, "elapsed_s");
      record.epoch = read_number(in, "epoch");
      if (in.contains("mfu")) record.mfu = read_number(in, "mfu");
    } else if (record.type == "eval") {
      record.eval_loss = read_number(in, "eval_loss");
      record.eval_ppl = read_number(in, "eval_ppl");
      record.eval_tokens = in.value("eval_tokens", int64_t{0});
      for (const auto& [key, value] : in.items())
        if (key.find('/') != std::string::npos)
          record.task_metrics.push_back({key, read_number(in, key.c_str())});
    } else {
      record.reason = in.value("reason", std::string());
    }
  } catch (const nlohmann::json::exception& e) {
    throw_input_error(where, std::string("not a metrics record: ") + e.what());
  }
  return record;
}

MetricsLog::~MetricsLog() {
  close();
}

void MetricsLog::open(const std::string& path, int64_t keep_through_step) {
  close();
  path_ = path;
  if (keep_through_step >= 0 && file_exists(path)) {
    std::istringstream lines(read_file(path));
    std::string kept, line;
    long long line_number = 0;
    while (std::getline(lines, line)) {
      ++line_number;
      if (line.empty()) continue;
      // A torn last line (crash mid-write) is dropped; any other bad line is an error.
      MetricsRecord record;
      try {
        record = metrics_record_from_json(line, file_line(path, line_number));
      } catch (const InputError&) {
        if (lines.peek() == EOF) break;
        throw;
      }
      if (record.step <= keep_through_step) kept += line + "\n";
    }
    write_file_atomic(path, kept);
  }
  file_ = std::fopen(path.c_str(), "a");
  if (!file_) throw_io_error(path, "cannot open for appending");
}

void MetricsLog::append(const MetricsRecord& record) {
  if (!file_) return;
  const std::string line = metrics_record_to_json(record) + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0)
    throw_io_error(path_, "write failed");
}

void MetricsLog::close() {
  if (file_) {
    std::fflush(file_);
    ::fsync(fileno(file_));
    std::fclose(file_);
    file_ = nullptr;
  }
}

std::vector<MetricsRecord> read_metrics(const std::string& path) {
  std::istringstream lines(read_file(path));
  std::vector<MetricsRecord> records;
  std::string line;
  long long line_number = 0;
  while (std::getline(lines, line)) {
    ++line_number;
    if (line.empty()) continue;
    records.push_back(metrics_record_from_json(line, file_line(path, line_number)));
  }
  return records;
}

}  // namespace moai::train
