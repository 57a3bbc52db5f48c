// A private redis-server for tests: Debian's binary with its own config,
// data directory and unix socket in a temporary directory, optionally a
// loopback port, and a password (requirepass), so tests go through AUTH
// like a real deployment. Never touches the system's Redis.
#ifndef SENDERWATCH_TESTS_TESTUTIL_REDIS_SERVER_H_
#define SENDERWATCH_TESTS_TESTUTIL_REDIS_SERVER_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "testutil/testutil.h"

namespace senderwatch::testing {

class RedisServer {
 public:
  static constexpr const char* kBinary = "/usr/bin/redis-server";
  static bool Available();

  // Starts the server (tcp: also on a free loopback port); ok() says
  // whether it answers, error() why not.
  explicit RedisServer(bool tcp = false, std::string password = "test-secret");
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  bool ok() const { return pid_ > 0; }
  const std::string& error() const { return error_; }
  // Stops it (SIGTERM, waits), starts it again with the same data.
  void Stop();
  bool Start();
  // SIGSTOP / SIGCONT: a server that accepts connections but never answers.
  void Pause();
  void Resume();

  std::string UnixAddress() const { return "unix:" + socket_; }
  // redis_timeout for tests that check sharing, not timeouts: the default
  // 50 ms is an SMTP session's budget, and a test machine under load misses
  // it now and then (an AUTH unanswered in 50 ms failed one update in 900).
  static constexpr int64_t kPatientTimeoutMs = 10'000;
  std::string TcpAddress() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }
  const std::string& password() const { return password_; }
  const std::string& dir() const { return dir_.path(); }

 private:
  TempDir dir_;
  std::string socket_;
  int port_ = 0;
  std::string password_;
  pid_t pid_ = -1;
  std::string error_;
};

}  // namespace senderwatch::testing

#endif  // SENDERWATCH_TESTS_TESTUTIL_REDIS_SERVER_H_
