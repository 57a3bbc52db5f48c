// The histograms of tune; see tune_charts.h.
#include "cli/tune_charts.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "cli/format.h"
#include "senderwatch/units.h"

namespace senderwatch::cli {

using eximlog::HistogramBin;

std::string SeriesTitle(const eximlog::Series& s) {
  std::string title =
      std::string(MetricName(s.metric)) + " per " + FormatDuration(s.window_seconds);
  if (eximlog::IsRatioMetric(s.metric) && s.min > 0) {
    title += " (from " + std::to_string(s.min) + " recipients)";
  }
  return title;
}

namespace {

struct Marker {
  double value;
  std::string label;
  bool suggested;
};

std::vector<Marker> MarkersOf(const Measured& m, const Policy& policy) {
  std::vector<Marker> markers;
  for (const eximlog::RuleReport& r : m.report->rules) {
    const Rule& rule = policy.rules[r.rule];
    markers.push_back({rule.above, rule.name + " " + FormatNumber(rule.above), false});
    if (r.suggestion.limit != rule.above) {
      markers.push_back(
          {r.suggestion.limit, "suggested " + FormatNumber(r.suggestion.limit), true});
    }
  }
  return markers;
}

}  // namespace

std::string TerminalHistogram(const Measured& m, const Policy& policy, bool color) {
  const auto& bins = m.bins;
  uint64_t max_count = 0;
  size_t label_width = 0;
  for (const auto& bin : bins) {
    max_count = std::max(max_count, bin.count);
    label_width = std::max(label_width, bin.label.size());
  }
  const std::vector<Marker> markers = MarkersOf(m, policy);
  const int width = 40;
  std::string out;
  for (size_t i = 0; i < bins.size(); ++i) {
    const HistogramBin& bin = bins[i];
    const int length =
        bin.count == 0 || max_count == 0
            ? 0
            : std::max(1, static_cast<int>(
                              std::lround(width * std::log10(1.0 + static_cast<double>(bin.count)) /
                                          std::log10(1.0 + static_cast<double>(max_count)))));
    std::string line = "    " + std::string(label_width - bin.label.size(), ' ') + bin.label +
                       " |" + std::string(static_cast<size_t>(length), '#') +
                       std::string(static_cast<size_t>(width - length), ' ') + " " +
                       Thousands(bin.count);
    for (const Marker& marker : markers) {
      const double position =
          eximlog::HistogramPosition(bins, marker.value, m.report->series.metric);
      if (position >= static_cast<double>(i) && position < static_cast<double>(i + 1)) {
        line += Paint("  <- " + SanitizeForTerminal(marker.label),
                      marker.suggested ? Style::kGreen : Style::kRed, color);
      }
    }
    out += line + "\n";
  }
  return out;
}

namespace {

std::string XmlEscape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20) out += c;
    }
  }
  return out;
}

}  // namespace

std::string TuneSvg(const std::vector<Measured>& measured, const Policy& policy,
                    std::string_view subtitle) {
  constexpr int kWidth = 800, kPanel = 250, kLeft = 70, kRight = 30, kTop = 70;
  const int height = kTop + static_cast<int>(measured.size()) * kPanel;
  std::string svg;
  svg += fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"11\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{2}\" y=\"24\" font-size=\"16\" font-weight=\"bold\">senderwatch tune: "
      "peak values per account</text>\n",
      kWidth, height, kLeft);
  svg += "<text x=\"" + std::to_string(kLeft) + "\" y=\"42\" fill=\"#555\">" + XmlEscape(subtitle) +
         "</text>\n<text x=\"" + std::to_string(kLeft) +
         "\" y=\"56\" fill=\"#555\">Bar height: accounts (log scale). Red: current limit; green: "
         "suggested. A rule fires on values above its line.</text>\n";
  for (size_t p = 0; p < measured.size(); ++p) {
    const Measured& m = measured[p];
    const int top = kTop + static_cast<int>(p) * kPanel;
    const int chart_top = top + 36, chart_bottom = top + kPanel - 50;
    const int chart_height = chart_bottom - chart_top;
    const double plot_width = kWidth - kLeft - kRight;
    const double bin_width = plot_width / static_cast<double>(std::max<size_t>(1, m.bins.size()));
    uint64_t max_count = 1;
    for (const auto& bin : m.bins) max_count = std::max(max_count, bin.count);
    const double log_max = std::log10(1.0 + static_cast<double>(max_count));
    svg += "<text x=\"" + std::to_string(kLeft) + "\" y=\"" + std::to_string(top + 14) +
           "\" font-size=\"13\" font-weight=\"bold\">" + XmlEscape(SeriesTitle(m.report->series)) +
           " — " + Thousands(m.report->population.sorted.size()) + " accounts</text>\n";
    svg += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\"/>\n", kLeft,
                       chart_bottom, kWidth - kRight, chart_bottom);
    for (size_t i = 0; i < m.bins.size(); ++i) {
      const HistogramBin& bin = m.bins[i];
      const double h =
          bin.count == 0
              ? 0
              : std::max(1.0,
                         chart_height * std::log10(1.0 + static_cast<double>(bin.count)) / log_max);
      const double x = kLeft + bin_width * static_cast<double>(i);
      svg += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"#4a7ab5\">"
          "<title>{}: {} accounts</title></rect>\n",
          x + 1, chart_bottom - h, std::max(1.0, bin_width - 2), h, XmlEscape(bin.label),
          Thousands(bin.count));
      if (bin.count > 0) {
        svg += fmt::format(
            "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" font-size=\"9\" "
            "fill=\"#333\">{}</text>\n",
            x + bin_width / 2, chart_bottom - h - 3, Thousands(bin.count));
      }
      svg += fmt::format(
          "<text x=\"{0:.1f}\" y=\"{1}\" text-anchor=\"end\" font-size=\"9\" "
          "transform=\"rotate(-45 {0:.1f} {1})\">{2}</text>\n",
          x + bin_width / 2, chart_bottom + 12, XmlEscape(bin.label));
    }
    int label_row = 0;
    for (const Marker& marker : MarkersOf(m, policy)) {
      const double x = kLeft + bin_width * eximlog::HistogramPosition(m.bins, marker.value,
                                                                      m.report->series.metric);
      const char* colour = marker.suggested ? "#2a9d3a" : "#d0312d";
      const bool left = x > kWidth - kRight - 140;  // label left of the line near the edge
      svg += fmt::format(
          "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"{3}\" "
          "stroke-width=\"2\" stroke-dasharray=\"5,3\"/>\n<text x=\"{4:.1f}\" y=\"{5}\" "
          "fill=\"{3}\" text-anchor=\"{6}\">{7}</text>\n",
          x, chart_top, chart_bottom, colour, left ? x - 4 : x + 4, chart_top + 10 + 12 * label_row,
          left ? "end" : "start", XmlEscape(marker.label));
      ++label_row;
    }
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace senderwatch::cli
