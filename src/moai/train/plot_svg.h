#pragma once
// Renders training curves from metrics.jsonl records as a standalone SVG (no dependency: SVG is
// text): top panel train loss (line) and eval loss (dots), then learning rate, then (when the eval
// lines carry --eval_tasks scores) the "<task>/<metric>" scores in [0, 1], all against step, with
// labelled axes and "nice" tick values.
#include <string>
#include <vector>

#include "moai/train/metrics.h"

namespace moai::train {

struct PlotOptions {
  int width = 900;
  int panel_height = 300;
  std::string title;
  bool log_loss = false;  // log-scale loss axis
};

// InputError when there is no train record to plot.
std::string render_training_svg(const std::vector<MetricsRecord>& records,
                                const PlotOptions& options);

// "1, 2, 5 x 10^k" ticks covering [low, high], about `target` of them.
std::vector<double> nice_ticks(double low, double high, int target);

}  // namespace moai::train
