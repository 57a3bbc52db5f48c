// The hijacked-accounts log generator; see scenario_log.h.
#include "testutil/scenario_log.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <random>
#include <string_view>
#include <utility>

namespace senderwatch::testing {

bool Scenario::IsCompromised(const std::string& account) const {
  return std::any_of(compromised.begin(), compromised.end(),
                     [&](const CompromisedAccount& c) { return c.account == account; });
}

namespace {

constexpr char kBase62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr const char* kDomains[] = {"gmail.example", "outlook.example", "web.example",
                                    "gmx.example",   "corp.example",    "shop.example"};

enum class Profile { kOrdinary, kHeavy, kNewsletter, kTraveller, kStalePhone };

struct Account {
  std::string name;
  Profile profile = Profile::kOrdinary;
  double messages_per_day = 0;
  double bounce_probability = 0;
  std::vector<std::string> home_ips;
};

class Builder {
 public:
  explicit Builder(const ScenarioOptions& options) : options_(options), rng_(options.seed) {}

  Scenario Build() {
    Scenario scenario;
    MakeAccounts(scenario);
    for (const Account& account : accounts_) HonestMail(account);
    Hijack(scenario);
    std::stable_sort(lines_.begin(), lines_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    scenario.log.reserve(lines_.size() * 160);
    std::string stamp;
    int64_t stamp_time = -1;
    for (const auto& [time, text] : lines_) {
      if (time != stamp_time) {
        const time_t t = static_cast<time_t>(time);
        struct tm tm;
        gmtime_r(&t, &tm);
        char buf[32];
        std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S ", &tm);
        stamp = buf;
        stamp_time = time;
      }
      scenario.log += stamp;
      scenario.log += text;
      scenario.log += '\n';
    }
    scenario.lines = lines_.size();
    return scenario;
  }

 private:
  double Uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }
  uint32_t Below(uint32_t n) { return static_cast<uint32_t>(rng_() % n); }
  bool Chance(double p) { return Uniform() < p; }
  double LogNormal(double median, double sigma) {
    const double u1 = std::max(Uniform(), 1e-12), u2 = Uniform();
    const double normal = std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
    return median * std::exp(sigma * normal);
  }
  // Poisson by inversion: small means only.
  uint32_t Poisson(double mean) {
    const double limit = std::exp(-mean);
    double product = Uniform();
    uint32_t count = 0;
    while (product > limit && count < 10000) {
      product *= Uniform();
      ++count;
    }
    return count;
  }
  std::string Ip(uint32_t a, uint32_t b, uint32_t c) {
    return std::to_string(a) + "." + std::to_string(b) + "." + std::to_string(c) + "." +
           std::to_string(2 + Below(250));
  }
  std::string RandomIp() { return Ip(20 + Below(180), Below(256), Below(256)); }
  std::string Address(std::string_view tag, uint64_t n) {
    return std::string(tag) + std::to_string(n) + "@" + kDomains[n % 6];
  }
  std::string NewId() {
    std::string id(16, '-');
    uint64_t n = ++ids_;
    for (int i = 15; i >= 0; --i) {
      if (i == 6 || i == 13) continue;
      id[static_cast<size_t>(i)] = kBase62[n % 62];
      n /= 62;
    }
    return id;
  }
  void Emit(int64_t time, std::string text) { lines_.emplace_back(time, std::move(text)); }

  // One authenticated message: its arrival with the recipient list, one
  // delivery or bounce line per recipient, "Completed".
  void Message(const std::string& account, int64_t time, const std::string& ip,
               const std::vector<std::string>& recipients, double bounce_probability) {
    const std::string id = NewId();
    std::string arrival = id + " <= " + account + " H=(client) [" + ip + "]:" +
                          std::to_string(1024 + Below(60000)) +
                          " P=esmtpsa X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no A=dovecot_plain:" +
                          account + " S=" + std::to_string(1000 + Below(40000)) + " id=" + id +
                          "@mail.example.net for";
    for (const auto& r : recipients) arrival += " " + r;
    Emit(time, std::move(arrival));
    int64_t last = time;
    for (const auto& r : recipients) {
      const std::string_view domain = std::string_view(r).substr(r.find('@') + 1);
      const int64_t at = time + 1 + Below(90);
      last = std::max(last, at);
      if (Chance(bounce_probability)) {
        Emit(at, id + " ** " + r + " R=dnslookup T=remote_smtp H=mx." + std::string(domain) + " [" +
                     RandomIp() + "]: SMTP error from remote mail server after RCPT TO:<" + r +
                     ">: 550 5.1.1 <" + r + ">: Recipient address rejected: User unknown");
      } else {
        Emit(at, id + " => " + r + " R=dnslookup T=remote_smtp H=mx." + std::string(domain) + " [" +
                     RandomIp() + "] C=\"250 2.0.0 Ok: queued\"");
      }
    }
    Emit(last + 1, id + " Completed");
  }

