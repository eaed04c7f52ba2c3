#include "core/svg_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace cpu_llm {
namespace {

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void Add(double v) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
};

// Values beyond this are left out like non-finite ones: any two plottable
// values then differ by a finite amount, so the axis maths cannot overflow.
constexpr double kMaxPlottable = 1e300;

bool Plottable(double x, double y) {
  return std::isfinite(x) && std::isfinite(y) && std::fabs(x) <= kMaxPlottable && std::fabs(y) <= kMaxPlottable;
}

std::string Dash(const PlotSeries& s) {
  return s.dash.empty() ? "" : " stroke-dasharray=\"" + XmlEscape(s.dash) + "\"";
}

// Room around the plot area for the title, tick labels and axis titles.
constexpr double kLeft = 72, kRight = 24, kTop = 44, kBottom = 56;

}  // namespace

std::vector<double> NiceTicks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  lo = std::clamp(lo, -kMaxPlottable, kMaxPlottable), hi = std::clamp(hi, -kMaxPlottable, kMaxPlottable);
  if (lo > hi) std::swap(lo, hi);
  // A span too narrow for doubles to step through (1e17 to 1e17 + 16 in
  // steps of 2 never advances) is widened to a few parts per million.
  const double scale = std::max(std::fabs(lo), std::fabs(hi));
  if (hi - lo <= scale * 1e-9) {
    const double pad = std::max(0.5, scale * 1e-6);
    lo -= pad, hi += pad;
  }
  const double raw = (hi - lo) / std::max(target, 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  // Slack for ranges like 0.9 - 0.3 = 0.6000000000000001, which would
  // otherwise round a 0.1 step up to 0.2.
  const double norm = raw / mag * (1 - 1e-9);
  const double step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  // The epsilons keep a bound that is a tick already (0.3 / 0.1 =
  // 2.9999999999999996) from growing the axis by one more step.
  const double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
  std::vector<double> ticks;
  for (double k = first; k <= last + 0.5 && ticks.size() < 1000; k += 1.0) ticks.push_back(k * step);
  if (ticks.size() < 2) ticks.push_back((first + 1) * step);
  return ticks;
}

std::string TickLabel(double value, double step) {
  const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(std::fabs(step)) + 1e-9)));
  if (std::fabs(value) < std::fabs(step) * 1e-9) value = 0.0;  // no "-0"
  return fmt::format("{:.{}f}", value, decimals);
}

std::string LinePlotSvg(const PlotSpec& spec) {
  const double W = std::max(spec.width, 200), H = std::max(spec.height, 150);
  const double pw = W - kLeft - kRight, ph = H - kTop - kBottom;
  Range xr, yr;
  for (const PlotSeries& s : spec.series)
    for (const auto& [x, y] : s.points)
      if (Plottable(x, y)) xr.Add(x), yr.Add(y);
  if (xr.empty()) xr.lo = 0, xr.hi = 1, yr.lo = 0, yr.hi = 1;
  const std::vector<double> xt = NiceTicks(xr.lo, xr.hi, 8), yt = NiceTicks(yr.lo, yr.hi, 6);
  const double x0 = xt.front(), x1 = xt.back(), y0 = yt.front(), y1 = yt.back();
  // Clamped, so a point can never leave the viewBox even through rounding.
  auto px = [&](double x) { return std::clamp(kLeft + (x - x0) / (x1 - x0) * pw, kLeft, kLeft + pw); };
  auto py = [&](double y) { return std::clamp(kTop + (y1 - y) / (y1 - y0) * ph, kTop, kTop + ph); };

  std::string out = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect x=\"0\" y=\"0\" width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
      "<text x=\"{2}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{3}</text>\n",
      W, H, W / 2, XmlEscape(spec.title));

  // Grid and tick labels.
  const double xstep = xt[1] - xt[0], ystep = yt[1] - yt[0];
  for (double t : xt)
    out += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#e0e0e0\"/>\n"
        "<text x=\"{0:.1f}\" y=\"{3:.1f}\" text-anchor=\"middle\" class=\"xtick\">{4}</text>\n",
        px(t), kTop, kTop + ph, kTop + ph + 16, TickLabel(t, xstep));
  for (double t : yt)
    out += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"#e0e0e0\"/>\n"
        "<text x=\"{3:.1f}\" y=\"{4:.1f}\" text-anchor=\"end\" class=\"ytick\">{5}</text>\n",
        kLeft, py(t), kLeft + pw, kLeft - 6, py(t) + 4, TickLabel(t, ystep));
  out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n", kLeft,
                     kTop, pw, ph);
  out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", kLeft + pw / 2, H - 12,
                     XmlEscape(spec.x_label));
  out += fmt::format(
      "<text x=\"16\" y=\"{0:.1f}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {0:.1f})\">{1}</text>\n",
      kTop + ph / 2, XmlEscape(spec.y_label));

  for (const PlotSeries& s : spec.series) {
    std::string pts;
    for (const auto& [x, y] : s.points)
      if (Plottable(x, y)) pts += fmt::format("{}{:.1f},{:.1f}", pts.empty() ? "" : " ", px(x), py(y));
    out += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"{} points=\"{}\"><title>{}</title></polyline>\n",
                       XmlEscape(s.color), s.stroke_width, Dash(s), pts, XmlEscape(s.name));
    if (s.markers)
      for (const auto& [x, y] : s.points)
        if (Plottable(x, y))
          out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{}\" fill=\"{}\"/>\n", px(x), py(y),
                             s.marker_radius, XmlEscape(s.color));
  }

  // Legend in the top-right corner of the plot area, on a white box so the
  // lines under it stay readable around it.
  if (!spec.series.empty()) {
    size_t longest = 0;
    for (const PlotSeries& s : spec.series) longest = std::max(longest, s.name.size());
    const double lw = std::min(pw - 8, 44 + 7.0 * static_cast<double>(longest)), lh = 8 + 18.0 * spec.series.size();
    const double lx = kLeft + pw - lw - 8, ly = kTop + 8;
    out += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"white\" fill-opacity=\"0.85\" "
        "stroke=\"#999\"/>\n",
        lx, ly, lw, lh);
    for (size_t i = 0; i < spec.series.size(); i++) {
      const PlotSeries& s = spec.series[i];
      const double y = ly + 16 + 18.0 * i;
      out += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" stroke-width=\"{}\"{}/>\n",
                         lx + 8, y - 4, lx + 32, y - 4, XmlEscape(s.color), s.stroke_width, Dash(s));
      if (s.markers)
        out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{}\" fill=\"{}\"/>\n", lx + 20, y - 4,
                           s.marker_radius, XmlEscape(s.color));
      out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", lx + 38, y, XmlEscape(s.name));
    }
  }
  return out + "</svg>\n";
}

}  // namespace cpu_llm
