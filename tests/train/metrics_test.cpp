// metrics.jsonl writing, truncation on resume (including a torn last line), reading, SVG rendering.
#include "moai/train/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/train/plot_svg.h"
#include "test_paths.h"

namespace moai::train {
namespace {

MetricsRecord train_record(int64_t step, double loss) {
  MetricsRecord record;
  record.type = "train";
  record.step = step;
  record.loss = loss;
  record.lr = 1e-3 * static_cast<double>(step);
  record.grad_norm = 0.5;
  return record;
}

TEST(Metrics, AppendTruncateOnResumeAndRead) {
  const std::string path = test::temp_dir("metrics_resume") + "/metrics.jsonl";
  {
    MetricsLog log;
    log.open(path, -1);
    for (int step = 1; step <= 6; ++step) log.append(train_record(step, 10.0 - step));
    MetricsRecord eval;
    eval.type = "eval";
    eval.step = 4;
    eval.eval_loss = 2.0;
    eval.eval_ppl = std::exp(2.0);
    log.append(eval);
  }
  std::ofstream(path, std::ios::app) << "{\"type\":\"train\",\"st";  // torn line from a crash
  MetricsLog log;
  log.open(path, 4);  // resumed from checkpoint-4
  log.append(train_record(5, 0.25));
  log.close();
  const auto records = read_metrics(path);
  ASSERT_EQ(records.size(), 6u);  // steps 1-4, eval@4, new 5
  EXPECT_EQ(records[3].step, 4);
  EXPECT_EQ(records[4].type, "eval");
  EXPECT_DOUBLE_EQ(records[4].eval_ppl, std::exp(2.0));
  EXPECT_EQ(records[5].loss, 0.25);
}

TEST(Metrics, NonFiniteValuesStayParseable) {
  MetricsRecord record = train_record(3, NAN);
  const MetricsRecord back = metrics_record_from_json(metrics_record_to_json(record), "t");
  EXPECT_TRUE(std::isnan(back.loss));
  EXPECT_THROW(metrics_record_from_json("{\"step\":1}", "f:1"), InputError);
}

TEST(Plot, NiceTicks) {
  EXPECT_EQ(nice_ticks(0, 100, 5), (std::vector<double>{0, 20, 40, 60, 80, 100}));
  const std::vector<double> ticks = nice_ticks(2.1, 2.9, 4);
  const std::vector<double> expected = {2.2, 2.4, 2.6, 2.8};
  ASSERT_EQ(ticks.size(), expected.size());
  for (size_t i = 0; i < ticks.size(); ++i) EXPECT_NEAR(ticks[i], expected[i], 1e-12);
}

TEST(Plot, SvgHasBothCurves) {
  std::vector<MetricsRecord> records;
  for (int step = 1; step <= 20; ++step) records.push_back(train_record(step, 5.0 / step));
  MetricsRecord eval;
  eval.type = "eval";
  eval.step = 10;
  eval.eval_loss = 0.6;
  records.push_back(eval);
  const std::string svg = render_training_svg(records, {});
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_EQ(std::count(svg.begin(), svg.end(), '\n') > 10, true);
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
  EXPECT_NE(svg.find("<circle"), std::string::npos);
  EXPECT_THROW(render_training_svg({}, {}), InputError);
  EXPECT_EQ(svg.find("benchmark score"), std::string::npos);
}

TEST(Plot, EvalTaskScoresGetAPanel) {
  std::vector<MetricsRecord> records;
  for (int step = 1; step <= 4; ++step) records.push_back(train_record(step, 2.0));
  for (int step : {2, 4}) {
    MetricsRecord eval;
    eval.type = "eval";
    eval.step = step;
    eval.eval_loss = 1.5;
    eval.task_metrics = {{"hellaswag/acc", 0.25 * step}, {"wikitext/word_perplexity", 30.0}};
    records.push_back(eval);
  }
  const std::string svg = render_training_svg(records, {});
  EXPECT_NE(svg.find("benchmark score"), std::string::npos);
  EXPECT_NE(svg.find(">hellaswag/acc<"), std::string::npos);
  EXPECT_EQ(svg.find("word_perplexity"), std::string::npos);  // not a [0, 1] score
  // The eval line round-trips through metrics.jsonl with its task keys.
  const MetricsRecord back = metrics_record_from_json(metrics_record_to_json(records.back()), "x");
  ASSERT_EQ(back.task_metrics.size(), 2u);
  EXPECT_EQ(back.task_metrics[0].first, "hellaswag/acc");
  EXPECT_DOUBLE_EQ(back.task_metrics[0].second, 1.0);
}

}  // namespace
}  // namespace moai::train
