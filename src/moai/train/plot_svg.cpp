#include "moai/train/plot_svg.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "moai/core/error.h"

namespace moai::train {

std::vector<double> nice_ticks(double low, double high, int target) {
  if (!(high > low)) return {low};
  const double raw = (high - low) / std::max(1, target);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double factor : {1.0, 2.0, 5.0, 10.0}) {
    step = factor * magnitude;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  for (double tick = std::ceil(low / step) * step; tick <= high + step * 1e-9; tick += step)
    ticks.push_back(std::abs(tick) < step * 1e-9 ? 0.0 : tick);
  return ticks;
}

namespace {

struct Series {
  std::vector<double> x, y;
};

std::string format_tick(double value) {
  std::ostringstream out;
  out.precision(3);
  out << value;
  return out.str();
}

// One panel: frame, ticks, gridlines, and each series as a polyline (or dots).
class Panel {
 public:
  Panel(std::ostringstream& svg, double top, const PlotOptions& options, double x_max, double y_min,
        double y_max, bool log_y)
      : svg_(svg), top_(top), options_(options), x_max_(x_max), log_y_(log_y) {
    y_min_ = log_y ? std::log10(y_min) : y_min;
    y_max_ = log_y ? std::log10(y_max) : y_max;
    if (!(y_max_ > y_min_)) {
      y_min_ -= 0.5;
      y_max_ += 0.5;
    }
  }

  double px(double x) const { return kLeft + (x / x_max_) * (options_.width - kLeft - kRight); }
  double py(double y) const {
    const double v = log_y_ ? std::log10(y) : y;
    return top_ + kTop +
           (1.0 - (v - y_min_) / (y_max_ - y_min_)) * (options_.panel_height - kTop - kBottom);
  }

  void frame(const std::string& y_label) {
    const double bottom = top_ + options_.panel_height - kBottom;
    svg_ << "<rect x='" << kLeft << "' y='" << top_ + kTop << "' width='"
         << options_.width - kLeft - kRight << "' height='"
         << options_.panel_height - kTop - kBottom << "' fill='white' stroke='#444'/>\n";
    for (double tick : nice_ticks(0, x_max_, 8)) {
      svg_ << "<line x1='" << px(tick) << "' x2='" << px(tick) << "' y1='" << top_ + kTop
           << "' y2='" << bottom << "' stroke='#eee'/><text x='" << px(tick) << "' y='"
           << bottom + 16 << "' text-anchor='middle'>" << format_tick(tick) << "</text>\n";
    }
    std::vector<double> y_ticks = nice_ticks(y_min_, y_max_, 6);
    for (double tick : y_ticks) {
      const double value = log_y_ ? std::pow(10.0, tick) : tick;
      svg_ << "<line x1='" << kLeft << "' x2='" << options_.width - kRight << "' y1='" << py(value)
           << "' y2='" << py(value) << "' stroke='#eee'/><text x='" << kLeft - 6 << "' y='"
           << py(value) + 4 << "' text-anchor='end'>" << format_tick(value) << "</text>\n";
    }
    svg_ << "<text x='16' y='" << top_ + options_.panel_height / 2.0
         << "' transform='rotate(-90 16 " << top_ + options_.panel_height / 2.0
         << ")' text-anchor='middle'>" << y_label << "</text>\n";
    svg_ << "<text x='" << options_.width / 2.0 << "' y='" << bottom + 34
         << "' text-anchor='middle'>step</text>\n";
  }

  void line(const Series& series, const std::string& color) {
    if (series.x.empty()) return;
    svg_ << "<polyline fill='none' stroke='" << color << "' stroke-width='1.5' points='";
    for (size_t i = 0; i < series.x.size(); ++i)
      svg_ << px(series.x[i]) << "," << py(series.y[i]) << " ";
    svg_ << "'/>\n";
  }

  void dots(const Series& series, const std::string& color) {
    for (size_t i = 0; i < series.x.size(); ++i)
      svg_ << "<circle cx='" << px(series.x[i]) << "' cy='" << py(series.y[i]) << "' r='3.5' fill='"
           << color << "'/>\n";
  }

  static constexpr double kLeft = 80, kRight = 20, kTop = 30, kBottom = 45;