  void Authfail(int64_t time, const std::string& account, const std::string& ip) {
    Emit(time, "dovecot_plain authenticator failed for (User) [" + ip +
                   "]: 535 Incorrect authentication data (set_id=" + account + ")");
  }

  void MakeAccounts(Scenario& scenario) {
    const uint32_t n = std::max<uint32_t>(options_.accounts, 20);
    const auto share = [&](double s, uint32_t least) {
      return std::max(least, static_cast<uint32_t>(std::lround(s * n)));
    };
    const uint32_t heavy = share(0.05, 2), newsletters = share(0.03, 2), travellers = share(0.04, 1),
                   phones = share(0.03, 1);
    for (uint32_t i = 0; i < n; ++i) {
      Account a;
      a.name = "user" + std::to_string(i) + "@example.net";
      if (i < heavy) {
        a.profile = Profile::kHeavy;
        a.messages_per_day = LogNormal(60, 0.5);
        a.bounce_probability = std::min(0.06, LogNormal(0.025, 0.4));
        scenario.heavy_senders.push_back(a.name);
      } else if (i < heavy + newsletters) {
        a.profile = Profile::kNewsletter;
        a.bounce_probability = 0.05 + 0.1 * Uniform();
        scenario.newsletters.push_back(a.name);
      } else {
        a.profile = i < heavy + newsletters + travellers        ? Profile::kTraveller
                    : i < heavy + newsletters + travellers + phones ? Profile::kStalePhone
                                                                    : Profile::kOrdinary;
        a.messages_per_day = std::min(80.0, LogNormal(5, 0.9));
        a.bounce_probability = std::min(0.08, LogNormal(0.015, 0.7));
      }
      const uint32_t homes = a.profile == Profile::kTraveller ? 8 : 1 + Below(2);
      for (uint32_t h = 0; h < homes; ++h) a.home_ips.push_back(Ip(80 + i / 256, i % 256, h * 7 + Below(7)));
      scenario.accounts.push_back(a.name);
      accounts_.push_back(std::move(a));
    }
  }

  std::vector<std::string> Recipients(const Account& a, uint32_t count) {
    std::vector<std::string> out;
    for (uint32_t i = 0; i < count; ++i) {
      // Mostly people written to before (a contact list of 60), else new.
      out.push_back(Chance(0.8) ? Address(a.name.substr(0, a.name.find('@')) + "-c", Below(60))
                                : Address("new", rng_()));
    }
    return out;
  }

  void HonestMail(const Account& a) {
    for (uint32_t day = 0; day < options_.days; ++day) {
      const int64_t midnight = options_.start + int64_t{86400} * day;
      if (a.profile == Profile::kNewsletter) {
        // One campaign a day, in batches of 50 over half an hour to an hour.
        const uint32_t size = 300 + Below(2200);
        const int64_t begin = midnight + 6 * 3600 + Below(10 * 3600);
        const uint32_t batches = (size + 49) / 50;
        const int64_t spread = 1800 + Below(1800);
        for (uint32_t b = 0; b < batches; ++b) {
          std::vector<std::string> list;
          for (uint32_t i = 0; i < 50; ++i) list.push_back(Address("sub", rng_() % 20000));
          Message(a.name, begin + spread * b / batches, a.home_ips[0], list, a.bounce_probability);
        }
        continue;
      }
      const uint32_t messages = Poisson(a.messages_per_day);
      for (uint32_t m = 0; m < messages; ++m) {
        const int64_t at = midnight + 7 * 3600 + Below(12 * 3600);
        const uint32_t count = Chance(0.6) ? 1 : Chance(0.9) ? 2 + Below(4) : 10 + Below(20);
        const std::string& ip = a.home_ips[Below(static_cast<uint32_t>(a.home_ips.size()))];
        Message(a.name, at, ip, Recipients(a, count), a.bounce_probability);
      }
      if (a.profile == Profile::kHeavy && Chance(0.5)) {
        // A mailing of a few hundred within the hour.
        const uint32_t batches = 4 + Below(12);
        const int64_t begin = midnight + 8 * 3600 + Below(9 * 3600);
        for (uint32_t b = 0; b < batches; ++b) {
          Message(a.name, begin + 200 * b, a.home_ips[0], Recipients(a, 25), a.bounce_probability);
        }
      }
      if (a.profile == Profile::kStalePhone) {
        // A phone with an old password retries for a few hours.
        const int64_t begin = midnight + Below(20 * 3600);
        const uint32_t failures = 30 + Below(60);
        for (uint32_t f = 0; f < failures; ++f) {
          Authfail(begin + Below(3 * 3600), a.name, a.home_ips[0]);
        }
      } else if (Chance(0.05)) {
        const uint32_t typos = 1 + Below(3);
        for (uint32_t f = 0; f < typos; ++f) Authfail(midnight + 8 * 3600 + Below(10 * 3600), a.name, a.home_ips[0]);
      }
    }
  }

