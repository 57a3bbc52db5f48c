// tune's histograms (src/cli/tune_charts.h) and the limits they mark
// (eximlog::LimitsToShow, SeriesHistogram): what is drawn for a series
// with one rule whose limit tune would lower.
#include <gtest/gtest.h>

#include <string>

#include "cli/tune_charts.h"
#include "senderwatch/policy.h"

namespace senderwatch::cli {
namespace {

struct Fixture {
  Policy policy = DefaultPolicy();
  eximlog::SeriesReport report;
  Fixture() {
    policy.rules.resize(1);
    policy.rules[0].name = "rcpt<&>";
    policy.rules[0].above = 100;
    report.series.metric = Metric::kRecipients;
    report.series.window_seconds = 3600;
    report.population.sorted = {1, 2, 3, 50};
    eximlog::RuleReport rule;
    rule.rule = 0;
    rule.suggestion.limit = 20;
    report.rules.push_back(rule);
  }
};

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(TuneCharts, HistogramReachesTheCurrentAndTheSuggestedLimit) {
  const Fixture f;
  EXPECT_EQ(eximlog::LimitsToShow(f.report, f.policy), (std::vector<double>{100, 20}));
  const auto bins = eximlog::SeriesHistogram(f.report, f.policy);
  ASSERT_FALSE(bins.empty());
  EXPECT_GE(bins.back().high, 100);
}

TEST(TuneCharts, SvgDrawsEveryBinAndBothLimitsWithTextEscaped) {
  const Fixture f;
  const Measured m{&f.report, eximlog::SeriesHistogram(f.report, f.policy)};
  const std::string svg = TuneSvg({m}, f.policy, "4 log lines <from> stdin");
  EXPECT_TRUE(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\""));
  EXPECT_TRUE(svg.ends_with("</svg>\n"));
  EXPECT_EQ(Count(svg, "fill=\"#4a7ab5\""), m.bins.size());
  EXPECT_NE(svg.find(">recipients per 1h — 4 accounts</text>"), std::string::npos) << svg;
  EXPECT_NE(svg.find("4 log lines &lt;from&gt; stdin"), std::string::npos);
  EXPECT_NE(svg.find("stroke=\"#d0312d\""), std::string::npos);  // current limit, red
  EXPECT_NE(svg.find(">rcpt&lt;&amp;&gt; 100</text>"), std::string::npos) << svg;
  EXPECT_NE(svg.find("stroke=\"#2a9d3a\""), std::string::npos);  // suggestion, green
  EXPECT_NE(svg.find(">suggested 20</text>"), std::string::npos);
  EXPECT_EQ(svg.find("rcpt<&>"), std::string::npos);
}

TEST(TuneCharts, TerminalHistogramMarksTheLimitsBesideTheirBins) {
  const Fixture f;
  const Measured m{&f.report, eximlog::SeriesHistogram(f.report, f.policy)};
  const std::string text = TerminalHistogram(m, f.policy, false);
  EXPECT_EQ(Count(text, "\n"), m.bins.size());
  EXPECT_EQ(Count(text, "  <- rcpt<&> 100"), 1u) << text;
  EXPECT_EQ(Count(text, "  <- suggested 20"), 1u) << text;
}

}  // namespace
}  // namespace senderwatch::cli
