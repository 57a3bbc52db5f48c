// The histograms of `senderwatch tune`, drawn for a terminal (bars of '#'
// with the limits marked) and as an SVG file (--svg). Pure functions of the
// tune report (src/eximlog/tune.h) so tests pin what they draw; cmd_tune.cc
// only decides where the text goes.
#ifndef SENDERWATCH_SRC_CLI_TUNE_CHARTS_H_
#define SENDERWATCH_SRC_CLI_TUNE_CHARTS_H_

#include <string>
#include <string_view>
#include <vector>

#include "eximlog/tune.h"
#include "senderwatch/policy.h"

namespace senderwatch::cli {

// A measured series with its histogram (eximlog::SeriesHistogram). Borrows
// the report, which must outlive it.
struct Measured {
  const eximlog::SeriesReport* report;
  std::vector<eximlog::HistogramBin> bins;
};

// "recipients per 1h", "bounce_ratio per 1h (from 20 recipients)".
std::string SeriesTitle(const eximlog::Series& series);

// The histogram of one series, 40 columns of log-scaled bars, each current
// limit marked in red and each suggested one in green (when `color`).
std::string TerminalHistogram(const Measured& measured, const Policy& policy, bool color);

// Every series as one panel of an SVG document, the limits as dashed lines;
// `subtitle` says what was measured. Every text from the logs or the policy
// is XML-escaped.
std::string TuneSvg(const std::vector<Measured>& measured, const Policy& policy,
                    std::string_view subtitle);

}  // namespace senderwatch::cli

#endif  // SENDERWATCH_SRC_CLI_TUNE_CHARTS_H_
