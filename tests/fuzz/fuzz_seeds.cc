// Writes the seed inputs that must match the code of the day: encoded
// records (the binary format), the default policy as TOML, well-formed
// Dispatch calls and real Exim main logs (tests/unit/eximlog_samples.h).
// .ci/fuzz runs it before fuzzing; hand-written seeds live in corpus/.
//
//   senderwatch_fuzz_seeds OUTDIR   -> OUTDIR/{record,policy,dispatch,eximlog}/
#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "senderwatch/policy.h"
#include "senderwatch/record.h"
#include "unit/eximlog_samples.h"

namespace {

using namespace senderwatch;

constexpr UnixSeconds kT0 = 1'790'000'000;

bool Write(const std::string& path, std::string_view bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

std::vector<AccountRecord> Records() {
  std::vector<AccountRecord> out;
  AccountRecord fresh;
  fresh.account = "alice";
  fresh.Count(Counter::kRecipients, kT0);
  out.push_back(fresh);

  AccountRecord busy;
  busy.account = "bob@example.org";
  for (int m = 0; m < 120; ++m) {
    busy.Count(Counter::kRecipients, kT0 + m * 60, 5);
    if (m % 7 == 0) busy.Count(Counter::kBounces, kT0 + m * 60);
    if (m % 11 == 0) busy.Count(Counter::kDefers, kT0 + m * 60);
    if (m % 13 == 0) busy.Count(Counter::kAuthfails, kT0 + m * 60);
  }
  for (uint8_t i = 0; i < kMaxNetworks + 2; ++i) {
    ClientNetwork n;
    n.family = i % 2 == 0 ? 4 : 6;
    n.prefix = {0x20, 0x01, 0x0d, 0xb8, i, 0, 0, 0};
    busy.SeeNetwork(n, kT0 + i * 60);
  }
  out.push_back(busy);

  AccountRecord locked = busy;
  locked.account = "mallory";
  locked.lock.locked = true;
  locked.lock.since = kT0 + 7200;
  locked.lock.rule = "bounce-ratio";
  locked.lock.metric = Metric::kBounceRatio;
  locked.lock.value = 0.45;
  locked.lock.limit = 0.3;
  locked.lock.window_seconds = 3600;
  locked.lock.reason = "bounce_ratio 0.45 above 0.3 in 1h";
  locked.lock.by = "senderwatch";
  locked.lock_count = 2;
  locked.last_release = ReleaseInfo{kT0 + 100, "admin", "false alarm"};
  locked.evidence_after = kT0 + 100;
  out.push_back(locked);

  AccountRecord timed = locked;
  timed.account = "timed";
  timed.lock.until = kT0 + 9000;
  out.push_back(timed);
  return out;
}

std::string Call(uint8_t function, uint8_t policy, std::vector<std::string_view> args) {
  std::string out;
  out.push_back(static_cast<char>(function));
  out.push_back(static_cast<char>(policy));
  for (size_t i = 0; i < args.size(); ++i) {
    if (i != 0) out.push_back('\0');
    out.append(args[i]);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
    return 2;
  }
  const std::string out = argv[1];
  for (const char* sub : {"", "/record", "/policy", "/dispatch", "/eximlog"}) {
    ::mkdir((out + sub).c_str(), 0755);
  }
  bool ok = true;
  int n = 0;
  for (const AccountRecord& r : Records()) {
    ok &= Write(out + "/record/seed-" + std::to_string(n++), EncodeRecord(r));
  }
  ok &= Write(out + "/policy/default.toml", FormatPolicy(DefaultPolicy()));
  Policy all = DefaultPolicy();
  all.store.path = "/var/spool/exim4/db/senderwatch";
  all.store.durability = Durability::kNone;
  all.lock_duration_seconds = 86400;
  all.on_error = OnError::kDefer;
  all.notify = "/usr/local/bin/notify --account \"$SENDERWATCH_ACCOUNT\"";
  ok &= Write(out + "/policy/everything.toml", FormatPolicy(all));

  // Function bytes: 0 check_sender, 1 peek_sender, 2 record_bounce,
  // 3 record_defer, 4 record_authfail. Policy bytes: 0 normal, 1 tiny map,
  // 2 missing file, 3 invalid file, 4 built-in default.
  const std::vector<std::string> calls = {
      Call(0, 0, {"alice", "192.0.2.1"}),
      Call(0, 1, {"Alice@Example.ORG", "2001:db8::1", "bounce-flood=500 rcpt-rate=off"}),
      Call(0, 4, {"bob", "::ffff:198.51.100.7"}),
      Call(1, 0, {"alice", "client-networks=off"}),
      Call(2, 0, {"alice", "dead@remote.test", "550 5.1.1 user unknown"}),
      Call(2, 1, {"alice", "dead@remote.test", "550", "mode=event"}),
      Call(3, 0, {"alice", "tmp@remote.test", "451 4.3.0 later"}),
      Call(4, 0, {"alice", "203.0.113.9"}),
      Call(0, 2, {"alice", "192.0.2.1", "config=x"}),
      Call(0, 3, {"alice", "192.0.2.1"}),
  };
  n = 0;
  for (const auto& c : calls) ok &= Write(out + "/dispatch/seed-" + std::to_string(n++), c);

  n = 0;
  for (const std::string_view log : {testing::kDefaultSelectorLog, testing::kAllSelectorLog,
                                     testing::kPidMillisecRecipientsLog, testing::kBerlinLog}) {
    ok &= Write(out + "/eximlog/sample-" + std::to_string(n++), log);
  }
  if (!ok) {
    std::fprintf(stderr, "%s: cannot write seeds under %s\n", argv[0], out.c_str());
    return 1;
  }
  return 0;
}