 private:
  std::ostringstream& svg_;
  double top_;
  const PlotOptions& options_;
  double x_max_;
  double y_min_, y_max_;
  bool log_y_;
};

}  // namespace

std::string render_training_svg(const std::vector<MetricsRecord>& records,
                                const PlotOptions& options) {
  Series train_loss, eval_loss, lr;
  // --eval_tasks scores in [0, 1] (acc, acc_norm, f1), one series per "<task>/<metric>" key.
  std::map<std::string, Series> scores;
  for (const MetricsRecord& record : records) {
    const double step = static_cast<double>(record.step);
    for (const auto& [name, value] : record.task_metrics)
      if (std::isfinite(value) && value >= 0.0 && value <= 1.0)
        scores[name].x.push_back(step), scores[name].y.push_back(value);
    if (record.type == "train") {
      if (std::isfinite(record.loss))
        train_loss.x.push_back(step), train_loss.y.push_back(record.loss);
      if (std::isfinite(record.lr)) lr.x.push_back(step), lr.y.push_back(record.lr);
    } else if (record.type == "eval" && std::isfinite(record.eval_loss)) {
      eval_loss.x.push_back(step), eval_loss.y.push_back(record.eval_loss);
    }
  }
  if (train_loss.x.empty() && eval_loss.x.empty())
    throw_input_error("metrics", "no train or eval records with a finite loss to plot");

  double x_max = 1, loss_min = INFINITY, loss_max = -INFINITY, lr_max = 0;
  for (const Series* series : {&train_loss, &eval_loss}) {
    for (size_t i = 0; i < series->x.size(); ++i) {
      x_max = std::max(x_max, series->x[i]);
      loss_min = std::min(loss_min, series->y[i]);
      loss_max = std::max(loss_max, series->y[i]);
    }
  }
  for (size_t i = 0; i < lr.x.size(); ++i)
    x_max = std::max(x_max, lr.x[i]), lr_max = std::max(lr_max, lr.y[i]);
  const bool log_loss = options.log_loss && loss_min > 0;

  std::ostringstream svg;
  const int panels = scores.empty() ? 2 : 3;
  const int height = panels * options.panel_height + 40;
  svg << "<?xml version='1.0' encoding='UTF-8'?>\n<svg xmlns='http://www.w3.org/2000/svg' width='"
      << options.width << "' height='" << height << "' font-family='sans-serif' font-size='12'>\n"
      << "<rect width='100%' height='100%' fill='#fafafa'/>\n";
  svg << "<text x='" << options.width / 2.0 << "' y='22' text-anchor='middle' font-size='15'>"
      << (options.title.empty() ? "moai training" : options.title) << "</text>\n";

  Panel loss_panel(svg, 20, options, x_max, loss_min, loss_max, log_loss);
  loss_panel.frame(log_loss ? "loss (log)" : "loss");
  loss_panel.line(train_loss, "#1f77b4");
  loss_panel.dots(eval_loss, "#ff7f0e");
  svg << "<text x='" << options.width - 200 << "' y='44' fill='#1f77b4'>train loss</text><text x='"
      << options.width - 110 << "' y='44' fill='#ff7f0e'>eval loss</text>\n";

  Panel lr_panel(svg, 20 + options.panel_height, options, x_max, 0, lr_max > 0 ? lr_max : 1, false);
  lr_panel.frame("learning rate");
  lr_panel.line(lr, "#2ca02c");
  if (!scores.empty()) {
    static const char* kColors[] = {"#d62728", "#9467bd", "#8c564b",
                                    "#e377c2", "#17becf", "#bcbd22"};
    const double top = 20 + 2.0 * options.panel_height;
    Panel score_panel(svg, top, options, x_max, 0, 1, false);
    score_panel.frame("benchmark score");
    int index = 0;
    for (const auto& [name, series] : scores) {
      const std::string color = kColors[index % 6];
      score_panel.line(series, color);
      score_panel.dots(series, color);
      svg << "<text x='" << options.width - 200 << "' y='" << top + 24 + 14 * index << "' fill='"
          << color << "'>" << name << "</text>\n";
      ++index;
    }
  }
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace moai::train
