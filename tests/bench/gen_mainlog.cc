// gen_mainlog: writes a synthetic Exim 4.96 main log of a busy server, for
// the log replay benchmark (replay_bench.sh). Deterministic for a seed.
//
// The mix, per message started: 52% inbound mail from the internet to local
// users (LMTP deliveries), 30% authenticated submissions of 1-5 recipients to
// remote hosts (2% of recipients bounce, 3% are deferred once), 10% rejected
// RCPTs of spam clients, 3% failed AUTH, 3% local cron mail, and the bounces
// Exim generates. Messages interleave as on a real server (up to 64 in
// flight). Three accounts are taken over in the middle of the log and spam
// for two hours (50 recipients a message, 40% of them dead, from many
// networks) so replay has something to find. The log_selector is Debian's
// default plus +incoming_port +deliver_time +queue_time_overall (ports, DT=,
// QT=); lines average about 175 bytes.
//
// Usage: gen_mainlog [--lines N] [--accounts N] [--seed N]
//                    [--received-recipients] > mainlog
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace {

struct Rng {
  uint64_t state;
  uint64_t Next() {
    state += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint32_t Below(uint32_t n) { return static_cast<uint32_t>(Next() % n); }
  bool Chance(double p) { return static_cast<double>(Next() >> 11) * 0x1.0p-53 < p; }
};

const char kBase62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

struct Message {
  char id[17];
  std::vector<std::string> lines;  // still to write, in order
  size_t next = 0;
};

class Generator {
 public:
  Generator(uint64_t lines, uint32_t accounts, uint64_t seed, bool listed)
      : target_(lines), accounts_(accounts), rng_{seed}, listed_(listed) {
    out_.reserve(1 << 20);
  }

  void Run() {
    start_ = 1795132800;  // 2026-11-20 00:00:00 UTC
    now_ = start_;
    // About 5M lines a day, as a busy server writes.
    const double seconds_per_line = 86400.0 / 5e6;
    while (written_ < target_) {
      clock_ += seconds_per_line;
      now_ = start_ + static_cast<int64_t>(clock_);
      if (inflight_.size() < 64 && (inflight_.empty() || rng_.Chance(0.3))) {
        StartSomething();
      } else {
        const size_t i = rng_.Below(static_cast<uint32_t>(inflight_.size()));
        Message& m = inflight_[i];
        Emit(m.lines[m.next++]);
        if (m.next == m.lines.size()) {
          inflight_[i] = std::move(inflight_.back());
          inflight_.pop_back();
        }
      }
    }
    Flush();
  }

 private:
  void Flush() {
    fwrite(out_.data(), 1, out_.size(), stdout);
    out_.clear();
  }

  // The "YYYY-MM-DD HH:MM:SS " prefix for now_ (cached per second).
  const std::string& Stamp() {
    if (now_ != stamp_time_) {
      const time_t t = static_cast<time_t>(now_);
      struct tm tm;
      gmtime_r(&t, &tm);
      char buf[32];
      strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S ", &tm);
      stamp_ = buf;
      stamp_time_ = now_;
    }
    return stamp_;
  }

  void Emit(const std::string& body) {
    out_ += Stamp();
    out_ += body;
    out_ += '\n';
    ++written_;
    if (out_.size() > (1 << 20)) Flush();
  }

  void NewId(char* id) {
    int64_t t = now_;
    char time_part[6];
    for (int i = 5; i >= 0; --i) {
      time_part[i] = kBase62[t % 62];
      t /= 62;
    }
    std::memcpy(id, time_part, 6);
    id[6] = '-';
    uint64_t r = ++id_counter_ * 7919 + rng_.Below(1000);
    for (int i = 12; i >= 7; --i) {
      id[i] = kBase62[r % 62];
      r /= 62;
    }
    id[13] = '-';
    id[14] = kBase62[rng_.Below(62)];
    id[15] = kBase62[rng_.Below(62)];
    id[16] = '\0';
  }

  std::string Ip() {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", 11 + rng_.Below(200), rng_.Below(256),
                  rng_.Below(256), 1 + rng_.Below(254));
    return buf;
  }
  std::string AccountIp(uint32_t account) {
    // Each account uses one of three home networks.
    char buf[24];
    const uint32_t net = account * 3 + rng_.Below(3);
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", 80 + (net >> 16) % 40, (net >> 8) & 255,
                  net & 255, 2 + rng_.Below(250));
    return buf;
  }
  std::string Seconds() {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%u.%03us", rng_.Below(3), rng_.Below(1000));
    return buf;
  }
  std::string Token(int n) {
    std::string t;
    for (int i = 0; i < n; ++i) t += kBase62[rng_.Below(62)];
    return t;
  }
  std::string Account(uint32_t i) { return "user" + std::to_string(i) + "@example.net"; }
  std::string LocalUser() { return "user" + std::to_string(rng_.Below(accounts_)); }
  std::string Remote() {
    static const char* const kDomains[] = {"gmail.example", "outlook.example", "web.example",
                                           "gmx.example", "yahoo.example", "corp.example",
                                           "uni.example", "shop.example"};
    return "contact" + std::to_string(rng_.Below(100000)) + "@" + kDomains[rng_.Below(8)];
  }
  std::string MsgHeaderId() {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%" PRId64 ".%06u@mail.example.net", now_, rng_.Below(1000000));
    return buf;
  }

  bool Compromised(uint32_t account) const {
    const int64_t mid = start_ + static_cast<int64_t>(static_cast<double>(target_) * 86400.0 / 5e6 / 2);
    return account < 3 && now_ >= mid && now_ < mid + 7200;
  }

  void StartSomething() {
    const uint32_t roll = rng_.Below(100);
    // A taken-over account sends far more than its share while it lasts.
    const uint32_t hijacked = rng_.Below(3);
    if (Compromised(hijacked) && rng_.Chance(0.2)) return Submission(hijacked, true);
    if (roll < 52) return Inbound();
    if (roll < 82) return Submission(3 + rng_.Below(accounts_ - 3), false);
    if (roll < 92) {
      Emit("H=(" + std::string(rng_.Chance(0.5) ? "User" : "ylmf-pc") + ") [" + Ip() + "] F=<" +
           Remote() + "> rejected RCPT <" + LocalUser() +
           "@example.net>: relay not permitted, or unknown user (policy)");
      return;
    }
    if (roll < 95) {
      Emit("dovecot_plain authenticator failed for (User) [" + Ip() +
           "]: 535 Incorrect authentication data (set_id=" +
           (rng_.Chance(0.5) ? Account(rng_.Below(accounts_)) : std::string("admin")) + ")");
      return;
    }
    Local();
  }

  void Inbound() {
    Message m;
    NewId(m.id);
    const std::string id(m.id);
    const std::string user = LocalUser();
    const std::string host = std::to_string(rng_.Below(500));
    std::string arrival = id + " <= " + Remote() + " H=mail" + host + ".sender.example (mx-out-" +
                          host + ".mailrelay.sender.example) [" + Ip() + "]:" +
                          std::to_string(1024 + rng_.Below(60000)) + " P=esmtps X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no S=" +
                          std::to_string(2000 + rng_.Below(60000)) + " id=" + MsgHeaderId();
    if (listed_) arrival += " for " + user + "@example.net";
    m.lines.push_back(arrival);
    m.lines.push_back(id + " => " + user + "@example.net R=dovecot T=dovecot_lmtp H=localhost [127.0.0.1] C=\"250 2.0.0 <" + user + "@example.net> " + Token(22) + " Saved\" DT=" + Seconds());
    m.lines.push_back(id + " Completed QT=" + Seconds());
    inflight_.push_back(std::move(m));
  }

  void Submission(uint32_t account, bool spam) {
    Message m;
    NewId(m.id);
    const std::string id(m.id);
    const std::string name = Account(account);
    const uint32_t count = spam ? 50 : 1 + (rng_.Chance(0.3) ? rng_.Below(5) : 0);
    std::vector<std::string> rcpts;
    for (uint32_t i = 0; i < count; ++i) rcpts.push_back(Remote());
    std::string arrival = id + " <= " + name + " H=(" + (spam ? "User" : "laptop") + ") [" +
                          (spam ? Ip() : AccountIp(account)) + "]:" +
                          std::to_string(1024 + rng_.Below(60000)) + " P=esmtpsa X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no A=dovecot_plain:" +
                          name + " S=" + std::to_string(1000 + rng_.Below(40000)) + " id=" +
                          MsgHeaderId();
    if (listed_) {
      arrival += " for";
      for (const auto& r : rcpts) arrival += " " + r;
    }
    m.lines.push_back(arrival);
    bool bounced = false;
    std::vector<std::string> deferred;
    for (uint32_t i = 0; i < count; ++i) {
      const std::string& r = rcpts[i];
      const std::string host = "mx" + std::to_string(rng_.Below(9)) + "." + r.substr(r.find('@') + 1);
      if (rng_.Chance(spam ? 0.4 : 0.02)) {
        m.lines.push_back(id + " ** " + r + " R=dnslookup T=remote_smtp H=" + host + " [" + Ip() +
                          "] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes: SMTP error from remote mail server after RCPT TO:<" +
                          r + ">: 550 5.1.1 <" + r + ">: Recipient address rejected: User unknown");
        bounced = true;
      } else if (rng_.Chance(0.03)) {
        m.lines.push_back(id + " == " + r + " R=dnslookup T=remote_smtp defer (-44) H=" + host + " [" +
                          Ip() + "]: SMTP error from remote mail server after RCPT TO:<" + r +
                          ">: 451 4.7.1 Greylisted, try again later");
        deferred.push_back(r);
      } else {
        m.lines.push_back(id + (i > 0 && rng_.Chance(0.3) ? " -> " : " => ") + r +
                          " R=dnslookup T=remote_smtp H=" + host + " [" + Ip() +
                          "] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes C=\"250 2.0.0 Ok: queued as " + Token(14) + "\" DT=" + Seconds());
      }
    }
    for (const auto& r : deferred) {
      m.lines.push_back(id + " => " + r + " R=dnslookup T=remote_smtp H=mx1." + r.substr(r.find('@') + 1) +
                        " [" + Ip() + "] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes C=\"250 2.0.0 Ok\" DT=" + Seconds());
    }
    if (bounced) {
      char bounce[17];
      NewId(bounce);
      const std::string b(bounce);
      m.lines.push_back(b + " <= <> R=" + id + " U=Debian-exim P=local S=" + std::to_string(3000 + rng_.Below(5000)) +
                        (listed_ ? " for " + name : std::string()));
      m.lines.push_back(b + " => " + name + " R=dovecot T=dovecot_lmtp H=localhost [127.0.0.1] C=\"250 2.0.0 Saved\" DT=" + Seconds());
      m.lines.push_back(b + " Completed QT=" + Seconds());
    }
    m.lines.push_back(id + " Completed QT=" + Seconds());
    inflight_.push_back(std::move(m));
  }

  void Local() {
    Message m;
    NewId(m.id);
    const std::string id(m.id);
    m.lines.push_back(id + " <= root@mail.example.net U=root P=local S=" + std::to_string(500 + rng_.Below(3000)) +
                      (listed_ ? " for root@mail.example.net" : ""));
    m.lines.push_back(id + " => admin <root@mail.example.net> R=system_aliases T=dovecot_lmtp H=localhost [127.0.0.1] C=\"250 2.0.0 Saved\" DT=" + Seconds());
    m.lines.push_back(id + " Completed QT=" + Seconds());
    inflight_.push_back(std::move(m));
  }

  uint64_t target_;
  uint32_t accounts_;
  Rng rng_;
  bool listed_;
  uint64_t written_ = 0;
  uint64_t id_counter_ = 0;
  int64_t start_ = 0;
  int64_t now_ = 0;
  double clock_ = 0;
  int64_t stamp_time_ = -1;
  std::string stamp_;
  std::string out_;
  std::vector<Message> inflight_;
};

}  // namespace

int main(int argc, char** argv) {
  uint64_t lines = 5000000;
  uint32_t accounts = 20000;
  uint64_t seed = 1;
  bool listed = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--lines" && i + 1 < argc) {
      lines = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--accounts" && i + 1 < argc) {
      accounts = static_cast<uint32_t>(std::strtoul(argv[++i], nullptr, 10));
    } else if (arg == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--received-recipients") {
      listed = true;
    } else {
      std::fprintf(stderr,
                   "usage: gen_mainlog [--lines N] [--accounts N] [--seed N] "
                   "[--received-recipients] > mainlog\n");
      return 2;
    }
  }
  if (accounts < 4) accounts = 4;
  Generator(lines, accounts, seed, listed).Run();
  return 0;
}
