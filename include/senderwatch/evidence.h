// Why a rule fired: the rule, the metric, the value it reached, the limit it
// passed and over which window. One value carried from the verdict into the
// lock (which persists it, docs/format.md), into replay's verdict changes
// and into the CLI's views, instead of five fields copied one by one.
//
// LockState, Verdict and the views derive from it, so their fields keep
// their names (lock.rule, verdict.limit) and the record format its layout.
#ifndef SENDERWATCH_EVIDENCE_H_
#define SENDERWATCH_EVIDENCE_H_

#include <cstdint>
#include <string>
#include <utility>

#include "senderwatch/metric.h"

namespace senderwatch {

struct Evidence {
  std::string rule;  // the rule that fired; "manual" for a lock by hand; empty: none
  Metric metric = Metric::kBounces;
  double value = 0;
  double limit = 0;
  int64_t window_seconds = 0;

  // Copies the evidence, and nothing else, into whatever carries it.
  void CopyEvidence(Evidence from) { *this = std::move(from); }
};

}  // namespace senderwatch

#endif  // SENDERWATCH_EVIDENCE_H_
