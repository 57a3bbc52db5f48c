// gen_scenario: writes the main log of scenario_log.h (a server with
// hijacked accounts at known times) to standard output and, with --truth,
// the hijacked accounts (account, kind, from, until, bounce ratio; one per
// line, tab-separated) to a file. For measuring `senderwatch tune`'s
// suggestions by hand (docs/replay.md, "How the method was chosen").
//
// Usage: senderwatch_gen_scenario [--accounts N] [--days N] [--share S]
//                                 [--seed N] [--truth FILE] > mainlog
#include <cstdio>
#include <cstdlib>
#include <string>

#include "testutil/scenario_log.h"

int main(int argc, char** argv) {
  senderwatch::testing::ScenarioOptions options;
  std::string truth;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--accounts" && has_value) {
      options.accounts = static_cast<uint32_t>(std::strtoul(argv[++i], nullptr, 10));
    } else if (arg == "--days" && has_value) {
      options.days = static_cast<uint32_t>(std::strtoul(argv[++i], nullptr, 10));
    } else if (arg == "--share" && has_value) {
      options.compromised_share = std::strtod(argv[++i], nullptr);
    } else if (arg == "--seed" && has_value) {
      options.seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--truth" && has_value) {
      truth = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: senderwatch_gen_scenario [--accounts N] [--days N] [--share S] "
                   "[--seed N] [--truth FILE] > mainlog\n");
      return 2;
    }
  }
  const auto scenario = senderwatch::testing::GenerateScenario(options);
  std::fwrite(scenario.log.data(), 1, scenario.log.size(), stdout);
  if (!truth.empty()) {
    FILE* out = std::fopen(truth.c_str(), "w");
    if (out == nullptr) {
      std::perror(truth.c_str());
      return 1;
    }
    for (const auto& c : scenario.compromised) {
      std::fprintf(out, "%s\t%s\t%lld\t%lld\t%.2f\n", c.account.c_str(), c.kind.c_str(),
                   static_cast<long long>(c.from), static_cast<long long>(c.until), c.bounce_ratio);
    }
    std::fclose(out);
  }
  return 0;
}