  void Hijack(Scenario& scenario) {
    const uint32_t n = static_cast<uint32_t>(accounts_.size());
    uint32_t count = static_cast<uint32_t>(std::lround(options_.compromised_share * n));
    if (options_.compromised_share > 0) count = std::max(count, 1u);
    std::vector<uint32_t> heavy, ordinary;
    for (uint32_t i = 0; i < n; ++i) {
      if (accounts_[i].profile == Profile::kHeavy) heavy.push_back(i);
      if (accounts_[i].profile == Profile::kOrdinary) ordinary.push_back(i);
    }
    static constexpr std::string_view kKinds[] = {"flood", "slow", "botnet", "heavy"};
    const int64_t end = options_.start + int64_t{86400} * std::max<uint32_t>(options_.days, 2);
    for (uint32_t k = 0; k < count; ++k) {
      std::string_view kind = kKinds[k % 4];
      if (kind == "heavy" && heavy.empty()) kind = "flood";
      std::vector<uint32_t>& pool = kind == "heavy" ? heavy : ordinary;
      if (pool.empty()) break;
      const uint32_t pick = Below(static_cast<uint32_t>(pool.size()));
      const Account& a = accounts_[pool[pick]];
      pool.erase(pool.begin() + pick);
      CompromisedAccount c;
      c.account = a.name;
      c.kind = std::string(kind);
      c.bounce_ratio = 0.35 + 0.4 * Uniform();
      const int64_t hours = kind == "slow" ? 16 : kind == "botnet" ? 3 : 2;
      const int64_t latest = end - (hours + 1) * 3600;
      const int64_t earliest = options_.start + 86400;
      c.from = earliest + static_cast<int64_t>(Uniform() * static_cast<double>(std::max<int64_t>(1, latest - earliest)));
      c.until = c.from + hours * 3600;
      // The password was guessed first.
      const uint32_t guesses = kind == "flood" ? 100 : 5 + Below(20);
      for (uint32_t g = 0; g < guesses; ++g) Authfail(c.from - 1 - Below(1800), a.name, RandomIp());
      const uint32_t per_hour = kind == "flood" ? 1500 : kind == "slow" ? 15 : kind == "botnet" ? 400 : 800;
      const uint32_t batch = kind == "slow" ? 1 : kind == "botnet" ? 10 : 50;
      const uint32_t messages = static_cast<uint32_t>(per_hour * hours / batch);
      std::vector<std::string> botnet;
      for (int i = 0; i < 40; ++i) botnet.push_back(RandomIp());
      const std::string spam_ip = RandomIp();
      for (uint32_t m = 0; m < messages; ++m) {
        const int64_t at = c.from + (c.until - c.from) * m / messages;
        std::vector<std::string> list;
        for (uint32_t i = 0; i < batch; ++i) list.push_back(Address("victim", rng_()));
        const std::string& ip = kind == "botnet" ? botnet[m % botnet.size()] : spam_ip;
        Message(a.name, at, ip, list, c.bounce_ratio);
      }
      scenario.compromised.push_back(std::move(c));
    }
  }

  const ScenarioOptions& options_;
  std::mt19937_64 rng_;
  uint64_t ids_ = 0;
  std::vector<Account> accounts_;
  std::vector<std::pair<int64_t, std::string>> lines_;
};

}  // namespace

Scenario GenerateScenario(const ScenarioOptions& options) { return Builder(options).Build(); }

}  // namespace senderwatch::testing
